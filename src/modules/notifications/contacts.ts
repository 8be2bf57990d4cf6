import { prisma } from '../../db/client.ts';
import type { User } from '../../generated/prisma/client.ts';
import { badInput, notFound } from '../../graphql/errors.ts';
import { userByRef } from '../users/service.ts';

/**
 * NP6 identifies a contact three ways:
 * - id: Herald's user id (uuid) or the client's externalId;
 * - unicity: the value of the project's unicity field (email by default; telephone or externalId
 *   can be chosen per project), compared case-insensitively;
 * - hash: the hex SHA-256 of the lower-cased unicity value.
 */
export interface ContactRef {
  id?: string | null;
  unicity?: string | null;
  hash?: string | null;
}

export const UNICITY_FIELDS = ['email', 'telephone', 'externalId'] as const;
export type UnicityField = (typeof UNICITY_FIELDS)[number];

export async function findContact(projectId: string, ref: ContactRef): Promise<User> {
  const given = (['id', 'unicity', 'hash'] as const).filter((k) => ref[k] != null && ref[k] !== '');
  if (given.length !== 1) throw badInput([{ field: 'contact', message: 'give exactly one of id, unicity and hash' }]);
  const user = await lookup(projectId, ref);
  if (!user) throw notFound('Contact', (ref.id ?? ref.unicity ?? ref.hash)!);
  return user;
}

/** Like findContact, but null when nobody matches. */
export async function lookup(projectId: string, ref: ContactRef): Promise<User | null> {
  const db = prisma();
  if (ref.id) return userByRef(projectId, ref.id);
  const field = await unicityFieldOf(projectId);
  if (ref.unicity) {
    return db.user.findFirst({ where: { projectId, [field]: { equals: ref.unicity.trim(), mode: 'insensitive' } }, orderBy: { createdAt: 'asc' } });
  }
  const hash = ref.hash!.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hash)) return null;
  // The column name comes from a closed list, never from input.
  const column = `"${field}"`;
  const rows = await db.$queryRawUnsafe<{ id: string }[]>(
    `SELECT id FROM "User" WHERE "projectId" = $1::uuid AND ${column} IS NOT NULL
       AND encode(sha256(convert_to(lower(${column}), 'UTF8')), 'hex') = $2
     ORDER BY "createdAt" LIMIT 1`,
    projectId,
    hash,
  );
  return rows[0] ? db.user.findUnique({ where: { id: rows[0].id } }) : null;
}

async function unicityFieldOf(projectId: string): Promise<UnicityField> {
  const project = await prisma().project.findUniqueOrThrow({ where: { id: projectId }, select: { unicityField: true } });
  return (UNICITY_FIELDS as readonly string[]).includes(project.unicityField) ? (project.unicityField as UnicityField) : 'email';
}
