/**
 * Benchmark of `POST /messages.send` (Notifuse) over HTTP on loopback.
 *
 *   npx tsx bench/messages-send.ts [--requests=40 | --duration=S] [--concurrency=1,4,8]
 *       [--scenarios=in-app,webhook] [--workers=inline|after] [--batch=50] [--users=1000] [--no-ids]
 *
 * For each scenario and concurrency level, starts Herald in this process on a fresh PostgreSQL
 * database and the real Redis (BullMQ, under a queue prefix of its own so nobody else's workers
 * take its jobs), with the default pool and worker settings, and sends batches of messages. It
 * reports, separately:
 *   - accept: accepted messages/s and request latency (what the caller waits for);
 *   - delivery: how long the workers take to bring every accepted message to a terminal state.
 * Then it counts the rows in PostgreSQL: every accepted message must be there, and nothing else,
 * or the run fails. Each level's database and Redis keys are removed when it ends.
 *
 * --workers=inline (default) runs the delivery workers in the same process during the sends, as
 * the default server does: both share one event loop, so the accept figures include that
 * competition, and delivered msg/s is counted from the first request. --workers=after starts the
 * workers only once the last answer is in (an API-only instance, then a worker): accept is the
 * API alone and delivered msg/s is the workers alone, from their start.
 *
 * Every flag has an env twin: BENCH_REQUESTS, BENCH_DURATION_S (each level runs that long instead
 * of a number of requests), BENCH_CONCURRENCY, BENCH_SCENARIOS, BENCH_WORKERS, BENCH_BATCH_SIZE,
 * BENCH_USERS, BENCH_CLIENT_IDS=0.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { prisma } from '../src/db/client.ts';
import { bearer, startTestHerald, type TestHerald } from '../test/helpers/herald.ts';
import { percentile } from './stats.ts';

const SCENARIOS = ['in-app', 'webhook'] as const;
type Scenario = (typeof SCENARIOS)[number];
const USAGE =
  'npx tsx bench/messages-send.ts [--requests=40 | --duration=S] [--concurrency=1,4,8] [--scenarios=in-app,webhook] [--workers=inline|after] [--batch=50] [--users=1000] [--no-ids]';

const flags = new Map(
  process.argv.slice(2).map((arg) => {
    const [name, value] = arg.replace(/^--/, '').split('=', 2) as [string, string | undefined];
    return [name, value ?? 'true'];
  }),
);
const KNOWN = ['requests', 'duration', 'concurrency', 'scenarios', 'workers', 'batch', 'users', 'no-ids', 'help'];
for (const name of flags.keys()) if (!KNOWN.includes(name)) throw new Error(`unknown flag --${name}\n${USAGE}`);
if (flags.has('help')) {
  console.log(USAGE);
  process.exit(0);
}

function option(flag: string, env: string): string | undefined {
  return flags.get(flag) ?? (process.env[env] === '' ? undefined : process.env[env]);
}
function intOption(flag: string, env: string, fallback: number, min: number, max: number): number {
  const raw = option(flag, env);
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--${flag} / ${env} must be an integer in [${min}, ${max}]`);
  return value;
}
function listOption<T extends string>(flag: string, env: string, fallback: string, allowed: readonly T[]): T[] {
  return (option(flag, env) ?? fallback).split(',').map((v) => {
    if (!(allowed as readonly string[]).includes(v)) throw new Error(`--${flag} / ${env}: one or more of ${allowed.join(', ')}`);
    return v as T;
  });
}

const REQUESTS = intOption('requests', 'BENCH_REQUESTS', 40, 1, 100_000);
const DURATION_S = option('duration', 'BENCH_DURATION_S') === undefined ? null : intOption('duration', 'BENCH_DURATION_S', 0, 1, 600);
const CONCURRENCY = (option('concurrency', 'BENCH_CONCURRENCY') ?? '1,4,8').split(',').map((v) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new Error('--concurrency / BENCH_CONCURRENCY: comma-separated integers in [1, 64]');
  return n;
});
const SCENARIO_LIST = listOption('scenarios', 'BENCH_SCENARIOS', SCENARIOS.join(','), SCENARIOS);
const [WORKERS] = listOption('workers', 'BENCH_WORKERS', 'inline', ['inline', 'after'] as const);
const BATCH_SIZE = intOption('batch', 'BENCH_BATCH_SIZE', 50, 1, 50);
const USERS = intOption('users', 'BENCH_USERS', 1000, 1, 1_000_000);
const CLIENT_IDS = !flags.has('no-ids') && process.env.BENCH_CLIENT_IDS !== '0';

/** Per request; for delivery to drain after a level; for the whole run. */
const REQUEST_TIMEOUT_MS = 30_000;
const DRAIN_TIMEOUT_MS = 180_000;
const RUN_TIMEOUT_MS = 20 * 60_000;
const TERMINAL = ['SENT', 'DELIVERED', 'FAILED', 'SKIPPED', 'CANCELED'];
const WARM_UP_REQUESTS = 3;

interface Level {
  scenario: Scenario;
  concurrency: number;
  requests: number;
  accepted: number;
  acceptS: number;
  latencies: number[];
  /** Messages already terminal when the last answer came back. */
  terminalAtAcceptEnd: number;
  /** inline: from the first request; after: from the workers' start; until every accepted message was terminal. */
  deliveredS: number | null;
  /** How long delivery ran on after the last answer. */
  trailS: number | null;
  statuses: Record<string, number>;
  rowsInDb: number;
  /** CPU time of this process (API, workers and the load generator) from the first request until drained. */
  cpuMs: number;
  webhookCalls: number | null;
  failures: string[];
}

interface WebhookSink {
  url: string;
  messageIds: Set<string>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function graphql(h: TestHerald, apiKey: string, query: string, variables: Record<string, unknown>) {
  const response = await fetch(`${h.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer(apiKey) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: unknown; errors?: { message: string }[] };
  if (body.errors?.length) throw new Error(`setup failed: ${body.errors.map((e) => e.message).join('; ')}`);
  return body.data;
}

/** A project per use, so its counts are exactly the messages sent to it. */
async function setUpProject(h: TestHerald, scenario: Scenario, hook: WebhookSink | null) {
  const project = await h.newProject(`bench ${scenario}`);
  await graphql(h, project.apiKey, 'mutation($input: NotificationInput!) { createNotification(input: $input) { id } }', {
    input: {
      key: 'bench',
      type: scenario,
      name: `Bench ${scenario}`,
      versions: [{ contents: [{ locale: 'en', title: 'Hi {{ user.firstName }}', body: 'You have {{ count }} new messages' }] }],
    },
  });
  if (scenario === 'webhook') {
    await graphql(h, project.apiKey, 'mutation($input: ProviderInput!) { configureProvider(input: $input) { id } }', {
      input: { channel: 'WEBHOOK', kind: 'webhook', name: 'bench', settings: { url: hook!.url } },
    });
  }
  return project;
}

function batchBody(tag: string, request: number) {
  return JSON.stringify({
    messages: Array.from({ length: BATCH_SIZE }, (_, i) => {
      const n = request * BATCH_SIZE + i;
      return {
        notificationId: 'bench',
        userId: `user-${n % USERS}`,
        ...(CLIENT_IDS ? { id: `${tag}-${n}` } : {}),
        userFirstName: `User ${n % USERS}`,
        userLanguage: 'en',
        data: { count: n },
      };
    }),
  });
}

async function statusCounts(projectId: string): Promise<Record<string, number>> {
  const rows = await prisma().message.groupBy({ by: ['status'], where: { projectId }, _count: { _all: true } });
  return Object.fromEntries(rows.map((r) => [r.status, r._count._all]));
}
const total = (counts: Record<string, number>, keys = Object.keys(counts)) => keys.reduce((n, k) => n + (counts[k] ?? 0), 0);

/** One scenario at one concurrency, on a Herald (and database) of its own. */
async function runLevel(scenario: Scenario, concurrency: number, hook: WebhookSink | null, deadline: number): Promise<{ level: Level; h: TestHerald }> {
  const h = await startTestHerald({ env: { WORKERS_ENABLED: String(WORKERS === 'inline') } });
  try {
    // Warm-up (not measured): connections, prepared plans, BullMQ scripts. With the workers off
    // its rows are deleted, so its jobs find nothing to claim and barely count in the drain.
    const warm = await setUpProject(h, scenario, hook);
    for (let i = 0; i < WARM_UP_REQUESTS; i++) {
      await fetch(`${h.url}/messages.send`, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(warm.apiKey) }, body: batchBody('warm', i) });
    }
    if (WORKERS === 'inline') {
      for (let c = await statusCounts(warm.projectId); total(c, TERMINAL) < total(c) && Date.now() < deadline; c = await statusCounts(warm.projectId)) await sleep(50);
    } else {
      await prisma().message.deleteMany({ where: { projectId: warm.projectId } });
    }
    return { level: await measure(h, scenario, concurrency, hook, deadline), h };
  } catch (error) {
    await stopHerald(h);
    throw error;
  }
}

async function measure(h: TestHerald, scenario: Scenario, concurrency: number, hook: WebhookSink | null, deadline: number): Promise<Level> {
  const project = await setUpProject(h, scenario, hook);
  const headers = { 'content-type': 'application/json', ...bearer(project.apiKey) };
  const tag = `${scenario}-c${concurrency}`;
  const level: Level = {
    scenario, concurrency, requests: 0, accepted: 0, acceptS: 0, latencies: [], terminalAtAcceptEnd: 0,
    deliveredS: null, trailS: null, statuses: {}, rowsInDb: 0, cpuMs: 0, webhookCalls: null, failures: [],
  };
  const hookStart = hook?.messageIds.size ?? 0;
  const stopAt = DURATION_S === null ? Number.POSITIVE_INFINITY : performance.now() + DURATION_S * 1000;
  let next = 0;
  const client = async () => {
    for (;;) {
      const request = next++;
      if ((DURATION_S === null && request >= REQUESTS) || performance.now() >= stopAt || Date.now() > deadline) return;
      const body = batchBody(tag, request);
      const started = performance.now();
      try {
        const response = await fetch(`${h.url}/messages.send`, { method: 'POST', headers, body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
        const answer = (await response.json()) as { results?: { ok: boolean; error?: string }[] };
        level.latencies.push(performance.now() - started);
        level.requests++;
        const ok = answer.results?.filter((r) => r.ok).length ?? 0;
        level.accepted += ok;
        if (response.status !== 200 || ok !== BATCH_SIZE) {
          const firstError = answer.results?.find((r) => !r.ok)?.error;
          level.failures.push(`request ${request}: HTTP ${response.status}, ${ok}/${BATCH_SIZE} ok${firstError ? ` (${firstError})` : ''}`);
        }
      } catch (error) {
        level.failures.push(`request ${request}: ${(error as Error).message}`);
      }
    }
  };
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, client));
  const answered = performance.now();
  level.acceptS = (answered - started) / 1000;
  level.terminalAtAcceptEnd = total(await statusCounts(project.projectId), TERMINAL);

  const drainFrom = WORKERS === 'inline' ? started : performance.now();
  if (WORKERS === 'after') h.herald.delivery.startWorkers();
  const drainDeadline = performance.now() + DRAIN_TIMEOUT_MS;
  for (;;) {
    level.statuses = await statusCounts(project.projectId);
    if (total(level.statuses, TERMINAL) >= total(level.statuses)) {
      level.deliveredS = (performance.now() - drainFrom) / 1000;
      level.trailS = (performance.now() - answered) / 1000;
      break;
    }
    if (performance.now() > drainDeadline) {
      level.failures.push(`delivery: ${total(level.statuses) - total(level.statuses, TERMINAL)} messages not terminal after ${DRAIN_TIMEOUT_MS / 1000} s`);
      break;
    }
    await sleep(25);
  }
  const used = process.cpuUsage(cpu);
  level.cpuMs = (used.user + used.system) / 1000;

  // The honesty check: the rows are the truth, not the answers.
  level.rowsInDb = await prisma().message.count({ where: { projectId: project.projectId } });
  if (level.rowsInDb !== level.accepted) level.failures.push(`database: ${level.rowsInDb} messages stored, ${level.accepted} accepted`);
  if (CLIENT_IDS) {
    const distinct = await prisma().message.findMany({ where: { projectId: project.projectId }, distinct: ['externalId'], select: { externalId: true } });
    if (distinct.length !== level.accepted) level.failures.push(`database: ${distinct.length} distinct client ids, ${level.accepted} accepted`);
  }
  const expected = scenario === 'in-app' ? 'DELIVERED' : 'SENT';
  if ((level.statuses[expected] ?? 0) !== level.accepted) level.failures.push(`delivery: ${level.statuses[expected] ?? 0}/${level.accepted} ${expected} (${JSON.stringify(level.statuses)})`);
  if (hook) {
    level.webhookCalls = hook.messageIds.size - hookStart;
    if (level.webhookCalls !== level.accepted) level.failures.push(`webhook: ${level.webhookCalls} distinct messages received, ${level.accepted} accepted`);
  }
  return level;
}

/** The webhook target: answers 200 at once and remembers which messages it saw. */
async function startWebhookSink(): Promise<WebhookSink> {
  const messageIds = new Set<string>();
  const server: Server = createServer((req, res) => {
    const id = req.headers['x-herald-message-id'];
    if (typeof id === 'string') messageIds.add(id);
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    messageIds,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Drops the database, then the queue keys BullMQ leaves behind (its prefix only): see startTestHerald. */
function stopHerald(h: TestHerald): Promise<number> {
  return h.stop();
}

function report(levels: Level[], h: TestHerald): number {
  const c = h.config;
  const ms = (v: number) => v.toFixed(0).padStart(6);
  const col = (v: number | null, digits: number, width: number) => (v === null ? '-' : v.toFixed(digits)).padStart(width);
  console.log('');
  console.log(
    `messages.send: batches of ${BATCH_SIZE}, ${DURATION_S === null ? `${REQUESTS} requests` : `${DURATION_S} s`} per level, ` +
      `${CLIENT_IDS ? 'with' : 'without'} client ids, ${USERS} distinct users per project`,
  );
  console.log(
    WORKERS === 'inline'
      ? '  Herald in this process as the default server runs it: API and delivery workers together (WORKERS_ENABLED=true)'
      : '  Herald in this process, API only during the sends (WORKERS_ENABLED=false); delivery workers started after the last answer',
  );
  console.log(`  BullMQ on Redis, PostgreSQL pool ${c.DATABASE_POOL_SIZE}, DELIVERY_CONCURRENCY ${c.DELIVERY_CONCURRENCY} per channel; loopback HTTP; a fresh database per level`);
  console.log(`  node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log('');
  console.log('  scenario  conc  reqs  accepted  accept msg/s    p50    p95    p99    max ms | done@answer  trail s  deliver s  delivered msg/s | cpu ms/msg | rows in db');
  for (const l of levels) {
    const sorted = [...l.latencies].sort((a, b) => a - b);
    console.log(
      `  ${l.scenario.padEnd(8)}  ${String(l.concurrency).padStart(4)}  ${String(l.requests).padStart(4)}  ${String(l.accepted).padStart(8)}  ${(l.accepted / l.acceptS).toFixed(0).padStart(12)}` +
        ` ${ms(percentile(sorted, 50))} ${ms(percentile(sorted, 95))} ${ms(percentile(sorted, 99))} ${ms(sorted.at(-1) ?? Number.NaN)}    ` +
        `| ${String(l.terminalAtAcceptEnd).padStart(11)}  ${col(l.trailS, 2, 7)}  ${col(l.deliveredS, 2, 9)}  ${col(l.deliveredS && l.accepted / l.deliveredS, 0, 15)} ` +
        `| ${(l.cpuMs / Math.max(1, l.accepted)).toFixed(2).padStart(10)} | ${l.rowsInDb}${l.rowsInDb === l.accepted ? ' ok' : ' MISMATCH'}`,
    );
  }
  console.log('');
  console.log('  accept msg/s: accepted messages / time from the first request to the last answer; p50..max: request latency.');
  console.log('  done@answer: messages already terminal at the last answer; trail s: how long delivery ran on after it.');
  console.log(
    WORKERS === 'inline'
      ? '  deliver s: from the first request until every accepted message was terminal; delivered msg/s = accepted / deliver s.'
      : '  deliver s: from the workers\' start until every accepted message was terminal; delivered msg/s = accepted / deliver s.',
  );
  console.log('  cpu ms/msg: CPU time of this process (API + workers + load generator) per accepted message, first request to drained;');
  console.log('  steadier than the rates when other work shares the machine. PostgreSQL and Redis CPU are not in it.');
  console.log('  rows in db: messages stored for the level\'s project, checked against the accepted count (and distinct client ids).');
  const failures = levels.flatMap((l) => l.failures.map((f) => `${l.scenario} c${l.concurrency}: ${f}`));
  if (failures.length) {
    console.log(`  FAILURES ${failures.length}`);
    for (const failure of failures.slice(0, 20)) console.log(`    ${failure}`);
  }
  return failures.length;
}

async function main(): Promise<number> {
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  const hook = SCENARIO_LIST.includes('webhook') ? await startWebhookSink() : null;
  const levels: Level[] = [];
  let last: TestHerald | undefined;
  try {
    for (const scenario of SCENARIO_LIST) {
      for (const concurrency of CONCURRENCY) {
        const { level, h } = await runLevel(scenario, concurrency, scenario === 'webhook' ? hook : null, deadline);
        levels.push(level);
        last = h;
        const removed = await stopHerald(h);
        process.stderr.write(
          `  ${scenario} c${concurrency}: ${level.accepted} accepted in ${level.acceptS.toFixed(2)} s; database ${h.config.QUEUE_PREFIX} dropped, ${removed} Redis keys removed\n`,
        );
      }
    }
    return report(levels, last!) ? 1 : 0;
  } finally {
    await hook?.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
