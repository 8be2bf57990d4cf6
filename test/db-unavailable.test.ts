import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { databaseUnavailability } from '../src/db/unavailable.ts';
import { badInput } from '../src/graphql/errors.ts';
import { ADMIN_DATABASE_URL } from './helpers/database.ts';
import { freePort } from './helpers/worker-process.ts';

// Real errors from pg and pg-pool: which ones are a retryable 503 and which stay what they are
// (a bug or bad input must never be disguised as "retry later").

async function errorOf(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

describe('databaseUnavailability', () => {
  it('an unreachable server is DATABASE_UNAVAILABLE; a full pool and a statement timeout are OVERLOADED', async () => {
    const closed = new pg.Pool({ connectionString: `postgresql://root@127.0.0.1:${await freePort()}/test`, connectionTimeoutMillis: 2_000 });
    closed.on('error', () => {});
    expect(databaseUnavailability(await errorOf(() => closed.query('SELECT 1')))).toMatchObject({ code: 'DATABASE_UNAVAILABLE', retryAfterSeconds: 5 });
    await closed.end();

    const pool = new pg.Pool({ connectionString: ADMIN_DATABASE_URL, max: 1, connectionTimeoutMillis: 100 });
    const held = await pool.connect();
    // It is terminated below: its 'error' event is expected.
    held.on('error', () => {});
    try {
      expect(databaseUnavailability(await errorOf(() => pool.query('SELECT 1')))).toMatchObject({ code: 'OVERLOADED', retryAfterSeconds: 1 });
      await held.query('SET statement_timeout = 20');
      expect(databaseUnavailability(await errorOf(() => held.query('SELECT pg_sleep(1)')))).toMatchObject({ code: 'OVERLOADED', reason: 'a statement took too long' });
      // Bad SQL, a constraint, a bug: not retryable, not a 503.
      expect(databaseUnavailability(await errorOf(() => held.query('SELEC 1')))).toBeNull();
      expect(databaseUnavailability(await errorOf(() => held.query("SELECT 'x'::int")))).toBeNull();
      expect(databaseUnavailability(new TypeError("Cannot read properties of undefined (reading 'id')"))).toBeNull();
      // An input error echoing the words stays an input error.
      expect(databaseUnavailability(badInput([{ field: 'data.note', message: 'timeout exceeded when trying to connect' }]))).toBeNull();
      // 57P01 as PostgreSQL sends it on a restart, wrapped the way GraphQL wraps resolver errors.
      const terminated = await errorOf(() => held.query('SELECT pg_terminate_backend(pg_backend_pid())'));
      expect(databaseUnavailability({ message: 'wrapped', originalError: terminated })).toMatchObject({ code: 'DATABASE_UNAVAILABLE' });
    } finally {
      held.release(true);
      await pool.end();
    }
  });
});
