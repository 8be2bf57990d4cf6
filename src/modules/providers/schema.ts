import { uuidv7 } from '../../db/ids.ts';
import { z } from 'zod';
import { prisma } from '../../db/client.ts';
import { checkOutboundSettings } from '../../delivery/providers/outbound.ts';
import { CHANNELS } from '../notifications/content.ts';
import { builder } from '../../graphql/builder.ts';
import { badInput, notFound } from '../../graphql/errors.ts';
import { requireProjectId } from '../../graphql/principal.ts';

const auth = { operator: true } as const;

builder.prismaObject('ProviderConfig', {
  description: 'A channel provider of the project. Secrets are write-only: they are stored encrypted and never returned.',
  fields: (t) => ({
    id: t.exposeID('id'),
    channel: t.exposeString('channel'),
    kind: t.exposeString('kind'),
    name: t.exposeString('name'),
    priority: t.exposeInt('priority', { description: '0 = primary, 1 = failover.' }),
    settings: t.field({ type: 'JSONObject', resolve: (p) => p.settings as Record<string, unknown> }),
    hasSecrets: t.boolean({ resolve: (p) => p.secrets !== null }),
    enabled: t.exposeBoolean('enabled'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const ProviderInput = builder.inputType('ProviderInput', {
  fields: (t) => ({
    channel: t.string({ required: true, description: CHANNELS.join(', ') }),
    kind: t.string({ required: true, description: 'in-app, webhook, smtp, twilio, whatsapp-cloud, web-push, slack, ms-teams, discord' }),
    name: t.string({ required: true }),
    priority: t.int({ defaultValue: 0, description: '0 = primary, 1 = failover.' }),
    settings: t.field({ type: 'JSONObject', description: 'Non-secret settings (base URL, sender...).' }),
    secrets: t.field({ type: 'JSONObject', description: 'Credentials; stored encrypted, never returned.' }),
    enabled: t.boolean({ defaultValue: true }),
  }),
});

const providerSchema = z.object({
  channel: z.enum(CHANNELS),
  kind: z.string().min(1).max(50),
  name: z.string().trim().min(1).max(100),
  priority: z.number().int().min(0).max(1),
  settings: z.record(z.string(), z.unknown()).nullish(),
  secrets: z.record(z.string(), z.unknown()).nullish(),
  enabled: z.boolean().nullish(),
});

builder.queryField('providers', (t) =>
  t.prismaField({
    type: ['ProviderConfig'],
    authScopes: auth,
    resolve: (query, _r, _a, ctx) => prisma().providerConfig.findMany({ ...query, where: { projectId: requireProjectId(ctx) }, orderBy: [{ channel: 'asc' }, { priority: 'asc' }] }),
  }),
);

function issuesOf(result: { success: boolean; error?: z.ZodError }, prefix: string) {
  if (result.success || !result.error) return [];
  return result.error.issues.map((i) => ({
    field: [prefix, ...i.path.map(String), ...(i.code === 'unrecognized_keys' ? [i.keys.join(', ')] : [])].join('.'),
    message: i.message,
  }));
}

builder.mutationFields((t) => ({
  configureProvider: t.prismaField({
    type: 'ProviderConfig',
    description: "Sets the channel's primary (priority 0) or failover (priority 1) provider, replacing the one there.",
    authScopes: auth,
    args: { input: t.arg({ type: ProviderInput, required: true }) },
    resolve: async (query, _r, args, ctx) => {
      const projectId = requireProjectId(ctx);
      const parsed = providerSchema.safeParse(args.input);
      if (!parsed.success) throw badInput(parsed.error.issues.map((i) => ({ field: `input.${i.path.join('.')}`, message: i.message })));
      const input = parsed.data;
      const provider = ctx.delivery.providerOfKind(input.kind);
      if (!provider) {
        throw badInput([{ field: 'input.kind', message: `unknown provider kind; one of ${ctx.delivery.providerKinds.join(', ')}` }]);
      }
      if (provider.channel !== input.channel) {
        throw badInput([{ field: 'input.kind', message: `${input.kind} delivers ${provider.channel}, not ${input.channel}` }]);
      }
      // Checked here so a typo or a missing credential is refused now, not found at the first send.
      const issues = [
        ...issuesOf(provider.config.settings.safeParse(input.settings ?? {}), 'input.settings'),
        ...issuesOf(provider.config.secrets.safeParse(input.secrets ?? {}), 'input.secrets'),
      ];
      if (issues.length) throw badInput(issues);
      // Where the provider connects must be a public address (or allow-listed); checked again on every connection.
      const refused = await checkOutboundSettings(provider, input.settings ?? {}, 'input.settings');
      if (refused.length) throw badInput(refused);
      const data = {
        kind: input.kind,
        name: input.name,
        settings: (input.settings ?? {}) as object,
        secrets: input.secrets ? ctx.delivery.sealSecrets(input.secrets) : null,
        enabled: input.enabled ?? true,
      };
      return prisma().providerConfig.upsert({
        ...query,
        where: { projectId_channel_priority: { projectId, channel: input.channel, priority: input.priority } },
        create: { id: uuidv7(), projectId, channel: input.channel, priority: input.priority, ...data },
        update: data,
      });
    },
  }),
  deleteProvider: t.id({
    authScopes: auth,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_r, args, ctx) => {
      const id = String(args.id);
      const deleted = z.uuid().safeParse(id).success
        ? await prisma().providerConfig.deleteMany({ where: { id, projectId: requireProjectId(ctx) } })
        : { count: 0 };
      if (deleted.count === 0) throw notFound('Provider', id);
      return id;
    },
  }),
}));
