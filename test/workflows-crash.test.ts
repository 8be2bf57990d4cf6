import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../src/db/client.ts';
import { TEST_REDIS_URL } from './helpers/database.ts';
import { bearer, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor } from './helpers/http-server.ts';
import { killAll, type Child } from './helpers/process.ts';
import { startWorkerProcess } from './helpers/worker-process.ts';

// Crash drills with real processes: the API accepts (no workers in it), a `herald worker` child
// executes the runs and is SIGKILLed while runs wait in a DELAY (with the wake-up jobs wiped from
// Redis as well) and while digests close. A second worker must finish everything: nothing lost,
// no step twice (one message per run or digest, each digest closed once with its full count).

let h: TestHerald;
let workerEnv: Record<string, string>;
const children: Child[] = [];

async function send(messages: Record<string, unknown>[]) {
  const res = await rest(h.url, 'POST', '/messages.send', { messages }, bearer(h.project.apiKey));
  expect(res.status).toBe(200);
  expect((res.body.results as { ok: boolean }[]).every((r) => r.ok)).toBe(true);
}
async function notification(key: string, workflow: unknown[]) {
  const res = await rest(
    h.url,
    'POST',
    '/graphql',
    {
      query: 'mutation($input: NotificationInput!) { createNotification(input: $input) { id } }',
      variables: { input: { key, type: 'in-app', name: key, workflow, versions: [{ contents: [{ locale: 'en', title: '{{ digest.count }}', body: 'b' }] }] } },
    },
    bearer(h.project.apiKey),
  );
  expect(res.body.errors).toBeUndefined();
  return res.body.data.createNotification.id as number;
}
async function worker() {
  const child = await startWorkerProcess(workerEnv, 90_000);
  children.push(child);
  return child;
}

beforeAll(async () => {
  h = await startTestHerald({ env: { WORKERS_ENABLED: 'false' } });
  workerEnv = {
    DATABASE_URL: h.config.DATABASE_URL!,
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: h.config.QUEUE_PREFIX,
    DELIVERY_LEASE_MS: '1500',
    RECONCILE_INTERVAL_MS: '300',
    // A delivery job the killed worker held comes back only after BullMQ's stall check (30 s):
    // the reconciler re-dispatches its queued message sooner (the claim keeps it to one delivery).
    RECONCILE_STALE_MS: '1000',
    SHUTDOWN_TIMEOUT_MS: '2000',
  };
});
afterAll(async () => {
  await killAll();
  await h?.stop();
});

describe('workers killed', () => {
  it('during a DELAY, with its timer jobs lost too: the next worker finds the runs and sends once each', { timeout: 180_000 }, async () => {
    const id = await notification('delayed', [{ kind: 'DELAY', seconds: 3 }, { kind: 'CHANNEL', channel: 'IN_APP' }]);
    const first = await worker();
    await send(Array.from({ length: 10 }, (_, i) => ({ notificationId: 'delayed', userId: `d-${i}`, id: `d-tx-${i}` })));
    await pollFor(async () => (await prisma().workflowStepState.count({ where: { run: { notificationId: id }, status: 'WAITING' } })) === 10, 20_000, 'all waiting');
    first.process.kill('SIGKILL');
    await first.exited;
    // Redis loses the delayed wake-ups as well: only the rows remain.
    const redis = new Redis(TEST_REDIS_URL);
    const keys = await redis.keys(`${h.config.QUEUE_PREFIX}:workflows:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
    await worker();
    const runs = await pollFor(async () => {
      const r = await prisma().workflowRun.findMany({ where: { notificationId: id } });
      return r.length === 10 && r.every((x) => x.status === 'COMPLETED') ? r : null;
    }, 30_000, 'all completed after the restart');
    const messages = await prisma().message.findMany({ where: { notificationId: id } });
    expect(messages.length).toBe(10);
    expect(new Set(messages.map((m) => m.userId)).size).toBe(10);
    // Not before the delay: each message was written at least 3 s after its run started.
    for (const run of runs) {
      const m = messages.find((x) => x.userId === run.userId)!;
      expect(m.createdAt.getTime() - run.createdAt.getTime()).toBeGreaterThanOrEqual(2_900);
    }
  });

  it('while digests close: every digest closes once with its full count, one message each', { timeout: 180_000 }, async () => {
    const id = await notification('digested', [{ kind: 'DIGEST', key: '{{ data.k }}', windowSeconds: 6 }, { kind: 'CHANNEL', channel: 'IN_APP' }]);
    const first = await worker();
    // 10 digests (2 users x 5 keys) of 3 events each, in one request.
    const triggers = [];
    for (let e = 0; e < 3; e++) for (let u = 0; u < 2; u++) for (let k = 0; k < 5; k++) triggers.push({ notificationId: 'digested', userId: `g-${u}`, data: { k: `k${k}`, e } });
    await send(triggers);
    await pollFor(async () => (await prisma().workflowRun.count({ where: { notificationId: id, status: { in: ['WAITING', 'MERGED'] }, stepStates: { some: {} } } })) === 30, 30_000, 'all triggers joined');
    // Kill as soon as the first digest has closed: the others are closing or about to.
    await pollFor(async () => (await prisma().workflowDigest.count({ where: { notificationId: id, closedAt: { not: null } } })) > 0, 20_000, 'a digest closed');
    first.process.kill('SIGKILL');
    await first.exited;
    const closedAtKill = await prisma().workflowDigest.count({ where: { notificationId: id, closedAt: { not: null } } });
    expect(closedAtKill).toBeGreaterThan(0);
    await worker();
    await pollFor(async () => (await prisma().workflowRun.count({ where: { notificationId: id, status: { in: ['WAITING', 'RUNNING'] } } })) === 0, 30_000, 'all runs done');
    const digests = await prisma().workflowDigest.findMany({ where: { notificationId: id } });
    expect(digests.length).toBe(10);
    expect(digests.every((d) => d.count === 3 && d.closedAt !== null && d.openKey === null)).toBe(true);
    const messages = await prisma().message.findMany({ where: { notificationId: id } });
    expect(messages.length).toBe(10);
    expect(messages.every((m) => (m.content as { title: string }).title === '3')).toBe(true);
    const runs = await prisma().workflowRun.groupBy({ by: ['status'], where: { notificationId: id }, _count: true });
    expect(Object.fromEntries(runs.map((r) => [r.status, r._count]))).toEqual({ COMPLETED: 10, MERGED: 20 });
    // One inbox item per digest (live while it filled, finalised at the close, or written by the
    // delivery if the kill came before it was shown), each with the final content, none twice.
    const items = await pollFor(async () => {
      const all = await prisma().inboxItem.findMany({ where: { notificationId: id } });
      return all.length >= 10 && all.every((i) => i.messageId !== null) ? all : null;
    }, 30_000, 'every item linked to its message');
    expect(items.length).toBe(10);
    expect(new Set(items.map((i) => i.messageId)).size).toBe(10);
    expect(items.every((i) => i.title === '3')).toBe(true);
    const states = await prisma().inboxState.findMany({ where: { user: { externalId: { in: ['g-0', 'g-1'] } } } });
    expect(states.map((s) => s.unreadCount)).toEqual([5, 5]);
    console.log(`digests closed before the kill: ${closedAtKill}/10`);
  });
});
