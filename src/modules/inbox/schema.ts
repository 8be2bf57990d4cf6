import { z } from 'zod';
import { prisma } from '../../db/client.ts';
import { builder } from '../../graphql/builder.ts';
import { connectionArgs, pageById } from '../../graphql/connections.ts';
import type { Context } from '../../graphql/context.ts';
import { badInput, forbidden } from '../../graphql/errors.ts';
import type { InboxEventMessage } from './events.ts';
import { changeItems, getItem, inboxCursor, isKnown, markAllRead, MAX_IDS, performAction, unreadCount, type InboxOwner } from './service.ts';
import { inboxStream } from './stream.ts';

const endUser = { endUser: true } as const;

/** The end user behind widget credentials: every inbox operation is scoped to them. */
function owner(ctx: Context): InboxOwner {
  if (ctx.principal?.kind !== 'endUser') throw forbidden('The inbox is for end users (widget credentials)');
  return { projectId: ctx.principal.projectId, userId: ctx.principal.userId };
}

const InboxItemRef = builder.prismaObject('InboxItem', {
  description: 'An in-app notification in a user\'s inbox.',
  fields: (t) => ({
    id: t.exposeID('id'),
    title: t.exposeString('title', { nullable: true }),
    body: t.exposeString('body', { nullable: true }),
    icon: t.exposeString('icon', { nullable: true }),
    thumbnail: t.exposeString('thumbnail', { nullable: true }),
    image: t.exposeString('image', { nullable: true }),
    redirection: t.exposeString('redirection', { nullable: true }),
    actions: t.field({ type: ['JSONObject'], resolve: (i) => (i.actions as Record<string, unknown>[]) ?? [] }),
    data: t.field({ type: 'JSONObject', resolve: (i) => i.data as Record<string, unknown> }),
    category: t.exposeString('category', { nullable: true }),
    notificationId: t.exposeInt('notificationId', { nullable: true }),
    stackCount: t.exposeInt('stackCount', { description: 'How many sends stacked onto this item (incrementId).' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    seenAt: t.expose('seenAt', { type: 'DateTime', nullable: true }),
    readAt: t.expose('readAt', { type: 'DateTime', nullable: true }),
    archivedAt: t.expose('archivedAt', { type: 'DateTime', nullable: true }),
  }),
});

const InboxFilter = builder.inputType('InboxFilter', {
  fields: (t) => ({
    unread: t.boolean({ description: 'true: unread only; false: read only.' }),
    archived: t.boolean({ description: 'Default false: archived items are hidden unless asked for.' }),
    category: t.string(),
  }),
});

builder.queryField('inbox', (t) =>
  t.prismaConnection({
    type: 'InboxItem',
    cursor: 'id',
    description: "The calling end user's inbox, newest first.",
    authScopes: endUser,
    maxSize: 100,
    defaultSize: 20,
    args: { filter: t.arg({ type: InboxFilter }) },
    validate: connectionArgs('uuid'),
    totalCount: (_c, args, ctx) => {
      const o = owner(ctx);
      return isKnown(o) ? prisma().inboxItem.count({ where: inboxWhere(o, args.filter) }) : 0;
    },
    resolve: async (query, _r, args, ctx) => {
      const o = owner(ctx);
      if (!isKnown(o)) return [];
      const page = pageById(query, 'desc');
      return prisma().inboxItem.findMany({ ...page.query, where: { AND: [inboxWhere(o, args.filter), page.where] }, orderBy: { id: 'desc' } });
    },
  }),
);

function inboxWhere(o: InboxOwner & { userId: string }, filter: { unread?: boolean | null; archived?: boolean | null; category?: string | null } | null | undefined) {
  return {
    projectId: o.projectId,
    userId: o.userId,
    archivedAt: filter?.archived ? { not: null } : null,
    ...(filter?.unread === true ? { readAt: null } : filter?.unread === false ? { readAt: { not: null } } : {}),
    ...(filter?.category ? { category: filter.category } : {}),
  };
}

builder.queryField('inboxCursor', (t) =>
  t.string({
    description:
      'The cursor of your latest inbox event ("0" before the first). Read it before loading the inbox, then subscribe with `inbox(since: <it>)`: nothing committed in between is missed.',
    authScopes: endUser,
    resolve: (_r, _a, ctx) => inboxCursor(owner(ctx)),
  }),
);

builder.queryField('unreadCount', (t) =>
  t.int({
    description: 'Unread (and not archived) items of the calling end user.',
    authScopes: endUser,
    args: { category: t.arg.string() },
    resolve: (_r, args, ctx) => unreadCount(owner(ctx), args.category),
  }),
);

builder.queryField('inboxItem', (t) =>
  t.field({ type: InboxItemRef, authScopes: endUser, args: { id: t.arg.id({ required: true }) }, resolve: (_r, args, ctx) => getItem(owner(ctx), String(args.id)) }),
);

const InboxChange = builder.objectRef<{ items: Awaited<ReturnType<typeof changeItems>>['items']; unreadCount: number }>('InboxChange').implement({
  description: 'The items after the change and the unread count committed with it.',
  fields: (t) => ({
    items: t.field({ type: [InboxItemRef], resolve: (r) => r.items }),
    unreadCount: t.exposeInt('unreadCount'),
  }),
});

const ids = z.array(z.string()).min(1, 'give at least one id').max(MAX_IDS, `at most ${MAX_IDS} ids`);
const change = (kind: Parameters<typeof changeItems>[2], description: string) =>
  builder.mutationField(
    { read: 'markRead', unread: 'markUnread', seen: 'markSeen', archive: 'archive', unarchive: 'unarchive' }[kind],
    (t) =>
      t.field({
        type: InboxChange,
        description,
        authScopes: endUser,
        args: { ids: t.arg.idList({ required: true, validate: ids }) },
        resolve: (_r, args, ctx) => changeItems(owner(ctx), args.ids.map(String), kind, ctx.pubsub),
      }),
  );
change('read', 'Marks items read (and seen).');
change('unread', 'Marks items unread again.');
change('seen', 'Marks items seen (the bell was opened) without reading them.');
change('archive', 'Archives items: hidden from the inbox and the unread count.');
change('unarchive', 'Brings archived items back.');

builder.mutationField('markAllRead', (t) =>
  t.int({
    description: 'Marks every unread item (of a category) read; answers the new unread count.',
    authScopes: endUser,
    args: { category: t.arg.string() },
    resolve: (_r, args, ctx) => markAllRead(owner(ctx), args.category, ctx.pubsub),
  }),
);

const ActionResult = builder.objectRef<Awaited<ReturnType<typeof performAction>>>('InboxActionResult').implement({
  fields: (t) => ({
    item: t.field({ type: InboxItemRef, resolve: (r) => r.item }),
    action: t.field({ type: 'JSONObject', resolve: (r) => r.action }),
  }),
});

builder.mutationField('performAction', (t) =>
  t.field({
    type: ActionResult,
    description: "Performs one of an item's action buttons: answers the action and marks the item read.",
    authScopes: endUser,
    args: { id: t.arg.id({ required: true }), actionId: t.arg.string({ required: true }) },
    resolve: (_r, args, ctx) => performAction(owner(ctx), String(args.id), args.actionId, ctx.pubsub),
  }),
);

const InboxEventType = builder.enumType('InboxEventType', {
  values: ['CREATED', 'UPDATED', 'READ', 'UNREAD', 'SEEN', 'ARCHIVED', 'UNARCHIVED', 'DELETED', 'ALL_READ'] as const,
});

const InboxEventRef = builder.objectRef<InboxEventMessage>('InboxEvent').implement({
  description: 'One change of the inbox. `cursor` orders events; pass the last one as `since` when resubscribing.',
  fields: (t) => ({
    cursor: t.exposeString('cursor'),
    type: t.field({ type: InboxEventType, resolve: (e) => e.type }),
    item: t.field({
      type: InboxItemRef,
      nullable: true,
      description: 'The item as it is now (null for ALL_READ and for deleted items).',
      resolve: (e) => (e.itemId ? prisma().inboxItem.findUnique({ where: { id: e.itemId } }) : null),
    }),
    unreadCount: t.exposeInt('unreadCount', { description: 'The unread count committed with this change.' }),
    at: t.exposeString('at'),
  }),
});

builder.subscriptionField('inbox', (t) =>
  t.field({
    type: InboxEventRef,
    description: "The calling end user's inbox events: with `since`, every event after that cursor first, then live ones; no gap, no duplicate.",
    authScopes: endUser,
    args: { since: t.arg.string() },
    subscribe: (_r, args, ctx) => {
      const o = owner(ctx);
      if (args.since != null && !/^\d{1,18}$/.test(args.since)) throw badInput([{ field: 'since', message: 'must be a cursor received in an inbox event' }]);
      const since = args.since == null ? null : BigInt(args.since);
      // A user no operator has created yet: the stream waits for them (their first message creates them).
      if (!isKnown(o)) return inboxStream(ctx.pubsub, o.projectId, { externalId: (ctx.principal as { externalId: string }).externalId }, since ?? 0n);
      return inboxStream(ctx.pubsub, o.projectId, o.userId, since);
    },
    resolve: (event) => event,
  }),
);

const InboxPage = builder
  .objectRef<{ items: Awaited<ReturnType<typeof changeItems>>['items']; total: number; unreadCount: number }>('InboxPage')
  .implement({
    description: 'A page of the inbox by offset (for widgets that page with skip/limit).',
    fields: (t) => ({
      items: t.field({ type: [InboxItemRef], resolve: (p) => p.items }),
      total: t.exposeInt('total'),
      unreadCount: t.exposeInt('unreadCount'),
    }),
  });

builder.queryField('inboxPage', (t) =>
  t.field({
    type: InboxPage,
    description: "The calling end user's inbox by offset, newest first (not archived).",
    authScopes: endUser,
    args: {
      skip: t.arg.int({ defaultValue: 0, validate: z.number().int().min(0).max(100_000) }),
      limit: t.arg.int({ defaultValue: 20, validate: z.number().int().min(1).max(100) }),
      filter: t.arg({ type: InboxFilter }),
    },
    resolve: async (_r, args, ctx) => {
      const o = owner(ctx);
      if (!isKnown(o)) return { items: [], total: 0, unreadCount: 0 };
      const where = inboxWhere(o, args.filter);
      const [items, total, unread] = await Promise.all([
        prisma().inboxItem.findMany({ where, orderBy: { id: 'desc' }, skip: args.skip ?? 0, take: args.limit ?? 20 }),
        prisma().inboxItem.count({ where }),
        unreadCount(o),
      ]);
      return { items, total, unreadCount: unread };
    },
  }),
);

builder.queryField('viewerNotifications', (t) =>
  t.prismaField({
    type: ['Notification'],
    description: "The project's active notifications, for a widget's preference screen.",
    authScopes: endUser,
    resolve: (query, _r, _a, ctx) => prisma().notification.findMany({ ...query, where: { projectId: owner(ctx).projectId, active: true }, orderBy: { id: 'asc' } }),
  }),
);
