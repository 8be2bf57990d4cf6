import { v7 as uuidv7 } from 'uuid';
import { prisma } from '../../db/client.ts';
import { Prisma, type User } from '../../generated/prisma/client.ts';
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
 * transaction, each as one INSERT ... ON CONFLICT, so concurrent upserts of the same user
 * cannot race into a duplicate or lose a field.
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
  const valid = parsed.filter((p): p is Parsed & { profile: UserProfile } => p.profile !== undefined);
  // Write (and so lock) the rows in one global order, by externalId, so concurrent batches holding
  // the same users in different orders cannot deadlock; repeats of a user keep their input order.
  const ordered = [...valid].sort((a, b) =>
    a.profile.externalId < b.profile.externalId ? -1 : a.profile.externalId > b.profile.externalId ? 1 : a.index - b.index,
  );
  const byIndex = await prisma().$transaction(async (tx) => {
    const rows = new Map<number, User & { created: boolean }>();
    for (const { index, profile } of ordered) rows.set(index, await upsertOne(tx, projectId, profile, mode));
    return rows;
  });
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

type Tx = Prisma.TransactionClient;

async function upsertOne(tx: Tx, projectId: string, p: UserProfile, mode: UpsertMode) {
  const custom = JSON.stringify(p.custom ?? {});
  // FILL_MISSING keeps what is stored (COALESCE(stored, given)); OVERWRITE prefers the given value.
  const pick = (column: string) =>
    mode === 'FILL_MISSING'
      ? Prisma.raw(`"${column}" = COALESCE("User"."${column}", EXCLUDED."${column}")`)
      : Prisma.raw(`"${column}" = COALESCE(EXCLUDED."${column}", "User"."${column}")`);
  const columns = ['email', 'telephone', 'language', 'timezone', 'firstName', 'lastName', 'photoURL', 'country'];
  // jsonb || keeps the right-hand side's value for a key present on both sides.
  const customMerge = mode === 'FILL_MISSING' ? Prisma.raw(`EXCLUDED."custom" || "User"."custom"`) : Prisma.raw(`"User"."custom" || EXCLUDED."custom"`);
  const rows = await tx.$queryRaw<(User & { created: boolean })[]>`
    INSERT INTO "User" ("id", "projectId", "externalId", "email", "telephone", "language", "timezone",
                        "firstName", "lastName", "photoURL", "country", "custom", "updatedAt")
    VALUES (${uuidv7()}::uuid, ${projectId}::uuid, ${p.externalId}, ${p.email ?? null}, ${p.telephone ?? null},
            ${p.language ?? null}, ${p.timezone ?? null}, ${p.firstName ?? null}, ${p.lastName ?? null},
            ${p.photoURL ?? null}, ${p.country ?? null}, ${custom}::jsonb, now())
    ON CONFLICT ("projectId", "externalId") DO UPDATE SET
      ${Prisma.join(columns.map(pick), ', ')},
      "custom" = ${customMerge},
      "updatedAt" = now()
    RETURNING "id", "projectId", "externalId", "email", "telephone", "language", "timezone", "firstName",
              "lastName", "photoURL", "country", "custom", "createdAt", "updatedAt", (xmax = 0) AS "created"`;
  return rows[0]!;
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
  if (isUuid(ref)) {
    const byId = await prisma().user.findFirst({ where: { id: ref, projectId } });
    if (byId) return byId;
  }
  return findUser(projectId, { externalId: ref });
}

export function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}
