import pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config/env.ts';
import { prisma } from '../db/client.ts';
import { TERMINAL } from '../delivery/delivery.ts';

/**
 * The retention purge: deletes, per project, what its retention settings let go.
 *
 * - `retentionDays`: messages in a terminal state (TERMINAL: sent, delivered, failed, skipped,
 *   canceled) created AND last changed before the cutoff, with their status events; NP6
 *   executions and inbox events older than the cutoff. Queued, scheduled and sending messages
 *   are never deleted, however old.
 * - `inboxArchivedRetentionDays`: inbox items archived before that cutoff. Unarchived items stay.
 *
 * Every statement deletes at most `batchSize` rows picked in a LIMIT sub-select and deleted by
 * primary key (inbox events: by row address), in its own implicit transaction, with a pause
 * between statements: row locks last one short statement, no statement takes more than a ROW
 * EXCLUSIVE table lock (which blocks no reads or writes of other rows), and vacuum is never held
 * back by a long transaction. Rows another
 * transaction holds are skipped (SKIP LOCKED) and left for the next run; the rows locked are
 * re-checked against the conditions before they are deleted, so a message retried, or an item
 * unarchived, while the purge runs is kept.
 *
 * Counters: InboxState.unreadCount counts items neither read nor archived (unreadWhere), and
 * only archived items are deleted, so the count stays exact without touching InboxState (whose
 * lastCursor is not derived from the events either: cursors never go back).
 */

/** Runs one SQL statement; the purge's statements need nothing else. */
export interface PurgeSql {
  query<T extends Record<string, unknown>>(text: string, params: unknown[]): Promise<T[]>;
}

export interface PurgeOptions {
  /** Rows per DELETE statement. */
  batchSize: number;
  /** Pause between two statements, in ms (other transactions get the rows and the I/O). */
  pauseMs: number;
  /** Only this project (the CLI's --project); else every project with a retention setting. */
  projectId?: string | undefined;
  /** The clock the cutoffs are computed from. */
  now?: Date | undefined;
  /** Aborted (shutdown): the purge stops after the running statement. */
  signal?: AbortSignal | undefined;
  logger?: Logger | undefined;
  /** Called after each DELETE statement (benchmarks; debug logs). */
  onStatement?: ((statement: { kind: PurgeKind; projectId: string; rows: number; ms: number }) => void) | undefined;
}

export type PurgeKind = 'messages' | 'executions' | 'inboxEvents' | 'inboxItems';

export interface PurgeReport {
  /** Projects with a retention setting that were looked at. */
  projects: number;
  messages: number;
  messageEvents: number;
  executions: number;
  inboxEvents: number;
  inboxItems: number;
  /** DELETE statements run (including each kind's last, short or empty one). */
  statements: number;
  /** The longest DELETE statement, in ms, as seen by the client (round trip included): an upper
   * bound of how long it held its row locks, each statement being its own transaction. */
  longestStatementMs: number;
  durationMs: number;
  /** True when the signal stopped it before it was done. */
  stopped: boolean;
}

const DAY_MS = 86_400_000;
/** Statuses from the shared constant, inlined as literals (constants, never input). */
const TERMINAL_SQL = TERMINAL.map((s) => `'${s}'`).join(', ');

/** Timestamps go in and out as text: the columns are `timestamp` (UTC, without zone) and pg
 * would otherwise convert JS Dates through the process's local time zone. */
const iso = (date: Date) => date.toISOString();

/*
 * The ids a batch picked are handed to its DELETEs as one array (`= ANY(...)`), so each DELETE
 * probes the primary key (or the foreign key's index) for exactly those rows: a join with the
 * sub-select let the planner hash-join against a sequential scan of the whole table, which is
 * cheap on a small table and ruinous on a large one.
 */

/**
 * Terminal messages of one project created in [from, cutoff) and not changed since the cutoff,
 * oldest first, locked (skipping locked ones), then their events and themselves deleted. `last`
 * (the newest createdAt deleted) is where the next batch starts, so rows kept (non-terminal,
 * recently changed) are not scanned again by every batch of the run. Each message row also fires
 * the foreign key's ON DELETE CASCADE trigger (it finds the events gone): most of the statement's time.
 */
const DELETE_MESSAGES = `
  WITH batch AS (
    SELECT array_agg(id) AS ids FROM (
      SELECT id FROM "Message"
      WHERE "projectId" = $1::uuid AND "createdAt" >= $2::timestamp AND "createdAt" < $3::timestamp
        AND "updatedAt" < $3::timestamp AND status IN (${TERMINAL_SQL})
      ORDER BY "createdAt"
      LIMIT $4::int
      FOR UPDATE SKIP LOCKED) picked
  ), events AS (
    DELETE FROM "MessageEvent" WHERE "messageId" = ANY((SELECT ids FROM batch)::uuid[]) RETURNING 1
  ), deleted AS (
    DELETE FROM "Message" WHERE id = ANY((SELECT ids FROM batch)::uuid[]) RETURNING "createdAt"
  )
  SELECT (SELECT count(*) FROM deleted)::int AS rows, (SELECT count(*) FROM events)::int AS events,
    (SELECT max("createdAt") FROM deleted)::text AS last`;

/** NP6 executions (what was asked, and its render): read by nothing once their messages are sent. */
const DELETE_EXECUTIONS = `
  WITH deleted AS (
    DELETE FROM "Execution" WHERE id = ANY(ARRAY(
      SELECT id FROM "Execution" WHERE "projectId" = $1::uuid AND "createdAt" < $2::timestamp
      ORDER BY "createdAt" LIMIT $3::int))
    RETURNING 1
  )
  SELECT count(*)::int AS rows FROM deleted`;

/**
 * Inbox events are written once and never changed, so no lock to skip, and their physical row
 * address (ctid) is stable: the batch deletes by it (a TID scan), the composite primary key
 * (userId, cursor) having no array form an index can take.
 */
const DELETE_INBOX_EVENTS = `
  WITH deleted AS (
    DELETE FROM "InboxEvent" WHERE ctid = ANY(ARRAY(
      SELECT ctid FROM "InboxEvent" WHERE "projectId" = $1::uuid AND at < $2::timestamp
      ORDER BY at LIMIT $3::int))
    RETURNING 1
  )
  SELECT count(*)::int AS rows FROM deleted`;

/**
 * Items archived before the cutoff. The DELETE repeats the condition on the locked rows: an item
 * unarchived meanwhile no longer matches and stays (FOR UPDATE re-checks the newest version, and
 * the lock keeps it so until the DELETE).
 */
const DELETE_INBOX_ITEMS = `
  WITH batch AS (
    SELECT array_agg(id) AS ids FROM (
      SELECT id FROM "InboxItem" WHERE "projectId" = $1::uuid AND "archivedAt" < $2::timestamp
      ORDER BY "archivedAt" LIMIT $3::int
      FOR UPDATE SKIP LOCKED) picked
  ), deleted AS (
    DELETE FROM "InboxItem" WHERE id = ANY((SELECT ids FROM batch)::uuid[]) AND "archivedAt" IS NOT NULL AND "archivedAt" < $2::timestamp
    RETURNING 1
  )
  SELECT count(*)::int AS rows FROM deleted`;

type ProjectRetention = {
  id: string;
  retentionDays: number | null;
  inboxArchivedRetentionDays: number | null;
};

class Stopped extends Error {}

/** One purge run over every project with a retention setting (or the one given). */
export async function purge(sql: PurgeSql, options: PurgeOptions): Promise<PurgeReport> {
  const started = performance.now();
  const now = options.now ?? new Date();
  const report: PurgeReport = {
    projects: 0,
    messages: 0,
    messageEvents: 0,
    executions: 0,
    inboxEvents: 0,
    inboxItems: 0,
    statements: 0,
    longestStatementMs: 0,
    durationMs: 0,
    stopped: false,
  };
  const projects = await sql.query<ProjectRetention>(
    `SELECT id, "retentionDays", "inboxArchivedRetentionDays" FROM "Project"
     WHERE ("retentionDays" IS NOT NULL OR "inboxArchivedRetentionDays" IS NOT NULL) AND ($1::uuid IS NULL OR id = $1::uuid)
     ORDER BY id`,
    [options.projectId ?? null],
  );
  let pending = false;
  /** One DELETE statement, timed; pauses before it when one ran before (never before the first). */
  const run = async <T extends { rows: number }>(kind: PurgeKind, text: string, params: unknown[]): Promise<T> => {
    if (options.signal?.aborted) throw new Stopped();
    if (pending && options.pauseMs > 0) await sleep(options.pauseMs, options.signal);
    if (options.signal?.aborted) throw new Stopped();
    pending = true;
    const t0 = performance.now();
    const [row] = await sql.query<T & Record<string, unknown>>(text, params);
    const ms = performance.now() - t0;
    report.statements++;
    if (ms > report.longestStatementMs) report.longestStatementMs = ms;
    options.onStatement?.({ kind, projectId: String(params[0]), rows: row!.rows, ms });
    return row!;
  };
  try {
    for (const project of projects) {
      report.projects++;
      if (project.retentionDays != null) {
        const cutoff = iso(new Date(now.getTime() - project.retentionDays * DAY_MS));
        let from = '-infinity';
        for (;;) {
          const row = await run<{ rows: number; events: number; last: string | null }>('messages', DELETE_MESSAGES, [project.id, from, cutoff, options.batchSize]);
          report.messages += row.rows;
          report.messageEvents += row.events;
          if (row.rows < options.batchSize || row.last === null) break;
          from = row.last;
        }
        for (;;) {
          const row = await run<{ rows: number }>('executions', DELETE_EXECUTIONS, [project.id, cutoff, options.batchSize]);
          report.executions += row.rows;
          if (row.rows < options.batchSize) break;
        }
        for (;;) {
          const row = await run<{ rows: number }>('inboxEvents', DELETE_INBOX_EVENTS, [project.id, cutoff, options.batchSize]);
          report.inboxEvents += row.rows;
          if (row.rows < options.batchSize) break;
        }
      }
      if (project.inboxArchivedRetentionDays != null) {
        const cutoff = iso(new Date(now.getTime() - project.inboxArchivedRetentionDays * DAY_MS));
        for (;;) {
          const row = await run<{ rows: number }>('inboxItems', DELETE_INBOX_ITEMS, [project.id, cutoff, options.batchSize]);
          report.inboxItems += row.rows;
          if (row.rows < options.batchSize) break;
        }
      }
    }
  } catch (error) {
    if (!(error instanceof Stopped)) throw error;
    report.stopped = true;
  }
  report.durationMs = performance.now() - started;
  return report;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Only one purge at a time across instances and the CLI: a session-level advisory lock held by
 * the purge's own connection for the whole run (released when it closes, also if the process
 * dies). Its own number, beside Prisma's migration lock (72707369).
 */
export const PURGE_LOCK_KEY = 72707370;

/** How long a purge statement waits for a table lock (a migration's, say) before giving up the run. */
const PURGE_LOCK_TIMEOUT_MS = 2_000;

export interface PurgeConnection extends PurgeSql {
  /** False when another purge holds the lock. */
  tryLock(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * The purge's connection. On PostgreSQL a connection of its own, outside the request pool (a
 * long purge never takes a request's connection) and holding the advisory lock; with the
 * statement timeout of Herald's connections and a short lock_timeout, so the purge yields to
 * anything that queues for a table lock rather than making others queue behind it. The embedded
 * database has one connection and one process: it runs on Prisma's client, with no lock to take.
 */
export async function openPurgeConnection(config: Config, logger?: Logger): Promise<PurgeConnection> {
  if (!config.DATABASE_URL) {
    return {
      query: <T extends Record<string, unknown>>(text: string, params: unknown[]) => prisma().$queryRawUnsafe<T[]>(text, ...params),
      tryLock: async () => true,
      close: async () => {},
    };
  }
  const client = new pg.Client({
    connectionString: config.DATABASE_URL,
    application_name: 'herald-retention',
    connectionTimeoutMillis: config.DATABASE_CONNECT_TIMEOUT_MS,
    ...(config.DATABASE_STATEMENT_TIMEOUT_MS ? { statement_timeout: config.DATABASE_STATEMENT_TIMEOUT_MS } : {}),
    lock_timeout: PURGE_LOCK_TIMEOUT_MS,
  });
  // An 'error' event nobody listens to would crash the process (a restart of PostgreSQL mid-run):
  // the running query fails instead, and the run with it.
  client.on('error', (error) => logger?.warn({ err: { message: error.message } }, 'The retention purge lost its database connection'));
  await client.connect();
  return {
    async query<T extends Record<string, unknown>>(text: string, params: unknown[]) {
      return (await client.query(text, params)).rows as T[];
    },
    async tryLock() {
      const [row] = (await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [PURGE_LOCK_KEY])).rows;
      return row?.locked === true;
    },
    async close() {
      await client.end().catch(() => {});
    },
  };
}

export class PurgeLockedError extends Error {
  constructor() {
    super('Another retention purge is running (advisory lock held by another Herald instance or CLI).');
  }
}

/** One locked run: opens the purge connection, takes the lock (or throws PurgeLockedError), purges. */
export async function runPurge(config: Config, options: Omit<PurgeOptions, 'batchSize' | 'pauseMs'> & Partial<Pick<PurgeOptions, 'batchSize' | 'pauseMs'>>): Promise<PurgeReport> {
  const conn = await openPurgeConnection(config, options.logger);
  try {
    if (!(await conn.tryLock())) throw new PurgeLockedError();
    return await purge(conn, {
      ...options,
      batchSize: options.batchSize ?? config.RETENTION_BATCH_SIZE,
      pauseMs: options.pauseMs ?? config.RETENTION_PAUSE_MS,
    });
  } finally {
    await conn.close();
  }
}
