import { z } from 'zod';
import { prisma } from '../../db/client.ts';
import { builder } from '../../graphql/builder.ts';
import { connectionArgs, pageById } from '../../graphql/connections.ts';
import { requireProjectId } from '../../graphql/principal.ts';
import { readPreferences } from '../preferences/service.ts';
import { PreferencesRef } from '../preferences/types.ts';
import * as tenants from './service.ts';

const auth = { operator: true } as const;

const Tenant = builder.prismaObject('Tenant', {
  description: "A tenant inside the project (one of your customers' workspaces): its users, its default preferences.",
  fields: (t) => ({
    id: t.exposeID('id'),
    key: t.exposeString('key', { description: 'Your id for the tenant, unique per project; sends and widgets name it.' }),
    name: t.exposeString('name'),
    data: t.field({ type: 'JSONObject', description: 'Free-form fields; templates see them as tenant.data.', resolve: (x) => x.data as Record<string, unknown> }),
    preferences: t.field({
      type: PreferencesRef,
      description: "Default opt-outs of the tenant's members on sends for this tenant; a user's own choices override them part by part.",
      resolve: (x) => readPreferences(x.preferences),
    }),
    memberCount: t.int({ resolve: (x) => prisma().tenantMember.count({ where: { tenantId: x.id } }) }),
    members: t.prismaConnection({
      type: 'User',
      cursor: 'id',
      description: 'Its users, by Herald id.',
      maxSize: 200,
      defaultSize: 50,
      validate: connectionArgs('uuid'),
      resolve: (query, x) => {
        const page = pageById(query, 'asc');
        return prisma().user.findMany({ ...page.query, where: { AND: [{ tenants: { some: { tenantId: x.id } } }, page.where] }, orderBy: { id: 'asc' } });
      },
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.prismaObjectField('User', 'tenants', (t) =>
  t.prismaField({
    type: ['Tenant'],
    description: 'The tenants the user belongs to (operators only: a widget, scoped or not, is not shown them).',
    authScopes: auth,
    resolve: (query, user) => prisma().tenant.findMany({ ...query, where: { members: { some: { userId: user.id } } }, orderBy: { key: 'asc' }, take: 1_000 }),
  }),
);

builder.prismaObjectField('Message', 'tenant', (t) =>
  t.prismaField({
    type: 'Tenant',
    nullable: true,
    description: 'The tenant the send named (null: none, or it was deleted since).',
    resolve: (query, m) => (m.tenantId ? prisma().tenant.findUnique({ ...query, where: { id: m.tenantId } }) : null),
  }),
);

const keyArg = { validate: z.string().min(1).max(128) };

builder.queryFields((t) => ({
  tenant: t.field({
    type: Tenant,
    description: "One tenant by key; unknown (or another project's) → NOT_FOUND.",
    authScopes: auth,
    args: { key: t.arg.string({ required: true, ...keyArg }) },
    resolve: (_r, args, ctx) => tenants.getTenant(requireProjectId(ctx), args.key),
  }),
  tenants: t.prismaConnection({
    type: 'Tenant',
    cursor: 'id',
    description: 'The tenants of the project, oldest first.',
    authScopes: auth,
    maxSize: 200,
    defaultSize: 50,
    validate: connectionArgs('uuid'),
    totalCount: (_c, _a, ctx) => prisma().tenant.count({ where: { projectId: requireProjectId(ctx) } }),
    resolve: (query, _r, _a, ctx) => {
      const page = pageById(query, 'asc');
      return prisma().tenant.findMany({ ...page.query, where: { AND: [{ projectId: requireProjectId(ctx) }, page.where] }, orderBy: { id: 'asc' } });
    },
  }),
}));

const TenantInput = builder.inputType('TenantInput', {
  fields: (t) => ({
    name: t.string(),
    data: t.field({ type: 'JSONObject', description: `At most ${tenants.MAX_TENANT_DATA_BYTES} bytes of JSON; replaces the stored data.` }),
  }),
});

const PreferencesDefaultsInput = builder.inputType('TenantPreferencesInput', {
  description: 'The parts given become the tenant defaults; an absent part has no default.',
  fields: (t) => ({
    channels: t.stringList(),
    categories: t.stringList(),
    notifications: t.field({ type: 'JSONObject', description: '{ "<notification id or key>": ["EMAIL", ...] }' }),
  }),
});

const MembersResult = builder.objectRef<{ tenant: Awaited<ReturnType<typeof tenants.getTenant>>; changed: number }>('TenantMembersResult').implement({
  fields: (t) => ({
    tenant: t.field({ type: Tenant, resolve: (r) => r.tenant }),
    changed: t.exposeInt('changed', { description: 'Memberships added (or removed); members already there (or not there) do not count.' }),
  }),
});

const userIds = (t: Parameters<Parameters<typeof builder.mutationFields>[0]>[0]) =>
  t.arg.stringList({ required: true, description: `Herald user ids or externalIds, at most ${tenants.MAX_MEMBERS_PER_CALL}.` });

builder.mutationFields((t) => ({
  createTenant: t.field({
    type: Tenant,
    description: 'Creates a tenant; a key already used in the project → CONFLICT.',
    authScopes: auth,
    args: { key: t.arg.string({ required: true }), name: t.arg.string({ required: true }), data: t.arg({ type: 'JSONObject' }) },
    resolve: (_r, args, ctx) => tenants.createTenant(requireProjectId(ctx), { key: args.key, name: args.name, data: args.data }),
  }),
  updateTenant: t.field({
    type: Tenant,
    description: 'Changes the name and/or the data; the key never changes.',
    authScopes: auth,
    args: { key: t.arg.string({ required: true, ...keyArg }), input: t.arg({ type: TenantInput, required: true }) },
    resolve: (_r, args, ctx) => tenants.updateTenant(requireProjectId(ctx), args.key, args.input),
  }),
  deleteTenant: t.id({
    description: "Deletes the tenant and its memberships (not the users, nor what was sent for it); answers its id. Its scoped widgets' streams end.",
    authScopes: auth,
    args: { key: t.arg.string({ required: true, ...keyArg }) },
    resolve: async (_r, args, ctx) => {
      const tenant = await tenants.deleteTenant(requireProjectId(ctx), args.key);
      ctx.pubsub.publish('tenantDeleted', { projectId: tenant.projectId, tenantId: tenant.id, at: new Date().toISOString() });
      return tenant.id;
    },
  }),
  addTenantMembers: t.field({
    type: MembersResult,
    description: `Adds up to ${tenants.MAX_MEMBERS_PER_CALL} users to the tenant in one statement (members already there stay). An unknown user → BAD_USER_INPUT, nobody added.`,
    authScopes: auth,
    args: { key: t.arg.string({ required: true, ...keyArg }), userIds: userIds(t) },
    resolve: (_r, args, ctx) => tenants.addTenantMembers(requireProjectId(ctx), args.key, args.userIds),
  }),
  removeTenantMembers: t.field({
    type: MembersResult,
    description: `Removes up to ${tenants.MAX_MEMBERS_PER_CALL} users from the tenant in one statement. An unknown user → BAD_USER_INPUT, nobody removed.`,
    authScopes: auth,
    args: { key: t.arg.string({ required: true, ...keyArg }), userIds: userIds(t) },
    resolve: (_r, args, ctx) => tenants.removeTenantMembers(requireProjectId(ctx), args.key, args.userIds),
  }),
  setTenantPreferences: t.field({
    type: PreferencesRef,
    description: "Replaces the tenant's default preferences (what its members get on sends for this tenant unless they chose otherwise).",
    authScopes: auth,
    args: { key: t.arg.string({ required: true, ...keyArg }), preferences: t.arg({ type: PreferencesDefaultsInput, required: true }) },
    resolve: async (_r, args, ctx) => readPreferences(await tenants.setTenantPreferences(requireProjectId(ctx), args.key, args.preferences)),
  }),
}));
