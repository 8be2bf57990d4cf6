import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import type { Logger } from 'pino';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import type { Config } from '../config/env.ts';
import { PrismaClient, Prisma } from '../generated/prisma/client.ts';

/** Runs raw SQL for the migrator; the two engines expose the same two calls. */
export interface SqlSession {
  /** Runs a script of several statements (no parameters). */
  exec(sql: string): Promise<void>;
  query<T extends Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs fn with exclusive use of one connection (the migrator locks and transacts on it). */
  withConnection<T>(fn: (session: Omit<SqlSession, 'withConnection'>) => Promise<T>): Promise<T>;
}

export interface Database {
  kind: 'postgres' | 'embedded';
  prisma: PrismaClient;
  sql: SqlSession;
  /**
   * The pg.Pool Prisma's queries run on (PostgreSQL only; undefined in embedded mode), for hot
   * paths that speak pg directly. Its connections carry DATABASE_STATEMENT_TIMEOUT_MS and wait
   * at most DATABASE_CONNECT_TIMEOUT_MS for a connection; errors on idle connections are handled.
   */
  pool?: pg.Pool;
  /** A cheap round trip, for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

let current: PrismaClient | undefined;
let currentPool: pg.Pool | undefined;
/** DATABASE_PREPARED_STATEMENTS of the open database. */
let preparing = false;

/**
 * The process's Prisma client. There is one database per process, opened once in main.ts
 * (or by the CLI); services import this instead of receiving the client through the GraphQL
 * context, which keeps the context type small.
 */
export function prisma(): PrismaClient {
  if (!current) throw new Error('Database not opened: call openDatabase() first');
  return current;
}

/**
 * The pg.Pool under the process's Prisma client (the same connections, limits and error
 * handling), or undefined on the embedded database. For raw pg on hot paths; prefer
 * `prisma().$queryRaw` where it does, or rawQuery.
 */
export function pgPool(): pg.Pool | undefined {
  return currentPool;
}

export class EmbeddedDatabaseLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(
      `The embedded database in ${dataDir} is in use by another Herald process (pid ${pid}). ` +
        'PGlite allows one process at a time: stop that process first, or run Herald on PostgreSQL ' +
        '(DATABASE_URL) to share the database between the server, workers and the CLI.',
    );
  }
}

export async function openDatabase(config: Config, options: { logger?: Logger } = {}): Promise<Database> {
  const db = config.DATABASE_URL ? openPostgres(config.DATABASE_URL, config, options.logger) : await openEmbedded(config.HERALD_DATA_DIR);
  current = db.prisma;
  currentPool = db.pool;
  preparing = Boolean(db.pool) && config.DATABASE_PREPARED_STATEMENTS;
  const close = db.close;
  db.close = async () => {
    if (current === db.prisma) {
      current = undefined;
      currentPool = undefined;
    }
    await close();
  };
  return db;
}

/**
 * A pg.Pool that survives PostgreSQL going away. A connection PostgreSQL closes (restart,
 * failover, pg_terminate_backend: 57P01) emits 'error'; an EventEmitter 'error' nobody listens
 * to crashes the process. pg-pool listens while a connection is idle and the caller is expected
 * to while it holds one, but a connection handed from one query to the next waiter within one
 * socket read (the result, then the server's FATAL 57P01, in the same packet) is held by nobody
 * for that instant: the adapter attaches its listener a microtask later, and the process died
 * there (issue 8). So every connection gets a listener of its own for its whole life; the
 * connection is then unusable (`_queryable` false), its query fails, and pg-pool discards it
 * when it is released. Readiness (/readyz) reports a database that stays away.
 */
function resilientPool(config: pg.PoolConfig, onError: (error: Error) => void): pg.Pool {
  const pool = new pg.Pool({
    // Dead peers (a failed-over primary that vanished without a FIN) are noticed by TCP keep-alive.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    ...config,
  });
  pool.on('error', onError);
  pool.on('connect', (client) => client.on('error', onError));
  return pool;
}

function openPostgres(connectionString: string, config: Config, logger: Logger | undefined): Database {
  // At most one line per second: a restart makes every connection of the pool report it at once.
  let lastLogged = 0;
  const onError = (error: Error) => {
    if (Date.now() - lastLogged < 1000) return;
    lastLogged = Date.now();
    logger?.warn({ err: { message: error.message, code: (error as { code?: string }).code } }, 'A database connection was closed; it is replaced on next use');
  };
  const prismaPool = resilientPool(
    {
      connectionString,
      max: config.DATABASE_POOL_SIZE,
      // Bounds both the wait for a free connection and the opening of a new one: a request is
      // shed (503) rather than queued without limit, or held by a server that does not answer.
      connectionTimeoutMillis: config.DATABASE_CONNECT_TIMEOUT_MS,
      ...(config.DATABASE_STATEMENT_TIMEOUT_MS
        ? {
            statement_timeout: config.DATABASE_STATEMENT_TIMEOUT_MS,
            // The server enforces statement_timeout only while it runs: a hung or silently
            // vanished server (no FIN, a frozen primary) would hold a query, and its request,
            // until TCP gives up minutes later. Past the statement timeout plus a margin, pg fails
            // the query on our side (and pg-pool discards the connection when it is released with it).
            query_timeout: config.DATABASE_STATEMENT_TIMEOUT_MS + 5_000,
          }
        : {}),
    },
    onError,
  );
  const prismaClient = new PrismaClient({
    adapter: new PrismaPg(prismaPool, { onPoolError: onError, onConnectionError: onError }),
    transactionOptions: {
      // Longer than the pool's own wait, so pg-pool gives up first and removes its waiter
      // cleanly, rather than Prisma abandoning a connect() the pool may still fulfil later.
      maxWait: config.DATABASE_CONNECT_TIMEOUT_MS + 1_000,
      timeout: config.DATABASE_TRANSACTION_TIMEOUT_MS,
    },
  });
  // A small pool of our own for migrations and readiness: a pool exhausted by requests must not
  // fail /readyz (the instance is busy, not broken), and migrations need no statement timeout.
  const pool = resilientPool({ connectionString, max: 2, connectionTimeoutMillis: 2_000 }, onError);
  const sessionOf = (client: pg.Pool | pg.PoolClient) => ({
    async exec(sql: string) {
      await client.query(sql);
    },
    async query<T extends Record<string, unknown>>(sql: string, params: unknown[] = []) {
      return (await client.query(sql, params)).rows as T[];
    },
  });
  return {
    kind: 'postgres',
    prisma: prismaClient,
    pool: prismaPool,
    sql: {
      ...sessionOf(pool),
      async withConnection(fn) {
        const conn = await pool.connect();
        try {
          return await fn(sessionOf(conn));
        } finally {
          conn.release();
        }
      },
    },
    async ping() {
      await pool.query('SELECT 1');
    },
    async close() {
      await prismaClient.$disconnect();
      // The adapter does not end a pool it was given.
      await Promise.all([prismaPool.end(), pool.end()]);
    },
  };
}

async function openEmbedded(dataDir: string): Promise<Database> {
  const dir = path.resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const releaseLock = acquireLock(dir);
  let pglite: PGlite;
  try {
    pglite = await PGlite.create(path.join(dir, 'pgdata'));
  } catch (error) {
    releaseLock();
    throw error;
  }
  const prismaClient = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
  const session = {
    async exec(sql: string) {
      await pglite.exec(sql);
    },
    async query<T extends Record<string, unknown>>(sql: string, params: unknown[] = []) {
      return (await pglite.query<T>(sql, params)).rows;
    },
  };
  return {
    kind: 'embedded',
    prisma: prismaClient,
    // PGlite has a single connection, so every session is that connection.
    sql: { ...session, withConnection: (fn) => fn(session) },
    async ping() {
      await pglite.query('SELECT 1');
    },
    async close() {
      await prismaClient.$disconnect();
      await pglite.close();
      releaseLock();
    },
  };
}

/**
 * PGlite files must be opened by one process only. A pid file beside them makes a second
 * process (a second server, or the CLI while a server runs) fail with a clear message
 * instead of corrupting the data.
 */
function acquireLock(dir: string): () => void {
  const lockFile = path.join(dir, 'herald.pid');
  let holder: number | undefined;
  try {
    holder = Number.parseInt(readFileSync(lockFile, 'utf8'), 10);
  } catch {
    holder = undefined;
  }
  if (holder && holder !== process.pid && isAlive(holder)) throw new EmbeddedDatabaseLockedError(dir, holder);
  writeFileSync(lockFile, String(process.pid));
  return () => {
    try {
      if (Number.parseInt(readFileSync(lockFile, 'utf8'), 10) === process.pid) rmSync(lockFile);
    } catch {
      // Already gone: nothing to release.
    }
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One SQL statement with $1..$n parameters on the pool itself where there is one (PostgreSQL),
 * else through Prisma (the embedded database). For the few statements of the accept path that
 * run outside a transaction: Prisma's per-call work (parameter and result mapping) cost more CPU
 * than the statement. Pass dates as ISO strings cast in SQL (`$1::timestamp(3)`): pg would send a
 * Date in the process's local time, which a `timestamp` column would take as UTC.
 */
export async function rawQuery<R>(sql: string, params: unknown[], options: RawOptions = {}): Promise<R[]> {
  const pool = currentPool;
  if (pool) return (await pool.query({ text: sql, values: params, types: UTC_TIMESTAMPS, ...(options.prepared && preparing ? { name: statementName(sql) } : {}) })).rows as R[];
  return prisma().$queryRawUnsafe<R[]>(sql, ...params);
}

export interface RawOptions {
  /**
   * A named prepared statement: each connection parses and plans it once, then only binds and
   * runs it (the list reads' PostgreSQL CPU went from 0.7 to 0.15 ms per request). Only for
   * statements of a bounded set of texts (a connection keeps each one it has seen), and with
   * explicit column lists, never `*` in the output: a column added by a newer instance's
   * migration would change the result type of a statement prepared before it.
   */
  prepared?: boolean;
}

/** Statement names by text: pg refuses one name for two texts, so the name is the text's hash. */
const statementNames = new Map<string, string>();
function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (!name) {
    name = `h${createHash('sha1').update(sql).digest('hex').slice(0, 24)}`;
    if (statementNames.size >= 1_000) statementNames.clear();
    statementNames.set(sql, name);
  }
  return name;
}

/** rawQuery for a statement built with Prisma.sql (its `text` has $n placeholders); Dates go as UTC text. */
export function rawSql<R>(query: Prisma.Sql, options: RawOptions = {}): Promise<R[]> {
  return rawQuery<R>(
    query.text,
    query.values.map((v) => (v instanceof Date ? v.toISOString() : v)),
    options,
  );
}

/** The quoted column list of a model (its generated ScalarFieldEnum): what a prepared statement selects instead of `*`. */
export function columnList(fields: Record<string, string>, alias?: string): Prisma.Sql {
  return Prisma.raw(Object.values(fields).map((f) => (alias ? `${alias}."${f}"` : `"${f}"`)).join(', '));
}

/**
 * Result types as Prisma reads them: `timestamp` columns (without zone; Herald stores UTC) as the
 * UTC instant, where pg would read them in the process's local time.
 */
const TIMESTAMP_OID = 1114;
export const UTC_TIMESTAMPS = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === TIMESTAMP_OID ? (value: string) => new Date(`${value.replace(' ', 'T')}Z`) : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};
