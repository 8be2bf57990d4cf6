import { z } from 'zod';
import { prisma } from '../../db/client.ts';
import { builder } from '../../graphql/builder.ts';
import { connectionArgs, sqlPage } from '../../graphql/connections.ts';
import type { Context } from '../../graphql/context.ts';
import { badInput, forbidden } from '../../graphql/errors.ts';
import { findTenant } from '../tenants/service.ts';
import { unreadWhere, type InboxEventMessage } from './events.ts';
import { changeItems, countInbox, deleteItems, eventItem, getItem, inboxCursor, isKnown, listInbox, markAllRead, MAX_IDS, performAction, unreadCount, type InboxListFilter, type InboxOwner } from './service.ts';
import { inboxStream } from './stream.ts';

const endUser = { endUser: true } as const;

/** The end user behind widget credentials: every inbox operation is scoped to them. */
function owner(ctx: Context): InboxOwner {
  if (ctx.principal?.kind !== 'endUser') throw forbidden('The inbox is for end users (widget credentials)');
  return { projectId: ctx.principal.projectId, userId: ctx.principal.userId, tenantId: ctx.principal.tenant?.id };
}

/** An id no item has: a filter on a tenant key that does not exist matches nothing. */
const NO_TENANT = '00000000-0000-0000-0000-000000000000';

/** The id of the tenant a filter names by key (NO_TENANT when the project has none such). */
async function tenantIdOf(projectId: string, key: string): Promise<string> {
  return (await findTenant(projectId, key))?.id ?? NO_TENANT;
}

/** An inbox event as resolved: with the tenant whose unread count it shows when the stream is limited to one. */
type ResolvedInboxEvent = InboxEventMessage & { countTenantId?: string };

/**
 * Only the events of one tenant's items (and the ALL_READ of the whole inbox, which covers
 * them too). A wrapper around the user's stream, which keeps its own cursor bookkeeping (gaps
 * are other tenants' events, not lost ones): nothing of another tenant reaches the resolvers.
 */
function onlyTenant(source: AsyncIterableIterator<InboxEventMessage>, tenantId: string): AsyncIterableIterator<ResolvedInboxEvent> {
  const visible = (e: InboxEventMessage) => e.tenantId === tenantId || (e.type === 'ALL_READ' && e.tenantId == null);
  return {
    async next() {
      for (;;) {
        const r = await source.next();
        if (r.done) return r;
        if (visible(r.value)) return { done: false, value: { ...r.value, countTenantId: tenantId } };
      }
    },
    return: async () => (await source.return?.()) ?? { done: true, value: undefined },
    throw: (error?: unknown) => source.throw?.(error) ?? Promise.reject(error),
    [Symbol.asyncIterator]() {
      return this;
    },
  };
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
    stackCount: t.exposeInt('stackCount', { description: "How many sends stacked onto this item (incrementId); a digest's live item: the digest's event count." }),
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
    tenant: t.string({ description: "Items sent for this tenant (its key). A tenant-scoped widget sees its own tenant's items only, whatever this says." }),
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
    totalCount: async (_c, args, ctx) => {
      const o = owner(ctx);
      return isKnown(o) ? countInbox(o, await listFilter(o, args.filter)) : 0;
    },
    resolve: async (query, _r, args, ctx) => {
      const o = owner(ctx);
      if (!isKnown(o)) return [];
      return listInbox(o, await listFilter(o, args.filter), sqlPage(query, 'desc', 20));
    },
  }),
);

/** The list filter of the arguments: the tenant key named by its id. */
async function listFilter(
  o: InboxOwner,
  filter: { unread?: boolean | null; archived?: boolean | null; category?: string | null; tenant?: string | null } | null | undefined,
): Promise<InboxListFilter> {
  const tenantId = filter?.tenant != null ? await tenantIdOf(o.projectId, filter.tenant) : undefined;
  return { unread: filter?.unread, archived: filter?.archived, category: filter?.category, tenantId };
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

const InboxDeletion = builder.objectRef<Awaited<ReturnType<typeof deleteItems>>>('InboxDeletion').implement({
  description: 'The items deleted and the unread count committed with their deletion.',
  fields: (t) => ({
    deletedIds: t.idList({ resolve: (r) => r.deletedIds }),
    unreadCount: t.exposeInt('unreadCount'),
  }),
});

builder.mutationField('deleteItems', (t) =>
  t.field({
    type: InboxDeletion,
    description: `Deletes items for good (archive hides them instead): each gets a DELETED inbox event naming it in \`itemId\`. At most ${MAX_IDS} ids; one unknown or foreign id deletes none (NOT_FOUND).`,
    authScopes: endUser,
    args: { ids: t.arg.idList({ required: true, validate: ids }) },
    resolve: (_r, args, ctx) => deleteItems(owner(ctx), args.ids.map(String), ctx.pubsub),
  }),
);

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

const InboxEventRef = builder.objectRef<ResolvedInboxEvent>('InboxEvent').implement({
  description: 'One change of the inbox. `cursor` orders events; pass the last one as `since` when resubscribing.',
  fields: (t) => ({
    cursor: t.exposeString('cursor'),
    type: t.field({ type: InboxEventType, resolve: (e) => e.type }),
    itemId: t.id({
      nullable: true,
      description: "The changed item's id, also when it is gone (DELETED, or purged since); null for ALL_READ.",
      resolve: (e) => e.itemId,
    }),
    item: t.field({
      type: InboxItemRef,
      nullable: true,
      description: 'The item as it is now (null for ALL_READ and for deleted items).',
      // The stream is already limited to the widget's tenant; the item is read under the same scope all the same.
      resolve: (e, _a, ctx) => (e.itemId ? eventItem(e.itemId, owner(ctx).tenantId) : null),
    }),
    unreadCount: t.int({
      description:
        "The unread count committed with this change. On a stream limited to a tenant (a tenant-scoped widget, or the `tenant` argument): that tenant's unread count when the event is sent.",
      resolve: (e) => (e.countTenantId !== undefined ? prisma().inboxItem.count({ where: { ...unreadWhere(e.projectId, e.userId), tenantId: e.countTenantId } }) : e.unreadCount),
    }),
    at: t.exposeString('at'),
  }),
});

builder.subscriptionField('inbox', (t) =>
  t.field({
    type: InboxEventRef,
    description: "The calling end user's inbox events: with `since`, every event after that cursor first, then live ones; no gap, no duplicate.",
    authScopes: endUser,
    args: {
      since: t.arg.string(),
      tenant: t.arg.string({ description: "Only the events of this tenant's items (its key). A tenant-scoped widget gets its own tenant's events only, whatever this says." }),
    },
    subscribe: (_r, args, ctx) => {
      const o = owner(ctx);
      if (args.since != null && !/^\d{1,18}$/.test(args.since)) throw badInput([{ field: 'since', message: 'must be a cursor received in an inbox event' }]);
      const since = args.since == null ? null : BigInt(args.since);
      const open = (tenantId: string | undefined) => {
        // A user no operator has created yet: the stream waits for them (their first message creates them).
        const stream = !isKnown(o)
          ? inboxStream(ctx.pubsub, o.projectId, { externalId: (ctx.principal as { externalId: string }).externalId }, since ?? 0n)
          : inboxStream(ctx.pubsub, o.projectId, o.userId, since);
        return tenantId !== undefined ? onlyTenant(stream, tenantId) : stream;
      };
      // Without the argument, synchronously as before (the stream registers its live route at once).
      if (args.tenant == null) return open(o.tenantId);
      const key = args.tenant;
      return tenantIdOf(o.projectId, key).then((wanted) => {
        if (wanted === NO_TENANT) throw badInput([{ field: 'tenant', message: `no tenant ${JSON.stringify(key)}` }]);
        // Scoped and asking for another tenant: nothing could match (an empty stream would wait forever in silence).
        if (o.tenantId !== undefined && wanted !== o.tenantId) throw badInput([{ field: 'tenant', message: 'this widget is scoped to another tenant' }]);
        return open(wanted);
      });
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
      const filter = await listFilter(o, args.filter);
      const [items, total, unread] = await Promise.all([
        listInbox(o, filter, { limit: args.limit ?? 20, cursor: null, readOrder: 'desc', reverse: false }, args.skip ?? 0),
        countInbox(o, filter),
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
