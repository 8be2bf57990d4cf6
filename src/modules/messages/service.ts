import { z } from 'zod';
import { prisma, rawQuery } from '../../db/client.ts';
import { acceptMessageGroups, draftsFor, type AcceptContext, type MessageDraft } from '../../delivery/accept.ts';
import { TERMINAL, type Delivery } from '../../delivery/delivery.ts';
import type { Channel, Message, Prisma, User } from '../../generated/prisma/client.ts';
import { badInput, conflict, issuesFrom, notFound } from '../../graphql/errors.ts';
import { lookupForSend } from '../notifications/send-lookup.ts';
import { renderVersion } from '../notifications/render.ts';
import { upsertUsers } from '../users/service.ts';
import { userProfileSchema, type UserProfileInput } from '../users/validation.ts';
import { tenantScope, tenantsForSend } from '../tenants/service.ts';
import { afterAccept, sendTransactional } from './transactional.ts';

export const MAX_SEND_BATCH = 50;
/** How long messages.send waits for its emails and SMS before answering (Notifuse sends them in the request). */
export const SYNC_WAIT_MS = 10_000;

const sendItemSchema = z.object({
  notificationId: z.union([z.string().trim().min(1).max(128), z.number().int()], { error: 'is required' }),
  userId: z.string({ error: 'is required' }).trim().min(1, 'is required').max(256),
  data: z.record(z.string(), z.unknown()).nullish(),
  id: z.string().trim().min(1).max(256).nullish(),
  incrementId: z.string().trim().min(1).max(256).nullish(),
  userEmail: z.string().nullish(),
  userTelephone: z.string().nullish(),
  userLanguage: z.string().nullish(),
  userTimezone: z.string().nullish(),
  userFirstName: z.string().nullish(),
  userLastName: z.string().nullish(),
  userPhotoURL: z.string().nullish(),
  userCountry: z.string().nullish(),
  widgetSettingsOverride: z.record(z.string(), z.unknown()).nullish(),
  emailSettingsOverride: z.record(z.string(), z.unknown()).nullish(),
  tenant: z.string().min(1, 'must be a tenant key').max(128).nullish(),
});
export type SendItem = z.input<typeof sendItemSchema>;

export interface SendResult {
  ok: boolean;
  /** The client's id, or the one Herald generated (the first message's id). */
  id: string | null;
  error: string | null;
  messages: Message[];
  emailError: string | null;
  smsError: string | null;
}

/** Every message a batch's items wrote. */
const messagesOf = (results: Accepted[]): Message[] => results.flatMap((r) => r.messages);

/**
 * Notifuse's messages.send: up to 50 messages, each decided on its own (one item's failure does
 * not undo another's) but written together: the batch shares its lookups, one user upsert and
 * one message statement (see acceptMessageGroups). Emails and SMS are attempted before the
 * answer, so provider errors come back as emailError / smsError while ok stays true.
 */
export async function sendMessages(projectId: string, requestId: string, items: SendItem[], delivery: Delivery, config: { maxAttempts: number }): Promise<SendResult[]> {
  if (items.length > MAX_SEND_BATCH) throw badInput([{ field: 'messages', message: `at most ${MAX_SEND_BATCH} messages per call (got ${items.length})` }]);
  if (items.length === 0) throw badInput([{ field: 'messages', message: 'give at least one message' }]);
  const ctx: AcceptContext = { projectId, requestId, source: 'notifuse', maxAttempts: config.maxAttempts };
  const results = await sendTransactional(delivery, ctx, () => acceptBatch(ctx, items), messagesOf);
  const accepted = messagesOf(results);
  // Wait (bounded) for the first attempt of every email and SMS: their errors are part of the answer.
  const watched = accepted.filter((m) => (m.channel === 'EMAIL' || m.channel === 'SMS') && m.status === 'QUEUED');
  const outcomes = await waitForFirstAttempt(watched.map((m) => m.id), SYNC_WAIT_MS);
  return results.map((r) => {
    const errorOf = (channel: Channel) => {
      const m = r.messages.find((x) => x.channel === channel);
      if (!m) return null;
      if (m.status === 'SKIPPED') return m.lastError;
      const o = outcomes.get(m.id);
      // READ: a delivery receipt came back within the wait.
      return o && o.status !== 'SENT' && o.status !== 'DELIVERED' && o.status !== 'READ' ? (o.lastError ?? o.status) : null;
    };
    return { ...r, emailError: errorOf('EMAIL'), smsError: errorOf('SMS') };
  });
}

type Accepted = Omit<SendResult, 'emailError' | 'smsError'>;

/** Notifuse's per-item error for invalid input: "invalid/<field>: <message>; ...". */
const invalid = (issues: { field: string; message: string }[]) => `invalid/${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`;

/**
 * Takes every item through the checks in the order a lone item would meet them (input, notification,
 * client id, profile, user, version, render), so each gets the error it would get alone, but each
 * step runs once for the batch: a handful of statements per request instead of ~9 per message.
 */
/** Recipients a background batch (a broadcast's chunk) renders between two pauses. */
const RENDER_SLICE = 50;

/**
 * pause: given for background batches (a broadcast's chunk): called between the steps and between
 * slices of RENDER_SLICE renders, it waits while transactional sends are accepted (TransactionalLoad.quiet).
 */
async function acceptBatch(ctx: AcceptContext, items: SendItem[], known?: ReadonlyMap<string, User>, pause?: () => Promise<void>): Promise<Accepted[]> {
  const results: (Accepted | undefined)[] = items.map(() => undefined);
  const fail = (index: number, error: string) => {
    results[index] = { ok: false, id: items[index]?.id ?? null, error, messages: [] };
  };
  const live = () => [...items.keys()].filter((index) => results[index] === undefined);

  // A batch that repeats an id is decided in input order: the first one wins.
  const seen = new Set<string>();
  const parsed = new Map<number, z.output<typeof sendItemSchema>>();
  for (const [index, raw] of items.entries()) {
    const id = typeof raw?.id === 'string' ? raw.id.trim() : null;
    if (id && seen.has(id)) {
      results[index] = { ok: false, id, error: 'id/exists', messages: [] };
      continue;
    }
    if (id) seen.add(id);
    const item = sendItemSchema.safeParse(raw);
    if (item.success) parsed.set(index, item.data);
    else fail(index, invalid(issuesFrom(item.error.issues)));
  }
  const item = (index: number) => parsed.get(index)!;

  // Batches usually name one notification: look each up once, not once per message.
  // Keyed with the type: 12 and "12" are looked up as the client gave them, as a lone item would be.
  const keyOf = (index: number) => `${typeof item(index).notificationId}:${item(index).notificationId}`;
  const lookups = new Map(live().map((index) => [keyOf(index), item(index).notificationId]));
  const clientIds = live().flatMap((index) => item(index).id ?? []);
  const [found, taken] = await Promise.all([
    Promise.all([...lookups.values()].map((idOrKey) => lookupForSend(ctx.projectId, idOrKey))),
    // Raw pg: the ORM's per-call cost is most of this lookup's, and it runs once per request.
    clientIds.length
      ? rawQuery<{ externalId: string }>(
          // A workflow run holds its client id too (its messages carry none).
          `SELECT DISTINCT "externalId" FROM "Message" WHERE "projectId" = $1::uuid AND "externalId" = ANY($2::text[])
           UNION SELECT "transactionId" FROM "WorkflowRun" WHERE "projectId" = $1::uuid AND "transactionId" = ANY($2::text[])`,
          [ctx.projectId, clientIds],
          { prepared: true },
        )
      : [],
  ]);
  const notificationOf = new Map([...lookups.keys()].map((key, i) => [key, found[i]?.notification ?? null]));
  const takenIds = new Set(taken.map((m) => m.externalId));
  // Active notifications come with their master version (null: none, an item error).
  const versions = new Map(found.flatMap((f) => (f?.notification.active ? [[f.notification.id, f.version] as const] : [])));
  const notification = (index: number) => notificationOf.get(keyOf(index))!;

  // The tenants named, and whether each recipient is a member: refused before the user upsert,
  // so an item naming a tenant its user does not belong to writes nothing.
  const tenantKeys = live().flatMap((index) => item(index).tenant ?? []);
  const tenantLookup = tenantKeys.length
    ? await tenantsForSend(ctx.projectId, tenantKeys, live().flatMap((index) => (item(index).tenant ? [{ key: item(index).tenant!, externalId: item(index).userId }] : [])))
    : null;

  const profiles = new Map<number, UserProfileInput>();
  for (const index of live()) {
    const n = notification(index);
    const it = item(index);
    if (!n) fail(index, 'notification/not-found');
    else if (!n.active) fail(index, 'notification/inactive');
    else if (it.id && takenIds.has(it.id)) fail(index, 'id/exists');
    else if (it.tenant && !tenantLookup!.tenants.has(it.tenant)) fail(index, 'tenant/not-found');
    else if (it.tenant && !tenantLookup!.isMember(it.tenant, it.userId)) fail(index, 'tenant/not-member');
    else {
      const profile = profileOf(it);
      const check = userProfileSchema.safeParse(profile);
      if (check.success) profiles.set(index, profile);
      // The profile's fields are the message's user* fields.
      else fail(index, invalid(issuesFrom(check.error.issues).map((i) => ({ ...i, field: `user${i.field.charAt(0).toUpperCase()}${i.field.slice(1)}` }))));
    }
  }

  // One upsert for the batch: its rows are written in a global order, so concurrent batches cannot deadlock.
  // Users the caller already read (an audience's chunk, by externalId) are taken as they are.
  const users = new Map<number, User>();
  for (const index of profiles.keys()) {
    const user = known?.get(item(index).userId);
    if (user) users.set(index, user);
  }
  const upserting = [...profiles.keys()].filter((index) => !users.has(index));
  const upserted = upserting.length ? await upsertUsers(ctx.projectId, upserting.map((index) => profiles.get(index)!), 'FILL_MISSING') : [];
  for (const [i, index] of upserting.entries()) {
    const u = upserted[i];
    if (u?.ok) users.set(index, u.user);
    else fail(index, 'user/invalid');
  }

  const drafts = new Map<number, MessageDraft[]>();
  const draft = async (index: number) => {
    const n = notification(index);
    const version = versions.get(n.id);
    if (!version) return fail(index, 'notification/no-version');
    const it = item(index);
    const tenant = it.tenant ? tenantLookup!.tenants.get(it.tenant)! : null;
    let render;
    try {
      render = await renderVersion({ notification: n, version, user: users.get(index)!, data: it.data, tenant: tenant && tenantScope(tenant) });
    } catch (error) {
      return fail(index, `render/failed: ${(error as Error).message}`);
    }
    drafts.set(
      index,
      draftsFor(n, version.id, {
        channels: n.channels,
        user: users.get(index)!,
        render,
        data: it.data ?? {},
        redirection: typeof (version.redirection as { value?: unknown } | null)?.value === 'string' ? ((version.redirection as { value: string }).value) : null,
        widgetOverride: it.widgetSettingsOverride,
        emailOverride: it.emailSettingsOverride,
      }).map((d) => ({ ...d, externalId: it.id ?? null, incrementId: it.incrementId ?? null, tenantId: tenant?.id ?? null })),
    );
  };
  const rendering = live();
  const slice = pause ? RENDER_SLICE : rendering.length;
  for (let i = 0; i < rendering.length; i += slice) {
    if (pause) await pause();
    await Promise.all(rendering.slice(i, i + slice).map(draft));
  }

  const accepting = live();
  if (pause) await pause();
  if (accepting.length) {
    const written = await acceptMessageGroups(prisma(), ctx, accepting.map((index) => drafts.get(index)!));
    for (const [i, index] of accepting.entries()) {
      const messages = written[i];
      // Null: a concurrent send with the same id got there first.
      if (!messages) fail(index, 'id/exists');
      else results[index] = { ok: true, id: item(index).id ?? messages[0]?.id ?? null, error: null, messages };
    }
  }
  return results.map((r) => r!);
}

/** One recipient of an audience send (a broadcast's chunk): a user the caller has just read. */
export interface AudienceItem {
  user: User;
  notificationId: string | number;
  data: Record<string, unknown>;
  /** The audience send's idempotency key: with the user, the messages' client id. */
  transactionId: string;
}

/** The client id of an audience send's messages: one per transaction and user, so a redone chunk cannot deliver twice. */
export const audienceMessageId = (transactionId: string, userId: string) => `${transactionId}:${userId}`;

/**
 * The batch accept path for audiences (broadcast fan-out): every item goes through the same
 * steps as a send item (notification, render, drafts, preferences at delivery), with the users
 * the caller read instead of an upsert, and without messages.send's wait for emails and SMS.
 * The messages' client id is audienceMessageId: the unique index (projectId, externalId,
 * channel) makes a repeated item answer "id/exists" instead of a second delivery. Delivery jobs
 * go with a lower priority than transactional sends', so a broadcast cannot starve them.
 */
export async function acceptAudienceChunk(ctx: AcceptContext, items: AudienceItem[], delivery: Delivery, options: { priority?: number } = {}): Promise<Accepted[]> {
  if (items.length === 0) return [];
  const known = new Map(items.map((i) => [i.user.externalId, i.user]));
  // Background work: it steps aside, between its steps, for the transactional sends of this process.
  const pause = () => delivery.load.quiet();
  const results = await acceptBatch(
    ctx,
    items.map((i) => ({ notificationId: i.notificationId, userId: i.user.externalId, data: i.data, id: audienceMessageId(i.transactionId, i.user.id) })),
    known,
    pause,
  );
  // Recipients of a notification with a workflow started runs instead of messages: woken now
  // (the engine's sweep would find them anyway, within RECONCILE_INTERVAL_MS).
  await afterAccept(delivery, ctx, messagesOf(results), { priority: options.priority, pause });
  return results;
}

function profileOf(item: z.output<typeof sendItemSchema>): UserProfileInput {
  return {
    externalId: item.userId,
    email: item.userEmail,
    telephone: item.userTelephone,
    language: item.userLanguage,
    timezone: item.userTimezone,
    firstName: item.userFirstName,
    lastName: item.userLastName,
    photoURL: item.userPhotoURL,
    country: item.userCountry,
  };
}

/** Polls until each message has had its first attempt (or the time is up). */
export async function waitForFirstAttempt(ids: string[], timeoutMs: number): Promise<Map<string, Pick<Message, 'id' | 'status' | 'lastError' | 'attempts'>>> {
  const done = new Map<string, Pick<Message, 'id' | 'status' | 'lastError' | 'attempts'>>();
  const deadline = Date.now() + timeoutMs;
  let wait = 20;
  while (ids.length > done.size) {
    const rows = await prisma().message.findMany({
      where: { id: { in: ids.filter((id) => !done.has(id)) } },
      select: { id: true, status: true, lastError: true, attempts: true },
    });
    for (const row of rows) {
      const attempted = TERMINAL.includes(row.status) || (row.status === 'QUEUED' && row.attempts > 0);
      if (attempted) done.set(row.id, row);
    }
    if (ids.length === done.size || Date.now() > deadline) {
      for (const row of rows) if (!done.has(row.id)) done.set(row.id, row);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, wait));
    wait = Math.min(wait * 2, 250);
  }
  return done;
}

export async function getMessage(projectId: string, id: string): Promise<Message> {
  const message = z.uuid().safeParse(id).success ? await prisma().message.findFirst({ where: { id, projectId } }) : null;
  if (!message) throw notFound('Message', id);
  return message;
}

/** The status a message has now (for a CONFLICT message: the one read before the update may be stale). */
async function statusNow(id: string): Promise<string> {
  return (await prisma().message.findUnique({ where: { id }, select: { status: true } }))?.status ?? 'gone';
}

/** Cancels a message that has not been sent yet (scheduled or queued). */
export async function cancelMessage(projectId: string, id: string, delivery: Delivery): Promise<Message> {
  const message = await getMessage(projectId, id);
  const updated = await prisma().message.updateMany({ where: { id, status: { in: ['SCHEDULED', 'QUEUED'] } }, data: { status: 'CANCELED' } });
  if (updated.count === 0) throw conflict(`Message ${id} is ${await statusNow(id)}: only scheduled or queued messages can be canceled`);
  await delivery.event(message, 'CANCELED');
  return getMessage(projectId, id);
}

/** Sends a FAILED (dead-letter) message again, with a fresh attempt budget. */
export async function retryMessage(projectId: string, id: string, delivery: Delivery): Promise<Message> {
  await getMessage(projectId, id);
  const [fresh] = await requeueFailed({ id, projectId });
  if (!fresh) throw conflict(`Message ${id} is ${await statusNow(id)}: only failed messages can be retried`);
  await delivery.event(fresh, 'QUEUED', { error: 'retry requested' });
  await delivery.dispatch([fresh], `retry${Date.now()}`);
  return fresh;
}

/** The most dead letters one retryFailed call sends again; call it again for more. */
export const RETRY_FAILED_LIMIT = 10_000;

/**
 * Sends the project's FAILED messages matching the filter again; answers how many. One UPDATE
 * decides which ones: a message another retry (or cancel) took meanwhile is simply not counted,
 * instead of failing the call half-way with some messages requeued.
 */
export async function retryFailed(projectId: string, filter: { channel?: Channel | null; notificationId?: number | null }, delivery: Delivery): Promise<number> {
  const candidates = await prisma().message.findMany({
    where: {
      projectId,
      status: 'FAILED',
      ...(filter.channel != null ? { channel: filter.channel } : {}),
      ...(filter.notificationId != null ? { notificationId: filter.notificationId } : {}),
    },
    select: { id: true },
    orderBy: { id: 'asc' },
    take: RETRY_FAILED_LIMIT,
  });
  if (candidates.length === 0) return 0;
  const requeued = await requeueFailed({ id: { in: candidates.map((c) => c.id) }, projectId });
  for (const message of requeued) await delivery.event(message, 'QUEUED', { error: 'retry requested' });
  await delivery.dispatch(requeued, `retry${Date.now()}`);
  return requeued.length;
}

/** FAILED → QUEUED with a fresh attempt budget, atomically; answers the messages it moved. */
function requeueFailed(where: Prisma.MessageWhereInput): Promise<Message[]> {
  return prisma().message.updateManyAndReturn({
    where: { ...where, status: 'FAILED' },
    data: { status: 'QUEUED', attempts: 0, scheduledAt: null, leaseUntil: null },
  });
}
