import { pgPool, prisma, UTC_TIMESTAMPS } from '../../db/client.ts';
import type { Prisma } from '../../generated/prisma/client.ts';

/** A transaction as the engine uses it: raw statements, and a Prisma-shaped handle for acceptMessages. */
export interface Tx {
  query<R>(sql: string, ...params: unknown[]): Promise<R[]>;
  execute(sql: string, ...params: unknown[]): Promise<number>;
  /** What acceptMessages/startRuns call on a transaction ($queryRawUnsafe only). */
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
  const tx: Tx = {
    query,
    execute: async (sql, ...params) => (await client.query({ text: sql, values: params, types: UTC_TIMESTAMPS })).rowCount ?? 0,
    prismaTx: { $queryRawUnsafe: (sql: string, ...params: unknown[]) => query(sql, ...params) } as unknown as Prisma.TransactionClient,
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
