import { createHash } from 'node:crypto';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/env.ts';
import { openDatabase, type Database } from '../src/db/client.ts';
import { migrate, MigrationError, MIGRATIONS_DIR, readMigrations } from '../src/db/migrate.ts';
import { printSortedSchema } from '../src/graphql/schema.ts';
import { createTestDatabase } from './helpers/database.ts';

describe('schema.graphql', () => {
  it('is the printed Pothos schema', () => {
    const committed = readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8');
    const printed = printSortedSchema();
    // Not toEqual: a drift must tell what to do, not only show a diff.
    if (committed !== printed) {
      expect.fail('schema.graphql is out of date with the Pothos schema: run `npm run schema` (then `npm run generate`) and commit it.');
    }
  });
});

describe('the migrator (src/db/migrate.ts)', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  /** A fresh database opened the way Herald opens it (PostgreSQL driver, own SQL pool). */
  async function freshDatabase(): Promise<Database> {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const db = await openDatabase(parseConfig({ DATABASE_URL: database.url, DATABASE_POOL_SIZE: '2' }));
    cleanups.push(() => db.close());
    return db;
  }

  /** A copy of prisma/migrations that a test may modify. */
  function copyOfMigrations(): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'herald-migrations-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    cpSync(MIGRATIONS_DIR, dir, { recursive: true });
    return dir;
  }

  const tables = async (db: Database) =>
    (await db.sql.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`)).map(
      (r) => r.table_name,
    );
  const rows = (db: Database) =>
    db.sql.query<{ migration_name: string; checksum: string; finished_at: Date | null; applied_steps_count: number; rolled_back_at: Date | null }>(
      'SELECT migration_name, checksum, finished_at, applied_steps_count, rolled_back_at FROM "_prisma_migrations" ORDER BY migration_name',
    );

  let db: Database;
  beforeAll(async () => {
    db = await freshDatabase();
  });

  it('applies every migration in order, recording each with its sha256 checksum', async () => {
    const migrations = readMigrations();
    expect(migrations.length).toBeGreaterThan(0);
    expect(await migrate(db.sql)).toEqual(migrations.map((m) => m.name));

    expect(await tables(db)).toEqual(expect.arrayContaining(['_prisma_migrations', 'Project', 'ApiKey', 'User']));
    const recorded = await rows(db);
    expect(recorded.map((r) => r.migration_name)).toEqual(migrations.map((m) => m.name));
    for (const [i, row] of recorded.entries()) {
      const file = path.join(MIGRATIONS_DIR, row.migration_name, 'migration.sql');
      expect(row.checksum).toBe(createHash('sha256').update(readFileSync(file)).digest('hex'));
      expect(row.checksum).toBe(migrations[i]!.checksum);
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.rolled_back_at).toBeNull();
      expect(row.applied_steps_count).toBe(1);
    }
  });

  it('applies nothing the second time', async () => {
    const before = await rows(db);
    expect(await migrate(db.sql)).toEqual([]);
    expect(await rows(db)).toEqual(before);
  });

  it('refuses a migration modified after it was applied (checksum)', async () => {
    const fresh = await freshDatabase();
    const dir = copyOfMigrations();
    await migrate(fresh.sql, readMigrations(dir));
    const first = readMigrations(dir)[0]!;
    appendFileSync(path.join(dir, first.name, 'migration.sql'), '\n-- edited afterwards\n');

    const error = await migrate(fresh.sql, readMigrations(dir)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toContain(first.name);
    expect((error as Error).message).toMatch(/checksum/);
    // The advisory lock was released: the untouched migrations still migrate (nothing to do).
    expect(await migrate(fresh.sql)).toEqual([]);
  });

  it('rolls a failing migration back entirely and records nothing for it', async () => {
    const fresh = await freshDatabase();
    const dir = copyOfMigrations();
    const broken = '99991231000000_broken';
    mkdirSync(path.join(dir, broken));
    writeFileSync(
      path.join(dir, broken, 'migration.sql'),
      'CREATE TABLE "HalfApplied" ("id" INTEGER PRIMARY KEY);\nINSERT INTO "HalfApplied" VALUES (1);\nSELECT * FROM "NoSuchTable";\n',
    );

    const error = await migrate(fresh.sql, readMigrations(dir)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toContain(broken);
    expect((error as Error).message).toContain('NoSuchTable');

    // The migrations before it are applied and recorded; the broken one left nothing.
    expect(await tables(fresh)).not.toContain('HalfApplied');
    expect((await rows(fresh)).map((r) => r.migration_name)).toEqual(readMigrations().map((m) => m.name));

    // Fixed, it applies (the connection and the lock are usable again).
    writeFileSync(path.join(dir, broken, 'migration.sql'), 'CREATE TABLE "HalfApplied" ("id" INTEGER PRIMARY KEY);\n');
    expect(await migrate(fresh.sql, readMigrations(dir))).toEqual([broken]);
    expect(await tables(fresh)).toContain('HalfApplied');
  });
});
