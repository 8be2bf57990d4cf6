import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { prisma } from '../src/db/client.ts';
import { graphql } from '../src/generated/gql/index.ts';
import { bearer, gql, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor, startHttpServer } from './helpers/http-server.ts';
import { parsePrometheusText, samples, total, type MetricFamily } from './helpers/prometheus.ts';

// A real Herald (PostgreSQL, Redis, BullMQ), scraped over HTTP and parsed strictly as the
// Prometheus text format; the counters must move when messages flow.

const CreateNotification = graphql(`
  mutation MetricsCreateNotification($input: NotificationInput!) {
    createNotification(input: $input) {
      id
    }
  }
`);
const Configure = graphql(`
  mutation MetricsConfigure($input: ProviderInput!) {
    configureProvider(input: $input) {
      id
    }
  }
`);
const ProjectName = graphql(`
  query MetricsProjectName {
    project {
      name
    }
  }
`);

let h: TestHerald;
let auth: Record<string, string>;
let hook: Awaited<ReturnType<typeof startHttpServer>>;

async function scrape(headers: Record<string, string> = {}): Promise<Map<string, MetricFamily>> {
  const response = await fetch(`${h.url}/metrics`, { headers });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await response.text());
}

const statuses = async (clientIds: string[]) =>
  (await prisma().message.findMany({ where: { projectId: h.project.projectId, externalId: { in: clientIds } }, select: { status: true } })).map((m) => m.status);

beforeAll(async () => {
  h = await startTestHerald({ env: { DELIVERY_MAX_ATTEMPTS: '2', DELIVERY_BACKOFF_MS: '50' } });
  auth = bearer(h.project.apiKey);
  hook = await startHttpServer(() => ({ status: 500 }));
  for (const [key, type] of [
    ['hello', 'in-app'],
    ['hooked', 'webhook'],
  ] as const) {
    const res = await gql(h.url, CreateNotification, { input: { key, type, name: key, versions: [{ contents: [{ locale: 'en', title: 'Hi', body: 'there' }] }] } }, auth);
    expect(res.errors).toBeUndefined();
  }
  const configured = await gql(h.url, Configure, { input: { channel: 'WEBHOOK', kind: 'webhook', name: 'failing-hook', settings: { url: `${hook.url}/hook` } } }, auth);
  expect(configured.errors).toBeUndefined();
});
afterAll(async () => {
  await h?.stop();
  await hook?.close();
});

describe('/metrics', () => {
  it('answers the Prometheus text format with Node, queue, pool and realtime metrics', async () => {
    const m = await scrape();
    // Node's default metrics, the event-loop lag among them.
    expect(m.get('nodejs_eventloop_lag_seconds')?.type).toBe('gauge');
    expect(m.get('nodejs_eventloop_lag_p99_seconds')?.type).toBe('gauge');
    expect(m.get('process_resident_memory_bytes')?.type).toBe('gauge');
    // BullMQ counts, read at scrape time, for every channel's queue and the callbacks'.
    expect(total(m, 'herald_queue_metrics_up')).toBe(1);
    for (const queue of ['delivery-in-app', 'delivery-email', 'delivery-sms', 'delivery-whatsapp', 'delivery-web-push', 'delivery-webhook', 'delivery-slack', 'delivery-ms-teams', 'delivery-discord', 'callbacks']) {
      expect(samples(m, 'herald_queue_jobs', { queue }).map((s) => s.labels.state).sort()).toEqual(['active', 'delayed', 'failed', 'waiting']);
      expect(samples(m, 'herald_queue_oldest_waiting_seconds', { queue })).toHaveLength(1);
    }
    // The pg pool: at least the connection that served the set-up is open.
    expect(total(m, 'herald_db_pool_connections')).toBeGreaterThan(0);
    expect(samples(m, 'herald_db_pool_waiting_requests')).toHaveLength(1);
    expect(total(m, 'herald_websocket_connections')).toBe(0);
    expect(m.get('herald_http_request_duration_seconds')?.type).toBe('histogram');
    expect(m.get('herald_deliveries_total')?.type).toBe('counter');
  });

  it('counts accepted and delivered in-app messages, the REST request and its in-process operation', async () => {
    const before = await scrape();
    const ids = ['in-1', 'in-2', 'in-3'];
    const res = await rest(h.url, 'POST', '/messages.send', { messages: ids.map((id) => ({ notificationId: 'hello', userId: 'ada', id })) }, auth);
    expect(res.status).toBe(200);
    await pollFor(async () => (await statuses(ids)).filter((s) => s === 'DELIVERED').length === 3, 15_000, 'in-app delivery');
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string>) => total(after, name, labels) - total(before, name, labels);

    expect(delta('herald_messages_accepted_total', { channel: 'IN_APP', status: 'QUEUED' })).toBe(3);
    expect(delta('herald_deliveries_total', { channel: 'IN_APP', status: 'DELIVERED', provider: 'in-app' })).toBe(3);
    // The client's HTTP request, labelled by the route, not by the bridge's internal /graphql call.
    expect(delta('herald_http_request_duration_seconds_count', { method: 'POST', route: '/messages.send', status: '200' })).toBe(1);
    expect(delta('herald_http_request_duration_seconds_count', { route: '/graphql' })).toBe(0);
    // The GraphQL operation the route ran in-process, labelled by the route.
    const operation = samples(after, 'herald_graphql_operation_duration_seconds_count', { route: 'POST /messages.send', type: 'mutation', outcome: 'ok' });
    expect(operation).toHaveLength(1);
    expect(operation[0]!.labels.operation).toMatch(/./);
    expect(delta('herald_graphql_operation_duration_seconds_count', { route: 'POST /messages.send' })).toBe(1);
    expect(total(after, 'herald_http_request_duration_seconds_sum', { route: '/messages.send' })).toBeGreaterThan(0);
  });

  it('labels GraphQL operations by name, and unknown paths as unmatched', async () => {
    const before = await scrape();
    expect((await gql(h.url, ProjectName, {}, auth)).errors).toBeUndefined();
    expect((await fetch(`${h.url}/no/such/path/${Math.random()}`)).status).toBe(404);
    const after = await scrape();
    const count = (m: Map<string, MetricFamily>, name: string, labels: Record<string, string>) => total(m, name, labels);
    expect(count(after, 'herald_graphql_operation_duration_seconds_count', { operation: 'MetricsProjectName', type: 'query', route: '/graphql', outcome: 'ok' }) - count(before, 'herald_graphql_operation_duration_seconds_count', { operation: 'MetricsProjectName' })).toBe(1);
    expect(count(after, 'herald_http_request_duration_seconds_count', { method: 'POST', route: '/graphql', status: '200' }) - count(before, 'herald_http_request_duration_seconds_count', { method: 'POST', route: '/graphql', status: '200' })).toBe(1);
    expect(count(after, 'herald_http_request_duration_seconds_count', { route: 'unmatched', status: '404' }) - count(before, 'herald_http_request_duration_seconds_count', { route: 'unmatched', status: '404' })).toBe(1);
    // No series carries the random path.
    const routes = samples(after, 'herald_http_request_duration_seconds_count').map((s) => s.labels.route);
    expect(routes.some((r) => r?.startsWith('/no/'))).toBe(false);
  });

  it('counts retries and dead letters of a failing webhook', async () => {
    const before = await scrape();
    const ids = ['hook-1'];
    const res = await rest(h.url, 'POST', '/messages.send', { messages: ids.map((id) => ({ notificationId: 'hooked', userId: 'ada', id })) }, auth);
    expect(res.status).toBe(200);
    await pollFor(async () => (await statuses(ids))[0] === 'FAILED', 20_000, 'the webhook to fail');
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string>) => total(after, name, labels) - total(before, name, labels);
    // DELIVERY_MAX_ATTEMPTS=2, no failover: one retry, then FAILED.
    expect(delta('herald_delivery_retries_total', { channel: 'WEBHOOK', provider: 'failing-hook' })).toBe(1);
    expect(delta('herald_deliveries_total', { channel: 'WEBHOOK', status: 'FAILED', provider: 'failing-hook' })).toBe(1);
    expect(delta('herald_dead_letters_total', { channel: 'WEBHOOK' })).toBe(1);
  });

  it('counts websocket connections and subscriptions while they are open', async () => {
    const client = createClient({ url: `${h.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { apiKey: h.project.apiKey }, lazy: false });
    const unsubscribe = client.subscribe({ query: 'subscription MetricsStatus { messageStatus { messageId } }' }, { next: () => {}, error: () => {}, complete: () => {} });
    const open = await pollFor(async () => {
      const m = await scrape();
      return total(m, 'herald_subscriptions', { transport: 'ws' }) === 1 ? m : null;
    }, 10_000, 'the subscription to be counted');
    expect(total(open, 'herald_websocket_connections')).toBe(1);
    expect(total(open, 'herald_graphql_operation_duration_seconds_count', { operation: 'MetricsStatus', type: 'subscription', route: 'ws' })).toBe(1);
    unsubscribe();
    await pollFor(async () => total(await scrape(), 'herald_subscriptions', { transport: 'ws' }) === 0, 10_000, 'the subscription to end');
    await client.dispose();
    await pollFor(async () => total(await scrape(), 'herald_websocket_connections') === 0, 10_000, 'the socket to close');
  });

  it('counts an SSE subscription until its client goes away', async () => {
    const controller = new AbortController();
    const response = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: 'subscription { messageStatus { messageId } }' }),
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    await pollFor(async () => total(await scrape(), 'herald_subscriptions', { transport: 'sse' }) === 1, 10_000, 'the SSE subscription to be counted');
    controller.abort();
    await response.body?.cancel().catch(() => {});
    await pollFor(async () => total(await scrape(), 'herald_subscriptions', { transport: 'sse' }) === 0, 10_000, 'the SSE subscription to end');
  });
});

describe('METRICS_ENABLED=false', () => {
  it('serves no /metrics and records nothing', async () => {
    const off = await startTestHerald({ env: { METRICS_ENABLED: 'false' } });
    try {
      const response = await fetch(`${off.url}/metrics`);
      expect(response.status).toBe(404);
      expect(await response.text()).not.toContain('herald_');
    } finally {
      await off.stop();
    }
  });
});
