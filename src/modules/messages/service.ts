import { z } from 'zod';
import { prisma } from '../../db/client.ts';
import { acceptMessages, draftsFor, type AcceptContext } from '../../delivery/accept.ts';
import { TERMINAL, type Delivery } from '../../delivery/delivery.ts';
import { Prisma, type Channel, type Message } from '../../generated/prisma/client.ts';
import { badInput, conflict, issuesFrom, notFound } from '../../graphql/errors.ts';
import { findNotification, masterVersion } from '../notifications/service.ts';
import { renderVersion } from '../notifications/render.ts';
import { upsertUsers } from '../users/service.ts';
import { userProfileSchema } from '../users/validation.ts';

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

/**
 * Notifuse's messages.send: up to 50 messages, processed in parallel, each in its own
 * transaction (one item's failure does not undo another's). Emails and SMS are attempted before
 * the answer, so provider errors come back as emailError / smsError while ok stays true.
 */
export async function sendMessages(projectId: string, requestId: string, items: SendItem[], delivery: Delivery, config: { maxAttempts: number }): Promise<SendResult[]> {
  if (items.length > MAX_SEND_BATCH) throw badInput([{ field: 'messages', message: `at most ${MAX_SEND_BATCH} messages per call (got ${items.length})` }]);
  if (items.length === 0) throw badInput([{ field: 'messages', message: 'give at least one message' }]);
  const ctx: AcceptContext = { projectId, requestId, source: 'notifuse', maxAttempts: config.maxAttempts };
  // In parallel, but a batch that repeats an id is decided in input order: the first one wins.
  const seen = new Set<string>();
  const results = await Promise.all(
    items.map((item) => {
      const id = typeof item?.id === 'string' ? item.id.trim() : null;
      if (id && seen.has(id)) return { ok: false, id, error: 'id/exists', messages: [] };
      if (id) seen.add(id);
      return sendOne(ctx, item, delivery);
    }),
  );
  const accepted = results.flatMap((r) => r.messages);
  delivery.publishAccepted(accepted);
  await delivery.dispatch(accepted.filter((m) => m.status !== 'SKIPPED'));
  // Wait (bounded) for the first attempt of every email and SMS: their errors are part of the answer.
  const watched = accepted.filter((m) => (m.channel === 'EMAIL' || m.channel === 'SMS') && m.status === 'QUEUED');
  const outcomes = await waitForFirstAttempt(watched.map((m) => m.id), SYNC_WAIT_MS);
  return results.map((r) => {
    const errorOf = (channel: Channel) => {
      const m = r.messages.find((x) => x.channel === channel);
      if (!m) return null;
      if (m.status === 'SKIPPED') return m.lastError;
      const o = outcomes.get(m.id);
      return o && o.status !== 'SENT' && o.status !== 'DELIVERED' ? (o.lastError ?? o.status) : null;
    };
    return { ...r, emailError: errorOf('EMAIL'), smsError: errorOf('SMS') };
  });
}

async function sendOne(ctx: AcceptContext, raw: SendItem, delivery: Delivery): Promise<Omit<SendResult, 'emailError' | 'smsError'>> {
  const fail = (error: string) => ({ ok: false, id: raw?.id ?? null, error, messages: [] });
  const parsed = sendItemSchema.safeParse(raw);
  if (!parsed.success) return fail(`invalid/${issuesFrom(parsed.error.issues).map((i) => `${i.field}: ${i.message}`).join('; ')}`);
  const item = parsed.data;
  const notification = await findNotification(ctx.projectId, item.notificationId);
  if (!notification) return fail('notification/not-found');
  if (!notification.active) return fail('notification/inactive');
  if (item.id && (await prisma().message.findFirst({ where: { projectId: ctx.projectId, externalId: item.id }, select: { id: true } }))) {
    return fail('id/exists');
  }
  const profile = {
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
  const check = userProfileSchema.safeParse(profile);
  if (!check.success) return fail(`invalid/${issuesFrom(check.error.issues).map((i) => `user${i.field.charAt(0).toUpperCase()}${i.field.slice(1)}: ${i.message}`).join('; ')}`);
  const [upserted] = await upsertUsers(ctx.projectId, [profile], 'FILL_MISSING');
  if (!upserted?.ok) return fail('user/invalid');
  const user = upserted.user;
  let version;
  try {
    version = await masterVersion(ctx.projectId, notification.id);
  } catch {
    return fail('notification/no-version');
  }
  let render;
  try {
    render = await renderVersion({ notification, version, user, data: item.data });
  } catch (error) {
    return fail(`render/failed: ${(error as Error).message}`);
  }
  const drafts = draftsFor(notification, version.id, {
    channels: notification.channels,
    user,
    render,
    data: item.data ?? {},
    redirection: typeof (version.redirection as { value?: unknown } | null)?.value === 'string' ? ((version.redirection as { value: string }).value) : null,
    widgetOverride: item.widgetSettingsOverride,
    emailOverride: item.emailSettingsOverride,
  }).map((d) => ({ ...d, externalId: item.id ?? null, incrementId: item.incrementId ?? null }));
  try {
    const messages = await prisma().$transaction((tx) => acceptMessages(tx, ctx, drafts));
    return { ok: true, id: item.id ?? messages[0]?.id ?? null, error: null, messages };
  } catch (error) {
    // Two concurrent sends with the same id: the unique index lets one in.
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') return fail('id/exists');
    throw error;
  }
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

/** Cancels a message that has not been sent yet (scheduled or queued). */
export async function cancelMessage(projectId: string, id: string, delivery: Delivery): Promise<Message> {
  const message = await getMessage(projectId, id);
  const updated = await prisma().message.updateMany({ where: { id, status: { in: ['SCHEDULED', 'QUEUED'] } }, data: { status: 'CANCELED' } });
  if (updated.count === 0) throw conflict(`Message ${id} is ${message.status}: only scheduled or queued messages can be canceled`);
  await delivery.event(message, 'CANCELED');
  return getMessage(projectId, id);
}

/** Sends a FAILED (dead-letter) message again, with a fresh attempt budget. */
export async function retryMessage(projectId: string, id: string, delivery: Delivery): Promise<Message> {
  const message = await getMessage(projectId, id);
  const updated = await prisma().message.updateMany({
    where: { id, status: 'FAILED' },
    data: { status: 'QUEUED', attempts: 0, scheduledAt: null, leaseUntil: null },
  });
  if (updated.count === 0) throw conflict(`Message ${id} is ${message.status}: only failed messages can be retried`);
  await delivery.event(message, 'QUEUED', { error: 'retry requested' });
  const fresh = await getMessage(projectId, id);
  await delivery.dispatch([fresh], `retry${Date.now()}`);
  return fresh;
}

export async function retryFailed(projectId: string, filter: { channel?: Channel | null; notificationId?: number | null }, delivery: Delivery): Promise<number> {
  const failed = await prisma().message.findMany({
    where: { projectId, status: 'FAILED', ...(filter.channel ? { channel: filter.channel } : {}), ...(filter.notificationId ? { notificationId: filter.notificationId } : {}) },
    select: { id: true },
    take: 10_000,
  });
  for (const { id } of failed) await retryMessage(projectId, id, delivery);
  return failed.length;
}
