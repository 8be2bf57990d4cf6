/**
 * Overload: more concurrent `POST /messages.send` than database connections.
 *
 *   npx tsx bench/overload.ts
 *
 * Starts Herald in this process on a fresh PostgreSQL database (the test harness: real Redis,
 * workers off, so only the accept path competes for connections), runs BENCH_SENDERS senders
 * back to back for BENCH_ROUNDS rounds of BENCH_BATCH_SIZE in-app messages each, and prints how
 * many answers were 200 and 503 (anything else is a failure: printed, exit 1), latency
 * percentiles of each, and whether every accepted message is stored and no shed one is.
 * Knobs: BENCH_SENDERS (30), BENCH_ROUNDS (3), BENCH_BATCH_SIZE (50), DATABASE_POOL_SIZE (10),
 * DATABASE_CONNECT_TIMEOUT_MS (Herald's default).
 */
import { performance } from 'node:perf_hooks';
import { prisma } from '../src/db/client.ts';
import { bearer, rest, startTestHerald } from '../test/helpers/herald.ts';
import { intEnv, percentile } from './stats.ts';

const SENDERS = intEnv('BENCH_SENDERS', 30, 1, 200);
const ROUNDS = intEnv('BENCH_ROUNDS', 3, 1, 100);
const BATCH_SIZE = intEnv('BENCH_BATCH_SIZE', 50, 1, 50);

async function main(): Promise<number> {
  const env: Record<string, string> = { WORKERS_ENABLED: 'false', DATABASE_POOL_SIZE: process.env.DATABASE_POOL_SIZE ?? '10' };
  if (process.env.DATABASE_CONNECT_TIMEOUT_MS) env.DATABASE_CONNECT_TIMEOUT_MS = process.env.DATABASE_CONNECT_TIMEOUT_MS;
  const h = await startTestHerald({ env });
  try {
    const auth = bearer(h.project.apiKey);
    const created = await rest(h.url, 'POST', '/graphql', {
      query: 'mutation($input: NotificationInput!) { createNotification(input: $input) { id } }',
      variables: { input: { key: 'bench', type: 'in-app', name: 'Bench', versions: [{ contents: [{ locale: 'en', title: 'Hi', body: 'Hello {{ user.externalId }}' }] }] } },
    }, auth);
    if (created.body.errors) throw new Error(JSON.stringify(created.body.errors));

    const latency: Record<number, number[]> = {};
    const failures: string[] = [];
    const accepted: string[] = [];
    const shed: string[] = [];
    let seq = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: SENDERS }, async () => {
        for (let round = 0; round < ROUNDS; round++) {
          const messages = Array.from({ length: BATCH_SIZE }, () => ({ id: `b${++seq}`, notificationId: 'bench', userId: `u${seq % 200}` }));
          const t0 = performance.now();
          const res = await rest(h.url, 'POST', '/messages.send', { messages }, auth);
          (latency[res.status] ??= []).push(performance.now() - t0);
          if (res.status === 200) accepted.push(...messages.filter((_, i) => res.body.results[i]?.ok).map((m) => m.id));
          else if (res.status === 503 && Number(res.headers.get('retry-after')) > 0) shed.push(...messages.map((m) => m.id));
          else failures.push(`${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const stored = new Set(
      (await prisma().message.findMany({ where: { externalId: { in: [...accepted, ...shed] } }, select: { externalId: true } })).map((m) => m.externalId),
    );
    console.log(
      `${SENDERS} senders x ${ROUNDS} rounds x ${BATCH_SIZE} messages, pool ${h.config.DATABASE_POOL_SIZE}, connect timeout ${h.config.DATABASE_CONNECT_TIMEOUT_MS} ms, ${seconds.toFixed(1)} s`,
    );
    for (const [status, values] of Object.entries(latency)) {
      const sorted = values.sort((a, b) => a - b);
      console.log(`  ${status}: ${values.length} answers, p50 ${percentile(sorted, 50).toFixed(0)} ms, p95 ${percentile(sorted, 95).toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms`);
    }
    console.log(`  accepted ${accepted.length} messages (${(accepted.length / seconds).toFixed(0)}/s), ${accepted.filter((id) => !stored.has(id)).length} of them missing; shed ${shed.length}, ${shed.filter((id) => stored.has(id)).length} of them stored`);
    for (const failure of failures.slice(0, 10)) console.log(`  FAILURE ${failure}`);
    return failures.length || accepted.some((id) => !stored.has(id)) || shed.some((id) => stored.has(id)) ? 1 : 0;
  } finally {
    await h.stop();
  }
}

process.exitCode = await main();
