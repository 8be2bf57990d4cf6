/**
 * Herald beside the shared baselines, in the same run, as ratios (issue 9's accept and deliver goals).
 *
 *   npm run bench:throughput -- [--runs=3] [--duration=5] [--messages=3000] [--only=accept,deliver,webhook] [--profile=DIR]
 *
 * One process drives everything with the same HTTP client and the same bodies (50 in-app messages
 * per request, client ids, 1,000 users), and each server runs in a process of its own:
 *   - accept: POST /messages.send at c=8 and c=16 for --duration seconds each, Herald as the default
 *     server runs it (workers in the process, a fresh database per level) against baseline-accept
 *     (one transaction, one multi-row INSERT, one LPUSH); and c=8 with the API alone (WORKERS_ENABLED=false).
 *   - deliver: --messages in-app messages accepted first, then the workers started; deliveries/s until
 *     every one is terminal, Herald's workers alone (WORKERS_ENABLED=false, then started) against
 *     baseline-worker (one transaction of 4 statements per message). In-server: Herald with its workers
 *     running while the same messages are sent (from the first request until all are delivered).
 *   - webhook: the same as worker-alone with a webhook notification posting to a sink here, against the
 *     same baseline worker figure.
 * Each run prints its figures and the load average; the summary gives the medians of the runs' ratios.
 * The baselines come from ../shared/bench/baselines (HERALD_BASELINES overrides), run with this
 * project's node_modules. Every run checks its counts: a message accepted but not delivered fails it.
 * HERALD_NODE_FLAGS="--max-semi-space-size=64": Node/V8 flags for the Herald children only.
 * --profile=DIR: each Herald child writes V8 CPU profiles (node --cpu-prof) into a directory of its own under DIR
 * when it stops (the largest file is the main thread's).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { ADMIN_DATABASE_URL } from '../test/helpers/database.ts';
import { percentile } from './stats.ts';
import { freePort } from '../test/helpers/worker-process.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BASELINES = process.env.HERALD_BASELINES ?? path.resolve(ROOT, '../shared/bench/baselines');
const STAGES = ['accept', 'deliver', 'webhook'] as const;
type Stage = (typeof STAGES)[number];

const flags = new Map(
  process.argv.slice(2).map((arg) => {
    const [name, value] = arg.replace(/^--/, '').split('=', 2) as [string, string | undefined];
    return [name, value ?? 'true'];
  }),
);
const USAGE = 'npm run bench:throughput -- [--runs=3] [--duration=5] [--messages=3000] [--only=accept,deliver,webhook] [--profile=DIR]';
for (const name of flags.keys()) if (!['runs', 'duration', 'messages', 'only', 'profile', 'help'].includes(name)) throw new Error(`unknown flag --${name}\n${USAGE}`);
if (flags.has('help')) {
  console.log(USAGE);
  process.exit(0);
}
function int(flag: string, fallback: number, min: number, max: number): number {
  const value = Number(flags.get(flag) ?? fallback);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--${flag} must be an integer in [${min}, ${max}]`);
  return value;
}
const RUNS = int('runs', 3, 1, 9);
const DURATION_S = int('duration', 5, 1, 120);
const MESSAGES = Math.ceil(int('messages', 3000, 50, 100_000) / 50) * 50;
const ONLY = (flags.get('only') ?? STAGES.join(',')).split(',').map((s) => {
  if (!(STAGES as readonly string[]).includes(s)) throw new Error(`--only: one or more of ${STAGES.join(', ')}`);
  return s as Stage;
});
const PROFILE_DIR = flags.get('profile');
const BATCH = 50;
const USERS = 1000;
const DRAIN_TIMEOUT_MS = 240_000;
const TERMINAL = `('SENT','DELIVERED','FAILED','SKIPPED','CANCELED')`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const loadavg = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');
const median = (values: number[]) => {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

let tagCounter = 0;
function body(tag: string, request: number, notificationId: string) {
  return JSON.stringify({
    messages: Array.from({ length: BATCH }, (_, i) => {
      const n = request * BATCH + i;
      return { notificationId, userId: `user-${n % USERS}`, id: `${tag}-${n}`, userFirstName: `User ${n % USERS}`, userLanguage: 'en', data: { count: n } };
    }),
  });
}

interface Load {
  tag: string;
  accepted: number;
  seconds: number;
  p50: number;
  p99: number;
  failures: string[];
}

/** c concurrent clients sending batches until the time is up, or until `requests` were sent. */
async function load(url: string, headers: Record<string, string>, c: number, limit: { seconds?: number; requests?: number }, notificationId = 'bench'): Promise<Load> {
  const tag = `t${process.pid}-${++tagCounter}`;
  const latencies: number[] = [];
  const failures: string[] = [];
  let accepted = 0;
  let next = 0;
  const started = performance.now();
  const stopAt = limit.seconds ? started + limit.seconds * 1000 : Number.POSITIVE_INFINITY;
  const client = async () => {
    for (;;) {
      const request = next++;
      if ((limit.requests !== undefined && request >= limit.requests) || performance.now() >= stopAt) return;
      const t0 = performance.now();
      try {
        const response = await fetch(`${url}/messages.send`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: body(tag, request, notificationId), signal: AbortSignal.timeout(30_000) });
        const answer = (await response.json()) as { results?: { ok: boolean; error?: string }[] };
        latencies.push(performance.now() - t0);
        const ok = answer.results?.filter((r) => r.ok).length ?? 0;
        accepted += ok;
        if (response.status !== 200 || ok !== BATCH) failures.push(`request ${request}: HTTP ${response.status}, ${ok}/${BATCH} ok ${answer.results?.find((r) => !r.ok)?.error ?? ''}`);
      } catch (error) {
        failures.push(`request ${request}: ${(error as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: c }, client));
  const sorted = latencies.sort((a, b) => a - b);
  return { tag, accepted, seconds: (performance.now() - started) / 1000, p50: percentile(sorted, 50), p99: percentile(sorted, 99), failures };
}

/** Polls a count query until it reaches `expected`; answers the seconds since `from`. */
async function drain(databaseUrl: string, sql: string, params: unknown[], expected: number, from: number): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const deadline = performance.now() + DRAIN_TIMEOUT_MS;
    for (;;) {
      const { rows } = await client.query(sql, params);
      if (Number(rows[0].n) >= expected) return (performance.now() - from) / 1000;
      if (performance.now() > deadline) throw new Error(`only ${rows[0].n}/${expected} done after ${DRAIN_TIMEOUT_MS / 1000} s`);
      await sleep(50);
    }
  } finally {
    await client.end();
  }
}

/** A child process and its stdout lines. */
interface Child {
  process: ChildProcess;
  lines: AsyncIterator<string>;
  stop(): Promise<void>;
}
function startChild(command: string, args: string[], env: Record<string, string>): Child {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    process: child,
    lines,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await Promise.race([exited, sleep(20_000).then(() => child.kill('SIGKILL'))]);
    },
  };
}
async function nextLine(child: Child, what: string): Promise<string> {
  const timeout = sleep(60_000).then(() => {
    throw new Error(`${what} did not start`);
  });
  const line = await Promise.race([child.lines.next(), timeout]);
  if (line.done) throw new Error(`${what} exited`);
  return line.value;
}

interface HeraldChild extends Child {
  info: { url: string; apiKey: string; projectId: string; databaseUrl: string };
  headers: Record<string, string>;
}
async function startHerald(workers: boolean, webhookUrl: string): Promise<HeraldChild> {
  // A directory per child: tsx's loader thread writes a profile of its own beside the main thread's.
  const profile = PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(PROFILE_DIR, `herald-${workers ? 'workers' : 'api'}-${Date.now()}`)}`] : [];
  // HERALD_NODE_FLAGS: V8/Node flags for the Herald children only (e.g. "--max-semi-space-size=64"), to compare runtime settings.
  const nodeFlags = (process.env.HERALD_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const child = startChild(process.execPath, [...nodeFlags, ...profile, '--import', 'tsx', 'bench/herald-child.ts'], { WORKERS_ENABLED: String(workers), BENCH_WEBHOOK_URL: webhookUrl });
  const info = JSON.parse(await nextLine(child, 'Herald')) as HeraldChild['info'];
  const headers = { authorization: `Bearer ${info.apiKey}` };
  // Warm-up: connections, prepared plans, BullMQ scripts, the template cache.
  for (let i = 0; i < 3; i++) await load(info.url, headers, 1, { requests: 1 });
  return { ...child, info, headers };
}
/** Herald's CPU time so far (user + system), in ms: the difference over a load depends far less on the machine's load than msg/s. */
async function heraldCpuMs(h: HeraldChild): Promise<number> {
  h.process.stdin!.write('cpu\n');
  return (JSON.parse(await nextLine(h, 'cpu')) as { cpuMicros: number }).cpuMicros / 1000;
}
/** Until every message of one load (its client ids carry the load's tag) is terminal. */
const heraldDone = (h: HeraldChild, l: Load, from: number) =>
  drain(h.info.databaseUrl, `SELECT count(*) FILTER (WHERE status IN ${TERMINAL}) AS n FROM "Message" WHERE "projectId" = $1::uuid AND "externalId" LIKE $2`, [h.info.projectId, `${l.tag}-%`], l.accepted, from);

interface Baseline {
  accept: Child;
  url: string;
  env: Record<string, string>;
  databaseUrl: string;
  close(): Promise<void>;
}
async function startBaseline(): Promise<Baseline> {
  const name = `perf_base_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const databaseUrl = Object.assign(new URL(ADMIN_DATABASE_URL), { pathname: `/${name}` }).toString();
  const port = await freePort();
  const env = { BASE_DB: name, PORT: String(port), BASE_QUEUE: `perfbase:${name}`, HERALD_DIR: ROOT };
  const accept = startChild('bash', [path.join(BASELINES, 'run.sh'), 'baseline-accept.mjs'], env);
  await nextLine(accept, 'baseline-accept');
  return {
    accept,
    url: `http://127.0.0.1:${port}`,
    env,
    databaseUrl,
    async close() {
      await accept.stop();
      const client = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

interface RunFigures {
  load: string[];
  figures: Record<string, number>;
  failures: string[];
}

async function run(index: number, sink: { url: string; seen: Set<string> }): Promise<RunFigures> {
  const out: RunFigures = { load: [loadavg()], figures: {}, failures: [] };
  const f = out.figures;
  const check = (what: string, l: Load, expected?: number) => {
    for (const failure of l.failures.slice(0, 3)) out.failures.push(`${what}: ${failure}`);
    if (expected !== undefined && l.accepted !== expected) out.failures.push(`${what}: ${l.accepted}/${expected} accepted`);
  };
  const requests = MESSAGES / BATCH;

  // Baselines first, then Herald, in the same run.
  const base = await startBaseline();
  try {
    if (ONLY.includes('accept')) {
      for (const c of [8, 16]) {
        await load(base.url, {}, c, { requests: c });
        const l = await load(base.url, {}, c, { seconds: DURATION_S });
        check(`baseline accept c=${c}`, l);
        f[`base.accept.c${c}`] = l.accepted / l.seconds;
      }
    }
    if (ONLY.includes('deliver') || ONLY.includes('webhook')) {
      const redis = new (await import('ioredis')).Redis(process.env.BASE_REDIS ?? 'redis://127.0.0.1:6379/7');
      await redis.del(base.env.BASE_QUEUE!);
      const db = new pg.Client({ connectionString: base.databaseUrl });
      await db.connect();
      await db.query(`DELETE FROM base_message`);
      await db.end();
      redis.disconnect();
      const l = await load(base.url, {}, 4, { requests });
      check('baseline deliver', l, MESSAGES);
      const worker = startChild('bash', [path.join(BASELINES, 'run.sh'), 'baseline-worker.mjs'], base.env);
      await nextLine(worker, 'baseline-worker');
      const from = performance.now();
      try {
        const s = await drain(base.databaseUrl, `SELECT count(*) AS n FROM base_message WHERE status = 'DELIVERED'`, [], MESSAGES, from);
        f['base.deliver'] = MESSAGES / s;
      } finally {
        await worker.stop();
      }
    }
  } finally {
    await base.close();
  }
  out.load.push(loadavg());

  if (ONLY.includes('accept')) {
    for (const c of [8, 16]) {
      const h = await startHerald(true, sink.url);
      try {
        const cpu0 = await heraldCpuMs(h);
        const l = await load(h.info.url, h.headers, c, { seconds: DURATION_S });
        // The workers keep delivering what was accepted: wait for it, so the CPU counted covers accept + delivery.
        await heraldDone(h, l, performance.now());
        check(`herald accept c=${c}`, l);
        f[`herald.accept.c${c}`] = l.accepted / l.seconds;
        f[`herald.accept.c${c}.p99`] = l.p99;
        f[`herald.accept.c${c}.cpu`] = ((await heraldCpuMs(h)) - cpu0) / (l.accepted / BATCH);
      } finally {
        await h.stop();
      }
    }
  }
  if (ONLY.includes('accept')) {
    // The API alone (an instance with WORKERS_ENABLED=false), as the issue's first row.
    const h = await startHerald(false, sink.url);
    try {
      const cpu0 = await heraldCpuMs(h);
      const l = await load(h.info.url, h.headers, 8, { seconds: DURATION_S });
      check('herald accept c=8 (API only)', l);
      f['herald.accept.c8.api'] = l.accepted / l.seconds;
      f['herald.accept.c8.api.cpu'] = ((await heraldCpuMs(h)) - cpu0) / (l.accepted / BATCH);
    } finally {
      await h.stop();
    }
  }
  if (ONLY.includes('deliver')) {
    // Workers alone: accept first, then start them.
    let h = await startHerald(false, sink.url);
    try {
      const l = await load(h.info.url, h.headers, 4, { requests });
      check('herald deliver (workers alone)', l, MESSAGES);
      h.process.stdin!.write('start-workers\n');
      await nextLine(h, 'workers');
      const from = performance.now();
      f['herald.deliver.alone'] = MESSAGES / (await heraldDone(h, l, from));
    } catch (error) {
      out.failures.push(`herald deliver (workers alone): ${(error as Error).message}`);
    } finally {
      await h.stop();
    }
    // In the server: the workers deliver while the requests come in.
    h = await startHerald(true, sink.url);
    try {
      const from = performance.now();
      const l = await load(h.info.url, h.headers, 4, { requests });
      check('herald deliver (in server)', l, MESSAGES);
      f['herald.deliver.server'] = MESSAGES / (await heraldDone(h, l, from));
    } catch (error) {
      out.failures.push(`herald deliver (in server): ${(error as Error).message}`);
    } finally {
      await h.stop();
    }
  }
  if (ONLY.includes('webhook')) {
    const h = await startHerald(false, sink.url);
    try {
      const before = sink.seen.size;
      const l = await load(h.info.url, h.headers, 4, { requests }, 'bench-webhook');
      check('herald webhook', l, MESSAGES);
      h.process.stdin!.write('start-workers\n');
      await nextLine(h, 'workers');
      const from = performance.now();
      f['herald.webhook'] = MESSAGES / (await heraldDone(h, l, from));
      if (sink.seen.size - before < MESSAGES) out.failures.push(`herald webhook: the sink saw ${sink.seen.size - before}/${MESSAGES} messages`);
    } catch (error) {
      out.failures.push(`herald webhook: ${(error as Error).message}`);
    } finally {
      await h.stop();
    }
  }
  out.load.push(loadavg());
  const fmt = (k: string) => (f[k] === undefined ? '-' : f[k]!.toFixed(0));
  const fmt1 = (k: string) => (f[k] === undefined ? '-' : f[k]!.toFixed(1));
  console.log(
    `run ${index}: load ${out.load.join(' -> ')} | accept c=8 ${fmt('herald.accept.c8')} vs ${fmt('base.accept.c8')} (p99 ${fmt('herald.accept.c8.p99')} ms), ` +
      `c=16 ${fmt('herald.accept.c16')} vs ${fmt('base.accept.c16')}, API only c=8 ${fmt('herald.accept.c8.api')} ` +
      `(Herald CPU ms per 50-message request: ${fmt1('herald.accept.c8.cpu')} / ${fmt1('herald.accept.c16.cpu')} with its workers, ${fmt1('herald.accept.c8.api.cpu')} API only) | deliver alone ${fmt('herald.deliver.alone')}, in server ${fmt('herald.deliver.server')}, ` +
      `webhook ${fmt('herald.webhook')} vs baseline worker ${fmt('base.deliver')} msg/s`,
  );
  for (const failure of out.failures) console.log(`  FAILURE ${failure}`);
  return out;
}

async function main(): Promise<number> {
  const seen = new Set<string>();
  const server: Server = createServer((req, res) => {
    const id = req.headers['x-herald-message-id'];
    if (typeof id === 'string') seen.add(id);
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sink = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, seen };
  console.log(`throughput: ${RUNS} runs; accept ${DURATION_S} s per level (50 in-app messages per request); deliver ${MESSAGES} messages`);
  console.log(`  node ${process.version}, ${os.cpus().length} cores, load average ${loadavg()}; baselines from ${BASELINES}`);
  const runs: RunFigures[] = [];
  try {
    for (let i = 1; i <= RUNS; i++) runs.push(await run(i, sink));
  } finally {
    server.close();
  }
  const ratio = (h: string, b: string) => median(runs.map((r) => (r.figures[h] ?? Number.NaN) / (r.figures[b] ?? Number.NaN)));
  const med = (k: string) => median(runs.map((r) => r.figures[k] ?? Number.NaN));
  const row = (what: string, h: string, b: string, goal: string) =>
    console.log(`  ${what.padEnd(34)} ${med(h).toFixed(0).padStart(8)} ${med(b).toFixed(0).padStart(10)} ${ratio(h, b).toFixed(3).padStart(8)}   ${goal}`);
  console.log('');
  console.log(`medians of ${RUNS} runs (ratio: median of the per-run ratios)`);
  console.log('  what                                 herald   baseline    ratio   goal');
  if (ONLY.includes('accept')) {
    row('accept msg/s c=8 (workers in)', 'herald.accept.c8', 'base.accept.c8', '>= 0.30');
    row('accept msg/s c=16 (workers in)', 'herald.accept.c16', 'base.accept.c16', '>= 0.30');
    row('accept msg/s c=8 (API only)', 'herald.accept.c8.api', 'base.accept.c8', '');
    console.log(`  accept p99 ms c=8                  ${med('herald.accept.c8.p99').toFixed(0).padStart(8)}                       < 100`);
    // CPU per request depends far less than msg/s on how much of the machine others take (not at all only on a quiet one).
    for (const [what, k] of [['c=8, accept + delivery', 'herald.accept.c8.cpu'], ['c=16, accept + delivery', 'herald.accept.c16.cpu'], ['c=8, API only', 'herald.accept.c8.api.cpu']] as const) {
      console.log(`  Herald CPU ms/request ${what.padEnd(24)} ${med(k).toFixed(1).padStart(6)}`);
    }
  }
  if (ONLY.includes('deliver')) {
    row('in-app deliveries/s, workers alone', 'herald.deliver.alone', 'base.deliver', '>= 2');
    row('in-app deliveries/s, in the server', 'herald.deliver.server', 'base.deliver', '>= 2');
  }
  if (ONLY.includes('webhook')) row('webhook deliveries/s, workers alone', 'herald.webhook', 'base.deliver', '>= 1');
  console.log(`  load average at the end: ${loadavg()}`);
  const failures = runs.flatMap((r) => r.failures);
  if (failures.length) console.log(`FAILURES ${failures.length}`);
  return failures.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
