import pg from 'pg';
import { pollFor } from './http-server.ts';

/**
 * Kills the in-app batch statement of one user's delivery mid-flight: holds the user's inbox
 * state, runs `send` (its messages get claimed, committed, and the batch then blocks on the
 * lock), terminates the blocked backend, releases the lock. Answers what `send` answered; the
 * claimed rows are SENDING, and nothing of the batch committed.
 */
export async function killInAppBatch<T>(databaseUrl: string, userId: string, send: () => Promise<T>): Promise<T> {
  const holder = new pg.Client({ connectionString: databaseUrl });
  const admin = new pg.Client({ connectionString: databaseUrl });
  await holder.connect();
  await admin.connect();
  try {
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM "InboxState" WHERE "userId" = $1 FOR UPDATE', [userId]);
    const sent = await send();
    const blocked = await pollFor(async () => {
      const { rows } = await admin.query(
        `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%InboxItem%' AND pid <> pg_backend_pid()`,
      );
      return rows[0]?.pid as number | undefined;
    }, 10_000, 'the batch statement waiting');
    await admin.query('SELECT pg_terminate_backend($1)', [blocked]);
    await holder.query('ROLLBACK');
    return sent;
  } finally {
    await holder.end().catch(() => {});
    await admin.end();
  }
}
