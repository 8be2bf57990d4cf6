import { z } from 'zod';
import { prisma } from '../../db/client.ts';
import { builder } from '../../graphql/builder.ts';
import { unreadCount } from './service.ts';

/**
 * A user's inbox read by an operator (the console's user page shows it as the widget would):
 * the newest items that are not archived and the unread count, read-only. The inbox fields of
 * Query stay end-user only; these hang off a User the API key can already read.
 */
const INBOX_PAGE_MAX = 100;

builder.prismaObjectFields('User', (t) => ({
  inbox: t.prismaField({
    type: ['InboxItem'],
    description: `The user's inbox as their widget shows it, newest first, archived items hidden (operators; at most ${INBOX_PAGE_MAX}).`,
    authScopes: { operator: true },
    args: { first: t.arg.int({ defaultValue: 20, validate: z.number().int().min(1).max(INBOX_PAGE_MAX).nullish() }) },
    resolve: (query, user, args) =>
      prisma().inboxItem.findMany({ ...query, where: { projectId: user.projectId, userId: user.id, archivedAt: null }, orderBy: { id: 'desc' }, take: args.first ?? 20 }),
  }),
  unreadCount: t.int({
    description: 'Unread (and not archived) items of the user, as their bell shows it (operators).',
    authScopes: { operator: true },
    resolve: (user) => unreadCount({ projectId: user.projectId, userId: user.id }),
  }),
}));
