import { uuidv7 } from '../../db/ids.ts';
import { columnList, prisma, rawSql } from '../../db/client.ts';
import { Prisma, type User } from '../../generated/prisma/client.ts';
import type { SqlPage } from '../../graphql/connections.ts';
import { badInput, issuesFrom, notFound, type InputIssue } from '../../graphql/errors.ts';
import { userProfileSchema, type UserProfile, type UserProfileInput } from './validation.ts';

export const MAX_UPSERT_BATCH = 100;

export type UpsertMode = 'FILL_MISSING' | 'OVERWRITE';

export type UpsertUserResult =
  | { ok: true; externalId: string; created: boolean; user: User }
  | { ok: false; externalId: string | null; error: { code: 'INVALID_INPUT'; message: string; issues: InputIssue[] } };

/**
 * Creates users that do not exist and updates the others. In FILL_MISSING mode (Notifuse's
 * users.upsert semantics) only fields that are still empty are set and existing custom keys
 * are kept; in OVERWRITE mode the given fields replace the stored ones.
 *
 * Each invalid item gets its own error; the valid ones are written together in one
 * transaction. A repeated externalId acts as if its items were applied one after the other in
 * input order, and each item's result is the user as it stood after that item.
 *
 * The whole batch is one INSERT ... ON CONFLICT, so concurrent upserts of the same user cannot
 * race into a duplicate or lose a field; a batch that repeats an externalId which already
 * exists takes one more statement.
 */
export async function upsertUsers(projectId: string, items: UserProfileInput[], mode: UpsertMode): Promise<UpsertUserResult[]> {
  if (items.length > MAX_UPSERT_BATCH) {
    throw badInput([{ field: 'users', message: `at most ${MAX_UPSERT_BATCH} users per call (got ${items.length})` }]);
  }
  type Parsed = { index: number; profile: UserProfile; issues?: undefined } | { index: number; profile?: undefined; issues: InputIssue[] };
  const parsed = items.map((item, index): Parsed => {
    const result = userProfileSchema.safeParse(item);
    return result.success ? { index, profile: result.data } : { index, issues: issuesFrom(result.error.issues) };
  });
  const groups = new Map<string, Step[]>();
  for (const p of parsed) {
    if (!p.profile) continue;
    const steps = groups.get(p.profile.externalId) ?? [];
    const previous = steps.at(-1)?.fields;
    steps.push({ index: p.index, fields: previous ? fold(previous, p.profile, mode) : fieldsOf(p.profile, mode) });
    groups.set(p.profile.externalId, steps);
  }
  const byIndex = groups.size ? await writeGroups(projectId, groups, mode) : new Map<number, UpsertedUser>();
  return parsed.map((p, index): UpsertUserResult => {
    const row = byIndex.get(index);
    if (row) {
      const { created, ...user } = row;
      return { ok: true, externalId: user.externalId, created, user };
    }
    const issues = p.issues ?? [];
    const externalId = typeof items[index]?.externalId === 'string' ? items[index]!.externalId : null;
    return {
      ok: false,
      externalId,
      error: { code: 'INVALID_INPUT', message: issues.map((i) => `${i.field}: ${i.message}`).join('; '), issues },
    };
  });
}

const COLUMNS = ['email', 'telephone', 'language', 'timezone', 'firstName', 'lastName', 'photoURL', 'country'] as const;
type Column = (typeof COLUMNS)[number];
/** chat: the chat addresses given (a null removes one in OVERWRITE mode; see chatAddressesSchema). */
type Fields = { [C in Column]: string | null } & { custom: Record<string, unknown>; chat: Record<string, string | null> };
/** The JSON columns: merged key by key (jsonb ||), not replaced. */
const JSON_COLUMNS = ['custom', 'chat'] as const;
type JsonColumn = (typeof JSON_COLUMNS)[number];
/** One valid item of a user, with `fields` = everything given for that user up to and including it. */
type Step = { index: number; fields: Fields };
type UpsertedUser = User & { created: boolean };

function fieldsOf(p: UserProfile, mode: UpsertMode): Fields {
  // In FILL_MISSING mode a null gives nothing (it must not hide a later item's address).
  const chat = Object.entries(p.chat ?? {}).filter(([, v]) => v !== undefined && (mode === 'OVERWRITE' || v !== null));
  const fields = { custom: p.custom ?? {}, chat: Object.fromEntries(chat) } as Fields;
  for (const c of COLUMNS) fields[c] = p[c] ?? null;
  return fields;
}

/**
 * What `before` then `p` add up to, so that upserting the result once leaves a user exactly as
 * upserting both in turn would (COALESCE and the shallow jsonb `||` of two objects are associative).
 */
function fold(before: Fields, p: UserProfile, mode: UpsertMode): Fields {
  const given = fieldsOf(p, mode);
  const fields = {
    custom: mode === 'FILL_MISSING' ? { ...given.custom, ...before.custom } : { ...before.custom, ...given.custom },
    chat: mode === 'FILL_MISSING' ? { ...given.chat, ...before.chat } : { ...before.chat, ...given.chat },
  } as Fields;
  for (const c of COLUMNS) fields[c] = mode === 'FILL_MISSING' ? (before[c] ?? given[c]) : (given[c] ?? before[c]);
  return fields;
}

/** The stored value of `column` once `given` is upserted onto `stored` (both SQL expressions). */
function merged(column: Column | JsonColumn, stored: Prisma.Sql, given: Prisma.Sql, mode: UpsertMode): Prisma.Sql {
  // jsonb || keeps the right-hand side's value for a key present on both sides.
  if (column === 'custom') return mode === 'FILL_MISSING' ? Prisma.sql`${given} || ${stored}` : Prisma.sql`${stored} || ${given}`;
  // An address given as null (OVERWRITE) removes the stored one. A user created with a null
  // keeps it (null = no address): stripped from the stored side, it cannot hide a later fill.
  if (column === 'chat') return mode === 'FILL_MISSING' ? Prisma.sql`jsonb_strip_nulls(${given} || jsonb_strip_nulls(${stored}))` : Prisma.sql`jsonb_strip_nulls(${stored} || ${given})`;
  return mode === 'FILL_MISSING' ? Prisma.sql`COALESCE(${stored}, ${given})` : Prisma.sql`COALESCE(${given}, ${stored})`;
}

const col = (table: string, column: string) => Prisma.raw(`${table}."${column}"`);
const COLUMN_LIST = Prisma.raw(COLUMNS.map((c) => `"${c}"`).join(', '));
const RETURNED = Prisma.raw(
  ['id', 'projectId', 'externalId', ...COLUMNS, ...JSON_COLUMNS, 'createdAt', 'updatedAt'].map((c) => `"${c}"`).join(', '),
);

async function writeGroups(projectId: string, groups: Map<string, Step[]>, mode: UpsertMode): Promise<Map<number, UpsertedUser>> {
  // Write (and so lock) the rows in one global order, by externalId, so concurrent batches holding
  // the same users in different orders cannot deadlock: one multi-row INSERT takes its rows in order.
  const externalIds = [...groups.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const repeated = externalIds.filter((id) => groups.get(id)!.length > 1);
  const values = externalIds.map((externalId) => {
    const f = groups.get(externalId)!.at(-1)!.fields;
    return Prisma.sql`(${uuidv7()}::uuid, ${projectId}::uuid, ${externalId}, ${Prisma.join(COLUMNS.map((c) => f[c]))},
                       ${JSON.stringify(f.custom)}::jsonb, ${JSON.stringify(f.chat)}::jsonb, now())`;
  });
  // A repeated user that already exists is only locked here (the WHERE): the per-item results need
  // its row from before the batch, which the second statement reads before updating it.
  const upsert = Prisma.sql`
    INSERT INTO "User" ("id", "projectId", "externalId", ${COLUMN_LIST}, "custom", "chat", "updatedAt")
    VALUES ${Prisma.join(values)}
    ON CONFLICT ("projectId", "externalId") DO UPDATE SET
      ${Prisma.join(
        [...COLUMNS, ...JSON_COLUMNS].map((c) => Prisma.sql`${Prisma.raw(`"${c}"`)} = ${merged(c, col('"User"', c), col('EXCLUDED', c), mode)}`),
        ', ',
      )},
      "updatedAt" = now()
    ${repeated.length ? Prisma.sql`WHERE "User"."externalId" NOT IN (${Prisma.join(repeated)})` : Prisma.empty}
    RETURNING ${RETURNED}, (xmax = 0) AS "created"`;

  const byIndex = new Map<number, UpsertedUser>();
  const collect = (rows: UpsertedUser[]) => {
    for (const row of rows) {
      const steps = groups.get(row.externalId)!;
      if (steps.length === 1) byIndex.set(steps[0]!.index, row);
    }
    return rows;
  };
  if (!repeated.length) {
    // One statement is its own transaction: on the pool, without the ORM's per-call work.
    collect(await rawSql<UpsertedUser>(upsert));
    return byIndex;
  }
  await prisma().$transaction(async (tx) => {
    const rows = collect(await tx.$queryRaw<UpsertedUser[]>(upsert));
    const inserted = new Set(rows.filter((r) => r.created).map((r) => r.externalId));
    for (const row of await replay(tx, projectId, repeated, groups, inserted, mode)) {
      const { index, ...user } = row;
      const steps = groups.get(user.externalId)!;
      byIndex.set(index, { ...user, created: inserted.has(user.externalId) && steps[0]!.index === index });
    }
  });
  return byIndex;
}

/**
 * The result of each item of the repeated users: a user the batch inserted started from nothing,
 * one that existed (locked by the INSERT, not yet changed) from its stored row, which gets the
 * batch's last state in the same statement (the SELECT still sees the row from before the UPDATE).
 */
async function replay(
  tx: Prisma.TransactionClient,
  projectId: string,
  repeated: string[],
  groups: Map<string, Step[]>,
  inserted: Set<string>,
  mode: UpsertMode,
): Promise<(User & { index: number })[]> {
  const values = repeated.flatMap((externalId) => {
    const steps = groups.get(externalId)!;
    return steps.map(
      ({ index, fields: f }, k) =>
        Prisma.sql`(${index}::int, ${externalId}::text, ${inserted.has(externalId)}::boolean, ${k === steps.length - 1}::boolean,
                    ${Prisma.join(COLUMNS.map((c) => Prisma.sql`${f[c]}::text`))}, ${JSON.stringify(f.custom)}::jsonb, ${JSON.stringify(f.chat)}::jsonb)`,
    );
  });
  const stored = (c: Column | JsonColumn) =>
    Prisma.sql`CASE WHEN v."fresh" THEN ${c === 'custom' || c === 'chat' ? Prisma.sql`'{}'::jsonb` : Prisma.sql`NULL`} ELSE ${col('u', c)} END`;
  return tx.$queryRaw<(User & { index: number })[]>`
    WITH v ("index", "externalId", "fresh", "last", ${COLUMN_LIST}, "custom", "chat") AS (
      VALUES ${Prisma.join(values)}
    ), updated AS (
      UPDATE "User" AS u SET
        ${Prisma.join(
          [...COLUMNS, ...JSON_COLUMNS].map((c) => Prisma.sql`${Prisma.raw(`"${c}"`)} = ${merged(c, col('u', c), col('v', c), mode)}`),
          ', ',
        )},
        "updatedAt" = now()
      FROM v
      WHERE v."last" AND NOT v."fresh" AND u."projectId" = ${projectId}::uuid AND u."externalId" = v."externalId"
    )
    SELECT v."index", u."id", u."projectId", u."externalId",
           ${Prisma.join([...COLUMNS, ...JSON_COLUMNS].map((c) => Prisma.sql`${merged(c, stored(c), col('v', c), mode)} AS ${Prisma.raw(`"${c}"`)}`), ', ')},
           u."createdAt", now()::timestamp(3) AS "updatedAt"
    FROM v JOIN "User" AS u ON u."projectId" = ${projectId}::uuid AND u."externalId" = v."externalId"`;
}

/** Finds a user of the project by Herald id or by the client's externalId. */
export async function findUser(projectId: string, by: { id?: string | null; externalId?: string | null }) {
  if ((by.id ? 1 : 0) + (by.externalId ? 1 : 0) !== 1) {
    throw badInput([{ field: 'id', message: 'give exactly one of id and externalId' }]);
  }
  const user = by.id
    ? isUuid(by.id)
      ? await prisma().user.findFirst({ where: { id: by.id, projectId } })
      : null
    : await prisma().user.findUnique({ where: { projectId_externalId: { projectId, externalId: by.externalId! } } });
  if (!user) throw notFound('User', (by.id ?? by.externalId)!);
  return user;
}

/**
 * A user of the project by Herald id or externalId, for arguments that take either (a uuid is
 * tried as Herald id first: clients often use uuids as their own ids). Another project's user
 * is NOT_FOUND like an unknown one; `field` names the argument when the reference is empty.
 */
export async function findUserByRef(projectId: string, ref: string, field: string): Promise<User> {
  if (ref.trim() === '') throw badInput([{ field, message: 'must be a Herald user id or an externalId' }]);
  const user = await userByRef(projectId, ref);
  if (!user) throw notFound('User', ref);
  return user;
}

/**
 * userByRef for many references in one query (a uuid is tried as Herald id first), answered in
 * the references' order, null where the project has no such user.
 */
export async function usersByRef(projectId: string, refs: readonly string[]): Promise<(User | null)[]> {
  if (refs.length === 0) return [];
  const ids = [...new Set(refs)];
  const uuids = ids.filter(isUuid).map((id) => id.toLowerCase());
  const rows = await prisma().user.findMany({ where: { projectId, OR: [{ externalId: { in: ids } }, ...(uuids.length ? [{ id: { in: uuids } }] : [])] } });
  const byId = new Map(rows.map((u) => [u.id, u]));
  const byExternalId = new Map(rows.map((u) => [u.externalId, u]));
  return refs.map((ref) => (isUuid(ref) ? byId.get(ref.toLowerCase()) : undefined) ?? byExternalId.get(ref) ?? null);
}

/** Like findUserByRef, but null when the project has no such user. */
export async function userByRef(projectId: string, ref: string): Promise<User | null> {
  if (isUuid(ref)) {
    const byId = await prisma().user.findFirst({ where: { id: ref, projectId } });
    if (byId) return byId;
  }
  return prisma().user.findUnique({ where: { projectId_externalId: { projectId, externalId: ref } } });
}

export interface UserFilter {
  externalIds?: string[] | null;
  email?: string | null;
  country?: string | null;
  language?: string | null;
  search?: string | null;
}

/** The SQL condition of a users list: the project's users that match the filter. */
function userCondition(projectId: string, filter: UserFilter | null | undefined): Prisma.Sql {
  const parts = [Prisma.sql`"projectId" = ${projectId}::uuid`];
  if (filter?.externalIds) parts.push(Prisma.sql`"externalId" = ANY(${filter.externalIds}::text[])`);
  if (filter?.email) parts.push(Prisma.sql`lower(email) = lower(${filter.email})`);
  if (filter?.country) parts.push(Prisma.sql`country = ${filter.country.toUpperCase()}`);
  if (filter?.language) parts.push(Prisma.sql`language = ${filter.language}`);
  const search = filter?.search?.trim();
  if (search) {
    const pattern = `%${likeEscape(search)}%`;
    parts.push(Prisma.sql`("externalId" ILIKE ${pattern} OR email ILIKE ${pattern} OR "firstName" ILIKE ${pattern} OR "lastName" ILIKE ${pattern})`);
  }
  return Prisma.join(parts, ' AND ');
}

/** LIKE's wildcards (and its escape character, backslash) in a value, escaped so they match themselves. */
function likeEscape(value: string): string {
  return value.replace(/[\\%_]/g, '\\$&');
}

const USER_COLUMNS = columnList(Prisma.UserScalarFieldEnum);

/**
 * A page of the users list, oldest first (ids are time-ordered), in one SQL statement on the
 * pool: the operator API's hottest read, where the ORM's per-call work cost more CPU than the
 * query (README "Benchmarks", reads).
 */
export async function listUsers(projectId: string, filter: UserFilter | null | undefined, page: SqlPage): Promise<User[]> {
  const after = page.cursor ? Prisma.sql` AND id ${Prisma.raw(page.cursor.op)} ${page.cursor.id}::uuid` : Prisma.empty;
  const rows = await rawSql<User>(
    Prisma.sql`SELECT ${USER_COLUMNS} FROM "User" WHERE ${userCondition(projectId, filter)}${after} ORDER BY id ${Prisma.raw(page.readOrder)} LIMIT ${page.limit}`,
    // Prepared: the filters and cursors make a few dozen texts at most.
    { prepared: true },
  );
  return page.reverse ? rows.reverse() : rows;
}

/** How many users the filter matches (the connection's totalCount). */
export async function countUsers(projectId: string, filter: UserFilter | null | undefined): Promise<number> {
  const [row] = await rawSql<{ n: number }>(Prisma.sql`SELECT count(*)::int AS n FROM "User" WHERE ${userCondition(projectId, filter)}`, { prepared: true });
  return row!.n;
}

export function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}
