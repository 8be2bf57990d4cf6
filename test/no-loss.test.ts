import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../src/db/client.ts';
import { TERMINAL } from '../src/delivery/delivery.ts';
import { bearer, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor } from './helpers/http-server.ts';
import { killAll, type Child } from './helpers/process.ts';
import { startPrivateRedis, startWorkerProcess, type PrivateRedis } from './helpers/worker-process.ts';

// Crash and outage drills with real processes: a `herald worker` child killed mid-delivery, a
// Redis of our own killed and restarted under load, providers failing. Every accepted message
// must end in exactly one terminal state. Each part runs on its own redis-server (never the
// shared one), so no other test file's workers take our jobs.

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  await killAll();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** Raw GraphQL over HTTP (these operations are not part of the generated documents). */
async function graphqlCall(h: TestHerald, query: string, variables: Record<string, unknown>) {
  const res = await rest(h.url, 'POST', '/graphql', { query, variables }, bearer(h.project.apiKey));
  expect(res.body.errors).toBeUndefined();
  return res.body.data;
}

async function createNotification(h: TestHerald, key: string, type: string) {
  await graphqlCall(h, 'mutation($input: NotificationInput!) { createNotification(input: $input) { id } }', {
    input: { key, type, name: key, versions: [{ contents: [{ locale: 'en', title: 'Hi', body: 'News for {{ user.externalId }}' }] }] },
  });
}

/** POST /messages.send; returns the Herald message ids of the accepted items (one channel each). */
async function send(h: TestHerald, notificationId: string, userIds: string[]) {
  const res = await rest(h.url, 'POST', '/messages.send', { messages: userIds.map((userId) => ({ notificationId, userId })) }, bearer(h.project.apiKey));
  expect(res.status).toBe(200);
  return res.body.results as { id: string | null; ok: boolean; error?: string }[];
}

/** Terminal MessageEvent rows per message id. */
async function terminalEvents(ids: string[]) {
  const events = await prisma().messageEvent.findMany({ where: { messageId: { in: ids }, status: { in: TERMINAL } } });
  const byMessage = new Map<string, string[]>();
  for (const e of events) byMessage.set(e.messageId, [...(byMessage.get(e.messageId) ?? []), e.status]);
  return byMessage;
}

interface Call {
  key: string;
  user: string;
  path: string;
  status?: number;
  /** The 2xx/4xx/5xx answer reached the client (the response was fully written). */
  completed: boolean;
  /** The client went away before the answer (worker killed). */
  aborted: boolean;
}

/**
 * A provider endpoint: records every call with its Idempotency-Key, and answers through
 * `answer`, which may hold the request open (it is told when the client disconnects).
 */
async function startEndpoint(answer: (call: Call, gone: Promise<void>) => Promise<number | null> | number) {
  const calls: Call[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { user?: { externalId?: string } };
      const call: Call = { key: String(req.headers['idempotency-key']), user: body.user?.externalId ?? '', path: req.url ?? '', completed: false, aborted: false };
      calls.push(call);
      const gone = new Promise<void>((resolve) => res.once('close', () => resolve()));
      res.once('finish', () => (call.completed = true));
      res.once('close', () => (call.aborted = !call.completed));
      const status = await answer(call, gone);
      if (status === null || res.destroyed) return;
      call.status = status;
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ status }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('an API instance and separate worker processes (webhook channel)', () => {
  let redis: PrivateRedis;
  let h: TestHerald;
  let endpoint: Awaited<ReturnType<typeof startEndpoint>>;
  let workerEnv: Record<string, string>;
  let worker: Child | undefined;
  /** How the endpoint answers the crash drill's calls: hold them open, or answer 200 slowly. */
  let crashMode: 'hold' | 'slow' = 'hold';
  const scripts = new Map<string, number[]>([
    ['c-transient-then-permanent', [503, 503, 400]],
    ['c-always-transient', [503, 503, 503, 503, 503, 503]],
  ]);

  beforeAll(async () => {
    redis = await startPrivateRedis();
    cleanups.push(() => redis.stop());
    endpoint = await startEndpoint(async (call, gone) => {
      if (call.user.startsWith('c-')) return scripts.get(call.user)!.shift() ?? 200;
      // Slower than the worker's lease, the first time only.
      if (call.user === 'l-slow') {
        if (endpoint.calls.filter((c) => c.user === 'l-slow').length === 1) await Promise.race([sleep(3_500), gone]);
        return 200;
      }
      if (crashMode === 'hold') {
        await gone;
        return null;
      }
      await Promise.race([sleep(150), gone]);
      return 200;
    });
    cleanups.push(() => endpoint.close());
    h = await startTestHerald({
      env: { WORKERS_ENABLED: 'false', REDIS_URL: redis.url, DELIVERY_MAX_ATTEMPTS: '3' },
    });
    cleanups.push(async () => void (await h.stop()));
    await createNotification(h, 'hook', 'webhook');
    await graphqlCall(h, 'mutation($input: ProviderInput!) { configureProvider(input: $input) { id } }', {
      input: { channel: 'WEBHOOK', kind: 'webhook', name: 'only', settings: { url: `${endpoint.url}/hook` } },
    });
    workerEnv = {
      DATABASE_URL: h.config.DATABASE_URL!,
      REDIS_URL: redis.url,
      DELIVERY_LEASE_MS: '2000',
      RECONCILE_INTERVAL_MS: '500',
      RECONCILE_STALE_MS: '3000',
      DELIVERY_BACKOFF_MS: '50',
      DELIVERY_CONCURRENCY: '50',
      SHUTDOWN_TIMEOUT_MS: '3000',
    };
  });
  afterAll(async () => {
    if (worker) expect(await worker.stop('SIGTERM', 15_000)).toEqual({ code: 0, signal: null });
  });

  it('a worker SIGKILLed mid-delivery: a new worker re-sends with the same Idempotency-Key, each message ends SENT once', { timeout: 40_000 }, async () => {
    const first = await startWorkerProcess(workerEnv);
    const users = Array.from({ length: 20 }, (_, i) => `a-${i}`);
    const results = [...(await send(h, 'hook', users.slice(0, 10))), ...(await send(h, 'hook', users.slice(10)))];
    expect(results.every((r) => r.ok)).toBe(true);
    const ids = results.map((r) => r.id!);

    // Every message is in the provider's hands (request open) and SENDING in the database.
    await pollFor(() => new Set(endpoint.calls.map((c) => c.key)).size === ids.length, 10_000, 'all 20 calls held open');
    expect(await prisma().message.count({ where: { id: { in: ids }, status: 'SENDING' } })).toBe(ids.length);

    first.process.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    await pollFor(() => endpoint.calls.every((c) => c.aborted), 5_000, 'the endpoint to see the killed connections');
    const heldCalls = endpoint.calls.length;
    crashMode = 'slow';

    worker = await startWorkerProcess(workerEnv);
    // The status is written before its event: wait for both.
    await pollFor(async () => (await prisma().messageEvent.count({ where: { messageId: { in: ids }, status: 'SENT' } })) >= ids.length, 20_000, 'all messages SENT after the restart');

    // Exactly one terminal state per message...
    const terminal = await terminalEvents(ids);
    for (const id of ids) expect(terminal.get(id), id).toEqual(['SENT']);
    const events = await prisma().messageEvent.findMany({ where: { messageId: ids[0] }, orderBy: { id: 'asc' } });
    expect(events.map((e) => e.status)).toEqual(['QUEUED', 'SENDING', 'QUEUED', 'SENDING', 'SENT']);
    expect(events[2]!.error).toMatch(/lease expired/);

    // ...and the provider saw every message again after the crash, under the same key, and
    // answered 2xx exactly once per key.
    const crashCalls = endpoint.calls.filter((c) => c.user.startsWith('a-'));
    expect(crashCalls.length).toBeGreaterThan(heldCalls);
    for (const id of ids) {
      const forKey = crashCalls.filter((c) => c.key === id);
      expect(forKey.filter((c) => c.aborted).length, id).toBeGreaterThanOrEqual(1);
      expect(forKey.filter((c) => c.completed && c.status! >= 200 && c.status! < 300).length, id).toBe(1);
    }
    expect(new Set(crashCalls.map((c) => c.key))).toEqual(new Set(ids));
  });

  it('a provider call that outlives the lease: re-sent under the same key, the late answer does not finish the message again', { timeout: 20_000 }, async () => {
    expect(worker).toBeDefined();
    const [result] = await send(h, 'hook', ['l-slow']);
    const id = result!.id!;
    await pollFor(() => endpoint.calls.filter((c) => c.key === id && c.completed).length === 2, 10_000, 'both calls answered');
    await sleep(500);
    expect(await prisma().message.findUniqueOrThrow({ where: { id } })).toMatchObject({ status: 'SENT', attempts: 2 });
    const events = await prisma().messageEvent.findMany({ where: { messageId: id }, orderBy: { id: 'asc' } });
    expect(events.map((e) => e.status)).toEqual(['QUEUED', 'SENDING', 'QUEUED', 'SENDING', 'SENT']);
    expect(events[4]!.attempt).toBe(2);
  });

  it('a transient then permanent provider error, and transient errors past the attempts: FAILED once each', { timeout: 20_000 }, async () => {
    expect(worker).toBeDefined();
    const results = await send(h, 'hook', ['c-transient-then-permanent', 'c-always-transient']);
    const [permanent, exhausted] = results.map((r) => r.id!) as [string, string];
    await pollFor(async () => (await prisma().messageEvent.count({ where: { messageId: { in: [permanent, exhausted] }, status: 'FAILED' } })) >= 2, 15_000, 'both FAILED');

    const first = await prisma().message.findUniqueOrThrow({ where: { id: permanent } });
    expect(first).toMatchObject({ status: 'FAILED', attempts: 3 });
    expect(first.lastError).toMatch(/400/);
    const second = await prisma().message.findUniqueOrThrow({ where: { id: exhausted } });
    expect(second).toMatchObject({ status: 'FAILED', attempts: 3 });
    expect(second.lastError).toMatch(/503/);

    // Nothing more happens to them: give the reconciler a few rounds, then count.
    await sleep(1_500);
    const terminal = await terminalEvents([permanent, exhausted]);
    expect(terminal.get(permanent)).toEqual(['FAILED']);
    expect(terminal.get(exhausted)).toEqual(['FAILED']);
    const statuses = async (id: string) => (await prisma().messageEvent.findMany({ where: { messageId: id }, orderBy: { id: 'asc' } })).map((e) => e.status);
    const threeAttempts = ['QUEUED', 'SENDING', 'QUEUED', 'SENDING', 'QUEUED', 'SENDING', 'FAILED'];
    expect(await statuses(permanent)).toEqual(threeAttempts);
    expect(await statuses(exhausted)).toEqual(threeAttempts);
    expect(endpoint.calls.filter((c) => c.key === permanent).map((c) => c.status)).toEqual([503, 503, 400]);
    expect(endpoint.calls.filter((c) => c.key === exhausted).map((c) => c.status)).toEqual([503, 503, 503]);
  });
});

describe('Redis killed and restarted while sends are accepted (in-app channel)', () => {
  let redis: PrivateRedis;
  let h: TestHerald;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    cleanups.push(() => redis.stop());
    h = await startTestHerald({
      env: { REDIS_URL: redis.url, RECONCILE_INTERVAL_MS: '500', RECONCILE_STALE_MS: '2000', DELIVERY_BACKOFF_MS: '50' },
    });
    cleanups.push(async () => void (await h.stop()));
    await createNotification(h, 'inbox', 'in-app');
  });

  it('accepts every send during the outage and delivers each accepted message exactly once', { timeout: 45_000 }, async () => {
    const accepted: string[] = [];
    const refused: string[] = [];
    /** Requests that started and were answered while Redis was down. */
    let answeredDuringOutage = 0;
    let downAt = Infinity;
    let upAt = Infinity;
    let batch = 0;
    const sender = async (lane: number) => {
      const until = Date.now() + 7_000;
      while (Date.now() < until) {
        const n = batch++;
        const started = Date.now();
        try {
          const res = await rest(
            h.url,
            'POST',
            '/messages.send',
            { messages: Array.from({ length: 10 }, (_, i) => ({ notificationId: 'inbox', userId: `r-${lane}-${n}-${i}` })) },
            bearer(h.project.apiKey),
          );
          for (const r of (res.body?.results ?? []) as { ok: boolean; id: string; error?: string }[]) {
            if (r.ok) accepted.push(r.id);
            else refused.push(r.error ?? 'unknown');
          }
          if (res.status !== 200) refused.push(`HTTP ${res.status}`);
        } catch (error) {
          refused.push((error as Error).message);
        }
        if (started > downAt && Date.now() < upAt) answeredDuringOutage++;
        await sleep(100);
      }
    };
    const outage = (async () => {
      await sleep(1_500);
      await redis.stop('SIGKILL');
      downAt = Date.now();
      await sleep(3_000);
      upAt = Date.now();
      await redis.start();
    })();
    await Promise.all([sender(1), sender(2), outage]);

    expect(refused).toEqual([]);
    // Accepted while Redis was away, and answered without waiting for it to come back (a
    // causal check rather than a latency bound, which would depend on the machine's load).
    expect(answeredDuringOutage).toBeGreaterThan(5);
    expect(accepted.length).toBeGreaterThan(50);

    await pollFor(async () => (await prisma().messageEvent.count({ where: { messageId: { in: accepted }, status: 'DELIVERED' } })) >= accepted.length, 25_000, 'all accepted messages DELIVERED');
    expect(await prisma().message.count({ where: { id: { in: accepted }, status: 'DELIVERED' } })).toBe(accepted.length);
    expect(await prisma().inboxItem.count({ where: { messageId: { in: accepted } } })).toBe(accepted.length);
    const terminal = await terminalEvents(accepted);
    for (const id of accepted) expect(terminal.get(id), id).toEqual(['DELIVERED']);
  });
});
