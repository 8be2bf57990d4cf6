import { builder } from '../../graphql/builder.ts';
import { requireProjectId } from '../../graphql/principal.ts';
import { prisma } from '../../db/client.ts';
import { createApiKey, revokeApiKey, rotateProjectSecret, updateProjectSettings } from './service.ts';
import { z } from 'zod';
import { CREDENTIALS_MESSAGE, hasCredentials } from '../../delivery/providers/outbound.ts';

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
    unicityField: t.exposeString('unicityField', {
      description: 'The user field that identifies a contact "by unicity" in NP6 renders and executions: email, telephone or externalId.',
    }),
    stackTimeoutSeconds: t.exposeInt('stackTimeoutSeconds', {
      description: 'A send with the same incrementId within this many seconds stacks onto the previous message.',
    }),
    statusWebhookUrl: t.exposeString('statusWebhookUrl', {
      nullable: true,
      description:
        "The outcome of every message of the project (SENT, DELIVERED, FAILED, SKIPPED, CANCELED; from delivery receipts DELIVERED, READ, BOUNCED, FAILED) is POSTed here, signed with signingSecret, with retries. Live status changes: the messageStatus subscription.",
    }),
    retentionDays: t.exposeInt('retentionDays', {
      nullable: true,
      description:
        'Days terminal messages (sent, delivered, failed, skipped, canceled) with their status events, NP6 executions and inbox events are kept; then the retention purge deletes them. Queued, scheduled and sending messages are never purged. null: kept forever (the default).',
    }),
    inboxArchivedRetentionDays: t.exposeInt('inboxArchivedRetentionDays', {
      nullable: true,
      description: 'Days an archived inbox item is kept after it was archived; then the retention purge deletes it. Unarchived items are kept. null: kept forever (the default).',
    }),
    signingSecret: t.exposeString('signingSecret', {
      description:
        'Key of the X-Herald-Signature HMAC on everything Herald POSTs out (webhook channel, callbacks, status webhooks). Operators only.',
    }),
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

/** A hundred years: a bound, so a cutoff is always a valid date. */
const MAX_RETENTION_DAYS = 36_500;

const ProjectSettingsInput = builder.inputType('ProjectSettingsInput', {
  description: 'Absent fields keep their value; statusWebhookUrl: null removes the webhook; a retention null keeps rows forever.',
  fields: (t) => ({
    name: t.string({ validate: z.string().trim().min(1).max(100) }),
    unicityField: t.string({ validate: z.enum(['email', 'telephone', 'externalId']) }),
    stackTimeoutSeconds: t.int({ validate: z.number().int().min(0).max(7 * 24 * 3600) }),
    statusWebhookUrl: t.string({
      validate: z
        .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
        .max(2048)
        .refine((v) => !hasCredentials(v), CREDENTIALS_MESSAGE)
        .nullable(),
    }),
    retentionDays: t.int({
      description: 'Days terminal messages, their events, executions and inbox events are kept (1-36500); null: forever.',
      validate: z.number().int().min(1).max(MAX_RETENTION_DAYS).nullable(),
    }),
    inboxArchivedRetentionDays: t.int({
      description: 'Days an archived inbox item is kept after it was archived (1-36500); null: forever.',
      validate: z.number().int().min(1).max(MAX_RETENTION_DAYS).nullable(),
    }),
  }),
});

builder.mutationField('updateProject', (t) =>
  t.prismaField({
    type: 'Project',
    description: "Updates the calling project's settings.",
    authScopes: { operator: true },
    args: { input: t.arg({ type: ProjectSettingsInput, required: true }) },
    resolve: (query, _root, args, ctx) =>
      updateProjectSettings(requireProjectId(ctx), args.input).then((p) => prisma().project.findUniqueOrThrow({ ...query, where: { id: p.id } })),
  }),
);

const ProjectSecret = builder.enumType('ProjectSecret', {
  values: {
    WIDGET: { value: 'widgetSecret', description: "Keys end users' userHash (HMAC-SHA256 of their externalId)." },
    SIGNING: { value: 'signingSecret', description: 'Keys the X-Herald-Signature of outgoing POSTs.' },
  } as const,
});

builder.mutationField('rotateProjectSecret', (t) =>
  t.string({
    description: 'Replaces the widget or signing secret and answers the new one (shown once). The old one stops working at once.',
    authScopes: { operator: true },
    args: { secret: t.arg({ type: ProjectSecret, required: true }) },
    resolve: (_root, args, ctx) => rotateProjectSecret(requireProjectId(ctx), args.secret, ctx.pubsub),
  }),
);
