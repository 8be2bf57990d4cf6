import { uuidv7 } from '../../db/ids.ts';
import { rawQuery } from '../../db/client.ts';
import type { Delivery } from '../../delivery/delivery.ts';
import type { Channel, Message, MessageStatus } from '../../generated/prisma/client.ts';
import { isUuid } from '../users/service.ts';
import { normalizeAddress, SUPPRESSIBLE } from '../suppressions/service.ts';
import type { Receipt, ReceiptStatus } from './types.ts';

/**
 * From which statuses a receipt may move a message: only forwards (SENT → DELIVERED → READ; a
 * bounce or failure after SENT or DELIVERED), so a late or replayed "delivered" after "read"
 * changes nothing. A message still SENDING (the receipt overtook the worker's own record) is
 * left alone too: its SENT is about to be written and must not be lost.
 */
const MOVES_FROM: Record<ReceiptStatus, MessageStatus[]> = {
  DELIVERED: ['SENT'],
  READ: ['SENT', 'DELIVERED'],
  BOUNCED: ['SENT', 'DELIVERED'],
  FAILED: ['SENT', 'DELIVERED'],
};
/** Engagement and deferrals are recorded on messages the provider has had. */
const REPORTED_STATUSES: MessageStatus[] = ['SENT', 'DELIVERED', 'READ', 'BOUNCED', 'FAILED'];

export interface ReceiptProvider {
  id: string;
  projectId: string;
  name: string;
}

export interface Applied {
  /** Receipts that changed a status or recorded an event. */
  applied: number;
  /** Receipts whose message is not found here, or that would move it backwards. */
  unmatched: number;
  suppressed: number;
}

type MovedRow = Pick<Message, 'id' | 'projectId' | 'userId' | 'notificationId' | 'channel' | 'callbackUrl' | 'callbackMetadata' | 'requestId' | 'to'> & {
  target: string | null;
  targetTo: string | null;
  targetChannel: Channel | null;
  attempt: number | null;
  at: Date | null;
  error: string | null;
};

/**
 * Applies a verified callback's receipts, each in one statement: find the message (by Herald's
 * id, else by the provider's id, within the provider's project and channels), move it forwards
 * guarded in SQL, record the event; then publish and queue callbacks as for a worker's outcome,
 * and suppress the address of hard bounces and spam reports.
 */
export async function applyReceipts(delivery: Delivery, provider: ReceiptProvider, source: string, channels: Channel[], receipts: Receipt[]): Promise<Applied> {
  const result: Applied = { applied: 0, unmatched: 0, suppressed: 0 };
  for (const receipt of receipts) {
    const messageId = receipt.messageId && isUuid(receipt.messageId) ? receipt.messageId : null;
    const providerMessageId = receipt.providerMessageId?.slice(0, 1000) ?? null;
    if (!messageId && !providerMessageId) {
      result.unmatched++;
      continue;
    }
    const now = new Date().toISOString();
    const row = receipt.status
      ? await moveStatus(provider, channels, messageId, providerMessageId, receipt.status, receipt.reason ?? null, now)
      : await recordEngagement(provider, channels, messageId, providerMessageId, receipt, now);
    if (!row?.target) {
      result.unmatched++;
      continue;
    }
    if (row.attempt !== null && row.at) {
      result.applied++;
      if (receipt.status) await delivery.publishRecorded(row, receipt.status, { attempt: row.attempt, error: row.error, at: row.at }, provider.name);
    } else result.unmatched++;
    if (receipt.suppress && row.targetTo && row.targetChannel && (SUPPRESSIBLE as readonly Channel[]).includes(row.targetChannel)) {
      result.suppressed += await suppress(provider.projectId, row.targetChannel, row.targetTo, receipt.reason ?? receipt.status ?? 'reported by the provider', source, row.target);
    }
  }
  return result;
}

/** The message a receipt names, within the provider's project and channels. */
const TARGET = `
  target AS (
    SELECT m.id, m."to", m.channel FROM "Message" m
    WHERE m."projectId" = $1::uuid AND m.channel::text = ANY($2::text[])
      AND m.id = coalesce($3::uuid, (SELECT id FROM "Message" WHERE "projectId" = $1::uuid AND "providerMessageId" = $4::text ORDER BY id DESC LIMIT 1))
  )`;

async function moveStatus(provider: ReceiptProvider, channels: Channel[], messageId: string | null, providerMessageId: string | null, status: ReceiptStatus, reason: string | null, now: string) {
  const [row] = await rawQuery<MovedRow>(
    `WITH ${TARGET},
    moved AS (
      UPDATE "Message" m SET status = $5::"MessageStatus", "updatedAt" = $8::timestamp(3),
        "lastError" = CASE WHEN $5::text IN ('BOUNCED', 'FAILED') THEN $6::text ELSE m."lastError" END,
        "deliveredAt" = CASE WHEN $5::text IN ('DELIVERED', 'READ') THEN coalesce(m."deliveredAt", $8::timestamp(3)) ELSE m."deliveredAt" END
      FROM target t WHERE m.id = t.id AND m.status::text = ANY($7::text[])
      RETURNING m.id, m."projectId", m."userId", m."notificationId", m.channel, m."callbackUrl", m."callbackMetadata", m."requestId", m.attempts
    ),
    ev AS (
      INSERT INTO "MessageEvent" ("messageId", "projectId", status, attempt, provider, error, at)
      SELECT id, "projectId", $5::"MessageStatus", attempts, $9::text, $6::text, $8::timestamp(3) FROM moved
      RETURNING "messageId", attempt, error, at
    )
    SELECT t.id AS target, t."to" AS "targetTo", t.channel AS "targetChannel", moved.id, moved."projectId", moved."userId", moved."notificationId",
      moved.channel, moved."callbackUrl", moved."callbackMetadata", moved."requestId", ev.attempt, ev.error, ev.at
    FROM target t LEFT JOIN moved ON moved.id = t.id LEFT JOIN ev ON ev."messageId" = t.id`,
    [provider.projectId, channels, messageId, providerMessageId, status, reason, MOVES_FROM[status], now, provider.name],
  );
  return row;
}

async function recordEngagement(provider: ReceiptProvider, channels: Channel[], messageId: string | null, providerMessageId: string | null, receipt: Receipt, now: string) {
  const [row] = await rawQuery<MovedRow>(
    `WITH ${TARGET},
    ev AS (
      INSERT INTO "MessageEvent" ("messageId", "projectId", status, attempt, provider, error, kind, url, at)
      SELECT m.id, m."projectId", m.status, m.attempts, $6::text, $7::text, $8::"MessageEventKind", $9::text, $10::timestamp(3)
      FROM "Message" m JOIN target t ON t.id = m.id WHERE m.status::text = ANY($5::text[])
      RETURNING "messageId", attempt, error, at
    )
    SELECT t.id AS target, t."to" AS "targetTo", t.channel AS "targetChannel", ev.attempt, ev.error, ev.at FROM target t LEFT JOIN ev ON ev."messageId" = t.id`,
    [provider.projectId, channels, messageId, providerMessageId, REPORTED_STATUSES, provider.name, receipt.reason ?? null, receipt.kind, receipt.url ?? null, now],
  );
  return row;
}

/** Adds the address to the project's suppression list (once: the first reason stays). Answers 1 when added. */
async function suppress(projectId: string, channel: Channel, address: string, reason: string, source: string, messageId: string): Promise<number> {
  const rows = await rawQuery<{ id: string }>(
    `INSERT INTO "Suppression" (id, "projectId", channel, address, reason, source, "messageId", "createdAt")
     VALUES ($1::uuid, $2::uuid, $3::"Channel", $4::text, $5::text, $6::text, $7::uuid, $8::timestamp(3))
     ON CONFLICT ("projectId", channel, address) DO NOTHING RETURNING id`,
    [uuidv7(), projectId, channel, normalizeAddress(channel, address), reason.slice(0, 500), source, messageId, new Date().toISOString()],
  );
  return rows.length;
}
