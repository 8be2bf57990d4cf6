import { z } from 'zod';
import { isUuid } from '../modules/users/service.ts';

/**
 * Cursor pagination of the prisma connections, which all page by `id`: uuid v7 ids (users,
 * messages, inbox items) or NP6's int32 notification ids.
 */
export type IdKind = 'uuid' | 'int';

const INT32_MAX = 2_147_483_647;

/**
 * Whether a cursor is one Herald hands out for such a list (base64 of Pothos' `GPC:S:<uuid>` or
 * `GPC:N:<int32>`). Pothos passes any decodable value on to Prisma, which fails on a non-uuid
 * for a uuid column: a mistyped cursor was a 500.
 */
export function isListCursor(cursor: string, kind: IdKind): boolean {
  const decoded = Buffer.from(cursor, 'base64').toString('utf8');
  if (kind === 'uuid') return isUuid(/^GPC:S:(.*)$/s.exec(decoded)?.[1] ?? '');
  const digits = /^GPC:N:(\d{1,10})$/.exec(decoded)?.[1];
  return digits !== undefined && Number(digits) <= INT32_MAX;
}

/**
 * Field-level validation of a connection's arguments, so that what Pothos would refuse with an
 * uncoded error (or Prisma with a 500) is a BAD_USER_INPUT naming the argument. Loose: the
 * validated object replaces the arguments, and the field's other ones (filter) must stay.
 */
export function connectionArgs(kind: IdKind) {
  const cursor = z
    .string()
    .refine((value) => isListCursor(value, kind), 'must be a cursor received from this list')
    .nullish();
  const size = z.number().int().min(0, 'must be 0 or more').nullish();
  return z
    .looseObject({ after: cursor, before: cursor, first: size, last: size })
    .refine((a) => a.after == null || a.before == null, { message: 'give after or before, not both', path: ['before'] })
    .refine((a) => a.before == null || a.first == null, { message: 'pages backwards: give last with before', path: ['first'] })
    .refine((a) => a.after == null || a.last == null, { message: 'pages forwards: give first with after', path: ['last'] });
}

type CursorId<Q> = Q extends { cursor?: { id?: infer Id } | undefined } ? Exclude<Id, undefined> : never;

/**
 * Turns the Prisma `cursor` Pothos builds into an id comparison for the list's `where`.
 * Prisma positions a cursor by reading its row without the list's filter, so another project's
 * id positioned (and skipped a row of) this project's list while an unknown id gave an empty
 * page: an oracle for which ids exist elsewhere. A comparison treats every id outside the list
 * alike, and a page still follows when its cursor's row was deleted meanwhile.
 *
 * `order` is the list's order by id; Pothos pages backwards with a negative `take`.
 */
export function pageById<Q extends { cursor?: { id?: string | number } | undefined; skip?: number | undefined; take?: number | undefined }>(
  query: Q,
  order: 'asc' | 'desc',
): { query: Omit<Q, 'cursor' | 'skip'>; where: { id?: { gt: CursorId<Q> } | { lt: CursorId<Q> } } } {
  const { cursor, skip: _skip, ...rest } = query;
  if (cursor?.id === undefined) return { query: rest, where: {} };
  const forwards = (query.take ?? 1) > 0;
  const later = forwards === (order === 'asc');
  const id = cursor.id as CursorId<Q>;
  return { query: rest, where: { id: later ? { gt: id } : { lt: id } } };
}

/** A page of a list read in SQL (rawSql), the same page pageById gives Prisma. */
export interface SqlPage {
  /** How many rows to read (Pothos asks for one more than the page, to know whether another follows). */
  limit: number;
  /** The cursor's id and the comparison that keeps the rows after it (in the reading direction). */
  cursor: { id: string; op: '>' | '<' } | null;
  /** The order to read in: the list's own forwards, the opposite backwards (`last`/`before`). */
  readOrder: 'asc' | 'desc';
  /** Backwards: the rows were read in the opposite order and must be turned round. */
  reverse: boolean;
}

/**
 * pageById for a list read in SQL: Prisma's negative `take` (paging backwards) becomes a read in
 * the opposite order turned round afterwards, as Prisma does.
 */
export function sqlPage(query: { cursor?: { id?: string | number } | undefined; take?: number | undefined }, order: 'asc' | 'desc', defaultSize: number): SqlPage {
  const take = query.take ?? defaultSize + 1;
  const forwards = take > 0;
  const later = forwards === (order === 'asc');
  const opposite = order === 'asc' ? 'desc' : 'asc';
  return {
    limit: Math.abs(take),
    cursor: query.cursor?.id === undefined ? null : { id: String(query.cursor.id), op: later ? '>' : '<' },
    readOrder: forwards ? order : opposite,
    reverse: !forwards,
  };
}
