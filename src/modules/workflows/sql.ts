import { pgPool, prisma, UTC_TIMESTAMPS } from '../../db/client.ts';
import type { Prisma, User } from '../../generated/prisma/client.ts';

/** A transaction as the engine uses it: raw statements, and a Prisma-shaped handle for acceptMessages. */
export interface Tx {
  query<R>(sql: string, ...params: unknown[]): Promise<R[]>;
  execute(sql: string, ...params: unknown[]): Promise<number>;
  /** What acceptMessages/startRuns and the inbox's lockInbox/recordInboxEvents call on a transaction ($queryRawUnsafe, $queryRaw, $executeRaw). */
  prismaTx: Prisma.TransactionClient;
}

/**
 * A transaction on a pool connection (BEGIN ... COMMIT: 2 round trips around the statements),
 * where Prisma's interactive transaction cost several ms of CPU per step transition (measured:
 * the digest drill of 100 triggers was CPU-bound on it). The embedded database (PGlite, no pool)
 * keeps Prisma's. Dates go as ISO text, timestamps come back as UTC instants, as rawQuery does.
 */
export async function transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
  const pool = pgPool();
  if (!pool) {
    return prisma().$transaction(async (ptx) =>
      fn({
        query: (sql, ...params) => ptx.$queryRawUnsafe(sql, ...params),
        execute: (sql, ...params) => ptx.$executeRawUnsafe(sql, ...params),
        prismaTx: ptx,
      }),
    );
  }
  const client = await pool.connect();
  const query = async <R>(sql: string, ...params: unknown[]) => (await client.query({ text: sql, values: params, types: UTC_TIMESTAMPS })).rows as R[];
  const execute = async (sql: string, ...params: unknown[]) => (await client.query({ text: sql, values: params, types: UTC_TIMESTAMPS })).rowCount ?? 0;
  const tx: Tx = {
    query,
    execute,
    prismaTx: {
      $queryRawUnsafe: (sql: string, ...params: unknown[]) => query(sql, ...params),
      // Tagged templates as Prisma takes them: the pieces joined with $n placeholders.
      $queryRaw: (strings: TemplateStringsArray, ...values: unknown[]) => query(placeholders(strings), ...values.map(param)),
      $executeRaw: (strings: TemplateStringsArray, ...values: unknown[]) => execute(placeholders(strings), ...values.map(param)),
    } as unknown as Prisma.TransactionClient,
  };
  let broken = false;
  try {
    await client.query('BEGIN');
    const result = await fn(tx);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {
      broken = true;
    });
    throw error;
  } finally {
    client.release(broken);
  }
}

const placeholders = (strings: TemplateStringsArray) => strings.reduce((text, piece, i) => `${text}$${i}${piece}`);
/** Dates as UTC text (the columns are timestamps without zone holding UTC), bigints as text. */
const param = (v: unknown) => (v instanceof Date ? v.toISOString() : typeof v === 'bigint' ? v.toString() : v);

/** A row's to_jsonb(user): timestamps back to Dates (templates and scopes read them). */
export function userFromJson(raw: unknown): User | null {
  if (!raw || typeof raw !== 'object') return null;
  const u = raw as Record<string, unknown>;
  const date = (v: unknown) => (typeof v === 'string' ? new Date(v.endsWith('Z') || /[+-]\d\d:?\d\d$/.test(v) ? v : `${v}Z`) : v);
  return { ...(u as unknown as User), createdAt: date(u.createdAt) as Date, updatedAt: date(u.updatedAt) as Date };
}
