import { prisma } from '../../db/client.ts';
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
}

type Tx = Prisma.TransactionClient;

/**
 * Locks the user's inbox state row for the rest of the transaction. Every inbox change of a
 * user goes through here first, so its changes are serialized: cursors come out gap-free and
 * in commit order, and the unread count written with each event is exact.
 */
export async function lockInbox(tx: Tx, projectId: string, userId: string): Promise<void> {
  await tx.$executeRaw`
    INSERT INTO "InboxState" ("userId", "projectId", "lastCursor", "unreadCount", "updatedAt")
    VALUES (${userId}::uuid, ${projectId}::uuid, 0, 0, now()) ON CONFLICT ("userId") DO NOTHING`;
  await tx.$queryRaw`SELECT "userId" FROM "InboxState" WHERE "userId" = ${userId}::uuid FOR UPDATE`;
}

/** Unread = neither read nor archived. */
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
  changes: { type: InboxEventType; itemId: string | null }[],
): Promise<InboxEventMessage[]> {
  if (changes.length === 0) return [];
  const unreadCount = await tx.inboxItem.count({ where: unreadWhere(projectId, userId) });
  const state = await tx.inboxState.update({
    where: { userId },
    data: { lastCursor: { increment: changes.length }, unreadCount },
  });
  const first = state.lastCursor - BigInt(changes.length) + 1n;
  const at = new Date();
  const rows = changes.map((c, i) => ({ userId, projectId, cursor: first + BigInt(i), type: c.type, itemId: c.itemId, unreadCount, at }));
  await tx.inboxEvent.createMany({ data: rows });
  return rows.map((r) => ({ projectId, userId, cursor: r.cursor.toString(), type: r.type as InboxEventType, itemId: r.itemId, unreadCount, at: at.toISOString() }));
}

export function publishInboxEvents(pubsub: HeraldPubSub, events: InboxEventMessage[]): void {
  for (const event of events) pubsub.publish('inboxEvent', `${event.projectId}:${event.userId}`, event);
}

/** The events after a cursor, in order (replay on reconnect). */
export async function inboxEventsAfter(userId: string, cursor: bigint, limit = 1_000): Promise<InboxEventMessage[]> {
  const rows = await prisma().inboxEvent.findMany({ where: { userId, cursor: { gt: cursor } }, orderBy: { cursor: 'asc' }, take: limit });
  return rows.map((r) => ({
    projectId: r.projectId,
    userId: r.userId,
    cursor: r.cursor.toString(),
    type: r.type as InboxEventType,
    itemId: r.itemId,
    unreadCount: r.unreadCount,
    at: r.at.toISOString(),
  }));
}

export type { InboxItem };
