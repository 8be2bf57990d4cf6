import { createHash } from 'node:crypto';
import { Duration } from 'luxon';
import { prisma } from '../../db/client.ts';
import type { Device, Message, Prisma, PrismaClient, PushService } from '../../generated/prisma/client.ts';
import type { MessageDraft } from '../accept.ts';
import { ProviderError } from './types.ts';

/**
 * What FCM and APNs share: the MOBILE_PUSH content of a message, its per-device fan-out at
 * accept time, the badge read at send time and the pruning of tokens a push service refused.
 *
 * One Message per device (not one per user with per-device attempts): each device's send then
 * has its own claim, attempts, backoff, status and provider, so a 429 or a 5xx on one phone is
 * retried for that phone only and never re-sends to the phones that already have it; the
 * idempotency key (APNs apns-id) is per device; and the status a client sees (messageStatus,
 * status webhooks) says which device got it. The price is a row per device, which is what a
 * push costs anyway.
 */

/** The device a MOBILE_PUSH message is for, stored in its content at accept time. */
export interface PushDevice {
  id: string;
  platform: Device['platform'];
  service: PushService;
  appId: string | null;
}

/** A MOBILE_PUSH message's content as accepted (the badge is read when it is sent). */
export interface MobilePushContent {
  title: string | null;
  body: string | null;
  image: string | null;
  sound: string | null;
  redirection: string | null;
  locale: string | null;
  /** Absolute expiry (ISO) from NP6 settings.expiration; null: the push service's default. */
  expiresAt: string | null;
  device?: PushDevice;
}

/**
 * NP6's settings.expiration `{ type, value }` (its variant tags are not public): a number value is
 * seconds to live, a string an ISO 8601 duration ("PT1H") or an absolute instant; `seconds` /
 * `ttl` members are read as seconds too. Anything else: null (the push service's default).
 */
export function expirationOf(expiration: unknown, now: Date): Date | null {
  if (expiration == null || typeof expiration !== 'object') return null;
  const e = expiration as Record<string, unknown>;
  const candidates = [e.value, e.seconds, e.ttl, (e.value as Record<string, unknown> | null)?.seconds];
  for (const v of candidates) {
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return new Date(now.getTime() + Math.round(v) * 1000);
    if (typeof v === 'string' && v.trim() !== '') {
      const duration = Duration.fromISO(v.trim());
      if (duration.isValid) return new Date(now.getTime() + duration.toMillis());
      const at = Date.parse(v);
      if (!Number.isNaN(at) && /\d{4}-\d{2}-\d{2}/.test(v)) return new Date(at);
    }
  }
  return null;
}

/**
 * Replaces each MOBILE_PUSH draft without an address by one draft per registered device of its
 * user (to = the token, the device in the content), in the accepting transaction so the set of
 * devices is the one committed with the messages. A user with no device gets one SKIPPED draft.
 * A client message id stays on the first device's row only: (projectId, externalId, channel) is
 * unique, and one row is enough to answer "id/exists".
 */
export async function expandDevices(db: Prisma.TransactionClient | PrismaClient, projectId: string, drafts: MessageDraft[]): Promise<MessageDraft[]> {
  return (await expandDeviceGroups(db, projectId, [drafts]))[0]!;
}

/** expandDevices for groups of drafts (acceptMessageGroups), in one query. */
export async function expandDeviceGroups(db: Prisma.TransactionClient | PrismaClient, projectId: string, groups: MessageDraft[][]): Promise<MessageDraft[][]> {
  const userIds = [...new Set(groups.flat().filter((d) => d.channel === 'MOBILE_PUSH' && d.to === null && d.userId && !d.skipReason).map((d) => d.userId!))];
  if (userIds.length === 0) return groups;
  const devices = await db.device.findMany({ where: { projectId, userId: { in: userIds } }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
  const byUser = new Map<string, Device[]>();
  for (const d of devices) byUser.set(d.userId, [...(byUser.get(d.userId) ?? []), d]);
  return groups.map((drafts) => drafts.flatMap((draft) => {
    if (draft.channel !== 'MOBILE_PUSH' || draft.to !== null || !draft.userId || draft.skipReason) return [draft];
    const mine = byUser.get(draft.userId) ?? [];
    if (mine.length === 0) return [{ ...draft, skipReason: 'the user has no registered device' }];
    return mine.map((device, i) => ({
      ...draft,
      externalId: i === 0 ? draft.externalId : null,
      to: device.token,
      content: { ...draft.content, device: { id: device.id, platform: device.platform, service: device.service, appId: device.appId } satisfies PushDevice },
    }));
  }));
}

/** The device of a MOBILE_PUSH message (set by expandDevices), or a permanent error. */
export function deviceOf(message: Message, provider: string): { device: PushDevice; token: string; content: MobilePushContent } {
  const content = (message.content ?? {}) as unknown as MobilePushContent;
  if (!message.to || !content.device) throw new ProviderError(`${provider}: the message names no device`, true);
  return { device: content.device, token: message.to, content };
}

/** Which push service a message's device belongs to (a provider takes only its own). */
export const serviceOf = (message: Pick<Message, 'content'>): PushService | null => ((message.content as { device?: PushDevice } | null)?.device?.service ?? null);

/** How long the badge waits for the in-app message of the same send before it reads the count. */
const BADGE_WAIT_MS = 3_000;

/**
 * The user's unread count as the inbox committed it (InboxState, updated in the transaction that
 * writes each inbox item). When the same send also went to the in-app inbox (push-app), that
 * message is waited for first (a bounded poll, it is delivered in-process), so the badge counts
 * the item this push announces.
 */
export async function badgeFor(message: Message): Promise<number> {
  if (!message.userId) return 0;
  const deadline = Date.now() + BADGE_WAIT_MS;
  for (;;) {
    const pending = await prisma().message.count({
      where: {
        projectId: message.projectId,
        userId: message.userId,
        requestId: message.requestId,
        channel: 'IN_APP',
        status: { in: ['QUEUED', 'SCHEDULED', 'SENDING'] },
        OR: [{ scheduledAt: null }, { scheduledAt: { lte: new Date() } }],
      },
    });
    if (pending === 0 || Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const state = await prisma().inboxState.findUnique({ where: { userId: message.userId }, select: { unreadCount: true } });
  return state?.unreadCount ?? 0;
}

/** The collapse id of a message: its incrementId (hashed when longer than APNs' 64 bytes). */
export function collapseIdOf(message: Pick<Message, 'incrementId'>): string | null {
  const id = message.incrementId;
  if (!id) return null;
  return Buffer.byteLength(id) <= 64 ? id : createHash('sha256').update(id).digest('hex');
}

/** Seconds left until the message expires (null: none set); a permanent error once it has. */
export function secondsToLive(content: MobilePushContent, provider: string): number | null {
  if (!content.expiresAt) return null;
  const left = Math.floor((Date.parse(content.expiresAt) - Date.now()) / 1000);
  if (left <= 0) throw new ProviderError(`${provider}: the push expired at ${content.expiresAt} before it could be sent`, true);
  return left;
}

/** Message data as the push services carry it: string values (FCM requires them), no reserved keys. */
export function stringData(data: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries((data ?? {}) as Record<string, unknown>)) {
    if (value === undefined || key === 'aps' || key.startsWith('google.') || key === 'from' || key === 'message_type' || key === 'collapse_key') continue;
    out[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return out;
}

/**
 * Removes a device whose token the push service reported invalid, and answers the permanent
 * error that fails this device's message. Only the row still holding that token goes: a device
 * re-registered meanwhile keeps its new one.
 */
export async function pruneDevice(message: Message, provider: string, reason: string): Promise<ProviderError> {
  const { device, token } = deviceOf(message, provider);
  const removed = await prisma().device.deleteMany({ where: { id: device.id, projectId: message.projectId, token } });
  return new ProviderError(`${provider}: ${reason}: the device token is invalid${removed.count ? ` and device ${device.id} was removed` : ''}`, true);
}
