import { builder } from '../../graphql/builder.ts';
import { requireProjectId } from '../../graphql/principal.ts';
import { prisma } from '../../db/client.ts';
import { createApiKey, revokeApiKey } from './service.ts';
import { z } from 'zod';

const ApiKey = builder.prismaObject('ApiKey', {
  description: 'An API key of a project. Its secret is shown once, when the key is created.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Public key id (the part of the API key before the dot).' }),
    name: t.exposeString('name'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
    active: t.boolean({ resolve: (key) => key.revokedAt === null }),
  }),
});

builder.prismaObject('Project', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    apiKeys: t.relation('apiKeys', {
      args: { includeRevoked: t.arg.boolean({ defaultValue: false }) },
      query: (args) => ({
        where: args.includeRevoked ? {} : { revokedAt: null },
        orderBy: { createdAt: 'asc' },
      }),
    }),
  }),
});

const CreatedApiKey = builder
  .objectRef<{ key: { id: string; name: string; createdAt: Date; revokedAt: Date | null; projectId: string; secretHash: string }; keySecret: string; apiKey: string }>(
    'CreatedApiKey',
  )
  .implement({
    description: 'A new key. keySecret and apiKey are shown only in this answer.',
    fields: (t) => ({
      key: t.field({ type: ApiKey, resolve: (created) => created.key }),
      keySecret: t.exposeString('keySecret'),
      apiKey: t.exposeString('apiKey', { description: '"<keyId>.<keySecret>", for Bearer and X-Key authentication.' }),
    }),
  });

builder.queryField('project', (t) =>
  t.prismaField({
    type: 'Project',
    description: 'The project of the calling API key.',
    authScopes: { operator: true },
    resolve: (query, _root, _args, ctx) =>
      prisma().project.findUniqueOrThrow({ ...query, where: { id: requireProjectId(ctx) } }),
  }),
);

builder.mutationField('createApiKey', (t) =>
  t.field({
    type: CreatedApiKey,
    authScopes: { operator: true },
    args: { name: t.arg.string({ required: true, validate: z.string().trim().min(1).max(100) }) },
    resolve: (_root, args, ctx) => createApiKey(requireProjectId(ctx), args.name),
  }),
);

builder.mutationField('revokeApiKey', (t) =>
  t.field({
    type: ApiKey,
    description: 'Revokes a key at once, on every instance. Revoking the calling key is allowed.',
    authScopes: { operator: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => revokeApiKey(requireProjectId(ctx), String(args.id), ctx.pubsub),
  }),
);
