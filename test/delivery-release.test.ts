import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../src/db/client.ts';
import { bearer, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor } from './helpers/http-server.ts';
import { killInAppBatch } from './helpers/inbox-faults.ts';

// A batch of in-app messages whose delivering transaction fails: nothing of it reached an inbox,
// so its claimed rows go back to QUEUED at once and the queue's retry delivers them, instead of
// waiting out a long lease (60 s here, with a reconciler that never runs in the test's time).

let h: TestHerald;

beforeAll(async () => {
  h = await startTestHerald({ env: { DELIVERY_LEASE_MS: '60000', RECONCILE_INTERVAL_MS: '60000' } });
  const res = await rest(h.url, 'POST', '/graphql', {
    query: 'mutation($input: NotificationInput!) { createNotification(input: $input) { id } }',
    variables: { input: { key: 'bell', type: 'in-app', name: 'bell', versions: [{ contents: [{ locale: 'en', title: 'T {{ n }}', body: 'B {{ n }}' }] }] } },
  }, bearer(h.project.apiKey));
  expect(res.body.errors).toBeUndefined();
});
afterAll(async () => {
  await h?.stop();
});

async function send(n: number[]) {
  const res = await rest(h.url, 'POST', '/messages.send', { messages: n.map((i) => ({ notificationId: 'bell', userId: 'released', data: { n: i } })) }, bearer(h.project.apiKey));
  expect(res.status).toBe(200);
  return (res.body.results as { id: string }[]).map((r) => r.id);
}

describe('a failed in-app batch', () => {
  it('hands its claimed rows back: the retry delivers them long before the lease would, once each, the failed attempt not counted', async () => {
    await send([0]);
    const user = await pollFor(async () => (await prisma().user.findFirst({ where: { projectId: h.project.projectId, externalId: 'released' } }))?.id, 5_000, 'user');
    await pollFor(async () => (await prisma().inboxItem.count({ where: { userId: user } })) === 1, 10_000, 'first item');
    const ids = await killInAppBatch(h.config.DATABASE_URL!, user, async () => {
      const sent = await send([1, 2, 3]);
      await pollFor(async () => (await prisma().message.count({ where: { id: { in: sent }, status: 'SENDING' } })) === 3, 10_000, 'claimed');
      return sent;
    });
    expect(await prisma().inboxItem.count({ where: { userId: user } })).toBe(1);
    // The queue retries after its 1 s backoff: well within 15 s, where the lease is 60 s.
    const started = Date.now();
    await pollFor(async () => (await prisma().message.count({ where: { id: { in: ids }, status: 'DELIVERED' } })) === 3, 15_000, 'delivered by the retry');
    expect(Date.now() - started).toBeLessThan(15_000);
    const messages = await prisma().message.findMany({ where: { id: { in: ids } } });
    expect(messages.map((m) => m.attempts)).toEqual([1, 1, 1]);
    expect(await prisma().inboxItem.count({ where: { userId: user } })).toBe(4);
    const state = await prisma().inboxState.findUniqueOrThrow({ where: { userId: user } });
    expect(state.unreadCount).toBe(4);
    const events = await prisma().messageEvent.findMany({ where: { messageId: { in: ids } } });
    for (const id of ids) expect(events.filter((e) => e.messageId === id && e.status === 'DELIVERED')).toHaveLength(1);
  });
});
