import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import type { Config } from '../config/env.ts';
import { PrismaClient } from '../generated/prisma/client.ts';

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
  /** A cheap round trip, for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

let current: PrismaClient | undefined;

/**
 * The process's Prisma client. There is one database per process, opened once in main.ts
 * (or by the CLI); services import this instead of receiving the client through the GraphQL
 * context, which keeps the context type small.
 */
export function prisma(): PrismaClient {
  if (!current) throw new Error('Database not opened: call openDatabase() first');
  return current;
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

export async function openDatabase(config: Config): Promise<Database> {
  const db = config.DATABASE_URL ? openPostgres(config.DATABASE_URL, config.DATABASE_POOL_SIZE) : await openEmbedded(config.HERALD_DATA_DIR);
  current = db.prisma;
  const close = db.close;
  db.close = async () => {
    if (current === db.prisma) current = undefined;
    await close();
  };
  return db;
}

function openPostgres(connectionString: string, max: number): Database {
  const prismaClient = new PrismaClient({ adapter: new PrismaPg({ connectionString, max }) });
  // A small pool of our own for raw SQL (migrations, readiness): Prisma's pool is internal.
  const pool = new pg.Pool({ connectionString, max: 2 });
  // An idle connection that PostgreSQL closes (restart, failover, pg_terminate_backend) emits
  // 'error' on the pool; unhandled, that would crash the process. The pool drops that client
  // and connects again on the next query; /readyz reports a database that stays away.
  pool.on('error', () => {});
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
      await pool.end();
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
