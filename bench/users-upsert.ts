/**
 * Benchmark of `POST /users.upsert` (Notifuse) over HTTP on loopback.
 *
 *   npx tsx bench/users-upsert.ts
 *
 * Starts Herald in this process on a fresh PostgreSQL database (the test harness: real Redis),
 * sends a fixed number of batches with a fixed concurrency, prints throughput and per-batch
 * latency, then stops the server and drops the database. Bounded in count and in time.
 * Knobs (optional): BENCH_BATCHES (50), BENCH_BATCH_SIZE (100, at most 100), BENCH_CONCURRENCY (4).
 */
import { performance } from 'node:perf_hooks';
import { bearer, startTestHerald } from '../test/helpers/herald.ts';
import { intEnv, percentile } from './stats.ts';

const BATCHES = intEnv('BENCH_BATCHES', 50, 1, 1000);
const BATCH_SIZE = intEnv('BENCH_BATCH_SIZE', 100, 1, 100);
const CONCURRENCY = intEnv('BENCH_CONCURRENCY', 4, 1, 32);
/** Per request, and for the whole run. */
const REQUEST_TIMEOUT_MS = 30_000;
const RUN_TIMEOUT_MS = 120_000;

function batchBody(batch: number) {
  return {
    users: Array.from({ length: BATCH_SIZE }, (_, i) => {
      const n = batch * BATCH_SIZE + i;
      return {
        id: `bench-${n}`,
        email: `bench.user${n}@example.com`,
        firstName: 'Bench',
        lastName: `User ${n}`,
        telephone: `+44 7911 ${String(100000 + (n % 900000))}`,
        language: n % 2 ? 'fr' : 'en',
        timezone: 'Europe/London',
        country: 'gb',
        plan: n % 3 ? 'free' : 'pro',
      };
    }),
  };
}

async function main(): Promise<number> {
  const h = await startTestHerald();
  const headers = { 'content-type': 'application/json', ...bearer(h.project.apiKey) };
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  const latencies: number[] = [];
  const failures: string[] = [];
  let usersWritten = 0;
  let next = 0;
  let timedOut = false;
  try {
    // Warm-up (not measured): first connections, prepared plans, JIT.
    await fetch(`${h.url}/users.upsert`, { method: 'POST', headers, body: JSON.stringify({ users: [{ id: 'bench-warmup' }] }) });

    const worker = async () => {
      for (;;) {
        const batch = next++;
        if (batch >= BATCHES) return;
        if (Date.now() > deadline) {
          timedOut = true;
          return;
        }
        const body = JSON.stringify(batchBody(batch));
        const started = performance.now();
        try {
          const response = await fetch(`${h.url}/users.upsert`, { method: 'POST', headers, body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
          const answer = (await response.json()) as { results?: { ok: boolean }[] };
          latencies.push(performance.now() - started);
          const ok = answer.results?.filter((r) => r.ok).length ?? 0;
          usersWritten += ok;
          if (response.status !== 200 || ok !== BATCH_SIZE) failures.push(`batch ${batch}: HTTP ${response.status}, ${ok}/${BATCH_SIZE} ok`);
        } catch (error) {
          failures.push(`batch ${batch}: ${(error as Error).message}`);
        }
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const elapsedS = (performance.now() - started) / 1000;

    const sorted = [...latencies].sort((a, b) => a - b);
    const ms = (v: number) => `${v.toFixed(1)} ms`;
    console.log(`users.upsert: ${BATCHES} batches x ${BATCH_SIZE} users, concurrency ${CONCURRENCY} (PostgreSQL, loopback HTTP)`);
    console.log(`  batches done   ${latencies.length}/${BATCHES}${timedOut ? ' (stopped by the run time limit)' : ''}`);
    console.log(`  users written  ${usersWritten}`);
    console.log(`  elapsed        ${elapsedS.toFixed(2)} s`);
    console.log(`  throughput     ${(usersWritten / elapsedS).toFixed(0)} users/s, ${(latencies.length / elapsedS).toFixed(1)} batches/s`);
    console.log(`  batch latency  p50 ${ms(percentile(sorted, 50))}  p95 ${ms(percentile(sorted, 95))}  p99 ${ms(percentile(sorted, 99))}  max ${ms(sorted.at(-1) ?? Number.NaN)}`);
    if (failures.length) {
      console.log(`  FAILURES       ${failures.length}`);
      for (const failure of failures.slice(0, 10)) console.log(`    ${failure}`);
    }
    return failures.length ? 1 : 0;
  } finally {
    await h.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
