import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { createSchema, createYoga } from 'graphql-yoga';
import { pino } from 'pino';
import { ConfigError, parseConfig } from '../src/config/env.ts';
import { createBullQueue, createInProcessQueue } from '../src/delivery/queue.ts';
import type { RestRoute } from '../src/rest/route.ts';
import { HeraldMetrics, MAX_OPERATION_NAMES } from '../src/server/metrics.ts';
import { useMetrics } from '../src/server/use-metrics.ts';
import { parsePrometheusText, samples, total } from './helpers/prometheus.ts';

// The plugin on its own, through yoga.fetch (no socket, no database): the endpoint's
// protection, bounded labels, and scrapes that survive a queue that does not answer.

const TOKEN = 'a-metrics-token-of-some-length';
const schema = createSchema({ typeDefs: 'type Query { hello: String! }', resolvers: { Query: { hello: () => 'world' } } });
const routes = [{ method: 'GET', path: '/things/:id/parts' }] as unknown as RestRoute[];

function app(token?: string) {
  const metrics = new HeraldMetrics();
  const yoga = createYoga({ schema, logging: false, plugins: [useMetrics({ metrics, routes, token })] });
  return { metrics, yoga };
}

const scrape = async (yoga: ReturnType<typeof app>['yoga'], headers: Record<string, string> = {}) => {
  const response = await yoga.fetch('http://herald/metrics', { headers });
  expect(response.status).toBe(200);
  return parsePrometheusText(await response.text());
};

const logger = pino({ level: 'silent' });
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('useMetrics', () => {
  it('answers /metrics only to the bearer of METRICS_TOKEN when one is set', async () => {
    const { yoga } = app(TOKEN);
    const missing = await yoga.fetch('http://herald/metrics');
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
    expect(await missing.text()).toBe('Unauthorized: send Authorization: Bearer <METRICS_TOKEN>\n');
    for (const authorization of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, TOKEN, `Basic ${TOKEN}`, 'Bearer ']) {
      expect((await yoga.fetch('http://herald/metrics', { headers: { authorization } })).status).toBe(401);
    }
    const ok = await yoga.fetch('http://herald/metrics', { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('cache-control')).toBe('no-store');
    expect(parsePrometheusText(await ok.text()).has('herald_http_request_duration_seconds')).toBe(true);
    const post = await yoga.fetch('http://herald/metrics', { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('is open without a token', async () => {
    const { yoga } = app();
    expect((await yoga.fetch('http://herald/metrics')).status).toBe(200);
  });

  it('labels requests by route pattern, fixed path or unmatched, never by the raw path', async () => {
    const { yoga } = app();
    await yoga.fetch('http://herald/things/42/parts');
    await yoga.fetch('http://herald/things/43/parts');
    await yoga.fetch('http://herald/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ hello }' }) });
    await yoga.fetch('http://herald/wp-login.php');
    await yoga.fetch('http://herald/widget/assets/x.js');
    const m = await scrape(yoga);
    expect(total(m, 'herald_http_request_duration_seconds_count', { method: 'GET', route: '/things/:id/parts' })).toBe(2);
    expect(total(m, 'herald_http_request_duration_seconds_count', { method: 'POST', route: '/graphql', status: '200' })).toBe(1);
    expect(total(m, 'herald_http_request_duration_seconds_count', { route: 'unmatched' })).toBe(1);
    expect(total(m, 'herald_http_request_duration_seconds_count', { route: '/widget' })).toBe(1);
    const routesSeen = new Set(samples(m, 'herald_http_request_duration_seconds_count').map((s) => s.labels.route));
    expect([...routesSeen].sort()).toEqual(['/graphql', '/things/:id/parts', '/widget', 'unmatched']);
  });

  it(`keeps at most ${MAX_OPERATION_NAMES} operation names; the rest are counted as other`, async () => {
    const { yoga } = app();
    const names = Array.from({ length: MAX_OPERATION_NAMES + 20 }, (_, i) => `Op${i}`);
    for (const name of names) {
      const res = await yoga.fetch('http://herald/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: `query ${name} { hello }` }) });
      expect(res.status).toBe(200);
    }
    await yoga.fetch('http://herald/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ hello }' }) });
    const m = await scrape(yoga);
    const operations = samples(m, 'herald_graphql_operation_duration_seconds_count').map((s) => s.labels.operation!);
    expect(operations).toHaveLength(MAX_OPERATION_NAMES + 2);
    expect(total(m, 'herald_graphql_operation_duration_seconds_count', { operation: 'other' })).toBe(20);
    expect(total(m, 'herald_graphql_operation_duration_seconds_count', { operation: 'anonymous', type: 'query', route: '/graphql', outcome: 'ok' })).toBe(1);
    expect(total(m, 'herald_graphql_operation_duration_seconds_count', { operation: 'Op0' })).toBe(1);
  });

  it('answers a scrape without the queue gauges when Redis accepts connections but never answers', async () => {
    // A "Redis" that accepts the connection and then says nothing: commands would wait forever.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          silent.close(() => resolve());
        }),
    );
    const queue = createBullQueue(`redis://127.0.0.1:${(silent.address() as AddressInfo).port}`, logger, 'metrics-test');
    cleanups.push(() => queue.close(200));
    const { metrics, yoga } = app();
    metrics.watchQueue(queue, ['delivery-in-app', 'callbacks']);
    const m = await scrape(yoga);
    expect(total(m, 'herald_queue_metrics_up')).toBe(0);
    expect(samples(m, 'herald_queue_jobs')).toEqual([]);
    // The rest of the scrape is there.
    expect(m.get('process_cpu_seconds_total')?.type).toBe('counter');
  });

  it('reads the in-process queue: waiting, delayed, active and the oldest waiting job', async () => {
    const queue = createInProcessQueue(logger);
    cleanups.push(() => queue.close());
    const { metrics, yoga } = app();
    metrics.watchQueue(queue, ['jobs']);
    const before = Date.now();
    await queue.add('jobs', [{ id: 'a', data: {} }, { id: 'b', data: {} }, { id: 'c', data: {}, delayMs: 60_000 }], { attempts: 1, backoffMs: 10 });
    // No worker yet: the due jobs wait (after their timer fires), the delayed one waits for its time.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await queue.depth('jobs')).toMatchObject({ waiting: 2, delayed: 1, active: 0, failed: 0 });
    expect((await queue.depth('jobs')).oldestWaitingSince).toBeGreaterThanOrEqual(before);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    queue.process('jobs', () => gate, { concurrency: 1 });
    expect(await queue.depth('jobs')).toMatchObject({ waiting: 1, delayed: 1, active: 1 });
    const m = await scrape(yoga);
    expect(total(m, 'herald_queue_metrics_up')).toBe(1);
    expect(total(m, 'herald_queue_jobs', { queue: 'jobs', state: 'waiting' })).toBe(1);
    expect(total(m, 'herald_queue_jobs', { queue: 'jobs', state: 'active' })).toBe(1);
    expect(total(m, 'herald_queue_jobs', { queue: 'jobs', state: 'delayed' })).toBe(1);
    expect(total(m, 'herald_queue_oldest_waiting_seconds', { queue: 'jobs' })).toBeGreaterThanOrEqual(0);
    release();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await queue.depth('jobs')).toMatchObject({ waiting: 0, delayed: 1, active: 0, oldestWaitingSince: null });
  });
});

describe('configuration', () => {
  it('METRICS_ENABLED defaults to true; METRICS_TOKEN is optional but not short', () => {
    expect(parseConfig({}).METRICS_ENABLED).toBe(true);
    expect(parseConfig({ METRICS_ENABLED: 'false' }).METRICS_ENABLED).toBe(false);
    expect(parseConfig({}).METRICS_TOKEN).toBeUndefined();
    expect(parseConfig({ METRICS_TOKEN: TOKEN }).METRICS_TOKEN).toBe(TOKEN);
    expect(() => parseConfig({ METRICS_TOKEN: 'short' })).toThrow(ConfigError);
    expect(() => parseConfig({ METRICS_ENABLED: 'yes' })).toThrow(ConfigError);
  });
});
