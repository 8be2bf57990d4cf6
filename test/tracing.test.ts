import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_REDIS_URL } from './helpers/database.ts';
import { pollFor } from './helpers/http-server.ts';
import { removeQueueKeys } from './helpers/herald.ts';
import { killAll, listeningPort, logLines, runTsx, spawnTsx, type Child } from './helpers/process.ts';

/** One span as OTLP/JSON carries it (ids in hex). */
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: Record<string, unknown> }[];
  scope: string;
  service: string;
}

/** A local OTLP/HTTP collector: what Herald's exporter POSTs to <endpoint>/v1/traces. */
function startCollector() {
  const spans: OtlpSpan[] = [];
  const contentTypes: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      contentTypes.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
      const payload = JSON.parse(body) as {
        resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { scope: { name: string }; spans: Omit<OtlpSpan, 'scope' | 'service'>[] }[] }[];
      };
      for (const rs of payload.resourceSpans) {
        const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
        for (const ss of rs.scopeSpans) for (const span of ss.spans) spans.push({ ...span, scope: ss.scope.name, service });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return { server, spans, contentTypes };
}

const attr = (span: OtlpSpan, key: string) => span.attributes?.find((a) => a.key === key)?.value;

let collector: ReturnType<typeof startCollector>;
let hook: Server;
const hookHeaders: IncomingHttpHeaders[] = [];
let child: Child;
let base: string;
let apiKey: string;
let database: Awaited<ReturnType<typeof createTestDatabase>>;

beforeAll(async () => {
  collector = startCollector();
  await new Promise<void>((resolve) => collector.server.listen(0, '127.0.0.1', resolve));
  hook = createServer((req, res) => {
    hookHeaders.push(req.headers);
    req.resume().on('end', () => res.writeHead(200).end('{}'));
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  database = await createTestDatabase();
  const env = {
    DATABASE_URL: database.url,
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: database.name,
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    OUTBOUND_ALLOW_PRIVATE: 'true',
  };
  const created = await runTsx('src/cli/herald.ts', ['project', 'create', '--name', 'Tracing', '--json'], env, 60_000);
  expect(created.code, created.stderr).toBe(0);
  apiKey = (JSON.parse(created.stdout.trim().split('\n').at(-1)!) as { apiKey: string }).apiKey;
  child = spawnTsx(
    'src/main.ts',
    [],
    {
      ...env,
      PORT: '0',
      HOST: '127.0.0.1',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.server.address() as AddressInfo).port}`,
      OTEL_SERVICE_NAME: 'herald-test',
      // Export every 100 ms instead of every 5 s: the test waits for spans, not for the batch timer.
      OTEL_BSP_SCHEDULE_DELAY: '100',
    },
    ['--import', './src/telemetry/preload.ts'],
  );
  const port = await child.waitFor(listeningPort, 90_000, 'the "Herald listening" log line');
  base = `http://127.0.0.1:${port}`;
  const gql = async (query: string, variables: Record<string, unknown>) => {
    const response = await fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` }, body: JSON.stringify({ query, variables }) });
    return (await response.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
  };
  expect(
    await gql('mutation($input: NotificationInput!) { createNotification(input: $input) { id } }', {
      input: { key: 'traced', type: 'multichannel', channels: ['IN_APP', 'WEBHOOK'], name: 'Traced', versions: [{ contents: [{ locale: 'en', title: 'Hi', body: 'Hello' }] }] },
    }),
  ).toMatchObject({ data: { createNotification: { id: expect.anything() } } });
  expect(
    await gql('mutation($input: ProviderInput!) { configureProvider(input: $input) { id } }', {
      input: { channel: 'WEBHOOK', kind: 'webhook', name: 'sink', settings: { url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook` } },
    }),
  ).toMatchObject({ data: { configureProvider: { id: expect.anything() } } });
}, 180_000);

afterAll(async () => {
  await child?.stop('SIGTERM');
  await killAll();
  await new Promise<void>((resolve) => collector?.server.close(() => resolve()));
  await new Promise<void>((resolve) => hook?.close(() => resolve()));
  if (database) {
    await removeQueueKeys(TEST_REDIS_URL, database.name);
    await database.drop();
  }
});

describe('OpenTelemetry traces (OTEL_EXPORTER_OTLP_ENDPOINT, the preload)', () => {
  it('says at start that tracing is on', () => {
    const started = logLines(child.stdout()).find((l) => l.msg === 'Herald started');
    expect(started).toMatchObject({ tracing: true });
  });

  it('follows one send from the caller through accept, the queue and delivery to the provider, in one trace', async () => {
    // The caller's own trace: Herald continues it (W3C traceparent, parent-based sampling).
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    const response = await fetch(`${base}/messages.send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}`, traceparent: `00-${traceId}-${callerSpan}-01` },
      body: JSON.stringify({ messages: [{ notificationId: 'traced', userId: 'trace-user', data: { n: 1 } }] }),
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { results: { ok: boolean }[] }).results[0]).toMatchObject({ ok: true });

    const inTrace = () => collector.spans.filter((s) => s.traceId === traceId);
    const named = (name: string) => inTrace().filter((s) => s.name === name);
    // Two deliveries (in-app, webhook), each a consumer span of the queue job.
    await pollFor(() => named('herald.deliver').length >= 2 && hookHeaders.length >= 1, 20_000, 'the delivery spans and the webhook POST');
    await pollFor(() => inTrace().some((s) => s.scope.includes('undici') || (s.scope.includes('http') && s.kind === 3)), 10_000, 'the outbound webhook span');

    const spans = inTrace();
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    // The HTTP server span is the caller's child; its name is the path without the query.
    const server = spans.find((s) => s.kind === 2 && s.parentSpanId === callerSpan);
    expect(server?.name).toBe('POST /messages.send');
    expect(server?.service).toBe('herald-test');
    // The REST route runs through GraphQL: its parse and validate spans are in the same trace.
    expect(spans.some((s) => s.scope.includes('graphql') && s.name === 'graphql.validate')).toBe(true);
    // Its execution is a span of its own (named by the operation), and accept happens inside it.
    const execute = spans.filter((s) => s.name.startsWith('graphql.execute'));
    expect(execute).toHaveLength(1);
    expect(attr(execute[0]!, 'graphql.operation.type')).toEqual({ stringValue: 'mutation' });
    const accept = named('herald.accept');
    expect(accept).toHaveLength(1);
    expect(accept[0]!.parentSpanId).toBe(execute[0]!.spanId);
    // Accept writes the messages with SQL inside its span.
    expect(attr(accept[0]!, 'herald.messages')).toEqual({ intValue: 2 });
    expect(spans.some((s) => s.scope.includes('pg') && s.parentSpanId === accept[0]!.spanId)).toBe(true);
    // Redis commands (the queue's) are traced too.
    expect(spans.some((s) => s.scope.includes('ioredis'))).toBe(true);
    // Each delivery continues from the request (its parent chain reaches the server span)...
    const ancestors = (span: OtlpSpan) => {
      const chain: string[] = [];
      for (let s: OtlpSpan | undefined = span; s?.parentSpanId; s = byId.get(s.parentSpanId)) chain.push(s.parentSpanId);
      return chain;
    };
    for (const deliver of named('herald.deliver')) {
      expect(deliver.kind).toBe(5); // CONSUMER
      expect(ancestors(deliver)).toContain(server!.spanId);
    }
    expect(named('herald.deliver').map((s) => attr(s, 'herald.channel')?.stringValue).sort()).toEqual(['IN_APP', 'WEBHOOK']);
    // ...and the webhook receiver got the same trace in its traceparent header.
    expect(String(hookHeaders[0]!.traceparent)).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(collector.contentTypes[0]).toMatch(/^POST \/v1\/traces application\/json/);
  }, 60_000);

  it('leaves probes and scrapes out', async () => {
    await fetch(`${base}/healthz`);
    await fetch(`${base}/readyz`);
    await fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
    await pollFor(() => collector.spans.some((s) => s.kind === 2 && s.name === 'POST /graphql'), 10_000, 'the /graphql server span');
    expect(collector.spans.filter((s) => s.kind === 2 && /healthz|readyz/.test(s.name))).toEqual([]);
  }, 30_000);
});
