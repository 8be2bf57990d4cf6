import { rawQuery } from '../../db/client.ts';
import type { InboxItem, Prisma } from '../../generated/prisma/client.ts';
import type { HeraldPubSub } from '../../realtime/pubsub.ts';

export type InboxEventType = 'CREATED' | 'UPDATED' | 'READ' | 'UNREAD' | 'SEEN' | 'ARCHIVED' | 'UNARCHIVED' | 'DELETED' | 'ALL_READ';

/** What crosses pub/sub: ids, numbers as strings and ISO dates only. */
export interface InboxEventMessage {
  projectId: string;
  userId: string;
  cursor: string;
  type: InboxEventType;
  itemId: string | null;
  unreadCount: number;
  at: string;
  /** The item's tenant (ALL_READ: the tenant it was limited to); null or absent: none (the whole inbox for ALL_READ). */
  tenantId?: string | null;
}

type Tx = Prisma.TransactionClient;

/**
 * Locks the user's inbox state row for the rest of the transaction. Every inbox change of a
 * user goes through here first, so its changes are serialized: cursors come out gap-free and
 * in commit order, and the unread count written with each event is exact.
 */
export async function lockInbox(tx: Tx, projectId: string, userId: string): Promise<void> {
  // One statement where an insert-then-SELECT FOR UPDATE took two: DO UPDATE locks the row
  // whether it was there or another transaction has just committed it (a SELECT in the same
  // statement would miss such a row, its snapshot being older). The no-op SET keeps it HOT.
  await tx.$executeRaw`
    INSERT INTO "InboxState" ("userId", "projectId", "lastCursor", "unreadCount", "updatedAt")
    VALUES (${userId}::uuid, ${projectId}::uuid, 0, 0, now())
    ON CONFLICT ("userId") DO UPDATE SET "lastCursor" = "InboxState"."lastCursor"`;
}

/** Unread = neither read nor archived (recordInboxEvents counts the same in SQL). */
export function unreadWhere(projectId: string, userId: string, category?: string | null) {
  return { projectId, userId, readAt: null, archivedAt: null, ...(category ? { category } : {}) };
}

/**
 * Records events for changes made in this transaction (after lockInbox). Returns the events to
 * publish once the transaction has committed.
 */
export async function recordInboxEvents(
  tx: Tx,
  projectId: string,
  userId: string,
  changes: { type: InboxEventType; itemId: string | null; tenantId?: string | null }[],
): Promise<InboxEventMessage[]> {
  if (changes.length === 0) return [];
  // Count, cursor bump and event rows in one statement (three round trips before). The count
  // sees this transaction's earlier changes: a statement's snapshot includes them. `at` is the
  // clock after the inbox lock, not the transaction's start, so it follows cursor order.
  // An item event carries the item's tenant (read here, so no caller can get it wrong).
  const changeRows = JSON.stringify(changes.map((c, i) => ({ i: i + 1, type: c.type, itemId: c.itemId, tenantId: c.tenantId ?? null })));
  const rows = await tx.$queryRaw<{ cursor: bigint; type: string; itemId: string | null; unreadCount: number; at: Date; tenantId: string | null }[]>`
    WITH state AS (
      UPDATE "InboxState" SET
        "lastCursor" = "lastCursor" + ${changes.length},
        "unreadCount" = (
          SELECT count(*)::int FROM "InboxItem"
          WHERE "projectId" = ${projectId}::uuid AND "userId" = ${userId}::uuid AND "readAt" IS NULL AND "archivedAt" IS NULL),
        "updatedAt" = now()
      WHERE "userId" = ${userId}::uuid
      RETURNING "lastCursor", "unreadCount"
    )
    INSERT INTO "InboxEvent" ("userId", "projectId", cursor, type, "itemId", "unreadCount", at, "tenantId")
    SELECT ${userId}::uuid, ${projectId}::uuid, state."lastCursor" - ${changes.length} + c.i, c.type, c."itemId", state."unreadCount", clock_timestamp(),
      coalesce((SELECT it."tenantId" FROM "InboxItem" it WHERE it.id = c."itemId"), c."tenantId")
    FROM state, jsonb_to_recordset(${changeRows}::jsonb) AS c(i int, type text, "itemId" uuid, "tenantId" uuid)
    ORDER BY c.i
    RETURNING cursor, type, "itemId", "unreadCount", at, "tenantId"::text AS "tenantId"`;
  if (rows.length !== changes.length) throw new Error(`inbox state of user ${userId} is missing: call lockInbox first`);
  // BigInt(): the engine's transactions (workflows/sql.ts) read int8 as text, where "10" < "9".
  return rows
    .sort((a, b) => (BigInt(a.cursor) < BigInt(b.cursor) ? -1 : 1))
    .map((r) => ({ projectId, userId, cursor: r.cursor.toString(), type: r.type as InboxEventType, itemId: r.itemId, unreadCount: r.unreadCount, at: r.at.toISOString(), tenantId: r.tenantId }));
}

export function publishInboxEvents(pubsub: HeraldPubSub, events: InboxEventMessage[]): void {
  for (const event of events) pubsub.publish('inboxEvent', `${event.projectId}:${event.userId}`, event);
}

/**
 * The events after a cursor, in order (replay on reconnect). On the pool: a crowd of widgets
 * reconnecting with `since` (a deploy, a network blip) reads one page each. Ordered by the
 * column, not the text alias of the same name (where "10" < "9").
 */
export async function inboxEventsAfter(userId: string, cursor: bigint, limit = 1_000): Promise<InboxEventMessage[]> {
  const rows = await rawQuery<{ projectId: string; userId: string; cursor: string; type: string; itemId: string | null; unreadCount: number; at: Date; tenantId: string | null }>(
    `SELECT "projectId"::text AS "projectId", "userId"::text AS "userId", cursor::text AS cursor, type, "itemId"::text AS "itemId", "unreadCount", at, "tenantId"::text AS "tenantId"
     FROM "InboxEvent" WHERE "userId" = $1::uuid AND cursor > $2::bigint ORDER BY "InboxEvent".cursor LIMIT $3::int`,
    [userId, cursor.toString(), limit],
    { prepared: true },
  );
  return rows.map((r) => ({ ...r, type: r.type as InboxEventType, at: new Date(r.at).toISOString() }));
}

export type { InboxItem };
