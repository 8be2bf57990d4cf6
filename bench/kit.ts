/**
 * What the issue-9 stages (reads, latency, scale-out) share: a Herald in a process of its own
 * (bench/herald-child.ts), the bare yoga baseline in a process of its own, a `herald worker`
 * process, a closed-loop load generator over keep-alive HTTP, per-process CPU from /proc, and the
 * `RESULT {json}` line through which bench/issue9.ts collects each stage's figures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/helpers/worker-process.ts';
import { percentile } from './stats.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** ../shared/bench/baselines beside the main checkout (worktrees live one level deeper); HERALD_BASELINES overrides. */
export const BASELINES =
  process.env.HERALD_BASELINES ??
  [path.resolve(ROOT, '../shared/bench/baselines'), path.resolve(ROOT, '../../shared/bench/baselines')].find((dir) => existsSync(path.join(dir, 'baseline-yoga.mjs'))) ??
  'missing: set HERALD_BASELINES';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
export const loadavg = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');
export const median = (values: number[]) => {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** `--name=value` flags, checked against the ones a stage knows. */
export function parseFlags(known: string[], usage: string): Map<string, string> {
  const flags = new Map(
    process.argv.slice(2).map((arg) => {
      const [name, value] = arg.replace(/^--/, '').split('=', 2) as [string, string | undefined];
      return [name, value ?? 'true'];
    }),
  );
  for (const name of flags.keys()) if (![...known, 'help'].includes(name)) throw new Error(`unknown flag --${name}\n${usage}`);
  if (flags.has('help')) {
    console.log(usage);
    process.exit(0);
  }
  return flags;
}
export function intFlag(flags: Map<string, string>, name: string, fallback: number, min: number, max: number): number {
  const value = Number(flags.get(name) ?? fallback);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--${name} must be an integer in [${min}, ${max}]`);
  return value;
}

/** The stage's figures for bench/issue9.ts (one line, last): medians, goals and load averages. */
export function printResult(result: Record<string, unknown>): void {
  console.log(`RESULT ${JSON.stringify(result)}`);
}

/** user + system CPU time of a process so far, in ms (/proc/<pid>/stat, clock ticks of 10 ms). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
/** Resident set size of a process, in KB. */
export function rssKB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}
/** The machine's busy and total CPU time so far (/proc/stat, all cores, clock ticks). */
export function machineCpu(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - fields[3]! - (fields[4] ?? 0), total };
}

export interface Proc {
  process: ChildProcess;
  pid: number;
  lines: AsyncIterator<string>;
  stop(): Promise<void>;
}
/** A child process with its stdout as lines (stderr shown), stopped with SIGTERM (SIGKILL after 20 s). */
export function startProc(args: string[], env: Record<string, string>): Proc {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    process: child,
    pid: child.pid!,
    lines,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
/** The next stdout line matching `match` (the others are skipped), within 60 s. */
export async function lineMatching(proc: Proc, match: (line: string) => boolean, what: string): Promise<string> {
  const deadline = performance.now() + 60_000;
  for (;;) {
    const remaining = deadline - performance.now();
    const line = await Promise.race([proc.lines.next(), sleep(Math.max(0, remaining)).then(() => null)]);
    if (line === null) throw new Error(`${what}: not within 60 s`);
    if (line.done) throw new Error(`${what}: the process exited`);
    if (match(line.value)) return line.value;
  }
}

export interface HeraldInfo {
  url: string;
  apiKey: string;
  projectId: string;
  databaseUrl: string;
  widgetSecret: string;
  queuePrefix: string;
  redisUrl: string;
}
export interface HeraldProc extends Proc {
  info: HeraldInfo;
  /** POST a JSON body with the operator's key; answers the parsed body (throws on a non-200). */
  post(route: string, body: unknown): Promise<any>;
  startWorkers(): Promise<void>;
}
/** bench/herald-child.ts: a fresh database, a project with in-app (`bench`) and webhook notifications. */
export async function startHerald(workers: boolean): Promise<HeraldProc> {
  const nodeFlags = (process.env.HERALD_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const proc = startProc([...nodeFlags, '--import', 'tsx', 'bench/herald-child.ts'], { WORKERS_ENABLED: String(workers) });
  const info = JSON.parse(await lineMatching(proc, (l) => l.startsWith('{'), 'Herald')) as HeraldInfo;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const post = async (route: string, body: unknown) => {
    const answer = await request(agent, `${info.url}${route}`, { 'content-type': 'application/json', authorization: `Bearer ${info.apiKey}` }, JSON.stringify(body));
    if (answer.status !== 200) throw new Error(`${route}: HTTP ${answer.status} ${answer.body.slice(0, 500)}`);
    return JSON.parse(answer.body);
  };
  return {
    ...proc,
    info,
    post,
    async startWorkers() {
      proc.process.stdin!.write('start-workers\n');
      await lineMatching(proc, (l) => l.includes('"workers"'), 'start-workers');
    },
    async stop() {
      agent.destroy();
      await proc.stop();
    },
  };
}

/** users.upsert of these external ids, 100 per call; fails on any refusal. */
export async function upsertUsers(h: HeraldProc, externalIds: string[], profile: (id: string) => Record<string, string> = () => ({})): Promise<void> {
  for (let i = 0; i < externalIds.length; i += 100) {
    const answer = (await h.post('/users.upsert', { users: externalIds.slice(i, i + 100).map((id) => ({ id, ...profile(id) })) })) as { results: { ok: boolean; error?: string }[] };
    const failed = answer.results.filter((r) => !r.ok);
    if (failed.length) throw new Error(`users.upsert refused ${failed.length} users: ${JSON.stringify(failed[0])}`);
  }
}

/** `herald worker` on the Herald's database and queues, started once it logs so. */
export async function startWorker(h: HeraldProc): Promise<Proc> {
  const proc = startProc(['--import', 'tsx', 'src/cli/herald.ts', 'worker'], {
    DATABASE_URL: h.info.databaseUrl,
    REDIS_URL: h.info.redisUrl,
    QUEUE_PREFIX: h.info.queuePrefix,
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    OUTBOUND_ALLOW_PRIVATE: 'true',
  });
  await lineMatching(proc, (l) => l.includes('Herald worker started'), 'herald worker');
  // Its log lines must be read, or the pipe fills and the worker blocks.
  void (async () => {
    for (let l = await proc.lines.next(); !l.done; l = await proc.lines.next());
  })();
  return proc;
}

export interface Yoga {
  url: string;
  pid: number;
  stop(): Promise<void>;
}
/**
 * baseline-yoga.mjs spawned directly (as run.sh does: beside a link to this project's
 * node_modules), so its pid is the server's own (RSS, CPU).
 */
export async function startYoga(widgetSecret: string): Promise<Yoga> {
  const port = await freePort();
  const work = mkdtempSync(path.join(os.tmpdir(), 'bench-yoga-'));
  copyFileSync(path.join(BASELINES, 'baseline-yoga.mjs'), path.join(work, 'baseline-yoga.mjs'));
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(work, 'node_modules'));
  const proc = startProc([path.join(work, 'baseline-yoga.mjs')], { PORT: String(port), WIDGET_SECRET: widgetSecret, TOPIC: `bench-yoga-${process.pid}-${port}` });
  await lineMatching(proc, (l) => l.startsWith('baseline-yoga on'), 'baseline-yoga');
  return {
    url: `http://127.0.0.1:${port}`,
    pid: proc.pid,
    async stop() {
      await proc.stop();
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/** One HTTP request over a keep-alive agent (lighter than fetch for the load generator's own CPU). */
export function request(agent: http.Agent, url: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

export interface LoadFigures {
  perSecond: number;
  ok: number;
  p50: number;
  p99: number;
  failures: string[];
}
/**
 * c clients in a closed loop for `seconds`: each calls `once(client, n)`, which answers how many
 * units it did (or throws/returns an error string). Answers units per second and the call latencies.
 */
export async function hammer(c: number, seconds: number, once: (client: number, n: number) => Promise<number | string>): Promise<LoadFigures> {
  const latencies: number[] = [];
  const failures: string[] = [];
  let ok = 0;
  let n = 0;
  const started = performance.now();
  const stopAt = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: c }, async (_, client) => {
      while (performance.now() < stopAt) {
        const t0 = performance.now();
        try {
          const done = await once(client, n++);
          if (typeof done === 'string') failures.push(done);
          else ok += done;
        } catch (error) {
          failures.push((error as Error).message);
        }
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const sorted = latencies.sort((a, b) => a - b);
  return { perSecond: ok / ((performance.now() - started) / 1000), ok, p50: percentile(sorted, 50), p99: percentile(sorted, 99), failures };
}
