/**
 * Latency probe (issue 9): REST send → widget event for one user while --others other widgets
 * are connected (graphql-ws, one `inbox` subscription each). Herald runs as the default server
 * does (workers in the process); each of --sends one-message `POST /messages.send` calls, one at a
 * time, is timed from the request's start until the probe's socket receives the event (its item
 * and unread count resolved). Beside it, in the same run, the bare stack's equivalent:
 * baseline-yoga.mjs with as many sockets, `POST /publish { users: [probe] }` until the event
 * (the same Redis pub/sub and graphql-ws, no database and no pipeline).
 *
 *   npx tsx bench/latency.ts [--runs=3] [--others=1000] [--sends=100] [--pause=10]
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import type WebSocket from 'ws';
import { userHash } from '../src/modules/projects/credentials.ts';
import { percentile } from './stats.ts';
import { intFlag, loadavg, median, parseFlags, printResult, request, sleep, startHerald, startYoga, upsertUsers } from './kit.ts';
import { widgetWithRetry } from './widgets.ts';

const USAGE = 'npx tsx bench/latency.ts [--runs=3] [--others=1000] [--sends=100] [--pause=10]';
const flags = parseFlags(['runs', 'others', 'sends', 'pause'], USAGE);
const RUNS = intFlag(flags, 'runs', 3, 1, 9);
const OTHERS = intFlag(flags, 'others', 1000, 0, 20_000);
const SENDS = intFlag(flags, 'sends', 100, 5, 5_000);
const PAUSE_MS = intFlag(flags, 'pause', 10, 0, 5_000);
const WARMUP = 5;
const EVENT_TIMEOUT_MS = 10_000;
// The same selection on both servers (baseline-yoga's InboxEvent has an item too).
const QUERY = 'subscription { inbox { cursor type unreadCount item { id title } } }';

interface Probe {
  /** Resolves with the time the next event reaches the probe socket. */
  next(): Promise<number>;
}
function probe(): Probe & { onEvent: () => void } {
  let waiting: ((at: number) => void) | null = null;
  return {
    onEvent: () => {
      const resolve = waiting;
      waiting = null;
      resolve?.(performance.now());
    },
    next: () =>
      new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no event within ${EVENT_TIMEOUT_MS} ms`)), EVENT_TIMEOUT_MS);
        waiting = (at) => {
          clearTimeout(timer);
          resolve(at);
        };
      }),
  };
}

/** The others' sockets (100 handshakes at a time), then the probe's. */
async function connect(url: string, others: string[], params: (user: string) => Record<string, string>, query: string, p: ReturnType<typeof probe>): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  for (let i = 0; i < others.length; i += 100) sockets.push(...(await Promise.all(others.slice(i, i + 100).map((user) => widgetWithRetry(url, params(user), query, () => undefined)))));
  sockets.push(await widgetWithRetry(url, params('probe'), query, p.onEvent));
  return sockets;
}

/** `trigger` --sends times, one at a time: ms from each call's start to the probe's event (after warm-ups). */
async function measure(trigger: (n: number) => Promise<void>, p: Probe): Promise<{ p50: number; p99: number; max: number; answerP50: number; afterP50: number; afterP99: number }> {
  const latencies: number[] = [];
  const answers: number[] = [];
  /** From the send's answer to the event (0 when the event came first): what follows the accept path. */
  const after: number[] = [];
  for (let n = 1; n <= WARMUP + SENDS; n++) {
    const event = p.next();
    // Handled here too: when the trigger fails, nobody awaits the event and its timeout must not crash the bench.
    event.catch(() => undefined);
    const t0 = performance.now();
    await trigger(n);
    const answered = performance.now();
    const at = await event;
    if (n > WARMUP) {
      latencies.push(at - t0);
      answers.push(answered - t0);
      after.push(Math.max(0, at - answered));
    }
    if (PAUSE_MS) await sleep(PAUSE_MS);
  }
  const sorted = latencies.sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1)!, answerP50: percentile(answers.sort((a, b) => a - b), 50), ...afterFigures(after) };
}

function afterFigures(after: number[]) {
  const sorted = after.sort((a, b) => a - b);
  return { afterP50: percentile(sorted, 50), afterP99: percentile(sorted, 99) };
}

const others = Array.from({ length: OTHERS }, (_, i) => `other-${i}`);

async function herald() {
  const h = await startHerald(true);
  let sockets: WebSocket[] = [];
  try {
    await upsertUsers(h, [...others, 'probe'], (id) => ({ firstName: id }));
    const p = probe();
    const url = h.info.url.replace('http', 'ws') + '/graphql';
    sockets = await connect(url, others, (user) => ({ projectId: h.info.projectId, userId: user, userHash: userHash(h.info.widgetSecret, user) }), QUERY, p);
    return await measure(async (n) => {
      const answer = (await h.post('/messages.send', { messages: [{ notificationId: 'bench', userId: 'probe', data: { count: n } }] })) as { results: { ok: boolean }[] };
      if (!answer.results[0]?.ok) throw new Error(`send ${n}: ${JSON.stringify(answer)}`);
    }, p);
  } finally {
    for (const socket of sockets) socket.terminate();
    await h.stop();
  }
}

async function baseline() {
  const secret = 'latency-secret';
  const yoga = await startYoga(secret);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let sockets: WebSocket[] = [];
  try {
    const p = probe();
    sockets = await connect(yoga.url.replace('http', 'ws') + '/graphql', others, (user) => ({ projectId: 'p', userId: user, userHash: userHash(secret, user) }), QUERY, p);
    return await measure(async () => {
      const answer = await request(agent, `${yoga.url}/publish`, { 'content-type': 'application/json' }, JSON.stringify({ users: ['probe'] }));
      if (answer.status !== 200) throw new Error(`publish: HTTP ${answer.status}`);
    }, p);
  } finally {
    for (const socket of sockets) socket.terminate();
    agent.destroy();
    await yoga.stop();
  }
}

console.log(`latency: ${RUNS} runs, ${SENDS} sends (+${WARMUP} warm-up) ${PAUSE_MS} ms apart to one user while ${OTHERS} others are connected; load average ${loadavg()}`);
const runs: { herald: Awaited<ReturnType<typeof herald>>; base: Awaited<ReturnType<typeof baseline>>; load: string }[] = [];
/**
 * A run's server, once more if it fails: the shared Redis is busy with other sessions' work, and
 * baseline-yoga exits on a lost subscriber connection (ioredis' ready check in subscriber mode).
 */
async function twice<T>(what: string, measureOnce: () => Promise<T>): Promise<T> {
  try {
    return await measureOnce();
  } catch (error) {
    console.log(`  ${what} failed (${(error as Error).message}); once more`);
    return measureOnce();
  }
}

for (let i = 1; i <= RUNS; i++) {
  const load0 = loadavg();
  const base = await twice('bare yoga', baseline);
  const h = await twice('herald', herald);
  const run = { herald: h, base, load: `${load0} -> ${loadavg()}` };
  runs.push(run);
  const ms = (v: number) => v.toFixed(1);
  console.log(`run ${i}: load ${run.load} | herald REST send -> event p50 ${ms(h.p50)} ms, p99 ${ms(h.p99)}, max ${ms(h.max)} (its answer p50 ${ms(h.answerP50)}; answer -> event p50 ${ms(h.afterP50)}, p99 ${ms(h.afterP99)}) | bare yoga publish -> event p50 ${ms(base.p50)}, p99 ${ms(base.p99)}, max ${ms(base.max)}`);
}
const med = (pick: (r: (typeof runs)[number]) => number) => median(runs.map(pick));
const result = { stage: 'latency', runs: RUNS, others: OTHERS, sends: SENDS, p50: med((r) => r.herald.p50), p99: med((r) => r.herald.p99), afterP50: med((r) => r.herald.afterP50), afterP99: med((r) => r.herald.afterP99), baseP50: med((r) => r.base.p50), baseP99: med((r) => r.base.p99), loads: runs.map((r) => r.load) };
console.log(`medians of ${RUNS} runs: herald p50 ${result.p50.toFixed(1)} ms (goal <= 10), p99 ${result.p99.toFixed(1)} ms (goal <= 50), from the send's answer to the event p50 ${result.afterP50.toFixed(1)} ms, p99 ${result.afterP99.toFixed(1)}; bare stack p50 ${result.baseP50.toFixed(1)} ms, p99 ${result.baseP99.toFixed(1)} ms`);
printResult(result);
process.exit(0);
