/**
 * Broadcast fan-out: a topic of N users (users and subscriptions seeded with ONE statement), one
 * sendToTopic to an in-app notification, and the time until the last subscriber has the item
 * in their inbox. Herald runs in a process of its own (bench/herald-child.ts: API and workers
 * together, as a single-process deployment), so its RSS is measured without this driver's.
 *
 * While the broadcast runs, one transactional send at a time (POST /messages.send, one in-app
 * message) measures what a broadcast costs everybody else: its p50 / p99 (goal: p99 < 200 ms),
 * beside the same probe run alone for BENCH_IDLE_PROBE_MS (10 s) just before, at the same load.
 *
 *   npm run bench:broadcast                         # BENCH_AUDIENCES=10000,50000,100000
 *   BENCH_AUDIENCES=10000 BROADCAST_CHUNK_SIZE=1000 npm run bench:broadcast
 *   BENCH_WORKERS=separate npm run bench:broadcast  # API alone + one `herald worker` process
 *
 * Reported per audience: the answer time of sendToTopic, fan-out time (accepted → last cursor
 * advance) and messages/s, time to the last inbox item and messages/s end to end, Herald's
 * peak RSS over its RSS before the broadcast, the probe sends' p50/p99/max, and the load
 * average. Then the growth from the smallest to the largest audience and a linear projection
 * to 1,000,000 users. BROADCAST_* and DELIVERY_* settings are passed on to Herald.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { percentile } from './stats.ts';

const AUDIENCES = (process.env.BENCH_AUDIENCES ?? '10000,50000,100000').split(',').map(Number);
if (AUDIENCES.some((n) => !Number.isInteger(n) || n < 1 || n > 2_000_000)) throw new Error('BENCH_AUDIENCES must be integers in [1, 2000000]');
const ROOT = new URL('../', import.meta.url).pathname;
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? 1_800_000);
/** How long the probe runs alone before each broadcast (its baseline at the machine's load). */
const IDLE_PROBE_MS = Number(process.env.BENCH_IDLE_PROBE_MS ?? 10_000);

const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
const rssKB = (pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS') => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface ChildInfo {
  url: string;
  apiKey: string;
  projectId: string;
  databaseUrl: string;
}

/** BENCH_WORKERS=separate: the API without workers plus one `herald worker` process (the fan-out and the deliveries run there). */
const SEPARATE = process.env.BENCH_WORKERS === 'separate';

function startHerald(): Promise<{ child: ChildProcess; info: ChildInfo }> {
  // node itself (not npx): the pid is Herald's, for /proc/<pid>/status. BROADCAST_* and DELIVERY_* pass through.
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/herald-child.ts'], { cwd: ROOT, env: { ...process.env, WORKERS_ENABLED: String(!SEPARATE) }, stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => resolve({ child, info: JSON.parse(line) as ChildInfo }));
    child.once('exit', (code) => reject(new Error(`herald-child exited (${code})`)));
  });
}

async function graphql(info: ChildInfo, query: string, variables: Record<string, unknown> = {}) {
  const response = await fetch(`${info.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${info.apiKey}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: any; errors?: { message: string }[] };
  if (body.errors?.length) throw new Error(body.errors.map((e) => e.message).join('; '));
  return body.data;
}

/** One single-message messages.send; answers its latency (ms). */
async function probe(info: ChildInfo, i: number): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${info.url}/messages.send`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${info.apiKey}` },
    body: JSON.stringify({ messages: [{ notificationId: 'bench', userId: 'probe', data: { count: i } }] }),
  });
  const body = (await response.json()) as { results?: { ok: boolean; error?: string }[] };
  if (response.status !== 200 || !body.results?.[0]?.ok) throw new Error(`probe send failed: ${response.status} ${JSON.stringify(body)}`);
  return performance.now() - started;
}

interface Row {
  audience: number;
  answerMs: number;
  fanoutS: number;
  lastInboxS: number;
  peakRssMiB: number;
  growthMiB: number;
  probes: number;
  p50: number;
  p99: number;
  max: number;
  idleP50: number;
  idleP99: number;
  load: string;
}

async function runOne(info: ChildInfo, db: pg.Client, pid: number, n: number): Promise<Row> {
  const key = `bench-${n}-${Date.now()}`;
  const topic = (await graphql(info, 'mutation($key: String!) { createTopic(key: $key) { id } }', { key })).createTopic.id as string;
  // The audience: n users and their subscriptions, in one statement.
  const seeded = performance.now();
  await db.query(
    `WITH u AS (
       INSERT INTO "User" (id, "projectId", "externalId", "firstName", "updatedAt")
       SELECT gen_random_uuid(), $1::uuid, $2 || '-' || g, 'User ' || g, now() FROM generate_series(1, $3::int) g
       RETURNING id
     )
     INSERT INTO "TopicSubscriber" ("topicId", "userId") SELECT $4::uuid, id FROM u`,
    [info.projectId, key, n, topic],
  );
  console.error(`  seeded ${n} users + subscriptions in ${((performance.now() - seeded) / 1000).toFixed(1)} s`);
  await db.query('ANALYZE "User", "TopicSubscriber", "Message", "InboxItem"');
  // Settle: the RSS before the broadcast is the reference.
  await sleep(1_000);
  const before = rssKB(pid);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssKB(pid))), 100);
  const loadBefore = load();
  // The same probe with no broadcast running, for the same machine load: what the broadcast adds.
  const idle: number[] = [];
  for (let i = 0, until = performance.now() + IDLE_PROBE_MS; performance.now() < until; i++) {
    idle.push(await probe(info, i));
    await sleep(50);
  }
  idle.sort((a, b) => a - b);

  const t0 = performance.now();
  const sent = await graphql(info, 'mutation($key: String!) { sendToTopic(key: $key, notificationId: "bench", data: { count: 1 }) { id status total } }', { key });
  const answerMs = performance.now() - t0;
  const id = sent.sendToTopic.id as string;
  if (sent.sendToTopic.total !== n) throw new Error(`total ${sent.sendToTopic.total}, expected ${n}`);

  // One transactional send at a time while the broadcast runs.
  const latencies: number[] = [];
  let probing = true;
  const prober = (async () => {
    for (let i = 0; probing; i++) {
      latencies.push(await probe(info, i));
      await sleep(50);
    }
  })();

  let fanoutS = 0;
  let lastInboxS = 0;
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    if (Date.now() > deadline) throw new Error(`broadcast ${id} did not finish in ${TIMEOUT_MS} ms`);
    if (!fanoutS) {
      const { rows } = await db.query<{ status: string; processed: number; s: number | null }>(
        `SELECT status, processed, EXTRACT(EPOCH FROM ("finishedAt" - "createdAt"))::float8 AS s FROM "Broadcast" WHERE id = $1::uuid`,
        [id],
      );
      if (rows[0]!.status === 'COMPLETED') fanoutS = rows[0]!.s!;
      else if (rows[0]!.status !== 'RUNNING' && rows[0]!.status !== 'QUEUED') throw new Error(`broadcast ended ${rows[0]!.status}`);
    }
    // Counting the inbox items reads them all: only once the fan-out is done, so the poll does not load the database meanwhile.
    if (fanoutS) {
      const { rows } = await db.query<{ c: number }>(
        `SELECT count(*)::int AS c FROM "InboxItem" i JOIN "TopicSubscriber" s ON s."userId" = i."userId" AND s."topicId" = $1::uuid`,
        [topic],
      );
      if (rows[0]!.c >= n) {
        lastInboxS = (performance.now() - t0) / 1000;
        break;
      }
    }
    await sleep(fanoutS ? 100 : 500);
  }
  probing = false;
  await prober;
  clearInterval(sampler);
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    audience: n,
    answerMs,
    fanoutS,
    lastInboxS,
    peakRssMiB: peak / 1024,
    growthMiB: (peak - before) / 1024,
    probes: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    idleP50: percentile(idle, 50),
    idleP99: percentile(idle, 99),
    load: `${loadBefore} → ${load()}`,
  };
}

/** `herald worker` on the child's database, Redis and queues (the test helpers' prefix is the database's name). */
function startWorker(info: ChildInfo): Promise<ChildProcess> {
  const prefix = new URL(info.databaseUrl).pathname.slice(1);
  const worker = spawn(process.execPath, ['--import', 'tsx', 'src/cli/herald.ts', 'worker'], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: info.databaseUrl, REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', QUEUE_PREFIX: prefix, LOG_LEVEL: process.env.BENCH_CHUNK_LOG ? 'debug' : 'info', NODE_ENV: 'test' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: worker.stdout! });
    lines.on('line', (line) => {
      if (line.includes('Herald worker started')) resolve(worker);
      if (process.env.BENCH_CHUNK_LOG && line.includes('Broadcast chunk')) console.error(line);
    });
    worker.once('exit', (code) => reject(new Error(`herald worker exited (${code})`)));
  });
}

const { child, info } = await startHerald();
const worker = SEPARATE ? await startWorker(info) : undefined;
/** Whose memory the fan-out grows: the worker's when separate. */
const measured = worker ?? child;
const db = new pg.Client({ connectionString: info.databaseUrl });
await db.connect();
const rows: Row[] = [];
try {
  // Warm-up: the probe user exists and the send path is compiled before the first measure.
  for (let i = 0; i < 20; i++) await probe(info, i);
  for (const n of AUDIENCES) {
    console.error(`audience ${n}...`);
    rows.push(await runOne(info, db, measured.pid!, n));
    const r = rows.at(-1)!;
    console.error(`  done: last inbox item after ${r.lastInboxS.toFixed(1)} s, peak RSS +${r.growthMiB.toFixed(0)} MiB, probe p99 ${r.p99.toFixed(0)} ms`);
  }
} finally {
  await db.end();
  if (worker) {
    worker.kill('SIGTERM');
    await new Promise((resolve) => worker.once('exit', resolve));
  }
  child.stdin!.write('stop\n');
  await new Promise((resolve) => child.once('exit', resolve));
}

const fmt = (v: number, d = 0) => v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
console.log(
  `\nBroadcast fan-out, in-app, ${SEPARATE ? 'API and one `herald worker` in two processes (RSS: the worker)' : 'Herald API + workers in one process'} (chunk ${process.env.BROADCAST_CHUNK_SIZE ?? 200})`,
);
console.log('| audience | sendToTopic answer | fan-out (accepted → done) | to last inbox item | peak RSS (growth) | concurrent messages.send p50 / p99 / max (n) | same, no broadcast p50 / p99 | load average |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---|');
for (const r of rows) {
  console.log(
    `| ${fmt(r.audience)} | ${fmt(r.answerMs)} ms | ${fmt(r.fanoutS, 1)} s (${fmt(r.audience / r.fanoutS)} msg/s) | ${fmt(r.lastInboxS, 1)} s (${fmt(r.audience / r.lastInboxS)} msg/s) | ${fmt(r.peakRssMiB)} MiB (+${fmt(r.growthMiB)}) | ${fmt(r.p50)} / ${fmt(r.p99)} / ${fmt(r.max)} ms (${r.probes}) | ${fmt(r.idleP50)} / ${fmt(r.idleP99)} ms | ${r.load} |`,
  );
}
if (rows.length >= 2) {
  const a = rows[0]!;
  const b = rows.at(-1)!;
  const k = b.audience / a.audience;
  console.log(
    `\nGrowth ${fmt(a.audience)} → ${fmt(b.audience)} users (×${fmt(k, 1)}): time to last inbox item ×${fmt(b.lastInboxS / a.lastInboxS, 2)}, peak RSS growth ${fmt(a.growthMiB)} → ${fmt(b.growthMiB)} MiB.`,
  );
  const perUser = b.lastInboxS / b.audience;
  console.log(`Projection to 1,000,000 users (linear from ${fmt(b.audience)}): about ${fmt((perUser * 1_000_000) / 60, 1)} min to the last inbox item; memory as at ${fmt(b.audience)} (one chunk in hand at a time).`);
}
