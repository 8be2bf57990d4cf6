/**
 * One Herald for bench/throughput.ts, in a process of its own so the load generator does not share
 * its event loop (the baselines get the same treatment). Starts Herald as the tests do (a fresh
 * PostgreSQL database, the real Redis under a prefix of its own), creates a project with an
 * in-app and a webhook notification, prints one JSON line with what the driver needs, then reads
 * commands on stdin: `start-workers` (for WORKERS_ENABLED=false runs), `cpu` (answers its CPU time so far) and `stop`.
 *
 *   BENCH_WEBHOOK_URL=http://127.0.0.1:N/hook WORKERS_ENABLED=true npx tsx bench/herald-child.ts
 */
import { createInterface } from 'node:readline';
import { bearer, startTestHerald } from '../test/helpers/herald.ts';

const workers = process.env.WORKERS_ENABLED !== 'false';
// DATABASE_PREPARED_STATEMENTS=false in the driver's environment: the same bench without prepared statements (an A/B).
const prepared = process.env.DATABASE_PREPARED_STATEMENTS;
const h = await startTestHerald({ env: { WORKERS_ENABLED: String(workers), ...(prepared ? { DATABASE_PREPARED_STATEMENTS: prepared } : {}) } });

async function graphql(apiKey: string, query: string, variables: Record<string, unknown>) {
  const response = await fetch(`${h.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer(apiKey) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { errors?: { message: string }[] };
  if (body.errors?.length) throw new Error(`setup failed: ${body.errors.map((e) => e.message).join('; ')}`);
}

const create = 'mutation($input: NotificationInput!) { createNotification(input: $input) { id } }';
const contents = [{ locale: 'en', title: 'Hi {{ user.firstName }}', body: 'You have {{ count }} new messages' }];
await graphql(h.project.apiKey, create, { input: { key: 'bench', type: 'in-app', name: 'Bench in-app', versions: [{ contents }] } });
await graphql(h.project.apiKey, create, { input: { key: 'bench-webhook', type: 'webhook', name: 'Bench webhook', versions: [{ contents }] } });
if (process.env.BENCH_WEBHOOK_URL) {
  await graphql(h.project.apiKey, 'mutation($input: ProviderInput!) { configureProvider(input: $input) { id } }', {
    input: { channel: 'WEBHOOK', kind: 'webhook', name: 'bench', settings: { url: process.env.BENCH_WEBHOOK_URL } },
  });
}
// widgetSecret, queuePrefix and redisUrl: for benches that open widgets or start a `herald worker` on the same queues.
console.log(
  JSON.stringify({
    url: h.url,
    apiKey: h.project.apiKey,
    projectId: h.project.projectId,
    databaseUrl: h.config.DATABASE_URL,
    widgetSecret: h.project.widgetSecret,
    queuePrefix: h.config.QUEUE_PREFIX,
    redisUrl: h.config.REDIS_URL,
  }),
);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await h.stop();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'cpu') {
    // This process's CPU time so far (user + system, microseconds): the driver takes the difference over a load.
    const { user, system } = process.cpuUsage();
    console.log(JSON.stringify({ cpuMicros: user + system }));
  } else if (line.trim() === 'start-workers') {
    h.herald.delivery.startWorkers();
    console.log(JSON.stringify({ workers: 'started' }));
  } else if (line.trim() === 'stop') void stop();
});
