import { uuidv7 } from '../../db/ids.ts';
import { z } from 'zod';
import { prisma } from '../../db/client.ts';
import { builder } from '../../graphql/builder.ts';
import { connectionArgs, pageById } from '../../graphql/connections.ts';
import { requireProjectId } from '../../graphql/principal.ts';
import { ItemError } from '../../graphql/types.ts';
import { CHANNELS, fromStored, localizedForm, nonEmpty, NP6_MEMBERS, unknownMembers, type ChannelFallback, type LocaleContent } from './content.ts';
import { findContact } from './contacts.ts';
import {
  channelsFor,
  completeStamp,
  executeNotification,
  footprint,
  MAX_EXECUTIONS,
  subscriptionFor,
  testNotification,
  type ExecutionResult,
  type TestResult,
  type TrackingStamp,
} from './executions.ts';
import { renderVersion, type RenderedContent } from './render.ts';
import * as notifications from './service.ts';
import { workflowStepTypes } from '../workflows/step-types.ts';

const json = (value: unknown) => (value ?? null) as Record<string, unknown> | null;
/** The members of a stored open object that Herald does not read, or null. */
const extraOf = (value: object, known: readonly string[]) => nonEmpty(unknownMembers(value as Record<string, unknown>, known));
const extraField = (description: string) => ({ type: 'JSONObject' as const, nullable: true as const, description });

const Channel = builder.enumType('Channel', { values: CHANNELS });
const workflowTypes = workflowStepTypes(Channel);

const Stamp = builder.objectRef<{ createdAt: Date; updatedAt: Date }>('Stamp').implement({
  description: "NP6's creation and modification timestamps.",
  fields: (t) => ({
    creation: t.expose('createdAt', { type: 'DateTime' }),
    modification: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

type Settings = { urgent?: boolean; category?: number; purpose?: object; expiration?: object; mp?: object };
const NotificationSettings = builder.objectRef<Settings>('NotificationSettings').implement({
  fields: (t) => ({
    urgent: t.boolean({ resolve: (s) => s.urgent ?? false }),
    category: t.int({ nullable: true, resolve: (s) => s.category ?? null }),
    purpose: t.field({ type: 'JSONObject', nullable: true, resolve: (s) => json(s.purpose) }),
    expiration: t.field({ type: 'JSONObject', nullable: true, resolve: (s) => json(s.expiration) }),
    mp: t.field({ type: 'JSONObject', nullable: true, resolve: (s) => json(s.mp) }),
    extra: t.field({ ...extraField('NP6 settings members Herald does not read, as given.'), resolve: (s) => extraOf(s, NP6_MEMBERS.settings) }),
  }),
});

type Task = { id?: string; name?: string; description?: string; scheduler?: object };
const NotificationTask = builder.objectRef<Task>('NotificationTask').implement({
  fields: (t) => ({
    id: t.id({ nullable: true, resolve: (task) => task.id ?? null }),
    name: t.string({ nullable: true, resolve: (task) => task.name ?? null }),
    description: t.string({ nullable: true, resolve: (task) => task.description ?? null }),
    scheduler: t.field({ type: 'JSONObject', nullable: true, resolve: (task) => json(task.scheduler) }),
    extra: t.field({ ...extraField('NP6 task members Herald does not read, as given.'), resolve: (task) => extraOf(task, NP6_MEMBERS.task) }),
  }),
});

const EmailContent = builder.objectRef<NonNullable<LocaleContent['email']>>('EmailContent').implement({
  fields: (t) => ({
    subject: t.string({ nullable: true, resolve: (c) => c.subject ?? null }),
    html: t.string({ nullable: true, resolve: (c) => c.html ?? null }),
    text: t.string({ nullable: true, resolve: (c) => c.text ?? null }),
  }),
});
const SmsContent = builder.objectRef<{ text: string }>('SmsContent').implement({
  fields: (t) => ({ text: t.exposeString('text') }),
});
const WhatsAppContent = builder.objectRef<NonNullable<LocaleContent['whatsapp']>>('WhatsAppContent').implement({
  fields: (t) => ({
    text: t.string({ nullable: true, resolve: (c) => c.text ?? null }),
    templateName: t.string({ nullable: true, resolve: (c) => c.templateName ?? null }),
    templateLanguage: t.string({ nullable: true, resolve: (c) => c.templateLanguage ?? null }),
    parameters: t.stringList({ resolve: (c) => c.parameters ?? [] }),
  }),
});
const MobilePushContent = builder.objectRef<NonNullable<LocaleContent['push']>>('MobilePushContent').implement({
  description: 'The MOBILE_PUSH part of a locale: what differs from its title, body and image on phones.',
  fields: (t) => ({
    title: t.string({ nullable: true, resolve: (c) => c.title ?? null }),
    body: t.string({ nullable: true, resolve: (c) => c.body ?? null }),
    image: t.string({ nullable: true, resolve: (c) => c.image ?? null }),
    sound: t.string({ nullable: true, resolve: (c) => c.sound ?? null, description: 'The sound file name ("default" for the system sound).' }),
  }),
});

const ChatContent = builder.objectRef<{ text?: string | null; blocks?: Record<string, unknown>[] | null }>('ChatContent').implement({
  description: 'Chat (Slack, Microsoft Teams, Discord): Slack mrkdwn text and Block Kit blocks; Teams and Discord translate the common blocks.',
  fields: (t) => ({
    text: t.string({ nullable: true, resolve: (c) => c.text ?? null }),
    blocks: t.field({ type: ['JSONObject'], nullable: true, resolve: (c) => c.blocks ?? null }),
  }),
});

const LocaleContentRef = builder.objectRef<LocaleContent>('LocaleContent').implement({
  description: 'The content of one locale. Every text is a Liquid template.',
  fields: (t) => ({
    locale: t.exposeString('locale'),
    title: t.string({ nullable: true, resolve: (c) => c.title ?? null }),
    body: t.string({ nullable: true, resolve: (c) => c.body ?? null }),
    icon: t.string({ nullable: true, resolve: (c) => c.icon ?? null }),
    thumbnail: t.string({ nullable: true, resolve: (c) => c.thumbnail ?? null }),
    image: t.string({ nullable: true, resolve: (c) => c.image ?? null }),
    email: t.field({ type: EmailContent, nullable: true, resolve: (c) => c.email ?? null }),
    sms: t.field({ type: SmsContent, nullable: true, resolve: (c) => c.sms ?? null }),
    whatsapp: t.field({ type: WhatsAppContent, nullable: true, resolve: (c) => c.whatsapp ?? null }),
    chat: t.field({ type: ChatContent, nullable: true, resolve: (c) => c.chat ?? null }),
    push: t.field({ type: MobilePushContent, nullable: true, resolve: (c) => c.push ?? null }),
  }),
});

const NotificationVersion = builder.prismaObject('NotificationVersion', {
  fields: (t) => ({
    id: t.exposeID('id'),
    master: t.boolean({ resolve: (v) => v.masterOf !== null }),
    label: t.exposeString('label', { nullable: true }),
    scripting: t.field({ type: 'JSONObject', nullable: true, resolve: (v) => json(v.scripting) }),
    contents: t.field({ type: [LocaleContentRef], resolve: (v) => fromStored(v.content) }),
    content: t.field({
      type: 'JSONObject',
      description: 'NP6 content: as it was written (any `type`, unknown members included), or Herald\'s localized form `{ type: "localized", locales }` when written as `contents`.',
      resolve: (v) => (v.np6Content as Record<string, unknown> | null) ?? localizedForm(v.content),
    }),
    extra: t.field({ ...extraField('NP6 version members Herald does not read, as given.'), resolve: (v) => json(v.extra) }),
    redirection: t.field({ type: 'JSONObject', nullable: true, resolve: (v) => json(v.redirection) }),
    channel: t.field({ type: 'JSONObject', nullable: true, resolve: (v) => json(v.channel) }),
    stamp: t.field({ type: Stamp, resolve: (v) => v }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const Notification = builder.prismaObject('Notification', {
  description: 'Which channels a message goes to, and its content per channel and language, in versions.',
  fields: (t) => ({
    id: t.exposeInt('id', { description: 'NP6 id (int32).' }),
    key: t.exposeString('key', { nullable: true, description: 'Notifuse notificationId, e.g. "welcome".' }),
    type: t.exposeString('type', { description: 'NP6 discriminator ("push-app") or a Herald channel type.' }),
    channels: t.field({ type: [Channel], resolve: (n) => n.channels }),
    workflow: t.field({
      type: [workflowTypes.StepRef],
      nullable: true,
      description: 'The ordered steps of its workflow (null: every channel at once). See README "Workflows".',
      resolve: (n) => (n.workflow ?? null) as never,
    }),
    name: t.exposeString('name'),
    description: t.exposeString('description', { nullable: true }),
    active: t.exposeBoolean('active'),
    settings: t.field({ type: NotificationSettings, resolve: (n) => (n.settings ?? {}) as Settings }),
    application: t.exposeString('application', { nullable: true }),
    task: t.field({ type: NotificationTask, nullable: true, resolve: (n) => (n.task as Task | null) ?? null }),
    defaultLanguage: t.exposeString('defaultLanguage'),
    extra: t.field({ ...extraField('NP6 notification members Herald does not read, as given.'), resolve: (n) => json(n.extra) }),
    stamp: t.field({ type: Stamp, resolve: (n) => n }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    versions: t.relation('versions', { query: { orderBy: { createdAt: 'asc' } } }),
    masterVersion: t.field({
      type: NotificationVersion,
      nullable: true,
      resolve: (n) => prisma().notificationVersion.findUnique({ where: { masterOf: n.id } }),
    }),
  }),
});

// ---------- inputs ----------

const EmailContentInput = builder.inputType('EmailContentInput', {
  fields: (t) => ({ subject: t.string(), html: t.string({ description: 'Outputs are HTML-escaped unless `| raw`.' }), text: t.string() }),
});
const SmsContentInput = builder.inputType('SmsContentInput', { fields: (t) => ({ text: t.string({ required: true }) }) });
const WhatsAppContentInput = builder.inputType('WhatsAppContentInput', {
  fields: (t) => ({ text: t.string(), templateName: t.string(), templateLanguage: t.string(), parameters: t.stringList() }),
});
const ChatContentInput = builder.inputType('ChatContentInput', {
  description: 'Without it, chat messages get a header, the body, the image and an "Open" button from title, body, image and redirection.',
  fields: (t) => ({
    text: t.string({ description: 'Slack mrkdwn; the notification text when blocks are given. Defaults to the title and body.' }),
    blocks: t.field({ type: ['JSONObject'], description: 'Slack Block Kit blocks (at most 50); every string in them is a Liquid template.' }),
  }),
});

const MobilePushContentInput = builder.inputType('MobilePushContentInput', {
  fields: (t) => ({ title: t.string(), body: t.string(), image: t.string(), sound: t.string() }),
});
const LocaleContentInput = builder.inputType('LocaleContentInput', {
  fields: (t) => ({
    locale: t.string({ required: true }),
    title: t.string(),
    body: t.string(),
    icon: t.string(),
    thumbnail: t.string(),
    image: t.string(),
    email: t.field({ type: EmailContentInput }),
    sms: t.field({ type: SmsContentInput }),
    whatsapp: t.field({ type: WhatsAppContentInput }),
    chat: t.field({ type: ChatContentInput }),
    push: t.field({ type: MobilePushContentInput, description: 'MOBILE_PUSH: defaults to title, body and image.' }),
  }),
});
const VersionInput = builder.inputType('NotificationVersionInput', {
  fields: (t) => ({
    id: t.id({ description: 'On PUT: the version to keep and update; omit for a new version.' }),
    master: t.boolean(),
    label: t.string(),
    scripting: t.field({ type: 'JSONObject' }),
    contents: t.field({ type: [LocaleContentInput], description: 'Herald\'s content, one entry per locale. Give this or `content`.' }),
    content: t.field({
      type: 'JSONObject',
      description:
        'NP6 content, kept as written: `{ type: "localized", locales: { "<locale>": {...} } }`, or any other `type` (or none) whose title, body, icon, thumbnail, image, email, sms and whatsapp are the default language\'s.',
    }),
    redirection: t.field({ type: 'JSONObject' }),
    channel: t.field({ type: 'JSONObject' }),
    extra: t.field({ type: 'JSONObject', description: 'NP6 members Herald does not read (at most 16 KiB of JSON).' }),
  }),
});
const SettingsInput = builder.inputType('NotificationSettingsInput', {
  fields: (t) => ({
    urgent: t.boolean(),
    category: t.int(),
    purpose: t.field({ type: 'JSONObject' }),
    expiration: t.field({ type: 'JSONObject' }),
    mp: t.field({ type: 'JSONObject' }),
    extra: t.field({ type: 'JSONObject', description: 'NP6 members Herald does not read (at most 16 KiB of JSON).' }),
  }),
});
const TaskInput = builder.inputType('NotificationTaskInput', {
  fields: (t) => ({
    id: t.id(),
    name: t.string(),
    description: t.string(),
    scheduler: t.field({ type: 'JSONObject' }),
    extra: t.field({ type: 'JSONObject', description: 'NP6 members Herald does not read (at most 16 KiB of JSON).' }),
  }),
});
const NotificationInput = builder.inputType('NotificationInput', {
  fields: (t) => ({
    key: t.string(),
    type: t.string({ required: true }),
    channels: t.field({ type: [Channel] }),
    name: t.string({ required: true }),
    description: t.string(),
    active: t.boolean({ description: 'Defaults to true on create, unchanged on update.' }),
    settings: t.field({ type: SettingsInput }),
    application: t.id(),
    task: t.field({ type: TaskInput }),
    defaultLanguage: t.string({ description: 'Defaults to "en".' }),
    versions: t.field({ type: [VersionInput], description: 'On update, replaces the versions when given.' }),
    extra: t.field({ type: 'JSONObject', description: 'NP6 members Herald does not read (at most 16 KiB of JSON).' }),
    workflow: t.field({ type: [workflowTypes.StepInput], description: 'Ordered workflow steps; null: none (every channel at once). Absent: none on create, kept on update.' }),
  }),
});

// ---------- catalog operations ----------

const auth = { operator: true } as const;

builder.queryField('notification', (t) =>
  t.field({
    type: Notification,
    description: 'One notification, by id or key (exactly one). Unknown → NOT_FOUND.',
    authScopes: auth,
    args: { id: t.arg.int(), key: t.arg.string() },
    validate: z
      .object({ id: z.number().nullish(), key: z.string().nullish() })
      .refine((a) => (a.id != null) !== (a.key != null), { message: 'give exactly one of id and key', path: ['id'] }),
    resolve: (_r, args, ctx) => notifications.getNotification(requireProjectId(ctx), (args.id ?? args.key)!),
  }),
);

const NotificationFilter = builder.inputType('NotificationFilter', {
  fields: (t) => ({
    active: t.boolean(),
    type: t.string(),
    application: t.id(),
    search: t.string({ description: 'Substring of the name, description or key.' }),
  }),
});

builder.queryField('notifications', (t) =>
  t.prismaConnection({
    type: 'Notification',
    cursor: 'id',
    description: 'Notifications of the project, by id.',
    authScopes: auth,
    maxSize: 200,
    defaultSize: 50,
    args: { filter: t.arg({ type: NotificationFilter }) },
    validate: connectionArgs('int'),
    totalCount: (_c, args, ctx) => prisma().notification.count({ where: notificationWhere(requireProjectId(ctx), args.filter) }),
    resolve: (query, _r, args, ctx) => {
      const page = pageById(query, 'asc');
      return prisma().notification.findMany({
        ...page.query,
        where: { AND: [notificationWhere(requireProjectId(ctx), args.filter), page.where] },
        orderBy: { id: 'asc' },
      });
    },
  }),
);

function notificationWhere(
  projectId: string,
  filter: { active?: boolean | null; type?: string | null; application?: string | number | null; search?: string | null } | null | undefined,
) {
  const search = filter?.search?.trim();
  const application = filter?.application == null ? undefined : String(filter.application);
  return {
    projectId,
    ...(filter?.active != null ? { active: filter.active } : {}),
    ...(filter?.type ? { type: filter.type } : {}),
    ...(application ? (z.uuid().safeParse(application).success ? { application } : { id: -1 }) : {}),
    ...(search
      ? { OR: (['name', 'description', 'key'] as const).map((f) => ({ [f]: { contains: search, mode: 'insensitive' as const } })) }
      : {}),
  };
}

builder.mutationFields((t) => ({
  createNotification: t.field({
    type: Notification,
    authScopes: auth,
    args: { input: t.arg({ type: NotificationInput, required: true }) },
    resolve: (_r, args, ctx) => notifications.createNotification(requireProjectId(ctx), args.input),
  }),
  updateNotification: t.field({
    type: Notification,
    description: 'Replaces the notification (PUT semantics); `versions`, when given, replace its versions.',
    authScopes: auth,
    args: { id: t.arg.int({ required: true }), input: t.arg({ type: NotificationInput, required: true }) },
    resolve: (_r, args, ctx) => notifications.updateNotification(requireProjectId(ctx), args.id, args.input),
  }),
  deleteNotification: t.int({
    description: 'Deletes the notification and its versions; answers its id.',
    authScopes: auth,
    args: { id: t.arg.int({ required: true }) },
    resolve: async (_r, args, ctx) => (await notifications.deleteNotification(requireProjectId(ctx), args.id)).id,
  }),
  duplicateNotification: t.field({
    type: Notification,
    description: 'Copies the notification and its versions with new ids. The copy is inactive and has no key.',
    authScopes: auth,
    args: { id: t.arg.int({ required: true }) },
    resolve: (_r, args, ctx) => notifications.duplicateNotification(requireProjectId(ctx), args.id),
  }),
  activateNotification: t.field({
    type: Notification,
    authScopes: auth,
    args: { id: t.arg.int({ required: true }) },
    resolve: (_r, args, ctx) => notifications.setActive(requireProjectId(ctx), args.id, true),
  }),
  deactivateNotification: t.field({
    type: Notification,
    authScopes: auth,
    args: { id: t.arg.int({ required: true }) },
    resolve: (_r, args, ctx) => notifications.setActive(requireProjectId(ctx), args.id, false),
  }),
  createNotificationVersion: t.field({
    type: NotificationVersion,
    description: 'Adds a version. It becomes the master when `master` is true or when there is none yet.',
    authScopes: auth,
    args: { notificationId: t.arg.int({ required: true }), input: t.arg({ type: VersionInput, required: true }) },
    resolve: (_r, args, ctx) => notifications.createVersion(requireProjectId(ctx), args.notificationId, args.input),
  }),
  updateNotificationVersion: t.field({
    type: NotificationVersion,
    authScopes: auth,
    args: {
      notificationId: t.arg.int({ required: true }),
      versionId: t.arg.id({ required: true }),
      input: t.arg({ type: VersionInput, required: true }),
    },
    resolve: (_r, args, ctx) => notifications.updateVersion(requireProjectId(ctx), args.notificationId, String(args.versionId), args.input),
  }),
  deleteNotificationVersion: t.id({
    description: 'Deletes a version; the master cannot be deleted (CONFLICT). Answers its id.',
    authScopes: auth,
    args: { notificationId: t.arg.int({ required: true }), versionId: t.arg.id({ required: true }) },
    resolve: async (_r, args, ctx) => (await notifications.deleteVersion(requireProjectId(ctx), args.notificationId, String(args.versionId))).id,
  }),
  setMasterVersion: t.field({
    type: NotificationVersion,
    description: 'Makes the version the master, atomically (the previous master stops being one).',
    authScopes: auth,
    args: { notificationId: t.arg.int({ required: true }), versionId: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => notifications.setMasterVersion(requireProjectId(ctx), args.notificationId, String(args.versionId)),
  }),
}));

// ---------- renders, tests, executions ----------

const Rendered = builder.objectRef<RenderedContent>('RenderedContent').implement({
  description: 'Content after templating, in the locale that was picked.',
  fields: (t) => ({
    locale: t.exposeString('locale'),
    title: t.exposeString('title', { nullable: true }),
    body: t.exposeString('body', { nullable: true }),
    icon: t.exposeString('icon', { nullable: true }),
    thumbnail: t.exposeString('thumbnail', { nullable: true }),
    image: t.exposeString('image', { nullable: true }),
    email: t.field({ type: EmailContent, nullable: true, resolve: (r) => r.email }),
    sms: t.field({ type: SmsContent, nullable: true, resolve: (r) => r.sms }),
    whatsapp: t.field({ type: WhatsAppContent, nullable: true, resolve: (r) => r.whatsapp }),
    chat: t.field({ type: ChatContent, nullable: true, resolve: (r) => r.chat }),
    push: t.field({ type: MobilePushContent, nullable: true, resolve: (r) => r.push ?? null }),
  }),
});

const Footprint = builder.objectRef<ReturnType<typeof footprint>>('ContactFootprint').implement({
  description: 'How NP6 identifies a contact: id, unicity value and hash (sha256 of the lower-cased unicity).',
  fields: (t) => ({
    type: t.exposeString('type'),
    id: t.exposeID('id'),
    externalId: t.exposeString('externalId'),
    unicity: t.exposeString('unicity', { nullable: true }),
    hash: t.exposeString('hash', { nullable: true }),
  }),
});

interface RenderMetaShape {
  notification: number;
  version: string;
  application: string | null;
  subscription: string | null;
  channel: string | null;
  redirection: string | null;
  stamp: TrackingStamp;
}
const RenderMeta = builder.objectRef<RenderMetaShape>('RenderMeta').implement({
  fields: (t) => ({
    notification: t.exposeInt('notification'),
    version: t.exposeID('version'),
    application: t.exposeString('application', { nullable: true }),
    subscription: t.id({
      nullable: true,
      description:
        "The contact's web push subscription (the latest registered) when the notification is delivered by web push; null without a contact, without web push (push-app goes to the in-app inbox until Herald has mobile push) or without a registered subscription.",
      resolve: (m) => m.subscription,
    }),
    channel: t.exposeString('channel', { nullable: true }),
    redirection: t.exposeString('redirection', { nullable: true }),
    stamp: t.field({
      type: 'JSONObject',
      description: "NP6 stamp { time, id, thread, set }: the caller's, completed by Herald (see README).",
      resolve: (m) => m.stamp as unknown as Record<string, unknown>,
    }),
  }),
});

function metaOf(
  n: { id: number; application: string | null },
  v: { id: string; channel: unknown; redirection: unknown },
  stamp: TrackingStamp,
  subscription: string | null,
): RenderMetaShape {
  const typed = (value: unknown) => {
    const o = value as { type?: string; value?: unknown } | null;
    if (!o) return null;
    if (typeof o.value === 'string') return o.value;
    // A structured value (e.g. { href }) is answered as JSON rather than "[object Object]".
    return o.value != null ? JSON.stringify(o.value) : (o.type ?? null);
  };
  return { notification: n.id, version: v.id, application: n.application, subscription, channel: typed(v.channel), redirection: typed(v.redirection), stamp };
}

interface RenderResultShape {
  type: 'success';
  meta: RenderMetaShape;
  render: RenderedContent;
  contact: ReturnType<typeof footprint> | null;
}
const RenderResult = builder.objectRef<RenderResultShape>('RenderResult').implement({
  description: "NP6's render result.",
  fields: (t) => ({
    type: t.exposeString('type'),
    meta: t.field({ type: RenderMeta, resolve: (r) => r.meta }),
    render: t.field({ type: Rendered, resolve: (r) => r.render }),
    contact: t.field({ type: Footprint, nullable: true, resolve: (r) => r.contact }),
  }),
});

const ContactInput = builder.inputType('ContactInput', {
  description: 'Exactly one of: id (Herald id or externalId), unicity (value of the unicity field), hash (sha256 hex of the lower-cased unicity).',
  fields: (t) => ({ id: t.string(), unicity: t.string(), hash: t.string() }),
});
const StampInput = builder.inputType('StampInput', {
  fields: (t) => ({ time: t.float({ description: 'Milliseconds since the epoch.' }), id: t.id(), thread: t.id(), set: t.id() }),
});

builder.queryField('renderNotification', (t) =>
  t.field({
    type: RenderResult,
    description: 'Renders the master version (or `versionId`), with no contact or for one contact.',
    authScopes: auth,
    args: {
      id: t.arg.int({ required: true }),
      versionId: t.arg.id(),
      contact: t.arg({ type: ContactInput }),
      data: t.arg({ type: 'JSONObject' }),
      variables: t.arg({ type: ['JSONObject'] }),
      locale: t.arg.string(),
      stamp: t.arg({ type: StampInput }),
      draft: t.arg({
        type: [LocaleContentInput],
        description:
          'Renders this content instead of the version\'s, without saving it (the console\'s template preview). Checked like a save: a syntax error is BAD_USER_INPUT naming `draft.<i>.<field>` and its line.',
      }),
    },
    resolve: async (_r, args, ctx) => {
      const projectId = requireProjectId(ctx);
      const notification = await notifications.getNotification(projectId, args.id);
      const stored =
        args.versionId != null
          ? await notifications.getVersion(projectId, notification.id, String(args.versionId))
          : await notifications.masterVersion(projectId, notification.id);
      const version = args.draft ? await notifications.draftVersion(stored, args.draft) : stored;
      const hasContact = args.contact && Object.values(args.contact).some((v) => v != null && v !== '');
      const user = hasContact ? await findContact(projectId, args.contact!) : null;
      const render = await renderVersion({ notification, version, user, data: args.data, variables: args.variables, locale: args.locale });
      const project = await prisma().project.findUniqueOrThrow({ where: { id: projectId }, select: { unicityField: true } });
      // A render is not recorded: its stamp id is new unless the caller gave one.
      const stamp = completeStamp(args.stamp, uuidv7(), new Date());
      const subscription = user ? await subscriptionFor(projectId, user.id, channelsFor(notification.channels, version.channel)) : null;
      return {
        type: 'success' as const,
        meta: metaOf(notification, version, stamp, subscription),
        render,
        contact: user ? footprint(user, project.unicityField) : null,
      };
    },
  }),
);

const RecipientInput = builder.inputType('RecipientInput', {
  description: 'NP6 recipient: `type` is "id", "unicity" or "hash" and `value` the string; or `value` is an object { id | unicity | hash }.',
  fields: (t) => ({ type: t.string(), value: t.field({ type: 'JSON', required: true }) }),
});


const ExecutionInput = builder.inputType('ExecutionInput', {
  fields: (t) => ({
    recipient: t.field({ type: RecipientInput, required: true }),
    title: t.string(),
    body: t.string(),
    icon: t.string(),
    thumbnail: t.string(),
    image: t.string(),
    data: t.field({ type: 'JSONObject' }),
    variables: t.field({ type: ['JSONObject'] }),
    redirection: t.field({ type: 'JSONObject' }),
    channel: t.field({ type: 'JSONObject' }),
    stamp: t.field({ type: StampInput }),
    urgent: t.boolean(),
    locale: t.string({ description: "Herald: the locale to render (default: the user's language)." }),
  }),
});

const TestInput = builder.inputType('NotificationTestInput', {
  fields: (t) => ({
    recipient: t.field({ type: RecipientInput }),
    title: t.string(),
    body: t.string(),
    icon: t.string(),
    thumbnail: t.string(),
    image: t.string(),
    data: t.field({ type: 'JSONObject' }),
    variables: t.field({ type: ['JSONObject'] }),
    expiration: t.field({ type: 'JSONObject' }),
    redirection: t.field({ type: 'JSONObject' }),
    channel: t.field({ type: 'JSONObject' }),
    locale: t.string(),
  }),
});

const ChannelFallbackRef = builder.objectRef<ChannelFallback>('ChannelFallback').implement({
  description: 'A send that could not use the channel its notification type implies, and where it went instead.',
  fields: (t) => ({
    from: t.exposeString('from', { description: 'The channel the type implies, e.g. MOBILE_PUSH for NP6 push-app (Herald has none yet).' }),
    to: t.field({ type: [Channel], resolve: (f) => f.to }),
    reason: t.exposeString('reason'),
  }),
});

const ExecutionResultRef = builder.objectRef<ExecutionResult>('ExecutionResult').implement({
  description: 'The outcome of one execution, in input order: type "success" or "failure".',
  fields: (t) => ({
    type: t.exposeString('type'),
    id: t.id({ nullable: true, resolve: (r) => (r.type === 'success' ? r.id : null) }),
    recipient: t.field({ type: Footprint, nullable: true, resolve: (r) => (r.type === 'success' ? r.recipient : null) }),
    render: t.field({ type: Rendered, nullable: true, resolve: (r) => (r.type === 'success' ? r.render : null) }),
    error: t.field({ type: ItemError, nullable: true, resolve: (r) => (r.type === 'failure' ? r.error : null) }),
    stamp: t.field({
      type: 'JSONObject',
      nullable: true,
      description: "NP6 stamp { time, id, thread, set } of the execution: the caller's, completed by Herald (id: the execution id).",
      resolve: (r) => (r.type === 'success' ? (r.stamp as unknown as Record<string, unknown>) : null),
    }),
    fallback: t.field({ type: ChannelFallbackRef, nullable: true, resolve: (r) => (r.type === 'success' ? r.fallback : null) }),
    messageIds: t.idList({
      description: 'The messages the execution created (one per channel of the notification); empty for a failure.',
      resolve: (r) => (r.type === 'success' ? r.messageIds : []),
    }),
  }),
});

const TestResultRef = builder.objectRef<TestResult>('NotificationTestResult').implement({
  fields: (t) => ({
    type: t.exposeString('type'),
    id: t.exposeID('id', { description: 'The recorded test.' }),
    status: t.exposeString('status'),
    meta: t.field({ type: RenderMeta, resolve: (r) => metaOf(r.notification, r.version, r.stamp, r.subscription) }),
    fallback: t.field({ type: ChannelFallbackRef, nullable: true, resolve: (r) => r.fallback }),
    recipient: t.field({ type: Footprint, nullable: true, resolve: (r) => r.recipient }),
    render: t.field({ type: Rendered, resolve: (r) => r.render }),
    messageIds: t.idList({ description: 'The messages sent to the test recipient; empty when there is none.', resolve: (r) => r.messageIds }),
  }),
});

builder.mutationFields((t) => ({
  testNotification: t.field({
    type: TestResultRef,
    description:
      'Renders the master version (or `versionId`) for the test recipient and records the test; with a recipient, also sends it to them (status SENT_TO_PIPELINE, else RECORDED).',
    authScopes: auth,
    args: { id: t.arg.int({ required: true }), versionId: t.arg.id(), input: t.arg({ type: TestInput }) },
    resolve: (_r, args, ctx) =>
      testNotification(requireProjectId(ctx), ctx.requestId, args.id, args.versionId == null ? null : String(args.versionId), args.input ?? {}, ctx.delivery),
  }),
  executeNotification: t.field({
    type: [ExecutionResultRef],
    description: `Executes an active notification for up to ${MAX_EXECUTIONS} recipients: records each execution with its messages and sends them; one result per execution.`,
    authScopes: auth,
    args: {
      id: t.arg.int({ required: true }),
      executions: t.arg({ type: [ExecutionInput], required: true }),
    },
    resolve: (_r, args, ctx) => executeNotification(requireProjectId(ctx), ctx.requestId, args.id, args.executions, ctx.delivery),
  }),
}));
