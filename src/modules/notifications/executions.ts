import { createHash } from 'node:crypto';
import { uuidv7 } from '../../db/ids.ts';
import { z } from 'zod';
import { prisma } from '../../db/client.ts';
import { acceptMessages, draftsFor, type AcceptContext, type MessageDraft } from '../../delivery/accept.ts';
import { expirationOf } from '../../delivery/providers/mobile-push.ts';
import type { Delivery } from '../../delivery/delivery.ts';
import type { Channel, Notification, NotificationVersion, Prisma, User } from '../../generated/prisma/client.ts';
import { badInput, conflict, issuesFrom } from '../../graphql/errors.ts';
import { pushAppChannels, pushAppFallback, type ChannelFallback } from './content.ts';
import { findContact, lookup, type ContactRef } from './contacts.ts';
import { renderVersion, type RenderedContent } from './render.ts';
import { getNotification, getVersion, masterVersion } from './service.ts';
import { sendTransactional } from '../messages/transactional.ts';

export const MAX_EXECUTIONS = 500;

const typed = z.object({ type: z.string().min(1).max(100) }).catchall(z.unknown());
const contactValue = z.union(
  [
    z.string().trim().min(1).max(320),
    z.number().int(),
    z
      .object({ id: z.string().max(320).nullish(), unicity: z.string().max(320).nullish(), hash: z.string().max(64).nullish() })
      // As findContact requires: with none, lookup() had nothing to search by and crashed.
      .refine((ref) => [ref.id, ref.unicity, ref.hash].filter((v) => v != null && v.trim() !== '').length === 1, 'give exactly one of id, unicity and hash'),
  ],
  {
    // One message in the API's terms rather than every branch's.
    error: (issue) =>
      issue.input === undefined
        ? 'is required: the contact (a string, or { "id" | "unicity" | "hash": "..." })'
        : typeof issue.input === 'object' && issue.input !== null && !Array.isArray(issue.input)
          ? 'give exactly one of id, unicity and hash, as strings'
          : 'must be a non-empty string (at most 320 characters), an integer or { "id" | "unicity" | "hash": "..." }',
  },
);
const recipientSchema = z.object({ type: z.string().max(50).nullish(), value: contactValue });
export const stampSchema = z.object({
  time: z.number().int().nullish(),
  id: z.uuid().nullish(),
  thread: z.uuid().nullish(),
  set: z.uuid().nullish(),
});

const overrideText = (max: number) => z.string().max(max).nullish();
const commonItem = {
  title: overrideText(1_000),
  body: overrideText(10_000),
  icon: overrideText(2_048),
  thumbnail: overrideText(2_048),
  image: overrideText(2_048),
  data: z.record(z.string(), z.unknown()).nullish(),
  variables: z.array(z.record(z.string(), z.unknown())).max(50).nullish(),
  redirection: typed.nullish(),
  channel: typed.nullish(),
  locale: z.string().max(35).nullish(),
};

export const executionItemSchema = z.object({
  ...commonItem,
  recipient: recipientSchema,
  stamp: stampSchema.nullish(),
  urgent: z.boolean().nullish(),
});
export type ExecutionItem = z.input<typeof executionItemSchema>;

export const testInputSchema = z.object({ ...commonItem, recipient: recipientSchema.nullish(), expiration: typed.nullish() });
export type TestInput = z.input<typeof testInputSchema>;

/** NP6 recipients: `{ type: "id" | "unicity" | "hash", value }` or a footprint object `{ id | unicity | hash }`. */
export function contactRefOf(recipient: z.output<typeof recipientSchema>): ContactRef {
  const { type, value } = recipient;
  if (typeof value === 'object') return value;
  const text = String(value);
  if (type === 'unicity') return { unicity: text };
  if (type === 'hash') return { hash: text };
  return { id: text };
}

export function footprint(user: User, unicityField = 'email') {
  const unicity = (user as unknown as Record<string, string | null>)[unicityField] ?? null;
  return {
    type: 'footprint',
    id: user.id,
    externalId: user.externalId,
    unicity,
    hash: unicity ? createHash('sha256').update(unicity.toLowerCase()).digest('hex') : null,
  };
}

/** NP6's stamp: tracks the conversation flow of a message. */
export interface TrackingStamp {
  /** Milliseconds since the epoch. */
  time: number;
  id: string;
  thread: string;
  set: string;
}

/**
 * The caller's stamp, completed with what Herald knows: the time of the render, execution or test;
 * the id of the execution or test (a new one for renders, which are not recorded); a message
 * without a thread starts its own (thread = id); the set is the call's (one per batch).
 */
export function completeStamp(given: { [K in keyof TrackingStamp]?: TrackingStamp[K] | null } | null | undefined, id: string, at: Date, set?: string): TrackingStamp {
  const stampId = given?.id ?? id;
  return { time: given?.time ?? at.getTime(), id: stampId, thread: given?.thread ?? stampId, set: given?.set ?? set ?? stampId };
}

/**
 * NP6's meta.subscription: the device registration a render is for. Herald renders per contact, not
 * per device; when the notification goes out by web push, this is the contact's latest registered
 * web push subscription (delivery goes to each of them), else null.
 */
export async function subscriptionFor(projectId: string, userId: string, channels: readonly Channel[]): Promise<string | null> {
  if (!channels.includes('WEB_PUSH')) return null;
  const latest = await prisma().pushSubscription.findFirst({ where: { projectId, userId }, orderBy: { createdAt: 'desc' }, select: { id: true } });
  return latest?.id ?? null;
}

export type ExecutionResult =
  | {
      type: 'success';
      id: string;
      recipient: ReturnType<typeof footprint>;
      render: RenderedContent;
      messageIds: string[];
      stamp: TrackingStamp;
      fallback: ChannelFallback | null;
    }
  | { type: 'failure'; error: { code: string; message: string } };

type Typed = { type: string; value?: unknown; [key: string]: unknown } | null | undefined;

/** NP6's typed redirection `{ type, value }`: the string value, or null. */
function redirectionValue(redirection: unknown): string | null {
  const value = (redirection as Typed)?.value;
  return typeof value === 'string' && value !== '' ? value : null;
}

const CHANNEL_NAMES: Record<string, Channel> = {
  in_app: 'IN_APP',
  inapp: 'IN_APP',
  push_app: 'MOBILE_PUSH',
  mobile_push: 'MOBILE_PUSH',
  mobilepush: 'MOBILE_PUSH',
  email: 'EMAIL',
  sms: 'SMS',
  whatsapp: 'WHATSAPP',
  web_push: 'WEB_PUSH',
  webpush: 'WEB_PUSH',
  webhook: 'WEBHOOK',
  slack: 'SLACK',
  ms_teams: 'MS_TEAMS',
  msteams: 'MS_TEAMS',
  teams: 'MS_TEAMS',
  discord: 'DISCORD',
};
const channelOf = (name: unknown): Channel | null =>
  typeof name === 'string' ? (CHANNEL_NAMES[name.trim().toLowerCase().replace(/-/g, '_')] ?? CHANNEL_NAMES[name.trim().toLowerCase()] ?? null) : null;

/**
 * NP6's `channel` override narrows the notification's channels: `{ type: "email" }`, or
 * `{ type: ..., value: "sms" | ["email", "sms"] }`. Only channels of the notification count;
 * `{ type: "default" }`, unknown names, or a narrowing to nothing keep the notification's channels.
 */
export function channelsFor(notificationChannels: Channel[], override: unknown): Channel[] {
  const o = override as Typed;
  if (!o) return notificationChannels;
  const named = [o.type, ...(Array.isArray(o.value) ? o.value : [o.value])].map(channelOf).filter((c): c is Channel => c !== null);
  const kept = notificationChannels.filter((c) => named.includes(c));
  return kept.length ? kept : notificationChannels;
}

interface DraftItem {
  redirection?: unknown;
  channel?: unknown;
  data?: Record<string, unknown> | null;
  urgent?: boolean | null;
  /** NP6 tests: overrides settings.expiration (mobile pushes' TTL). */
  expiration?: unknown;
}

/**
 * The channels of one execution or test: the notification's, narrowed by the item's or the
 * version's `channel`; a push-app send without a MOBILE_PUSH provider goes to the others (the
 * answer's `fallback` says so).
 */
const itemChannels = (notification: Notification, version: NotificationVersion, item: DraftItem, mobilePush: boolean) =>
  pushAppChannels(notification, channelsFor(notification.channels, item.channel ?? version.channel), mobilePush);

/** Whether the project can send MOBILE_PUSH (an enabled fcm or apns provider). */
export async function mobilePushConfigured(projectId: string): Promise<boolean> {
  return (await prisma().providerConfig.count({ where: { projectId, channel: 'MOBILE_PUSH', enabled: true } })) > 0;
}

/** The messages of one execution or test: the item's render on the notification's channels, overrides applied. */
function executionDrafts(notification: Notification, version: NotificationVersion, user: User, item: DraftItem, render: RenderedContent, executionId: string, mobilePush: boolean): MessageDraft[] {
  const urgent = item.urgent ?? Boolean((notification.settings as { urgent?: boolean } | null)?.urgent);
  const category = (notification.settings as { category?: number } | null)?.category;
  return draftsFor(notification, version.id, {
    channels: itemChannels(notification, version, item, mobilePush),
    user,
    render,
    data: item.data ?? {},
    redirection: redirectionValue(item.redirection) ?? redirectionValue(version.redirection),
  }).map((d) => ({
    ...d,
    executionId,
    critical: urgent,
    category: category == null ? null : String(category),
    ...(d.channel === 'MOBILE_PUSH' && item.expiration != null ? { content: { ...d.content, expiresAt: expirationOf(item.expiration, new Date())?.toISOString() ?? d.content.expiresAt ?? null } } : {}),
  }));
}

/**
 * NP6 executions: validates the batch, resolves each recipient, renders the master version
 * and records one Execution per accepted item together with its messages (one per channel),
 * all in one transaction, then dispatches the messages. Unknown contacts get a failure item;
 * a malformed item fails the whole request (nothing is written).
 */
export async function executeNotification(
  projectId: string,
  requestId: string,
  idOrKey: number | string,
  items: unknown[],
  delivery: Delivery,
): Promise<ExecutionResult[]> {
  if (items.length > MAX_EXECUTIONS) throw badInput([{ field: 'executions', message: `at most ${MAX_EXECUTIONS} executions per call (got ${items.length})` }]);
  if (items.length === 0) throw badInput([{ field: 'executions', message: 'give at least one execution' }]);
  const parsed = items.map((item, i) => {
    const result = executionItemSchema.safeParse(item);
    if (!result.success) throw badInput(issuesFrom(result.error.issues, ['executions', i]));
    return result.data;
  });
  const notification = await getNotification(projectId, idOrKey);
  if (!notification.active) throw conflict(`Notification ${notification.id} is inactive: activate it before executing it`);
  const version = await masterVersion(projectId, notification.id);
  const unicityField = await projectUnicityField(projectId);
  const mobilePush = await mobilePushConfigured(projectId);
  const now = new Date();
  const set = uuidv7(); // the stamp set of this call: one per batch

  const outcomes = await Promise.all(
    parsed.map(async (item) => {
      const user = await lookup(projectId, contactRefOf(item.recipient));
      if (!user) return { failure: { code: 'contact/not-found', message: 'no contact matches the recipient' } };
      try {
        const render = await renderVersion({ notification, version, user, data: item.data, variables: item.variables, overrides: item, locale: item.locale });
        return { user, item, render };
      } catch (error) {
        return { failure: { code: 'render/failed', message: (error as Error).message } };
      }
    }),
  );
  // Each accepted item's execution id and stamp (the caller's, completed).
  const ids = outcomes.map((o) => ('failure' in o ? null : uuidv7()));
  const stamps = outcomes.map((o, i) => ('failure' in o ? null : completeStamp(o.item!.stamp, ids[i]!, now, set)));
  const rows = outcomes.map((o, i) =>
    'failure' in o
      ? null
      : {
          id: ids[i]!,
          projectId,
          kind: 'EXECUTION' as const,
          notificationId: notification.id,
          versionId: version.id,
          userId: o.user!.id,
          requestId,
          request: { ...o.item, stamp: stamps[i] } as unknown as Prisma.InputJsonValue,
          render: o.render as unknown as Prisma.InputJsonValue,
          status: 'ACCEPTED',
        },
  );
  const drafts = outcomes.map((o, i) => ('failure' in o ? [] : executionDrafts(notification, version, o.user!, o.item!, o.render!, rows[i]!.id, mobilePush)));
  const ctx: AcceptContext = { projectId, requestId, source: 'np6', maxAttempts: delivery.maxAttempts };
  const messages = await sendTransactional(
    delivery,
    ctx,
    () =>
      prisma().$transaction(async (tx) => {
        await tx.execution.createMany({ data: rows.filter((r) => r !== null) });
        return acceptMessages(tx, ctx, drafts.flat());
      }),
    (written) => written,
  );
  return outcomes.map((o, i): ExecutionResult =>
    'failure' in o
      ? { type: 'failure', error: o.failure! }
      : {
          type: 'success',
          id: rows[i]!.id,
          recipient: footprint(o.user!, unicityField),
          render: o.render!,
          messageIds: messages.filter((m) => m.executionId === rows[i]!.id).map((m) => m.id),
          stamp: stamps[i]!,
          fallback: pushAppFallback(notification, channelsFor(notification.channels, o.item!.channel ?? version.channel), mobilePush),
        },
  );
}

export interface TestResult {
  type: 'success';
  id: string;
  notification: Notification;
  version: NotificationVersion;
  recipient: ReturnType<typeof footprint> | null;
  render: RenderedContent;
  status: string;
  /** The messages sent to the test recipient (none without a recipient). */
  messageIds: string[];
  stamp: TrackingStamp;
  subscription: string | null;
  /** Set when the test was sent and its notification type's channel does not exist (push-app). */
  fallback: ChannelFallback | null;
}

/** Execution status of a test that was only rendered and recorded (no recipient). */
export const TEST_RECORDED = 'RECORDED';
/** Execution status of a test whose messages were handed to the delivery pipeline. */
export const TEST_SENT = 'SENT_TO_PIPELINE';

/**
 * NP6 tests: renders the master (or the given) version for the test recipient and records the
 * test. With a recipient, the test is also sent to them through the delivery pipeline (the
 * Execution and its messages in one transaction); without one it is only recorded. Inactive
 * notifications can be tested: that is what tests are for.
 */
export async function testNotification(
  projectId: string,
  requestId: string,
  idOrKey: number | string,
  versionId: string | null,
  input: unknown,
  delivery: Delivery,
): Promise<TestResult> {
  const parsed = testInputSchema.safeParse(input ?? {});
  if (!parsed.success) throw badInput(issuesFrom(parsed.error.issues));
  const item = parsed.data;
  const notification = await getNotification(projectId, idOrKey);
  // An empty versionId is a version nobody has (NOT_FOUND), not a request for the master.
  const version = versionId !== null ? await getVersion(projectId, notification.id, versionId) : await masterVersion(projectId, notification.id);
  const user = item.recipient ? await findContact(projectId, contactRefOf(item.recipient)) : null;
  const render = await renderVersion({ notification, version, user, data: item.data, variables: item.variables, overrides: item, locale: item.locale });
  const id = uuidv7();
  const mobilePush = await mobilePushConfigured(projectId);
  const drafts = user ? executionDrafts(notification, version, user, item, render, id, mobilePush) : [];
  const requested = channelsFor(notification.channels, item.channel ?? version.channel);
  const channels = itemChannels(notification, version, item, mobilePush);
  const now = new Date();
  const ctx: AcceptContext = { projectId, requestId, source: 'np6', maxAttempts: delivery.maxAttempts };
  const { execution, messages } = await sendTransactional(
    delivery,
    ctx,
    () =>
      prisma().$transaction(async (tx) => {
        const execution = await tx.execution.create({
          data: {
            id,
            projectId,
            kind: 'TEST',
            notificationId: notification.id,
            versionId: version.id,
            userId: user?.id ?? null,
            requestId,
            request: item as Prisma.InputJsonValue,
            render: render as unknown as Prisma.InputJsonValue,
            status: user ? TEST_SENT : TEST_RECORDED,
            createdAt: now,
          },
        });
        return { execution, messages: await acceptMessages(tx, ctx, drafts) };
      }),
    (written) => written.messages,
  );
  return {
    type: 'success',
    id: execution.id,
    notification,
    version,
    recipient: user ? footprint(user, await projectUnicityField(projectId)) : null,
    render,
    status: execution.status,
    messageIds: messages.map((m) => m.id),
    stamp: completeStamp(null, execution.id, now),
    subscription: user ? await subscriptionFor(projectId, user.id, channels) : null,
    fallback: user ? pushAppFallback(notification, requested, mobilePush) : null,
  };
}

async function projectUnicityField(projectId: string): Promise<string> {
  const project = await prisma().project.findUniqueOrThrow({ where: { id: projectId }, select: { unicityField: true } });
  return project.unicityField;
}
