import { z } from 'zod';
import { prisma } from '../../db/client.ts';
import { builder } from '../../graphql/builder.ts';
import { connectionArgs, pageById } from '../../graphql/connections.ts';
import { badInput } from '../../graphql/errors.ts';
import { requireProjectId } from '../../graphql/principal.ts';
import type { MessageStatusEvent } from '../../realtime/pubsub.ts';
import { isUuid } from '../users/service.ts';
import { sendWithAudiences } from '../broadcasts/service.ts';
import { cancelMessage, getMessage, MAX_SEND_BATCH, retryFailed, retryMessage, sendMessages, type SendItem, type SendResult } from './service.ts';

const auth = { operator: true } as const;

const MessageStatus = builder.enumType('MessageStatus', {
  values: ['QUEUED', 'SCHEDULED', 'SENDING', 'SENT', 'DELIVERED', 'FAILED', 'SKIPPED', 'CANCELED', 'BOUNCED', 'READ'] as const,
});

const MessageEventKind = builder.enumType('MessageEventKind', {
  description: 'What a provider reported without a status change (delivery receipts).',
  values: ['OPENED', 'CLICKED', 'DEFERRED', 'COMPLAINED'] as const,
});

const MessageEvent = builder.prismaObject('MessageEvent', {
  fields: (t) => ({
    status: t.field({ type: MessageStatus, resolve: (e) => e.status }),
    attempt: t.exposeInt('attempt'),
    provider: t.exposeString('provider', { nullable: true }),
    error: t.exposeString('error', { nullable: true }),
    at: t.expose('at', { type: 'DateTime' }),
    kind: t.field({ type: MessageEventKind, nullable: true, description: 'Null: a status change. Set: a report (open, click...) while the message had `status`.', resolve: (e) => e.kind }),
    url: t.exposeString('url', { nullable: true, description: 'The link of a CLICKED event.' }),
  }),
});
void MessageEvent;

export const Message = builder.prismaObject('Message', {
  description: 'One delivery: one recipient on one channel.',
  fields: (t) => ({
    id: t.exposeID('id'),
    clientMessageId: t.exposeString('externalId', { nullable: true, description: "The id the client gave the message when sending it (Notifuse's `id`)." }),
    externalId: t.exposeString('externalId', {
      nullable: true,
      description: "The id the client gave the message (Notifuse's `id`), not a user's externalId.",
      deprecationReason: 'Use clientMessageId: this is the message\'s client id, not the user\'s externalId.',
    }),
    notificationId: t.exposeInt('notificationId', { nullable: true }),
    userId: t.exposeID('userId', { nullable: true }),
    channel: t.exposeString('channel'),
    status: t.field({ type: MessageStatus, resolve: (m) => m.status }),
    to: t.exposeString('to', { nullable: true }),
    content: t.field({ type: 'JSONObject', resolve: (m) => m.content as Record<string, unknown> }),
    source: t.exposeString('source'),
    requestId: t.exposeString('requestId'),
    incrementId: t.exposeString('incrementId', { nullable: true }),
    stackCount: t.exposeInt('stackCount'),
    attempts: t.exposeInt('attempts'),
    maxAttempts: t.exposeInt('maxAttempts'),
    lastError: t.exposeString('lastError', { nullable: true }),
    provider: t.exposeString('provider', { nullable: true }),
    providerMessageId: t.exposeString('providerMessageId', { nullable: true }),
    scheduledAt: t.expose('scheduledAt', { type: 'DateTime', nullable: true }),
    sentAt: t.expose('sentAt', { type: 'DateTime', nullable: true }),
    deliveredAt: t.expose('deliveredAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    events: t.relation('events', { description: 'Every status change, oldest first.', query: { orderBy: { id: 'asc' } } }),
  }),
});

builder.queryField('message', (t) =>
  t.field({
    type: Message,
    authScopes: auth,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => getMessage(requireProjectId(ctx), String(args.id)),
  }),
);

const MessageUserFilter = builder.inputType('MessageUserFilter', {
  description: 'The recipient, by Herald id or by the externalId your backend gave the user (both: both must match).',
  fields: (t) => ({
    id: t.id({ description: "The user's Herald id." }),
    externalId: t.string({ description: "The user's externalId (the `userId` of a send)." }),
  }),
});

const MessageFilter = builder.inputType('MessageFilter', {
  fields: (t) => ({
    status: t.field({ type: [MessageStatus] }),
    channel: t.string(),
    notificationId: t.int(),
    user: t.field({ type: MessageUserFilter, description: 'Messages to this user.' }),
    userId: t.id({ description: "The recipient's Herald id (the same as `user: { id }`)." }),
    requestId: t.string(),
    clientMessageId: t.string({ description: "The id the client gave the message when sending it (Notifuse's `id`)." }),
    // The old name read like the user's externalId; it still works, as an alias.
    externalId: t.string({
      description: "The message's client id, not the user's externalId (for that: `user: { externalId }`).",
      deprecationReason: 'Use clientMessageId (the message\'s client id); for the user\'s externalId use user: { externalId }.',
    }),
  }),
});

builder.queryField('messages', (t) =>
  t.prismaConnection({
    type: 'Message',
    cursor: 'id',
    description: 'Messages of the project, oldest first (ids are time-ordered).',
    authScopes: auth,
    maxSize: 200,
    defaultSize: 50,
    args: { filter: t.arg({ type: MessageFilter }) },
    validate: connectionArgs('uuid'),
    totalCount: (_c, args, ctx) => prisma().message.count({ where: messageWhere(requireProjectId(ctx), args.filter) }),
    resolve: (query, _r, args, ctx) => {
      const page = pageById(query, 'asc');
      return prisma().message.findMany({ ...page.query, where: { AND: [messageWhere(requireProjectId(ctx), args.filter), page.where] }, orderBy: { id: 'asc' } });
    },
  }),
);

const CHANNELS = ['IN_APP', 'EMAIL', 'SMS', 'WHATSAPP', 'WEB_PUSH', 'WEBHOOK', 'SLACK', 'MS_TEAMS', 'DISCORD', 'MOBILE_PUSH'] as const;
const NO_MESSAGE = '00000000-0000-0000-0000-000000000000';
interface MessageFilterArgs {
  status?: string[] | null;
  channel?: string | null;
  notificationId?: number | null;
  user?: { id?: string | number | null; externalId?: string | null } | null;
  userId?: string | number | null;
  requestId?: string | null;
  clientMessageId?: string | null;
  externalId?: string | null;
}

function messageWhere(projectId: string, f: MessageFilterArgs | null | undefined) {
  validMessageFilter(f);
  const channel = f?.channel && (CHANNELS as readonly string[]).includes(f.channel) ? (f.channel as (typeof CHANNELS)[number]) : undefined;
  // `userId` and `user.id` name the same column: both given, both must match.
  const userIds = [f?.userId, f?.user?.id].filter((id) => id != null).map(String);
  const clientId = f?.clientMessageId ?? f?.externalId;
  return {
    projectId,
    ...(f?.status?.length ? { status: { in: f.status as never } } : {}),
    ...(f?.channel ? (channel ? { channel } : { id: NO_MESSAGE }) : {}),
    ...(f?.notificationId != null ? { notificationId: f.notificationId } : {}),
    // A Herald id is a uuid: anything else matches no message (rather than a database error).
    ...(userIds.length ? (userIds.every((id) => z.uuid().safeParse(id).success) && new Set(userIds.map((id) => id.toLowerCase())).size === 1 ? { userId: userIds[0]!.toLowerCase() } : { id: NO_MESSAGE }) : {}),
    ...(f?.user?.externalId != null ? { user: { externalId: f.user.externalId } } : {}),
    ...(f?.requestId ? { requestId: f.requestId } : {}),
    ...(clientId != null ? { externalId: clientId } : {}),
  };
}

/** A filter naming the client id twice, under its name and its deprecated alias, must not pick one silently. */
function validMessageFilter(f: MessageFilterArgs | null | undefined): void {
  if (f?.clientMessageId != null && f.externalId != null && f.clientMessageId !== f.externalId) {
    throw badInput([{ field: 'filter.externalId', message: 'is the deprecated name of clientMessageId: give one of them' }]);
  }
}

const SendTargetInput = builder.inputType('SendTargetInput', {
  description: 'An audience instead of one user: the item becomes a broadcast (see sendToTopic).',
  fields: (t) => ({
    topic: t.string({ required: true, description: "The topic's key: every subscriber is sent the notification." }),
  }),
});

const SendMessageInput = builder.inputType('SendMessageInput', {
  description: "A message to send (Notifuse's messages.send item).",
  fields: (t) => ({
    notificationId: t.string({ required: true, description: "The notification's key or numeric id." }),
    userId: t.string({ description: "The user's externalId; created if missing. Required unless `to` names an audience." }),
    to: t.field({
      type: SendTargetInput,
      description: 'Send to a topic instead of userId: the item answers at once with a broadcastId, and its `id` is the broadcast\'s transactionId.',
    }),
    data: t.field({ type: 'JSONObject' }),
    id: t.string({ description: 'Your unique id for the message; reusing one answers "id/exists".' }),
    incrementId: t.string({ description: 'Stacks onto the previous in-app item with the same incrementId within the stack timeout.' }),
    userEmail: t.string(),
    userTelephone: t.string(),
    userLanguage: t.string(),
    userTimezone: t.string(),
    userFirstName: t.string(),
    userLastName: t.string(),
    userPhotoURL: t.string(),
    userCountry: t.string(),
    widgetSettingsOverride: t.field({ type: 'JSONObject' }),
    emailSettingsOverride: t.field({ type: 'JSONObject' }),
    tenant: t.string({
      description:
        'The key of the tenant the message is sent for: templates see it as `tenant`, its default preferences apply, and the in-app item belongs to it. The user must be a member: "tenant/not-found" or "tenant/not-member" otherwise (nothing written).',
    }),
  }),
});

const SendResultRef = builder.objectRef<SendResult & { broadcastId?: string | null }>('SendMessageResult').implement({
  description: 'The outcome of one message, in input order. ok: Herald accepted it; emailError/smsError: a provider failed.',
  fields: (t) => ({
    ok: t.exposeBoolean('ok'),
    id: t.exposeString('id', { nullable: true }),
    error: t.exposeString('error', { nullable: true }),
    emailError: t.exposeString('emailError', { nullable: true }),
    smsError: t.exposeString('smsError', { nullable: true }),
    messages: t.field({ type: [Message], resolve: (r) => r.messages }),
    broadcastId: t.id({ nullable: true, description: 'For an item sent `to` a topic: its broadcast (the messages follow in the background).', resolve: (r) => r.broadcastId ?? null }),
  }),
});

builder.mutationFields((t) => ({
  sendMessages: t.field({
    type: [SendResultRef],
    description: `Sends up to ${MAX_SEND_BATCH} messages in parallel. Emails and SMS are attempted before the answer.`,
    authScopes: auth,
    args: {
      messages: t.arg({
        type: [SendMessageInput],
        required: true,
        validate: z.array(z.unknown()).min(1, 'give at least one message').max(MAX_SEND_BATCH, `at most ${MAX_SEND_BATCH} messages per call`),
      }),
    },
    resolve: (_r, args, ctx) =>
      args.messages.some((m) => m.to != null)
        ? sendWithAudiences(requireProjectId(ctx), ctx.requestId, args.messages, ctx.delivery)
        : sendMessages(requireProjectId(ctx), ctx.requestId, args.messages as SendItem[], ctx.delivery, { maxAttempts: ctx.delivery.maxAttempts }),
  }),
  cancelMessage: t.field({
    type: Message,
    description: 'Cancels a scheduled or queued message (CONFLICT once it is being sent or done).',
    authScopes: auth,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => cancelMessage(requireProjectId(ctx), String(args.id), ctx.delivery),
  }),
  retryMessage: t.field({
    type: Message,
    description: 'Sends a FAILED message again with a fresh attempt budget.',
    authScopes: auth,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => retryMessage(requireProjectId(ctx), String(args.id), ctx.delivery),
  }),
  retryFailed: t.int({
    description: 'Retries every FAILED message (the dead letters) matching the filter; answers how many.',
    authScopes: auth,
    // Refused rather than ignored: a filter dropped for a typo would retry every dead letter.
    args: {
      channel: t.arg.string({ validate: z.enum(CHANNELS, { error: `must be one of ${CHANNELS.join(', ')}` }).nullish() }),
      notificationId: t.arg.int({ validate: z.number().int().min(1, 'must be a notification id (1 or more)').nullish() }),
    },
    resolve: (_r, args, ctx) =>
      retryFailed(
        requireProjectId(ctx),
        { channel: (args.channel as (typeof CHANNELS)[number] | null | undefined) ?? null, notificationId: args.notificationId },
        ctx.delivery,
      ),
  }),
}));

const MessageStatusEventRef = builder.objectRef<MessageStatusEvent>('MessageStatusEvent').implement({
  fields: (t) => ({
    messageId: t.exposeID('messageId'),
    userId: t.exposeID('userId', { nullable: true }),
    notificationId: t.exposeInt('notificationId', { nullable: true }),
    channel: t.exposeString('channel'),
    status: t.field({ type: MessageStatus, resolve: (e) => e.status as never }),
    attempt: t.exposeInt('attempt'),
    error: t.exposeString('error', { nullable: true }),
    at: t.exposeString('at'),
  }),
});

builder.subscriptionType({});
builder.subscriptionField('messageStatus', (t) =>
  t.field({
    type: MessageStatusEventRef,
    description: "Every delivery status change of the project's messages, optionally narrowed to a message, a user or a notification.",
    authScopes: auth,
    // Herald ids are uuids: anything else could never match, and would wait silently forever.
    args: {
      messageId: t.arg.id({ validate: z.string().refine(isUuid, 'must be a message id (uuid)').nullish() }),
      userId: t.arg.id({ validate: z.string().refine(isUuid, "must be a user's Herald id (uuid)").nullish() }),
      notificationId: t.arg.int(),
    },
    subscribe: (_r, args, ctx) => {
      const projectId = requireProjectId(ctx);
      const messageId = args.messageId == null ? null : String(args.messageId).toLowerCase();
      const userId = args.userId == null ? null : String(args.userId).toLowerCase();
      const wanted = (e: MessageStatusEvent) =>
        (messageId === null || e.messageId === messageId) &&
        (userId === null || e.userId === userId) &&
        (args.notificationId == null || e.notificationId === args.notificationId);
      // Filtered as events arrive, so its bounded buffer holds only what it will deliver. Not an
      // async generator: one cannot be returned while it awaits the next event, so a client's
      // disconnect would keep its subscription until then.
      return ctx.pubsub.subscribe('messageStatus', projectId, { filter: wanted });
    },
    resolve: (event) => event,
  }),
);
