import { columnList, prisma, rawSql } from '../../db/client.ts';
import { Prisma, type InboxItem } from '../../generated/prisma/client.ts';
import type { SqlPage } from '../../graphql/connections.ts';
import { badInput, forbidden, notFound } from '../../graphql/errors.ts';
import type { HeraldPubSub } from '../../realtime/pubsub.ts';
import { isUuid } from '../users/service.ts';
import { lockInbox, publishInboxEvents, recordInboxEvents, unreadWhere, type InboxEventType } from './events.ts';

export interface InboxOwner {
  projectId: string;
  /** null: a widget of a user no operator has created yet (an empty inbox; nothing is written). */
  userId: string | null;
  /** A tenant-scoped widget: only this tenant's items exist for it. Absent: the whole inbox. */
  tenantId?: string | undefined;
}

/** The owner's items: the user's, and for a tenant-scoped widget only its tenant's. */
export function ownedWhere(owner: KnownOwner) {
  return { projectId: owner.projectId, userId: owner.userId, ...(owner.tenantId !== undefined ? { tenantId: owner.tenantId } : {}) };
}

/** An owner that exists (has a user row). */
export type KnownOwner = InboxOwner & { userId: string };

export const MAX_IDS = 500;

type Change = 'read' | 'unread' | 'seen' | 'archive' | 'unarchive';

const CHANGES: Record<Change, { type: InboxEventType; when: object; data: () => object }> = {
  read: { type: 'READ', when: { readAt: null }, data: () => ({ readAt: new Date(), seenAt: new Date() }) },
  unread: { type: 'UNREAD', when: { NOT: { readAt: null } }, data: () => ({ readAt: null }) },
  seen: { type: 'SEEN', when: { seenAt: null }, data: () => ({ seenAt: new Date() }) },
  archive: { type: 'ARCHIVED', when: { archivedAt: null }, data: () => ({ archivedAt: new Date() }) },
  unarchive: { type: 'UNARCHIVED', when: { NOT: { archivedAt: null } }, data: () => ({ archivedAt: null }) },
};

/** The ids of one call, as stored (lower-case uuids), each once; BAD_USER_INPUT for none or too many. */
function idsOfCall(ids: string[]): string[] {
  // Stored ids are lower-case; inboxItem finds an upper-case one, so every operation must.
  const unique = [...new Set(ids.map((id) => (isUuid(id) ? id.toLowerCase() : id)))];
  if (unique.length === 0) throw badInput([{ field: 'ids', message: 'give at least one id' }]);
  if (unique.length > MAX_IDS) throw badInput([{ field: 'ids', message: `at most ${MAX_IDS} ids per call` }]);
  return unique;
}

/**
 * The owner's items of these ids, read under the inbox lock (lockInbox first). One unknown id, or
 * one of another user's (or tenant's) items, is NOT_FOUND: the call then changes nothing.
 */
async function ownedItems(tx: Prisma.TransactionClient, owner: KnownOwner, unique: string[]): Promise<InboxItem[]> {
  const found = await tx.inboxItem.findMany({ where: { id: { in: unique.filter(isUuid) }, ...ownedWhere(owner) } });
  const missing = unique.find((id) => !found.some((item) => item.id === id));
  // Not `if (missing)`: an empty id is missing too, and reached the uuid column below (a 500).
  if (missing !== undefined) throw notFound('InboxItem', missing);
  return found;
}

/**
 * Applies one kind of change to the owner's items. Items already in that state are left alone
 * (no event), unknown ids or another user's ids are NOT_FOUND and nothing is changed.
 */
export async function changeItems(owner: InboxOwner, ids: string[], change: Change, pubsub: HeraldPubSub): Promise<{ items: InboxItem[]; unreadCount: number }> {
  const unique = idsOfCall(ids);
  const rule = CHANGES[change];
  // No user yet: no item exists either.
  if (!isKnown(owner)) throw notFound('InboxItem', unique[0]!);
  const { items, events } = await prisma().$transaction(async (tx) => {
    await lockInbox(tx, owner.projectId, owner.userId);
    await ownedItems(tx, owner, unique);
    const toChange = await tx.inboxItem.findMany({ where: { id: { in: unique }, ...ownedWhere(owner), ...rule.when }, select: { id: true } });
    if (toChange.length) await tx.inboxItem.updateMany({ where: { id: { in: toChange.map((i) => i.id) } }, data: rule.data() });
    const events = await recordInboxEvents(tx, owner.projectId, owner.userId, toChange.map((i) => ({ type: rule.type, itemId: i.id })));
    const items = await tx.inboxItem.findMany({ where: { id: { in: unique }, ...ownedWhere(owner) }, orderBy: { createdAt: 'desc' } });
    return { items, events };
  });
  publishInboxEvents(pubsub, events);
  return { items, unreadCount: await unreadCount(owner) };
}

/**
 * Deletes the owner's items for good, each with a DELETED inbox event (its `itemId` names the
 * item, which is gone) carrying the unread count without them, so every open widget drops them.
 * All or nothing, as the other changes: one unknown or foreign id deletes none. The message that
 * delivered an item keeps its status and history. A stacking item deleted is written anew by its
 * next delivery; a digest's live item, by the digest's close (the joins in between update nothing).
 */
export async function deleteItems(owner: InboxOwner, ids: string[], pubsub: HeraldPubSub): Promise<{ deletedIds: string[]; unreadCount: number }> {
  const unique = idsOfCall(ids);
  if (!isKnown(owner)) throw notFound('InboxItem', unique[0]!);
  const events = await prisma().$transaction(async (tx) => {
    await lockInbox(tx, owner.projectId, owner.userId);
    const found = await ownedItems(tx, owner, unique);
    await tx.inboxItem.deleteMany({ where: { id: { in: found.map((i) => i.id) }, ...ownedWhere(owner) } });
    // After the delete: the count recorded with the events is the inbox without these items. The
    // tenant is given, the item being gone when the event row reads it.
    return recordInboxEvents(tx, owner.projectId, owner.userId, found.map((i) => ({ type: 'DELETED' as const, itemId: i.id, tenantId: i.tenantId })));
  });
  publishInboxEvents(pubsub, events);
  return { deletedIds: events.map((e) => e.itemId!), unreadCount: await unreadCount(owner) };
}

export async function markAllRead(owner: InboxOwner, category: string | null | undefined, pubsub: HeraldPubSub): Promise<number> {
  if (!isKnown(owner)) return 0;
  const events = await prisma().$transaction(async (tx) => {
    await lockInbox(tx, owner.projectId, owner.userId);
    const now = new Date();
    const updated = await tx.inboxItem.updateMany({ where: { ...unreadWhere(owner.projectId, owner.userId, category), ...ownedWhere(owner) }, data: { readAt: now, seenAt: now } });
    // A tenant-scoped widget's ALL_READ names its tenant: the widgets of other tenants are not sent it.
    return updated.count ? recordInboxEvents(tx, owner.projectId, owner.userId, [{ type: 'ALL_READ', itemId: null, tenantId: owner.tenantId ?? null }]) : [];
  });
  publishInboxEvents(pubsub, events);
  return unreadCount(owner);
}

/**
 * The cursor of the user's latest inbox event ("0" before the first). Read before a snapshot of
 * the inbox and used as the subscription's `since`, it makes the first load gap-free: whatever
 * commits between the two is replayed (and applying it again to the snapshot changes nothing).
 */
export async function inboxCursor(owner: InboxOwner): Promise<string> {
  if (!isKnown(owner)) return '0';
  const state = await prisma().inboxState.findFirst({ where: { userId: owner.userId, projectId: owner.projectId }, select: { lastCursor: true } });
  return (state?.lastCursor ?? 0n).toString();
}

/**
 * The user's unread count. Without a category it is the counter kept in InboxState (moved with
 * every change under the inbox lock: set by recordInboxEvents, raised by the batched in-app
 * delivery by the number of items it creates), so it costs one row read, not a count over the
 * whole inbox. Per category it is counted.
 */
export async function unreadCount(owner: InboxOwner, category?: string | null): Promise<number> {
  if (!isKnown(owner)) return 0;
  // A tenant-scoped widget's count is its tenant's, counted (the kept counter is the whole inbox's).
  if (category || owner.tenantId !== undefined) return prisma().inboxItem.count({ where: { ...unreadWhere(owner.projectId, owner.userId, category), ...ownedWhere(owner) } });
  const state = await prisma().inboxState.findFirst({ where: { userId: owner.userId, projectId: owner.projectId }, select: { unreadCount: true } });
  return state?.unreadCount ?? 0;
}

export async function getItem(owner: InboxOwner, id: string): Promise<InboxItem> {
  const item = isUuid(id) && isKnown(owner) ? await prisma().inboxItem.findFirst({ where: { id, ...ownedWhere(owner) } }) : null;
  if (!item) throw notFound('InboxItem', id);
  return item;
}

/** An action button was clicked: the item is marked read and the action (with its data) is answered. */
export async function performAction(owner: InboxOwner, id: string, actionId: string, pubsub: HeraldPubSub): Promise<{ item: InboxItem; action: Record<string, unknown> }> {
  const item = await getItem(owner, id);
  const actions = (item.actions as Record<string, unknown>[]) ?? [];
  const action = actions.find((a) => String(a.id) === actionId);
  if (!action) throw notFound('Action', actionId);
  if (action.disabled === true) throw forbidden('This action is disabled');
  const { items } = await changeItems(owner, [id], 'read', pubsub);
  return { item: items[0] ?? item, action };
}

/** A list's filter, its tenant key already turned into an id (NO_TENANT when there is none such). */
export interface InboxListFilter {
  unread?: boolean | null;
  archived?: boolean | null;
  category?: string | null;
  tenantId?: string | undefined;
}

/** The SQL condition of an inbox list: the owner's items (ownedWhere) that match the filter. */
function inboxCondition(owner: KnownOwner, filter: InboxListFilter): Prisma.Sql {
  const parts = [Prisma.sql`"projectId" = ${owner.projectId}::uuid`, Prisma.sql`"userId" = ${owner.userId}::uuid`];
  if (owner.tenantId !== undefined) parts.push(Prisma.sql`"tenantId" = ${owner.tenantId}::uuid`);
  // Both a scope and a filter: both must match (another tenant's filter on a scoped widget matches nothing).
  if (filter.tenantId !== undefined) parts.push(Prisma.sql`"tenantId" = ${filter.tenantId}::uuid`);
  parts.push(filter.archived ? Prisma.sql`"archivedAt" IS NOT NULL` : Prisma.sql`"archivedAt" IS NULL`);
  if (filter.unread === true) parts.push(Prisma.sql`"readAt" IS NULL`);
  else if (filter.unread === false) parts.push(Prisma.sql`"readAt" IS NOT NULL`);
  if (filter.category) parts.push(Prisma.sql`category = ${filter.category}`);
  return Prisma.join(parts, ' AND ');
}

const ITEM_COLUMNS = columnList(Prisma.InboxItemScalarFieldEnum);

/**
 * A page of the owner's inbox, newest first, in one SQL statement on the pool: the widget's
 * hottest read, where the ORM's per-call work cost more CPU than the query. `offset`: inboxPage's skip.
 */
export async function listInbox(owner: KnownOwner, filter: InboxListFilter, page: SqlPage, offset = 0): Promise<InboxItem[]> {
  const after = page.cursor ? Prisma.sql` AND id ${Prisma.raw(page.cursor.op)} ${page.cursor.id}::uuid` : Prisma.empty;
  const rows = await rawSql<InboxItem>(
    Prisma.sql`SELECT ${ITEM_COLUMNS} FROM "InboxItem" WHERE ${inboxCondition(owner, filter)}${after} ORDER BY id ${Prisma.raw(page.readOrder)} LIMIT ${page.limit} OFFSET ${offset}`,
    // Prepared: the filters and cursors make a few dozen texts at most.
    { prepared: true },
  );
  return page.reverse ? rows.reverse() : rows;
}

/**
 * The item an inbox event names, under a tenant-scoped widget's tenant: one statement on the
 * pool, read once for every event every subscriber receives (the latency of REST send → event).
 */
export async function eventItem(itemId: string, tenantId: string | undefined): Promise<InboxItem | null> {
  const scope = tenantId !== undefined ? Prisma.sql` AND "tenantId" = ${tenantId}::uuid` : Prisma.empty;
  const [item] = await rawSql<InboxItem>(Prisma.sql`SELECT ${ITEM_COLUMNS} FROM "InboxItem" WHERE id = ${itemId}::uuid${scope}`, { prepared: true });
  return item ?? null;
}

/** How many of the owner's items match the filter (totalCount, inboxPage's total). */
export async function countInbox(owner: KnownOwner, filter: InboxListFilter): Promise<number> {
  const [row] = await rawSql<{ n: number }>(Prisma.sql`SELECT count(*)::int AS n FROM "InboxItem" WHERE ${inboxCondition(owner, filter)}`, { prepared: true });
  return row!.n;
}

export function isKnown(owner: InboxOwner): owner is KnownOwner {
  return owner.userId !== null;
}
