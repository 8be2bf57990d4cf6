import { v7 as uuidv7 } from 'uuid';
import { prisma } from '../../db/client.ts';
import type { HeraldPubSub } from '../../realtime/pubsub.ts';
import { lockInbox, publishInboxEvents, recordInboxEvents } from '../../modules/inbox/events.ts';
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
      const content = message.content as InAppContent;
      const fields = {
        title: content.title ?? null,
        body: content.body ?? null,
        icon: content.icon ?? null,
        thumbnail: content.thumbnail ?? null,
        image: content.image ?? null,
        redirection: content.redirection ?? null,
        actions: (content.actions ?? []) as object[],
        data: message.data as object,
        category: message.category,
      };
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
          data: [{ id: uuidv7(), projectId: message.projectId, userId, messageId: message.id, notificationId: message.notificationId, incrementId: message.incrementId, ...fields }],
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
