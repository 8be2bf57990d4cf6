import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../src/db/client.ts';
import { graphql } from '../src/generated/gql/index.ts';
import { bearer, gql, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor } from './helpers/http-server.ts';
import { killAll, logLines, spawnTsx, type Child } from './helpers/process.ts';
import { parsePrometheusText, total, type MetricFamily } from './helpers/prometheus.ts';

// An API-only instance (WORKERS_ENABLED=false) and a separate `herald worker` process: the
// worker's deliveries are counted, and served, by the worker's own /metrics listener.

const CreateNotification = graphql(`
  mutation WorkerMetricsCreateNotification($input: NotificationInput!) {
    createNotification(input: $input) {
      id
    }
  }
`);

const TOKEN = 'worker-metrics-token-0123456789';
let h: TestHerald;
let worker: Child;
let workerPort: number;

async function scrape(url: string, headers: Record<string, string> = {}): Promise<Map<string, MetricFamily>> {
  const response = await fetch(url, { headers });
  expect(response.status).toBe(200);
  return parsePrometheusText(await response.text());
}

beforeAll(async () => {
  h = await startTestHerald({ env: { WORKERS_ENABLED: 'false', METRICS_TOKEN: TOKEN } });
  const created = await gql(
    h.url,
    CreateNotification,
    { input: { key: 'hello', type: 'in-app', name: 'hello', versions: [{ contents: [{ locale: 'en', title: 'Hi', body: 'there' }] }] } },
    bearer(h.project.apiKey),
  );
  expect(created.errors).toBeUndefined();
  worker = spawnTsx('src/cli/herald.ts', ['worker'], {
    DATABASE_URL: h.config.DATABASE_URL!,
    REDIS_URL: h.config.REDIS_URL!,
    QUEUE_PREFIX: h.config.QUEUE_PREFIX,
    HOST: '127.0.0.1',
    WORKER_METRICS_PORT: '0',
    METRICS_TOKEN: TOKEN,
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    MIGRATE_ON_START: 'false',
    SHUTDOWN_TIMEOUT_MS: '2000',
  });
  workerPort = await worker.waitFor(
    ({ stdout }) => logLines(stdout).find((l) => typeof l.msg === 'string' && l.msg.startsWith('Worker metrics on'))?.port as number | undefined,
    60_000,
    "the worker's metrics listener",
  );
}, 90_000);
afterAll(async () => {
  await worker?.stop('SIGTERM', 10_000).catch(() => {});
  await killAll();
  await h?.stop();
});

describe('herald worker /metrics (WORKER_METRICS_PORT)', () => {
  it("counts the worker's deliveries there, and the accepts on the API instance", async () => {
    const workerUrl = `http://127.0.0.1:${workerPort}/metrics`;
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await fetch(workerUrl)).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${workerPort}/other`, { headers: auth })).status).toBe(404);
    const ids = ['w-1', 'w-2', 'w-3'];
    const res = await rest(h.url, 'POST', '/messages.send', { messages: ids.map((id) => ({ notificationId: 'hello', userId: 'ada', id })) }, bearer(h.project.apiKey));
    expect(res.status).toBe(200);
    await pollFor(
      async () => (await prisma().message.findMany({ where: { projectId: h.project.projectId, externalId: { in: ids }, status: 'DELIVERED' } })).length === 3,
      20_000,
      'delivery by the worker',
    );
    const fromWorker = await scrape(workerUrl, auth);
    expect(total(fromWorker, 'herald_deliveries_total', { channel: 'IN_APP', status: 'DELIVERED', provider: 'in-app' })).toBe(3);
    expect(total(fromWorker, 'herald_queue_metrics_up')).toBe(1);
    expect(total(fromWorker, 'herald_db_pool_connections')).toBeGreaterThan(0);
    const fromApi = await scrape(`${h.url}/metrics`, auth);
    expect(total(fromApi, 'herald_messages_accepted_total', { channel: 'IN_APP', status: 'QUEUED' })).toBe(3);
    expect(total(fromApi, 'herald_deliveries_total')).toBe(0);
  });
});
