import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../src/config/env.ts';
import { openDatabase } from '../src/db/client.ts';
import { migrate } from '../src/db/migrate.ts';
import { graphql } from '../src/generated/gql/index.ts';
import { createProject } from '../src/modules/projects/service.ts';
import { userHash } from '../src/modules/projects/credentials.ts';
import { PURGE_LOCK_KEY, PurgeLockedError, runPurge } from '../src/retention/purge.ts';
import { bearer, gql, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor } from './helpers/http-server.ts';
import { spawnTsx } from './helpers/process.ts';

const Settings = graphql(`
  query RetSettings {
    project {
      retentionDays
      inboxArchivedRetentionDays
    }
  }
`);
const Update = graphql(`
  mutation RetUpdate($input: ProjectSettingsInput!) {
    updateProject(input: $input) {
      name
      retentionDays
      inboxArchivedRetentionDays
    }
  }
`);
const CreateNotification = graphql(`
  mutation RetCreateNotification($input: NotificationInput!) {
    createNotification(input: $input) {
      id
    }
  }
`);
const Archive = graphql(`
  mutation RetArchive($ids: [ID!]!) {
    archive(ids: $ids) {
      unreadCount
    }
  }
`);
const MarkRead = graphql(`
  mutation RetMarkRead($ids: [ID!]!) {
    markRead(ids: $ids) {
      unreadCount
    }
  }
`);
const Inbox = graphql(`
  query RetInbox {
    unreadCount
    inbox(first: 50, filter: { archived: false }) {
      edges {
        node {
          id
        }
      }
    }
  }
`);

const DAY = 86_400_000;
const TERMINAL = ['SENT', 'DELIVERED', 'FAILED', 'SKIPPED', 'CANCELED'];

let h: TestHerald;
let db: pg.Client;

/** A timestamp `days` days ago, as the text the `timestamp` columns take (UTC). */
const ago = (days: number) => new Date(Date.now() - days * DAY).toISOString();

async function setRetention(apiKey: string, input: { retentionDays?: number | null; inboxArchivedRetentionDays?: number | null }) {
  const res = await gql(h.url, Update, { input }, bearer(apiKey));
  expect(res.errors).toBeUndefined();
  return res.data!.updateProject;
}

async function newUser(projectId: string, externalId: string): Promise<string> {
  const { rows } = await db.query(
    `INSERT INTO "User" (id, "projectId", "externalId", "updatedAt") VALUES (gen_random_uuid(), $1, $2, now()) RETURNING id`,
    [projectId, externalId],
  );
  return rows[0].id;
}

/** `count` messages with two status events each, created (and last changed) at the given times. */
async function seedMessages(projectId: string, count: number, status: string, createdAt: string, updatedAt = createdAt, tag = 'seed'): Promise<void> {
  await db.query(
    `WITH m AS (
       INSERT INTO "Message" (id, "projectId", channel, status, content, source, "requestId", "maxAttempts", "createdAt", "updatedAt")
       SELECT gen_random_uuid(), $1, 'WEBHOOK', $2::"MessageStatus", '{}', 'test', $6, 5, $4::timestamp + g * interval '1 ms', $5::timestamp
       FROM generate_series(1, $3::int) g RETURNING id, "createdAt")
     INSERT INTO "MessageEvent" ("messageId", "projectId", status, at)
     SELECT m.id, $1, s.status::"MessageStatus", m."createdAt" FROM m, (VALUES ('QUEUED'), ($2)) s(status)`,
    [projectId, status, count, createdAt, updatedAt, tag],
  );
}

async function seedExecutions(projectId: string, notificationId: number, count: number, createdAt: string): Promise<void> {
  await db.query(
    `INSERT INTO "Execution" (id, "projectId", kind, "notificationId", "requestId", request, "createdAt")
     SELECT gen_random_uuid(), $1, 'EXECUTION', $2, 'r', '{}', $4::timestamp FROM generate_series(1, $3::int)`,
    [projectId, notificationId, count, createdAt],
  );
}

/** Inbox items of a user and one CREATED event each; then the state row with the fresh unread count. */
async function seedInbox(
  projectId: string,
  userId: string,
  items: { count: number; createdAt: string; readAt?: string | null; archivedAt?: string | null; eventAt?: string }[],
): Promise<void> {
  for (const item of items) {
    await db.query(
      `WITH i AS (
         INSERT INTO "InboxItem" (id, "projectId", "userId", "createdAt", "updatedAt", "readAt", "archivedAt")
         SELECT gen_random_uuid(), $1, $2, $4::timestamp, $4::timestamp, $5::timestamp, $6::timestamp FROM generate_series(1, $3::int) RETURNING id)
       INSERT INTO "InboxEvent" ("userId", cursor, "projectId", type, "itemId", "unreadCount", at)
       SELECT $2, coalesce((SELECT max(cursor) FROM "InboxEvent" WHERE "userId" = $2), 0) + row_number() OVER (), $1, 'CREATED', i.id, 0, $7::timestamp FROM i`,
      [projectId, userId, item.count, item.createdAt, item.readAt ?? null, item.archivedAt ?? null, item.eventAt ?? item.createdAt],
    );
  }
  await db.query(
    `INSERT INTO "InboxState" ("userId", "projectId", "lastCursor", "unreadCount", "updatedAt")
     SELECT $2, $1, coalesce(max(cursor), 0), (SELECT count(*) FROM "InboxItem" WHERE "userId" = $2 AND "readAt" IS NULL AND "archivedAt" IS NULL), now()
     FROM "InboxEvent" WHERE "userId" = $2
     ON CONFLICT ("userId") DO UPDATE SET "lastCursor" = excluded."lastCursor", "unreadCount" = excluded."unreadCount"`,
    [projectId, userId],
  );
}

async function count(sql: string, params: unknown[]): Promise<number> {
  const { rows } = await db.query(`SELECT count(*)::int AS n FROM ${sql}`, params);
  return rows[0].n;
}

/** Every user's counter against a fresh count of their unread (neither read nor archived) items. */
async function unreadDrift(): Promise<{ userId: string; counter: number; fresh: number }[]> {
  const { rows } = await db.query(
    `SELECT s."userId", s."unreadCount" AS counter,
       (SELECT count(*)::int FROM "InboxItem" i WHERE i."userId" = s."userId" AND i."readAt" IS NULL AND i."archivedAt" IS NULL) AS fresh
     FROM "InboxState" s`,
  );
  return rows.filter((r) => r.counter !== r.fresh);
}

beforeAll(async () => {
  // The periodic purge is off here: these tests run it themselves, with a small batch size. The
  // reconciler runs once, at start: the seeded queued messages must stay queued (never enqueued).
  h = await startTestHerald({ env: { RETENTION_INTERVAL_MS: '0', RETENTION_BATCH_SIZE: '7', RETENTION_PAUSE_MS: '5', RECONCILE_INTERVAL_MS: '600000' } });
  db = new pg.Client({ connectionString: h.config.DATABASE_URL });
  await db.connect();
});
afterAll(async () => {
  await db?.end();
  await h?.stop();
});

describe('configuration', () => {
  it('purges hourly by default, 0 turns it off, and a bad value is refused by name', () => {
    expect(parseConfig({})).toMatchObject({ RETENTION_INTERVAL_MS: 3_600_000, RETENTION_BATCH_SIZE: 1_000, RETENTION_PAUSE_MS: 100 });
    expect(parseConfig({ RETENTION_INTERVAL_MS: '0' }).RETENTION_INTERVAL_MS).toBe(0);
    for (const [key, value] of [['RETENTION_INTERVAL_MS', '500'], ['RETENTION_BATCH_SIZE', '0'], ['RETENTION_PAUSE_MS', 'soon']]) {
      try {
        parseConfig({ [key!]: value });
        expect.unreachable(`${key}=${value} was accepted`);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as ConfigError).problems.join('\n')).toContain(key);
      }
    }
  });
});

describe('retention settings (GraphQL)', () => {
  it('are null (keep forever) by default, set and cleared with updateProject', async () => {
    const p = await h.newProject('settings');
    const before = await gql(h.url, Settings, {}, bearer(p.apiKey));
    expect(before.data?.project).toEqual({ retentionDays: null, inboxArchivedRetentionDays: null });
    expect(await setRetention(p.apiKey, { retentionDays: 30, inboxArchivedRetentionDays: 7 })).toMatchObject({ retentionDays: 30, inboxArchivedRetentionDays: 7 });
    // Absent keeps the value, null clears it.
    expect(await setRetention(p.apiKey, { retentionDays: null })).toMatchObject({ retentionDays: null, inboxArchivedRetentionDays: 7 });
  });

  it('refuses days out of range with BAD_USER_INPUT naming the field, writing nothing', async () => {
    const p = await h.newProject('bad settings');
    await setRetention(p.apiKey, { retentionDays: 90 });
    for (const bad of [0, -1, 36_501]) {
      const res = await gql(h.url, Update, { input: { name: 'renamed', retentionDays: 5, inboxArchivedRetentionDays: bad } }, bearer(p.apiKey));
      expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(JSON.stringify(res.errors?.[0]?.extensions?.issues)).toContain('inboxArchivedRetentionDays');
    }
    const res = await gql(h.url, Settings, {}, bearer(p.apiKey));
    expect(res.data?.project).toEqual({ retentionDays: 90, inboxArchivedRetentionDays: null });
  });
});

describe('purge', () => {
  it('deletes old terminal rows in batches, keeps everything younger, non-terminal or in other projects, and unread counts stay exact', async () => {
    // A: 30 days of messages, archived items 7 days after archiving. B: a year. C: no setting.
    const a = await h.newProject('A');
    const b = await h.newProject('B');
    const c = await h.newProject('C');
    await setRetention(a.apiKey, { retentionDays: 30, inboxArchivedRetentionDays: 7 });
    await setRetention(b.apiKey, { retentionDays: 365 });

    // Real traffic first: three in-app messages through the pipeline to A's user "real", one then
    // read and one archived by the user, so the rows are what Herald itself writes.
    const created = await gql(
      h.url,
      CreateNotification,
      { input: { key: 'bell', type: 'in-app', name: 'Bell', versions: [{ contents: [{ locale: 'en', title: 'Hi', body: 'b' }] }] } },
      bearer(a.apiKey),
    );
    expect(created.errors).toBeUndefined();
    const notificationId = Number(created.data!.createNotification.id);
    const sent = await rest(h.url, 'POST', '/messages.send', { messages: [1, 2, 3].map(() => ({ notificationId: 'bell', userId: 'real' })) }, bearer(a.apiKey));
    expect(sent.body.results.every((r: { ok: boolean }) => r.ok)).toBe(true);
    const widget = { 'x-herald-project': a.projectId, 'x-herald-user': 'real', 'x-herald-user-hash': userHash(a.widgetSecret, 'real') };
    const listed = await pollFor(async () => {
      const res = await gql(h.url, Inbox, {}, widget);
      return res.data?.inbox.edges.length === 3 ? res.data : undefined;
    }, 10_000, 'three delivered in-app items');
    const [first, second] = listed.inbox.edges.map((e) => e.node.id);
    expect((await gql(h.url, MarkRead, { ids: [first!] }, widget)).data?.markRead.unreadCount).toBe(2);
    expect((await gql(h.url, Archive, { ids: [second!] }, widget)).data?.archive.unreadCount).toBe(1);
    await pollFor(async () => (await count(`"Message" WHERE "projectId" = $1 AND status = 'DELIVERED'`, [a.projectId])) === 3, 10_000, 'DELIVERED');
    // Age them: sent 40 days ago, archived 10 days ago.
    await db.query(`UPDATE "Message" SET "createdAt" = $2::timestamp, "updatedAt" = $2::timestamp WHERE "projectId" = $1`, [a.projectId, ago(40)]);
    await db.query(`UPDATE "MessageEvent" SET at = $2::timestamp WHERE "projectId" = $1`, [a.projectId, ago(40)]);
    await db.query(`UPDATE "InboxEvent" SET at = $2::timestamp WHERE "projectId" = $1`, [a.projectId, ago(40)]);
    await db.query(`UPDATE "InboxItem" SET "createdAt" = $2::timestamp WHERE "projectId" = $1`, [a.projectId, ago(40)]);
    await db.query(`UPDATE "InboxItem" SET "archivedAt" = $2::timestamp WHERE id = $1`, [second, ago(10)]);

    // Seeded rows around the cutoffs.
    for (const status of TERMINAL) await seedMessages(a.projectId, 5, status, ago(40), ago(40), 'old-terminal'); // 25: purged
    await seedMessages(a.projectId, 3, 'FAILED', ago(40), ago(10), 'retried-lately'); // changed since the cutoff: kept
    for (const status of ['QUEUED', 'SENDING', 'SCHEDULED']) await seedMessages(a.projectId, 2, status, ago(400), ago(400), 'non-terminal'); // kept
    await seedMessages(a.projectId, 4, 'DELIVERED', ago(29), ago(29), 'young'); // kept
    await seedExecutions(a.projectId, notificationId, 10, ago(31)); // purged
    await seedExecutions(a.projectId, notificationId, 2, ago(29)); // kept
    const ua = await newUser(a.projectId, 'seeded');
    await seedInbox(a.projectId, ua, [
      { count: 4, createdAt: ago(60), archivedAt: ago(8) }, // archived unread, past 7 days: purged
      { count: 4, createdAt: ago(60), readAt: ago(59), archivedAt: ago(9) }, // archived read: purged
      { count: 3, createdAt: ago(60), archivedAt: ago(6) }, // archived lately: kept
      { count: 5, createdAt: ago(400), eventAt: ago(20) }, // unread, never archived, old: kept (events young)
      { count: 2, createdAt: ago(400), readAt: ago(399), eventAt: ago(20) }, // read, never archived: kept
    ]);
    // The seeded events of the archived items are 60 days old: purged (11 of them); the others are 20 days old.
    // B and C: the same old rows, kept (B's year is not over, C keeps forever).
    for (const p of [b, c]) {
      await seedMessages(p.projectId, 9, 'SENT', ago(100));
      const u = await newUser(p.projectId, 'u');
      await seedInbox(p.projectId, u, [{ count: 9, createdAt: ago(100), archivedAt: ago(99) }]);
    }
    const notB = await db.query(`INSERT INTO "Notification" ("projectId", type, name, "updatedAt") VALUES ($1, 'in-app', 'n', now()) RETURNING id`, [b.projectId]);
    await seedExecutions(b.projectId, notB.rows[0].id, 9, ago(100));
    expect(await unreadDrift()).toEqual([]);

    const countsOf = async (projectId: string) => ({
      messages: await count(`"Message" WHERE "projectId" = $1`, [projectId]),
      events: await count(`"MessageEvent" WHERE "projectId" = $1`, [projectId]),
      executions: await count(`"Execution" WHERE "projectId" = $1`, [projectId]),
      inboxItems: await count(`"InboxItem" WHERE "projectId" = $1`, [projectId]),
      inboxEvents: await count(`"InboxEvent" WHERE "projectId" = $1`, [projectId]),
    });
    const before = { a: await countsOf(a.projectId), b: await countsOf(b.projectId), c: await countsOf(c.projectId) };
    const kept = `"Message" WHERE "projectId" = $1 AND "requestId" = ANY($2)`;
    const keptBefore = await count(kept, [a.projectId, ['retried-lately', 'non-terminal', 'young']]);
    expect(keptBefore).toBe(3 + 6 + 4);

    const report = await runPurge(h.config, {});
    // A: 3 real + 25 seeded messages (2 events each, the real ones have their own), 10
    // executions, the old inbox events, 1 real + 8 seeded archived items.
    const realEvents = before.a.events - (25 + 3 + 6 + 4) * 2;
    expect(report.projects).toBeGreaterThanOrEqual(2);
    expect(report).toMatchObject({ messages: 28, messageEvents: 50 + realEvents, executions: 10, inboxItems: 9, stopped: false });
    const after = { a: await countsOf(a.projectId), b: await countsOf(b.projectId), c: await countsOf(c.projectId) };
    expect(after.a).toEqual({
      messages: before.a.messages - 28,
      events: before.a.events - 50 - realEvents,
      executions: 2,
      inboxItems: before.a.inboxItems - 9,
      inboxEvents: before.a.inboxEvents - report.inboxEvents,
    });
    // Every inbox event older than 30 days went, none younger.
    expect(await count(`"InboxEvent" WHERE "projectId" = $1 AND at < $2::timestamp`, [a.projectId, ago(30)])).toBe(0);
    expect(after.a.inboxEvents).toBe(5 + 2);
    // Batches of 7: at least 4 for the 28 messages, 2 for the executions, 2 for the items.
    expect(report.statements).toBeGreaterThanOrEqual(4 + 2 + 2 + 1);
    // Nothing kept was touched: the non-terminal, recently changed and young messages with all their events.
    expect(await count(kept, [a.projectId, ['retried-lately', 'non-terminal', 'young']])).toBe(keptBefore);
    expect(await count(`"MessageEvent" e JOIN "Message" m ON m.id = e."messageId" WHERE m."projectId" = $1`, [a.projectId])).toBe(keptBefore * 2);
    expect(await count(`"Message" WHERE "projectId" = $1 AND status IN ('QUEUED', 'SENDING', 'SCHEDULED')`, [a.projectId])).toBe(6);
    // Inbox: archived within 7 days and never-archived items stay, however old.
    expect(await count(`"InboxItem" WHERE "projectId" = $1 AND "archivedAt" IS NULL`, [a.projectId])).toBe(2 + 5 + 2);
    expect(await count(`"InboxItem" WHERE "projectId" = $1 AND "archivedAt" IS NOT NULL`, [a.projectId])).toBe(3);
    expect(after.b).toEqual(before.b);
    expect(after.c).toEqual(before.c);
    // Counters equal a fresh count, and the widget sees what it saw.
    expect(await unreadDrift()).toEqual([]);
    const res = await gql(h.url, Inbox, {}, widget);
    expect(res.data?.unreadCount).toBe(1);
    expect(res.data?.inbox.edges.map((e) => e.node.id).sort()).toEqual(listed.inbox.edges.map((e) => e.node.id).filter((id) => id !== second).sort());

    // A second run finds nothing more.
    const again = await runPurge(h.config, {});
    expect(again).toMatchObject({ messages: 0, messageEvents: 0, executions: 0, inboxEvents: 0, inboxItems: 0 });
  });

  it('skips rows another transaction holds, and only one purge runs at a time (advisory lock)', async () => {
    const p = await h.newProject('locks');
    await setRetention(p.apiKey, { retentionDays: 1 });
    await seedMessages(p.projectId, 10, 'FAILED', ago(3));
    const held = new pg.Client({ connectionString: h.config.DATABASE_URL });
    await held.connect();
    try {
      // A retryMessage in flight, say: the row is locked; the purge must neither wait nor delete it.
      await held.query('BEGIN');
      const { rows } = await held.query(`SELECT id FROM "Message" WHERE "projectId" = $1 ORDER BY "createdAt" LIMIT 1 FOR UPDATE`, [p.projectId]);
      const report = await runPurge(h.config, { projectId: p.projectId });
      expect(report.messages).toBe(9);
      expect(await count(`"Message" WHERE id = $1`, [rows[0].id])).toBe(1);
      await held.query(`UPDATE "Message" SET status = 'QUEUED', "updatedAt" = now() WHERE id = $1`, [rows[0].id]);
      await held.query('COMMIT');
      expect((await runPurge(h.config, { projectId: p.projectId })).messages).toBe(0);

      await held.query('SELECT pg_advisory_lock($1)', [PURGE_LOCK_KEY]);
      await expect(runPurge(h.config, { projectId: p.projectId })).rejects.toBeInstanceOf(PurgeLockedError);
      await held.query('SELECT pg_advisory_unlock($1)', [PURGE_LOCK_KEY]);
      await expect(runPurge(h.config, { projectId: p.projectId })).resolves.toMatchObject({ projects: 1 });
    } finally {
      await held.end();
    }
  });

  it('stops between two batches when aborted, with what it deleted committed', async () => {
    const p = await h.newProject('abort');
    await setRetention(p.apiKey, { retentionDays: 1 });
    await seedMessages(p.projectId, 50, 'SENT', ago(3));
    const abort = new AbortController();
    const running = runPurge(h.config, { projectId: p.projectId, pauseMs: 200, signal: abort.signal });
    await pollFor(async () => (await count(`"Message" WHERE "projectId" = $1`, [p.projectId])) < 50, 10_000, 'a first batch');
    abort.abort();
    const report = await running;
    expect(report.stopped).toBe(true);
    expect(report.messages).toBeGreaterThan(0);
    expect(report.messages).toBeLessThan(50);
    expect(await count(`"Message" WHERE "projectId" = $1`, [p.projectId])).toBe(50 - report.messages);
  });
});

describe('the periodic purge and herald purge', () => {
  // Two CLI processes (each a tsx start) and, below, a PGlite migration: slow on a loaded machine, hence the longer timeouts.
  it('herald purge: one run from the command line, with --json; bad arguments exit 2', async () => {
    const p = await h.newProject('cli');
    await setRetention(p.apiKey, { retentionDays: 10 });
    await seedMessages(p.projectId, 6, 'CANCELED', ago(11));
    const env = { DATABASE_URL: h.config.DATABASE_URL!, LOG_LEVEL: 'silent' };
    const cli = spawnTsx('src/cli/herald.ts', ['purge', '--project', p.projectId, '--batch-size', '4', '--json'], env);
    const exit = await cli.exited;
    expect(exit.code, cli.stderr()).toBe(0);
    const report = JSON.parse(cli.stdout());
    expect(report).toMatchObject({ projects: 1, messages: 6, messageEvents: 12, stopped: false });
    expect(report.statements).toBeGreaterThanOrEqual(2);
    expect(await count(`"Message" WHERE "projectId" = $1`, [p.projectId])).toBe(0);

    const bad = spawnTsx('src/cli/herald.ts', ['purge', '--batch-size', '0'], env);
    expect((await bad.exited).code).toBe(2);
    expect(bad.stderr()).toContain('--batch-size must be an integer from 1 to 50000');
  }, 90_000);

  // Last: a second Herald in this process replaces (then closes) the process-wide Prisma client.
  it('runs every RETENTION_INTERVAL_MS in a worker process', async () => {
    const other = await startTestHerald({ env: { RETENTION_INTERVAL_MS: '1000', RETENTION_BATCH_SIZE: '5', RETENTION_PAUSE_MS: '0', RECONCILE_INTERVAL_MS: '600000' } });
    const conn = new pg.Client({ connectionString: other.config.DATABASE_URL });
    await conn.connect();
    try {
      await conn.query(`UPDATE "Project" SET "retentionDays" = 2 WHERE id = $1`, [other.project.projectId]);
      await conn.query(
        `INSERT INTO "Message" (id, "projectId", channel, status, content, source, "requestId", "maxAttempts", "createdAt", "updatedAt")
         SELECT gen_random_uuid(), $1, 'WEBHOOK', s::"MessageStatus", '{}', 'test', 'r', 5, $2::timestamp, $2::timestamp
         FROM generate_series(1, 12), unnest(ARRAY['DELIVERED', 'QUEUED']) s`,
        [other.project.projectId, ago(5)],
      );
      await pollFor(async () => {
        const { rows } = await conn.query(`SELECT count(*)::int AS n FROM "Message" WHERE status = 'DELIVERED'`);
        return rows[0].n === 0;
      }, 15_000, 'the periodic purge');
      const { rows } = await conn.query(`SELECT count(*)::int AS n FROM "Message" WHERE status = 'QUEUED'`);
      expect(rows[0].n).toBe(12);
    } finally {
      await conn.end();
      await other.stop();
    }
  });
});

describe('the embedded database', () => {
  // Last too: it opens the process-wide Prisma client on PGlite (no advisory lock there: one process).
  it('purges the same way on PGlite', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'herald-retention-'));
    const config = parseConfig({ HERALD_DATA_DIR: dir, LOG_LEVEL: 'silent' });
    const embedded = await openDatabase(config);
    try {
      await migrate(embedded.sql);
      const p = await createProject('embedded');
      await embedded.sql.query(`UPDATE "Project" SET "retentionDays" = 1, "inboxArchivedRetentionDays" = 1 WHERE id = $1`, [p.projectId]);
      await embedded.sql.query(
        `INSERT INTO "Message" (id, "projectId", channel, status, content, source, "requestId", "maxAttempts", "createdAt", "updatedAt")
         SELECT gen_random_uuid(), $1, 'WEBHOOK', s::"MessageStatus", '{}', 'test', 'r', 5, $2::timestamp, $2::timestamp
         FROM generate_series(1, 10), unnest(ARRAY['SENT', 'QUEUED']) s`,
        [p.projectId, ago(3)],
      );
      const [user] = await embedded.sql.query<{ id: string }>(`INSERT INTO "User" (id, "projectId", "externalId", "updatedAt") VALUES (gen_random_uuid(), $1, 'u', now()) RETURNING id`, [p.projectId]);
      await embedded.sql.query(
        `INSERT INTO "InboxItem" (id, "projectId", "userId", "updatedAt", "archivedAt") SELECT gen_random_uuid(), $1, $2, now(), v FROM unnest(ARRAY[$3::timestamp, NULL]) v, generate_series(1, 4)`,
        [p.projectId, user!.id, ago(3)],
      );
      const report = await runPurge(config, { batchSize: 3, pauseMs: 0 });
      expect(report).toMatchObject({ projects: 1, messages: 10, inboxItems: 4, stopped: false });
      expect(await embedded.sql.query(`SELECT status::text, count(*)::int AS n FROM "Message" GROUP BY 1`)).toEqual([{ status: 'QUEUED', n: 10 }]);
      expect(await embedded.sql.query(`SELECT count(*)::int AS n FROM "InboxItem" WHERE "archivedAt" IS NULL`)).toEqual([{ n: 4 }]);
    } finally {
      await embedded.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
