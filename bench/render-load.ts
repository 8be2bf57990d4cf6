/**
 * Does a slow Liquid template stall the process? Sends rendered with a slow (but allowed)
 * template while probing /healthz, and prints the probe's latency percentiles.
 *
 *   npx tsx bench/render-load.ts [--senders=10] [--batch=50] [--rounds=2] [--items=1000]
 *
 * Starts Herald in this process on a fresh PostgreSQL database and the real Redis (the test
 * defaults), creates an in-app notification whose body loops over `data.items` (`--items`
 * numbers per message: about 1,000 template steps), then runs `--rounds` rounds of `--senders`
 * concurrent `POST /messages.send` of `--batch` messages each. Meanwhile one probe loop GETs
 * /healthz every 20 ms (one at a time) and records how long each took. Without yielding, each
 * render holds the event loop until it ends, and a probe waits for every render queued before it.
 * Prints: the probe's p50/p90/p99/max during the load, the event loop's delay (perf_hooks), the
 * sends' latencies and the accepted messages (sends refused for other reasons are printed).
 * Env twins: BENCH_SENDERS, BENCH_BATCH_SIZE, BENCH_ROUNDS, BENCH_ITEMS.
 */
import os from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { bearer, startTestHerald } from '../test/helpers/herald.ts';
import { percentile } from './stats.ts';

const flags = new Map(process.argv.slice(2).map((arg) => arg.replace(/^--/, '').split('=', 2) as [string, string]));
function int(flag: string, env: string, fallback: number): number {
  const raw = flags.get(flag) ?? process.env[env];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${flag} / ${env} must be a positive integer`);
  return value;
}
const SENDERS = int('senders', 'BENCH_SENDERS', 10);
const BATCH = int('batch', 'BENCH_BATCH_SIZE', 50);
const ROUNDS = int('rounds', 'BENCH_ROUNDS', 2);
const ITEMS = int('items', 'BENCH_ITEMS', 1_000);

const summary = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const f = (v: number) => `${v.toFixed(0)} ms`;
  return `n=${sorted.length} p50 ${f(percentile(sorted, 50))}, p90 ${f(percentile(sorted, 90))}, p99 ${f(percentile(sorted, 99))}, max ${f(sorted.at(-1) ?? Number.NaN)}`;
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const h = await startTestHerald({ env: { LOG_LEVEL: 'warn' } });
try {
  const auth = { ...bearer(h.project.apiKey), 'content-type': 'application/json' };
  const created = await fetch(`${h.url}/graphql`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({
      query: 'mutation($input: NotificationInput!) { createNotification(input: $input) { id } }',
      variables: {
        input: {
          key: 'slow',
          type: 'in-app',
          name: 'slow',
          versions: [{ contents: [{ locale: 'en', title: 'Digest for {{ user.firstName }}', body: '{% for i in data.items %}{{ i | times: 2 | plus: 1 }},{% endfor %}' }] }],
        },
      },
    }),
  }).then((r) => r.json() as Promise<{ errors?: unknown }>);
  if (created.errors) throw new Error(`createNotification: ${JSON.stringify(created.errors)}`);

  const items = Array.from({ length: ITEMS }, (_, i) => i);
  let sequence = 0;
  const send = async () => {
    const messages = Array.from({ length: BATCH }, () => ({ notificationId: 'slow', userId: `u${sequence++ % 200}`, data: { items } }));
    const started = performance.now();
    const response = await fetch(`${h.url}/messages.send`, { method: 'POST', headers: auth, body: JSON.stringify({ messages }) });
    const body = (await response.json()) as { results?: { ok: boolean; error?: string }[] };
    const ok = body.results?.filter((r) => r.ok).length ?? 0;
    if (response.status !== 200 || ok !== BATCH) console.log(`send: status ${response.status}, ${ok}/${BATCH} ok ${JSON.stringify(body).slice(0, 200)}`);
    return { ms: performance.now() - started, ok };
  };

  // Warm-up: the first render also parses; the first request also compiles the operation.
  await send();
  const idle: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    await fetch(`${h.url}/healthz`).then((r) => r.arrayBuffer());
    idle.push(performance.now() - t);
    await sleep(20);
  }

  const probes: number[] = [];
  // The event loop's own view (Herald runs in this process): how late a 10 ms timer fires.
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  let loaded = true;
  const probing = (async () => {
    while (loaded) {
      const t = performance.now();
      await fetch(`${h.url}/healthz`).then((r) => r.arrayBuffer());
      probes.push(performance.now() - t);
      await sleep(20);
    }
  })();
  const sends: number[] = [];
  let accepted = 0;
  const started = performance.now();
  for (let round = 0; round < ROUNDS; round++) {
    const results = await Promise.all(Array.from({ length: SENDERS }, () => send()));
    for (const r of results) {
      sends.push(r.ms);
      accepted += r.ok;
    }
  }
  const loadS = (performance.now() - started) / 1000;
  loaded = false;
  lag.disable();
  await probing;

  console.log(`render-load: ${ROUNDS} rounds x ${SENDERS} concurrent sends x ${BATCH} messages, ${ITEMS} items per message; ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`  /healthz idle:       ${summary(idle)}`);
  console.log(`  /healthz under load: ${summary(probes)}`);
  const ms = (ns: number) => `${(ns / 1e6).toFixed(0)} ms`;
  console.log(`  event-loop delay:    p50 ${ms(lag.percentile(50))}, p99 ${ms(lag.percentile(99))}, max ${ms(lag.max)}`);
  console.log(`  sends:               ${summary(sends)}`);
  console.log(`  accepted ${accepted} messages in ${loadS.toFixed(1)} s (${(accepted / loadS).toFixed(0)} msg/s)`);
} finally {
  await h.stop();
}
