import { v7 as uuidv7 } from 'uuid';
import { prisma } from '../../db/client.ts';
import type { HeraldPubSub } from '../../realtime/pubsub.ts';
import { lockInbox, publishInboxEvents, recordInboxEvents } from '../../modules/inbox/events.ts';
import { none, ProviderError, type ChannelProvider } from './types.ts';

interface InAppContent {
  title?: string | null;
  body?: string | null;
  icon?: string | null;
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
        image: content.image ?? null,
        redirection: content.redirection ?? null,
        actions: (content.actions ?? []) as object[],
        data: message.data as object,
        category: message.category,
      };
      const userId = message.userId;
      const { item, events } = await prisma().$transaction(async (tx) => {
        await lockInbox(tx, message.projectId, userId);
        // Re-delivery after a crash must not create a second item for the same message.
        const existing = await tx.inboxItem.findUnique({ where: { messageId: message.id } });
        if (existing) return { item: existing, events: [] };
        if (message.incrementId) {
          const project = await tx.project.findUniqueOrThrow({ where: { id: message.projectId }, select: { stackTimeoutSeconds: true } });
          const since = new Date(Date.now() - project.stackTimeoutSeconds * 1000);
          const [stack] = await tx.$queryRaw<{ id: string }[]>`
            SELECT id FROM "InboxItem"
            WHERE "projectId" = ${message.projectId}::uuid AND "userId" = ${message.userId}::uuid
              AND "incrementId" = ${message.incrementId} AND "updatedAt" >= ${since} AND "archivedAt" IS NULL
            ORDER BY "updatedAt" DESC LIMIT 1 FOR UPDATE`;
          if (stack) {
            const updated = await tx.inboxItem.update({
              where: { id: stack.id },
              data: { ...fields, stackCount: { increment: 1 }, readAt: null, seenAt: null },
            });
            await tx.message.update({ where: { id: message.id }, data: { stackCount: updated.stackCount } });
            return { item: updated, events: await recordInboxEvents(tx, message.projectId, userId, [{ type: 'UPDATED', itemId: updated.id }]) };
          }
        }
        const created = await tx.inboxItem.create({
          data: {
            id: uuidv7(),
            projectId: message.projectId,
            userId,
            messageId: message.id,
            notificationId: message.notificationId,
            incrementId: message.incrementId,
            ...fields,
          },
        });
        return { item: created, events: await recordInboxEvents(tx, message.projectId, userId, [{ type: 'CREATED', itemId: created.id }]) };
      });
      publishInboxEvents(pubsub, events);
      return { providerMessageId: item.id, delivered: true };
    },
  };
}
