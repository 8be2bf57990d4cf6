/**
 * Fan-out: N connected widgets (graphql-ws, one inbox subscription each), one inbox event to
 * each of them; how long until the last one has it. Herald and the bare baseline
 * (../shared/bench/baselines/baseline-yoga.mjs: yoga + graphql-ws + redis-event-target, no
 * database) run side by side, each in its own process, against the same Redis; the clients
 * (this process) are the same for both. Also reports each server's RSS per idle subscriber and
 * its connect + subscribe rate, and the load average of each run.
 *
 *   npx tsx bench/fanout.ts                       # BENCH_USERS=1000,5000 BENCH_RUNS=3
 *   BENCH_USERS=10000 BENCH_MODE=send npx tsx bench/fanout.ts
 *
 * BENCH_MODE=publish (default): the events are published on Redis as another instance (or a
 * worker) publishes them after their commit, so the figure is the realtime path alone (Herald:
 * Redis → router → bounded subscription → inbox stream → yoga → graphql-ws); the baseline
 * publishes the same number of events from its POST /publish. BENCH_MODE=send: Herald gets one
 * in-app message per user through POST /messages.send (50 per request, 4 at a time), so the
 * figure includes accepting and delivering them (no baseline: it has no pipeline).
 * Herald's users are created first (users.upsert): widgets do not create their user.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type WebSocket from 'ws';
import { parseConfig } from '../src/config/env.ts';
import { openDatabase } from '../src/db/client.ts';
import { createProject } from '../src/modules/projects/service.ts';
import { userHash } from '../src/modules/projects/credentials.ts';
import { openPubSub } from '../src/realtime/pubsub.ts';
import { createTestDatabase, TEST_REDIS_URL } from '../test/helpers/database.ts';
import { freePort } from '../test/helpers/worker-process.ts';
import { closedAfterAck, widgetWithRetry } from './widgets.ts';

const USERS = (process.env.BENCH_USERS ?? '1000,5000').split(',').map(Number);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const MODE = process.env.BENCH_MODE === 'send' ? 'send' : 'publish';
/**
 * How Herald runs: `dist` (default) as production does (`npm start`, the Dockerfile: node
 * dist/main.js, built first when stale by scripts/ensure-built.mjs); `tsx` from the sources. Under
 * tsx every function created at run time carries an esbuild keepNames `name` property of its own
 * (a properties store per closure): about 5 KB more per idle socket than the compiled code.
 */
const HERALD_RUN = process.env.BENCH_HERALD === 'tsx' ? 'tsx' : 'dist';
const ROOT = new URL('../', import.meta.url).pathname;
/** ../shared/bench/baselines beside the main checkout (worktrees live one level deeper). */
const BASELINES =
  process.env.BASELINES_DIR ??
  [new URL('../../shared/bench/baselines/', import.meta.url).pathname, new URL('../../../shared/bench/baselines/', import.meta.url).pathname].find((dir) => existsSync(join(dir, 'baseline-yoga.mjs'))) ??
  'missing: set BASELINES_DIR';
const SECRET = 'fanout-widget-secret';
const EVENT_TIMEOUT_MS = 120_000;

interface Figures {
  connectPerS: number;
  rssPerSocketKB: number;
  /** The server's RSS with every socket connected and subscribed. */
  rssMB: number;
  lastMs: number;
  p50Ms: number;
  p99Ms: number;
  load: string;
}

function rssKB(pid: number): number {
  // The server process itself (run.sh and npx wrappers excluded: we spawn node directly).
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

function start(args: string[], env: Record<string, string>, ready: RegExp): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (ready.test(out)) resolve(child);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server exited (${code}): ${out.slice(-2000)}`)));
    setTimeout(() => reject(new Error(`server not ready: ${out.slice(-2000)}`)), 60_000).unref();
  });
}

async function stop(child: ChildProcess) {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Connects every widget, then makes sure each subscription is live: a warm-up event is
 * published (`warmUp`) to the users that have not had one yet until all have. The connect +
 * subscribe time runs until then (an acknowledged socket whose subscribe message is still queued
 * at the server would miss the measured event). `received` then collects the measured round.
 */
async function connectAll(url: string, users: string[], params: (user: string) => Record<string, string>, query: string, warmUp?: (users: string[]) => Promise<void>) {
  let received: number[] = [];
  const warmed = new Set<string>();
  let warming = true;
  const sockets: WebSocket[] = [];
  const started = performance.now();
  // 100 handshakes in flight at a time, as a crowd of browsers reconnecting would be.
  for (let i = 0; i < users.length; i += 100) {
    const slice = users.slice(i, i + 100);
    sockets.push(...(await Promise.all(slice.map((user) => widgetWithRetry(url, params(user), query, () => (warming ? warmed.add(user) : received.push(performance.now())))))));
  }
  if (warmUp) {
    for (let round = 0; warmed.size < users.length; round++) {
      if (round > 60) throw new Error(`only ${warmed.size} of ${users.length} subscriptions are live; closed after ack: ${JSON.stringify(closedAfterAck.slice(0, 10))} (${closedAfterAck.length})`);
      await warmUp(users.filter((u) => !warmed.has(u)));
      const deadline = Date.now() + 1_000;
      while (warmed.size < users.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } else await new Promise((resolve) => setTimeout(resolve, 5_000));
  const connectMs = performance.now() - started;
  await new Promise((resolve) => setTimeout(resolve, 500)); // late duplicates of the warm-up
  warming = false;
  received = [];
  return { sockets, received: () => received, connectMs };
}

async function waitForAll(received: () => number[], count: number) {
  const deadline = Date.now() + EVENT_TIMEOUT_MS;
  while (received().length < count) {
    if (Date.now() > deadline) throw new Error(`only ${received().length} of ${count} events arrived`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function summarize(times: number[], t0: number) {
  const latencies = times.map((t) => t - t0).sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)]!;
  return { lastMs: latencies.at(-1)!, p50Ms: at(50), p99Ms: at(99) };
}

const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

async function runHerald(n: number): Promise<Figures> {
  const database = await createTestDatabase();
  const port = await freePort();
  const env = { DATABASE_URL: database.url, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: database.name, PORT: String(port), HOST: '127.0.0.1', NODE_ENV: 'production', LOG_LEVEL: 'info', WS_MAX_SUBSCRIPTIONS: '10' };
  // HERALD_NODE_FLAGS (as kit.ts): e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the server.
  const nodeFlags = (process.env.HERALD_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const child = await start([...nodeFlags, ...(HERALD_RUN === 'tsx' ? ['--import', 'tsx', 'src/main.ts'] : ['dist/main.js'])], env, /Herald started/);
  const db = await openDatabase(parseConfig({ ...env, MIGRATE_ON_START: 'false' }));
  const publisher = openPubSub(TEST_REDIS_URL, undefined, database.name);
  try {
    const project = await createProject('fanout');
    await db.sql.query('UPDATE "Project" SET "widgetSecret" = $1 WHERE id = $2::uuid', [SECRET, project.projectId]);
    const base = `http://127.0.0.1:${port}`;
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${project.apiKey}` }, body: JSON.stringify(body) });
      if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      return res.json() as Promise<any>;
    };
    const externalIds = Array.from({ length: n }, (_, i) => `fan-${i}`);
    for (let i = 0; i < n; i += 100) {
      const answer = (await post('/users.upsert', { users: externalIds.slice(i, i + 100).map((id) => ({ id })) })) as { results: { ok: boolean; error?: string }[] };
      const failed = answer.results.filter((r) => !r.ok);
      if (failed.length) throw new Error(`users.upsert refused ${failed.length} users: ${JSON.stringify(failed[0])}`);
    }
    const rows = await db.sql.query<{ id: string; externalId: string }>('SELECT id, "externalId" FROM "User" WHERE "projectId" = $1::uuid', [project.projectId]);
    const ids = new Map(rows.map((u) => [u.externalId, u.id]));
    if (ids.size !== n) throw new Error(`${ids.size} users of ${n} exist`);
    if (MODE === 'send') {
      await post('/graphql', {
        query: 'mutation($input: NotificationInput!) { createNotification(input: $input) { id } }',
        variables: { input: { key: 'bell', type: 'in-app', name: 'Bell', versions: [{ contents: [{ locale: 'en', title: 'Hi', body: 'b' }] }] } },
      });
    }

    await new Promise((resolve) => setTimeout(resolve, 3_000)); // the upserts' garbage collected
    const before = rssKB(child.pid!);
    const query = MODE === 'send' ? 'subscription { inbox { cursor type unreadCount item { id title } } }' : 'subscription { inbox { cursor type unreadCount } }';
    const publishTo = (users: string[], cursor: string) => {
      const at = new Date().toISOString();
      for (const externalId of users) {
        const userId = ids.get(externalId)!;
        publisher.pubsub.publish('inboxEvent', `${project.projectId}:${userId}`, { projectId: project.projectId, userId, cursor, type: 'ALL_READ', itemId: null, unreadCount: 0, at });
      }
    };
    const { sockets, received, connectMs } = await connectAll(
      `ws://127.0.0.1:${port}/graphql`,
      externalIds,
      (user) => ({ projectId: project.projectId, userId: user, userHash: userHash(SECRET, user) }),
      query,
      MODE === 'publish' ? async (users) => publishTo(users, '1') : undefined,
    );
    const after = rssKB(child.pid!);

    const t0 = performance.now();
    if (MODE === 'publish') publishTo(externalIds, '2');
    else {
      const batches: string[][] = [];
      for (let i = 0; i < n; i += 50) batches.push(externalIds.slice(i, i + 50));
      const worker = async () => {
        for (let batch = batches.shift(); batch; batch = batches.shift()) await post('/messages.send', { messages: batch.map((userId) => ({ notificationId: 'bell', userId })) });
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
    }
    await waitForAll(received, n);
    const figures = { connectPerS: (n / connectMs) * 1000, rssPerSocketKB: (after - before) / n, rssMB: after / 1024, ...summarize(received(), t0), load: load() };
    for (const socket of sockets) socket.terminate();
    return figures;
  } finally {
    await publisher.close();
    await stop(child);
    await db.close();
    await database.drop();
  }
}

async function runBaseline(n: number): Promise<Figures> {
  const port = await freePort();
  const topic = `fanout-${process.pid}-${port}`;
  // As run.sh does: the baseline next to a link to the project's node_modules (same versions as
  // Herald), spawned here directly so that RSS is the server's own process.
  const work = mkdtempSync(join(tmpdir(), 'fanout-'));
  copyFileSync(join(BASELINES, 'baseline-yoga.mjs'), join(work, 'baseline-yoga.mjs'));
  symlinkSync(join(ROOT, 'node_modules'), join(work, 'node_modules'));
  const child = await start([join(work, 'baseline-yoga.mjs')], { PORT: String(port), WIDGET_SECRET: SECRET, TOPIC: topic }, /baseline-yoga on/);
  try {
    const users = Array.from({ length: n }, (_, i) => `fan-${i}`);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const before = rssKB(child.pid!);
    const publishTo = async (list: string[]) => {
      for (let i = 0; i < list.length; i += 1_000) {
        const res = await fetch(`http://127.0.0.1:${port}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ users: list.slice(i, i + 1_000) }) });
        await res.text();
      }
    };
    const { sockets, received, connectMs } = await connectAll(`ws://127.0.0.1:${port}/graphql`, users, (user) => ({ projectId: 'p', userId: user, userHash: userHash(SECRET, user) }), 'subscription { inbox { cursor type unreadCount } }', publishTo);
    const after = rssKB(child.pid!);
    const t0 = performance.now();
    await publishTo(users);
    await waitForAll(received, n);
    const figures = { connectPerS: (n / connectMs) * 1000, rssPerSocketKB: (after - before) / n, rssMB: after / 1024, ...summarize(received(), t0), load: load() };
    for (const socket of sockets) socket.terminate();
    return figures;
  } finally {
    await stop(child);
    rmSync(work, { recursive: true, force: true });
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const fmt = (f: Figures) =>
  `last ${f.lastMs.toFixed(0)} ms (p50 ${f.p50Ms.toFixed(0)}, p99 ${f.p99Ms.toFixed(0)}), connect+subscribe ${f.connectPerS.toFixed(0)}/s, RSS ${f.rssPerSocketKB.toFixed(1)} KB/socket (${f.rssMB.toFixed(0)} MB in all), load ${f.load}`;

if (HERALD_RUN === 'dist') {
  const built = spawnSync(process.execPath, ['scripts/ensure-built.mjs'], { cwd: ROOT, stdio: 'inherit' });
  if (built.status !== 0) throw new Error('dist/ could not be built (scripts/ensure-built.mjs)');
}
console.log(`fan-out bench, mode ${MODE}, Herald from ${HERALD_RUN === 'dist' ? 'dist/main.js (as npm start)' : 'src/main.ts under tsx'}, ${RUNS} run(s) per size`);
for (const n of USERS) {
  const herald: Figures[] = [];
  const baseline: Figures[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const h = await runHerald(n);
    herald.push(h);
    console.log(`N=${n} run ${run} herald:   ${fmt(h)}`);
    if (MODE === 'publish') {
      const b = await runBaseline(n);
      baseline.push(b);
      console.log(`N=${n} run ${run} baseline: ${fmt(b)}`);
    }
  }
  const m = (list: Figures[], key: keyof Omit<Figures, 'load'>) => median(list.map((f) => f[key]));
  console.log(`N=${n} median herald: last ${m(herald, 'lastMs').toFixed(0)} ms, p50 ${m(herald, 'p50Ms').toFixed(0)}, p99 ${m(herald, 'p99Ms').toFixed(0)}, ${m(herald, 'connectPerS').toFixed(0)} connects/s, ${m(herald, 'rssPerSocketKB').toFixed(1)} KB/socket, RSS ${m(herald, 'rssMB').toFixed(0)} MB`);
  if (baseline.length) {
    console.log(`N=${n} median baseline: last ${m(baseline, 'lastMs').toFixed(0)} ms, p50 ${m(baseline, 'p50Ms').toFixed(0)}, p99 ${m(baseline, 'p99Ms').toFixed(0)}, ${m(baseline, 'connectPerS').toFixed(0)} connects/s, ${m(baseline, 'rssPerSocketKB').toFixed(1)} KB/socket, RSS ${m(baseline, 'rssMB').toFixed(0)} MB`);
    console.log(
      `N=${n} ratios (herald / baseline, medians): last event ${(m(herald, 'lastMs') / m(baseline, 'lastMs')).toFixed(2)}x, memory per socket ${(m(herald, 'rssPerSocketKB') / m(baseline, 'rssPerSocketKB')).toFixed(2)}x, connect rate ${(m(herald, 'connectPerS') / m(baseline, 'connectPerS')).toFixed(2)}x`,
    );
  }
}
process.exit(0);
