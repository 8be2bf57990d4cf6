import { prisma } from '../../db/client.ts';
import { builder } from '../../graphql/builder.ts';
import type { Context } from '../../graphql/context.ts';
import { forbidden, notFound } from '../../graphql/errors.ts';
import { requireProjectId } from '../../graphql/principal.ts';
import { CHANNELS } from '../notifications/content.ts';
import { findUserByRef } from '../users/service.ts';
import { setPreferences } from './service.ts';
import { PreferencesRef } from './types.ts';

const PreferencesInput = builder.inputType('PreferencesInput', {
  fields: (t) => ({
    channels: t.stringList({ description: CHANNELS.join(', ') }),
    categories: t.stringList(),
    notifications: t.field({ type: 'JSONObject', description: '{ "<notification id or key>": ["EMAIL", ...] }' }),
  }),
});


builder.mutationField('setUserPreferences', (t) =>
  t.field({
    type: PreferencesRef,
    description: "Replaces a user's preferences (operators). userId: Herald id or externalId.",
    authScopes: { operator: true },
    args: { userId: t.arg.id({ required: true }), preferences: t.arg({ type: PreferencesInput, required: true }) },
    resolve: async (_r, args, ctx) => {
      const projectId = requireProjectId(ctx);
      const user = await findUserByRef(projectId, String(args.userId), 'userId');
      return setPreferences(projectId, user.id, args.preferences);
    },
  }),
);

/**
 * The calling end user, who must exist: end users are created by operators (upsert, send), not
 * by their widget, so one that was never created is NOT_FOUND here (and nothing is written).
 */
function endUser(ctx: Context) {
  if (ctx.principal?.kind !== 'endUser') throw forbidden('This field is for end users (widget credentials)');
  const { projectId, userId, externalId } = ctx.principal;
  if (userId === null) throw notFound('User', externalId);
  return { projectId, userId };
}

builder.queryField('viewer', (t) =>
  t.prismaField({
    type: 'User',
    description: 'The calling end user (widget credentials).',
    authScopes: { endUser: true },
    resolve: (query, _r, _a, ctx) => prisma().user.findUniqueOrThrow({ ...query, where: { id: endUser(ctx).userId } }),
  }),
);

builder.mutationField('setMyPreferences', (t) =>
  t.field({
    type: PreferencesRef,
    description: "Replaces the calling end user's preferences.",
    authScopes: { endUser: true },
    args: { preferences: t.arg({ type: PreferencesInput, required: true }) },
    resolve: (_r, args, ctx) => {
      const me = endUser(ctx);
      return setPreferences(me.projectId, me.userId, args.preferences);
    },
  }),
);
