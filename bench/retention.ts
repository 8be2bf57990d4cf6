/**
 * bench:retention — how fast the retention purge deletes, how long its longest statement runs
 * (each statement is its own transaction, so that is how long it holds its row locks), and what
 * it does to concurrent writers of the same tables.
 *
 *   npm run bench:retention -- --messages=200000 --events=3 --inbox=100000 --batch=2000 --pause=0 --writers=4
 *
 * A database of its own on the test PostgreSQL (TEST_DATABASE_URL): one project with 30 days of
 * retention; `messages` delivered messages 40 days old with `events` status events each, as many
 * young ones (kept), `inbox` inbox items archived 10 days ago with 2 inbox events each (purged:
 * inboxArchivedRetentionDays 7), and as many executions as inbox items. Meanwhile `writers`
 * loops insert a young message with its event and mark it DELIVERED (what accept and delivery
 * do), first alone for 3 s (baseline), then during the purge: their latencies are printed for both.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { parseConfig } from '../src/config/env.ts';
import { openDatabase } from '../src/db/client.ts';
import { migrate } from '../src/db/migrate.ts';
import { createProject } from '../src/modules/projects/service.ts';
import { runPurge, type PurgeKind } from '../src/retention/purge.ts';
import { createTestDatabase } from '../test/helpers/database.ts';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '200000' },
    events: { type: 'string', default: '3' },
    inbox: { type: 'string', default: '100000' },
    batch: { type: 'string', default: '2000' },
    pause: { type: 'string', default: '0' },
    writers: { type: 'string', default: '4' },
  },
});
const MESSAGES = Number(values.messages);
const EVENTS = Number(values.events);
const INBOX = Number(values.inbox);
const BATCH = Number(values.batch);
const PAUSE = Number(values.pause);
const WRITERS = Number(values.writers);

const ago = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();
const pct = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]! : 0);
const summary = (ms: number[]) => {
  const s = [...ms].sort((a, b) => a - b);
  return `n=${s.length} p50 ${pct(s, 50).toFixed(1)} ms, p99 ${pct(s, 99).toFixed(1)} ms, max ${(s.at(-1) ?? 0).toFixed(1)} ms`;
};

const database = await createTestDatabase();
const config = parseConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent', RETENTION_BATCH_SIZE: String(BATCH), RETENTION_PAUSE_MS: String(PAUSE) });
const db = await openDatabase(config);
const pool = new pg.Pool({ connectionString: database.url, max: WRITERS + 1 });
try {
  await migrate(db.sql);
  const project = await createProject('bench');
  const pid = project.projectId;
  await pool.query(`UPDATE "Project" SET "retentionDays" = 30, "inboxArchivedRetentionDays" = 7 WHERE id = $1`, [pid]);
  const { rows: notification } = await pool.query(`INSERT INTO "Notification" ("projectId", type, name, "updatedAt") VALUES ($1, 'in-app', 'n', now()) RETURNING id`, [pid]);
  const { rows: user } = await pool.query(`INSERT INTO "User" (id, "projectId", "externalId", "updatedAt") VALUES (gen_random_uuid(), $1, 'u', now()) RETURNING id`, [pid]);
  const seedStarted = performance.now();
  const CHUNK = 50_000;
  for (const [days, n] of [
    [40, MESSAGES],
    [5, MESSAGES],
  ] as const) {
    for (let done = 0; done < n; done += CHUNK) {
      await pool.query(
        `WITH m AS (
           INSERT INTO "Message" (id, "projectId", channel, status, content, source, "requestId", "maxAttempts", "createdAt", "updatedAt", "userId")
           SELECT gen_random_uuid(), $1, 'IN_APP', 'DELIVERED', '{"title":"Hello","body":"A message body of a usual length"}', 'bench', 'r', 5,
             $3::timestamp + g * interval '1 ms', $3::timestamp + g * interval '1 ms', $5
           FROM generate_series(1, $2::int) g RETURNING id, "createdAt")
         INSERT INTO "MessageEvent" ("messageId", "projectId", status, attempt, at)
         SELECT m.id, $1, 'DELIVERED', e, m."createdAt" FROM m, generate_series(1, $4::int) e`,
        [pid, Math.min(CHUNK, n - done), ago(days), EVENTS, user[0].id],
      );
    }
  }
  for (let done = 0; done < INBOX; done += CHUNK) {
    const n = Math.min(CHUNK, INBOX - done);
    await pool.query(
      `WITH i AS (
         INSERT INTO "InboxItem" (id, "projectId", "userId", title, body, "createdAt", "updatedAt", "readAt", "archivedAt")
         SELECT gen_random_uuid(), $1, $2, 'Hello', 'A body', $4::timestamp, $4::timestamp, $4::timestamp, $5::timestamp FROM generate_series(1, $3::int) RETURNING id)
       INSERT INTO "InboxEvent" ("userId", cursor, "projectId", type, "itemId", "unreadCount", at)
       SELECT $2, $6::int + row_number() OVER (), $1, t, i.id, 0, $4::timestamp FROM i, (VALUES ('CREATED'), ('ARCHIVED')) v(t)`,
      [pid, user[0].id, n, ago(40), ago(10), done * 2],
    );
    await pool.query(
      `INSERT INTO "Execution" (id, "projectId", kind, "notificationId", "requestId", request, "createdAt")
       SELECT gen_random_uuid(), $1, 'EXECUTION', $2, 'r', '{"recipient":{"type":"id","value":"u"}}', $4::timestamp FROM generate_series(1, $3::int)`,
      [pid, notification[0].id, n, ago(40)],
    );
  }
  await pool.query('ANALYZE');
  console.log(
    `seeded ${MESSAGES} old + ${MESSAGES} young messages (${EVENTS} events each), ${INBOX} archived inbox items (2 events each), ${INBOX} executions in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`,
  );

  // Writers: a young message with its first event, then its delivery (two short transactions).
  let writing = true;
  let latencies: number[] = [];
  const writer = async () => {
    while (writing) {
      const t0 = performance.now();
      const { rows } = await pool.query(
        `WITH m AS (INSERT INTO "Message" (id, "projectId", channel, status, content, source, "requestId", "maxAttempts", "createdAt", "updatedAt")
           VALUES (gen_random_uuid(), $1, 'IN_APP', 'QUEUED', '{}', 'bench', 'w', 5, now(), now()) RETURNING id)
         INSERT INTO "MessageEvent" ("messageId", "projectId", status) SELECT id, $1, 'QUEUED' FROM m RETURNING "messageId"`,
        [pid],
      );
      await pool.query(`UPDATE "Message" SET status = 'DELIVERED', "updatedAt" = now() WHERE id = $1`, [rows[0].messageId]);
      latencies.push(performance.now() - t0);
    }
  };
  const writers = Array.from({ length: WRITERS }, writer);
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const baseline = latencies;
  latencies = [];

  const perKind = new Map<PurgeKind, { rows: number; ms: number[] }>();
  const report = await runPurge(config, {
    onStatement: ({ kind, rows, ms }) => {
      const k = perKind.get(kind) ?? { rows: 0, ms: [] };
      k.rows += rows;
      k.ms.push(ms);
      perKind.set(kind, k);
    },
  });
  const during = latencies;
  writing = false;
  await Promise.all(writers);

  const load = loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`purge: batch ${BATCH}, pause ${PAUSE} ms, ${WRITERS} concurrent writers; load average ${load}`);
  const totalRows = report.messages + report.messageEvents + report.executions + report.inboxEvents + report.inboxItems;
  console.log(
    `  deleted ${report.messages} messages + ${report.messageEvents} events, ${report.executions} executions, ${report.inboxEvents} inbox events, ${report.inboxItems} inbox items: ` +
      `${totalRows} rows in ${(report.durationMs / 1000).toFixed(1)} s = ${Math.round(totalRows / (report.durationMs / 1000))} rows/s; ${report.statements} statements, longest ${report.longestStatementMs.toFixed(1)} ms`,
  );
  for (const [kind, k] of perKind) {
    const seconds = k.ms.reduce((a, b) => a + b, 0) / 1000;
    console.log(`  ${kind.padEnd(12)} ${String(k.rows).padStart(8)} rows, ${Math.round(k.rows / seconds)} rows/s while deleting; statements ${summary(k.ms)}`);
  }
  console.log(`  writers alone:        ${summary(baseline)}`);
  console.log(`  writers during purge: ${summary(during)}`);
  const { rows: left } = await pool.query(`SELECT (SELECT count(*) FROM "Message")::int AS messages, (SELECT count(*) FROM "InboxItem")::int AS items`);
  console.log(`  left: ${left[0].messages} messages (${MESSAGES} young + the writers'), ${left[0].items} inbox items`);
} finally {
  await pool.end();
  await db.close();
  await database.drop();
}
