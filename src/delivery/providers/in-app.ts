import { uuidv7 } from '../../db/ids.ts';
import { prisma, rawQuery } from '../../db/client.ts';
import type { HeraldPubSub } from '../../realtime/pubsub.ts';
import type { Message } from '../../generated/prisma/client.ts';
import { lockInbox, publishInboxEvents, recordInboxEvents, type InboxEventMessage } from '../../modules/inbox/events.ts';
import { none, ProviderError, type ChannelProvider } from './types.ts';

interface InAppContent {
  title?: string | null;
  body?: string | null;
  icon?: string | null;
  thumbnail?: string | null;
  image?: string | null;
  redirection?: string | null;
  actions?: unknown[];
}

/** What an inbox item shows of a message, however it is written (one item, a batch, a digest's live item). */
export function itemFields(message: Pick<Message, 'content' | 'data' | 'category'>) {
  const content = message.content as InAppContent;
  return {
    title: content.title ?? null,
    body: content.body ?? null,
    icon: content.icon ?? null,
    thumbnail: content.thumbnail ?? null,
    image: content.image ?? null,
    redirection: content.redirection ?? null,
    actions: (content.actions ?? []) as object[],
    data: (message.data ?? {}) as object,
    category: message.category,
  };
}

/**
 * In-app (widget) channel: stores the inbox item and publishes it. A message with an
 * incrementId stacks onto the user's item with the same incrementId while the project's stack
 * timeout runs: the item's content is replaced, stackCount grows and it is unread again.
 */
export function inAppProvider(pubsub: HeraldPubSub): ChannelProvider {
  return {
    kind: 'in-app',
    channel: 'IN_APP',
    config: { settings: none(), secrets: none() },
    async send({ message }) {
      if (!message.userId) throw new ProviderError('in-app messages need a user', true);
      const fields = itemFields(message);
      const userId = message.userId;
      const { itemId, events } = await prisma().$transaction(async (tx) => {
        await lockInbox(tx, message.projectId, userId);
        if (message.incrementId) {
          // Re-delivery after a crash must not stack the same message twice.
          const existing = await tx.inboxItem.findUnique({ where: { messageId: message.id }, select: { id: true } });
          if (existing) return { itemId: existing.id, events: [] };
          // The project's stack timeout is read in the same statement as the stack.
          const [stack] = await tx.$queryRaw<{ id: string }[]>`
            SELECT i.id FROM "InboxItem" i JOIN "Project" p ON p.id = i."projectId"
            WHERE i."projectId" = ${message.projectId}::uuid AND i."userId" = ${message.userId}::uuid
              AND i."incrementId" = ${message.incrementId} AND i."archivedAt" IS NULL
              AND i."tenantId" IS NOT DISTINCT FROM ${message.tenantId}::uuid
              AND i."updatedAt" >= ${new Date()}::timestamp - make_interval(secs => p."stackTimeoutSeconds")
            ORDER BY i."updatedAt" DESC LIMIT 1 FOR UPDATE OF i`;
          if (stack) {
            const updated = await tx.inboxItem.update({
              where: { id: stack.id },
              data: { ...fields, stackCount: { increment: 1 }, readAt: null, seenAt: null },
              select: { id: true, stackCount: true },
            });
            await tx.message.update({ where: { id: message.id }, data: { stackCount: updated.stackCount } });
            return { itemId: updated.id, events: await recordInboxEvents(tx, message.projectId, userId, [{ type: 'UPDATED', itemId: updated.id }]) };
          }
        }
        // Idempotent per message id in one statement: a re-delivery after a crash hits the unique
        // messageId and inserts nothing (the inbox lock above orders it after the first one).
        const [created] = await tx.inboxItem.createManyAndReturn({
          data: [{ id: uuidv7(), projectId: message.projectId, userId, messageId: message.id, notificationId: message.notificationId, incrementId: message.incrementId, tenantId: message.tenantId, ...fields }],
          skipDuplicates: true,
          select: { id: true },
        });
        if (!created) {
          const existing = await tx.inboxItem.findUniqueOrThrow({ where: { messageId: message.id }, select: { id: true } });
          return { itemId: existing.id, events: [] };
        }
        return { itemId: created.id, events: await recordInboxEvents(tx, message.projectId, userId, [{ type: 'CREATED', itemId: created.id }]) };
      });
      publishInboxEvents(pubsub, events);
      return { providerMessageId: itemId, delivered: true };
    },
  };
}

/** One claimed in-app message for deliverInAppBatch: the attempt that owns it and the provider's name. */
export interface InAppClaim {
  message: Message;
  provider: string;
}

/** What deliverInAppBatch recorded for one message: its DELIVERED event, to publish. */
export interface InAppDelivered {
  messageId: string;
  attempt: number;
  at: Date;
}

/**
 * In-app delivery of many claimed messages (no incrementId: stacking keeps the path above) in ONE
 * statement: the inbox items as one multi-row insert (idempotent per message id), one inbox
 * state update per user moving the cursor and the unread counter by the number of new items (no
 * count(*): each new item is unread), the inbox events, and the messages' DELIVERED transition
 * with its events. It writes only for messages still held by the attempt that claimed them
 * (status SENDING, same attempts), locked in id order; the inbox states are locked in user order,
 * so concurrent batches cannot deadlock. One statement commits whole or not at all: a crash
 * before its commit leaves the messages SENDING, and the reconciler retries them once their lease
 * runs out. Publishes the inbox events after the commit; answers the messages it delivered.
 */
export async function deliverInAppBatch(pubsub: HeraldPubSub, claims: InAppClaim[]): Promise<InAppDelivered[]> {
  if (claims.length === 0) return [];
  const now = new Date();
  const input = JSON.stringify(
    claims.map(({ message, provider }, i) => {
      return {
        i,
        messageId: message.id,
        attempts: message.attempts,
        provider,
        // uuidv7 in batch order: the inbox lists by id, so a user's items keep their message order.
        itemId: uuidv7(),
        projectId: message.projectId,
        userId: message.userId,
        notificationId: message.notificationId,
        tenantId: message.tenantId,
        ...itemFields(message),
      };
    }),
  );
  // On the pool (rawQuery), without the ORM's per-call work; the date as UTC text.
  const [result] = await rawQuery<{ delivered: { messageId: string; attempt: number; at: string }[]; events: { projectId: string; userId: string; cursor: string; itemId: string; unreadCount: number; at: string; tenantId: string | null }[] }>(
    `
    WITH input AS (
      SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(i int, "messageId" uuid, attempts int, provider text, "itemId" uuid, "projectId" uuid,
        "userId" uuid, "notificationId" int, "tenantId" uuid, title text, body text, icon text, thumbnail text, image text, redirection text, actions jsonb, data jsonb, category text)
    ),
    valid AS (
      SELECT m.id FROM "Message" m JOIN input x ON x."messageId" = m.id
      WHERE m.status = 'SENDING' AND m.attempts = x.attempts
      ORDER BY m.id
      FOR UPDATE OF m
    ),
    items AS (
      INSERT INTO "InboxItem" (id, "projectId", "userId", "messageId", "notificationId", "tenantId", title, body, icon, thumbnail, image, redirection, actions, data, category, "createdAt", "updatedAt")
      SELECT x."itemId", x."projectId", x."userId", x."messageId", x."notificationId", x."tenantId", x.title, x.body, x.icon, x.thumbnail, x.image, x.redirection, x.actions, x.data, x.category, $2::timestamp(3), $2::timestamp(3)
      FROM input x JOIN valid v ON v.id = x."messageId"
      ORDER BY x.i
      ON CONFLICT ("messageId") DO NOTHING
      RETURNING id, "messageId", "userId", "projectId", "tenantId"
    ),
    ranked AS (
      SELECT it.*, row_number() OVER (PARTITION BY it."userId" ORDER BY x.i) AS k, count(*) OVER (PARTITION BY it."userId") AS n
      FROM items it JOIN input x ON x."messageId" = it."messageId"
    ),
    state AS (
      INSERT INTO "InboxState" ("userId", "projectId", "lastCursor", "unreadCount", "updatedAt")
      SELECT "userId", "projectId", n, n, now() FROM ranked WHERE k = 1 ORDER BY "userId"
      ON CONFLICT ("userId") DO UPDATE SET
        "lastCursor" = "InboxState"."lastCursor" + EXCLUDED."lastCursor",
        "unreadCount" = "InboxState"."unreadCount" + EXCLUDED."unreadCount",
        "updatedAt" = now()
      RETURNING "userId", "lastCursor", "unreadCount"
    ),
    events AS (
      INSERT INTO "InboxEvent" ("userId", "projectId", cursor, type, "itemId", "unreadCount", at, "tenantId")
      SELECT r."userId", r."projectId", s."lastCursor" - r.n + r.k, 'CREATED', r.id, s."unreadCount" - r.n + r.k, clock_timestamp(), r."tenantId"
      FROM ranked r JOIN state s ON s."userId" = r."userId"
      ORDER BY r."userId", r.k
      RETURNING "projectId", "userId", cursor, "itemId", "unreadCount", at, "tenantId"
    ),
    moved AS (
      UPDATE "Message" m SET status = 'DELIVERED', "leaseUntil" = NULL, "updatedAt" = $2::timestamp(3), provider = x.provider,
        "providerMessageId" = coalesce(it.id, old.id)::text, "lastError" = NULL, "sentAt" = $2::timestamp(3), "deliveredAt" = $2::timestamp(3)
      FROM valid v
        JOIN input x ON x."messageId" = v.id
        LEFT JOIN items it ON it."messageId" = v.id
        LEFT JOIN "InboxItem" old ON old."messageId" = v.id
      WHERE m.id = v.id
      RETURNING m.id, m."projectId", m.attempts, x.provider
    ),
    delivered AS (
      INSERT INTO "MessageEvent" ("messageId", "projectId", status, attempt, provider)
      SELECT id, "projectId", 'DELIVERED', attempts, provider FROM moved
      RETURNING "messageId", attempt, at
    )
    SELECT
      (SELECT coalesce(jsonb_agg(jsonb_build_object('messageId', "messageId", 'attempt', attempt, 'at', at)), '[]'::jsonb) FROM delivered) AS delivered,
      (SELECT coalesce(jsonb_agg(jsonb_build_object('projectId', "projectId", 'userId', "userId", 'cursor', cursor::text, 'itemId', "itemId",
        'unreadCount', "unreadCount", 'at', at, 'tenantId', "tenantId") ORDER BY "userId", cursor), '[]'::jsonb) FROM events) AS events`,
    [input, now.toISOString()],
    // Prepared: one text (the rows travel as one jsonb parameter), run for every in-app batch.
    { prepared: true },
  );
  const events: InboxEventMessage[] = (result?.events ?? []).map((e) => ({
    projectId: e.projectId,
    userId: e.userId,
    cursor: e.cursor,
    type: 'CREATED',
    itemId: e.itemId,
    unreadCount: e.unreadCount,
    // jsonb renders timestamp(3) without a zone; the column holds UTC.
    at: new Date(`${e.at}Z`).toISOString(),
    tenantId: e.tenantId,
  }));
  publishInboxEvents(pubsub, events);
  return (result?.delivered ?? []).map((d) => ({ messageId: d.messageId, attempt: d.attempt, at: new Date(`${d.at}Z`) }));
}
