import { uuidv7 } from '../../db/ids.ts';
import { z } from 'zod';
import { prisma } from '../../db/client.ts';
import { Prisma, type Tenant } from '../../generated/prisma/client.ts';
import { badInput, conflict, issuesFrom, notFound } from '../../graphql/errors.ts';
import { parseGivenPreferences, type StoredPreferences } from '../preferences/service.ts';
import { tenantKeySchema } from './key.ts';

/** Users added to or removed from a tenant in one call (one statement each). */
export const MAX_MEMBERS_PER_CALL = 1_000;
/** Bytes of a tenant's `data` (JSON), like a user's custom fields. */
export const MAX_TENANT_DATA_BYTES = 16_384;

const dataSchema = z
  .record(z.string(), z.unknown())
  .refine((d) => Buffer.byteLength(JSON.stringify(d)) <= MAX_TENANT_DATA_BYTES, `must be at most ${MAX_TENANT_DATA_BYTES} bytes of JSON`);

const createSchema = z.object({
  key: tenantKeySchema,
  name: z.string({ error: 'is required' }).trim().min(1, 'is required').max(200),
  data: dataSchema.nullish(),
});

const updateSchema = z.object({
  name: z.string().trim().min(1, 'must not be empty').max(200).nullish(),
  data: dataSchema.nullish(),
});

function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw badInput(issuesFrom(result.error.issues));
  return result.data;
}

export async function createTenant(projectId: string, input: { key: unknown; name: unknown; data?: unknown }): Promise<Tenant> {
  const t = parse(createSchema, input);
  try {
    return await prisma().tenant.create({ data: { id: uuidv7(), projectId, key: t.key, name: t.name, data: (t.data ?? {}) as Prisma.InputJsonObject } });
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') throw conflict(`A tenant with key ${JSON.stringify(t.key)} already exists`);
    throw error;
  }
}

/** A tenant of the project by key; another project's (or a malformed key) is null. */
export async function findTenant(projectId: string, key: string): Promise<Tenant | null> {
  if (!tenantKeySchema.safeParse(key).success) return null;
  return prisma().tenant.findUnique({ where: { projectId_key: { projectId, key } } });
}

export async function getTenant(projectId: string, key: string): Promise<Tenant> {
  const tenant = await findTenant(projectId, key);
  if (!tenant) throw notFound('Tenant', key);
  return tenant;
}

/** Name and data; the key cannot change (widget hashes and sends name it). `data` replaces the stored data. */
export async function updateTenant(projectId: string, key: string, input: { name?: unknown; data?: unknown }): Promise<Tenant> {
  const t = parse(updateSchema, input);
  const tenant = await getTenant(projectId, key);
  return prisma().tenant.update({
    where: { id: tenant.id },
    data: { ...(t.name != null ? { name: t.name } : {}), ...(t.data != null ? { data: t.data as Prisma.InputJsonObject } : {}) },
  });
}

/**
 * Deletes the tenant and its memberships (not the users). Messages and inbox items sent for it
 * keep its id: a tenant created again with the same key is a new tenant and does not see them.
 */
export async function deleteTenant(projectId: string, key: string): Promise<Tenant> {
  const tenant = await getTenant(projectId, key);
  await prisma().tenant.delete({ where: { id: tenant.id } });
  return tenant;
}

export async function setTenantPreferences(projectId: string, key: string, input: unknown): Promise<StoredPreferences> {
  const preferences = parseGivenPreferences(input);
  const tenant = await getTenant(projectId, key);
  await prisma().tenant.update({ where: { id: tenant.id }, data: { preferences: preferences as Prisma.InputJsonObject } });
  return preferences;
}

function parseRefs(userIds: string[]): string[] {
  if (userIds.length === 0) throw badInput([{ field: 'userIds', message: 'give at least one user' }]);
  if (userIds.length > MAX_MEMBERS_PER_CALL) throw badInput([{ field: 'userIds', message: `at most ${MAX_MEMBERS_PER_CALL} users per call (got ${userIds.length})` }]);
  const empty = userIds.findIndex((ref) => ref.trim() === '' || ref.length > 256);
  if (empty >= 0) throw badInput([{ field: `userIds.${empty}`, message: 'must be a Herald user id or an externalId (at most 256 characters)' }]);
  return userIds;
}

/**
 * The statement that resolves references (a uuid is tried as Herald id first, as usersByRef
 * does) and, only when every one names a user of the project, applies `change` to them: one
 * statement per call whatever the number of users, and nothing written when one is unknown.
 */
async function changeMembers(projectId: string, tenantId: string, refs: string[], change: 'add' | 'remove'): Promise<{ missing: number[]; changed: number }> {
  const apply =
    change === 'add'
      ? Prisma.sql`INSERT INTO "TenantMember" ("tenantId", "userId") SELECT DISTINCT ${tenantId}::uuid, "userId" FROM resolved
          WHERE NOT EXISTS (SELECT 1 FROM resolved WHERE "userId" IS NULL) ORDER BY 2 ON CONFLICT DO NOTHING RETURNING 1`
      : Prisma.sql`DELETE FROM "TenantMember" WHERE "tenantId" = ${tenantId}::uuid AND "userId" IN (SELECT "userId" FROM resolved)
          AND NOT EXISTS (SELECT 1 FROM resolved WHERE "userId" IS NULL) RETURNING 1`;
  const [row] = await prisma().$queryRaw<{ missing: number[] | null; changed: number }[]>`
    WITH refs AS (
      SELECT ref, i FROM unnest(${refs}::text[]) WITH ORDINALITY AS r(ref, i)
    ),
    resolved AS (
      SELECT r.i, coalesce(
        (SELECT u.id FROM "User" u WHERE u."projectId" = ${projectId}::uuid
           AND u.id = CASE WHEN r.ref ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN r.ref::uuid END),
        (SELECT u.id FROM "User" u WHERE u."projectId" = ${projectId}::uuid AND u."externalId" = r.ref)) AS "userId"
      FROM refs r
    ),
    changed AS (${apply})
    SELECT (SELECT array_agg(i - 1 ORDER BY i)::int[] FROM resolved WHERE "userId" IS NULL) AS missing, (SELECT count(*)::int FROM changed) AS changed`;
  return { missing: row?.missing ?? [], changed: row?.changed ?? 0 };
}

async function members(projectId: string, key: string, userIds: string[], change: 'add' | 'remove'): Promise<{ tenant: Tenant; changed: number }> {
  const refs = parseRefs(userIds);
  const tenant = await getTenant(projectId, key);
  const { missing, changed } = await changeMembers(projectId, tenant.id, refs, change);
  if (missing.length) throw badInput(missing.slice(0, 20).map((i) => ({ field: `userIds.${i}`, message: `no user ${JSON.stringify(refs[i])}` })));
  return { tenant, changed };
}

/** Adds users (Herald ids or externalIds) to the tenant; members already there stay. Unknown users: BAD_USER_INPUT, nothing added. */
export const addTenantMembers = (projectId: string, key: string, userIds: string[]) => members(projectId, key, userIds, 'add');
export const removeTenantMembers = (projectId: string, key: string, userIds: string[]) => members(projectId, key, userIds, 'remove');

/** What templates see as `tenant`. */
export interface TenantScope {
  key: string;
  name: string;
  data: Record<string, unknown>;
}
export const tenantScope = (t: Pick<Tenant, 'key' | 'name' | 'data'>): TenantScope => ({ key: t.key, name: t.name, data: (t.data ?? {}) as Record<string, unknown> });

/**
 * The tenants named by a batch of sends, and which of (tenant, externalId) pairs are members,
 * in two queries for the whole batch. Membership is read before the user upsert of the send:
 * a user the send would create is not a member of anything.
 */
export async function tenantsForSend(projectId: string, keys: string[], pairs: { key: string; externalId: string }[]): Promise<{ tenants: Map<string, Tenant>; isMember: (key: string, externalId: string) => boolean }> {
  const valid = [...new Set(keys)].filter((k) => tenantKeySchema.safeParse(k).success);
  const tenants = valid.length ? await prisma().tenant.findMany({ where: { projectId, key: { in: valid } } }) : [];
  const byKey = new Map(tenants.map((t) => [t.key, t]));
  const wanted = pairs.filter((p) => byKey.has(p.key));
  const rows = wanted.length
    ? await prisma().$queryRaw<{ tenantId: string; externalId: string }[]>`
        SELECT m."tenantId"::text AS "tenantId", u."externalId"
        FROM unnest(${wanted.map((p) => byKey.get(p.key)!.id)}::uuid[], ${wanted.map((p) => p.externalId)}::text[]) AS w(tenant_id, external_id)
        JOIN "User" u ON u."projectId" = ${projectId}::uuid AND u."externalId" = w.external_id
        JOIN "TenantMember" m ON m."tenantId" = w.tenant_id AND m."userId" = u.id`
    : [];
  const members = new Set(rows.map((r) => `${r.tenantId} ${r.externalId}`));
  return { tenants: byKey, isMember: (key, externalId) => members.has(`${byKey.get(key)?.id} ${externalId}`) };
}
