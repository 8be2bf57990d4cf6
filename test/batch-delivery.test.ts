import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../src/db/client.ts';
import { TERMINAL } from '../src/delivery/delivery.ts';
import { bearer, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor } from './helpers/http-server.ts';
import { killInAppBatch } from './helpers/inbox-faults.ts';

// The batch paths of accept and delivery: one statement accepts a request's messages, one job
// carries a batch, one statement claims it and one delivers its plain in-app messages. These
// tests put the cases a batch makes possible through the real pipeline (PostgreSQL, Redis,
// BullMQ) and check the rows, not just the answers.

let h: TestHerald;
let hookServer: Server;
const hookCalls: string[] = [];

async function graphqlCall(query: string, variables: Record<string, unknown>) {
  const res = await rest(h.url, 'POST', '/graphql', { query, variables }, bearer(h.project.apiKey));
  expect(res.body.errors).toBeUndefined();
  return res.body.data;
}

async function createNotification(key: string, type: string, channels?: string[]) {
  await graphqlCall('mutation($input: NotificationInput!) { createNotification(input: $input) { id } }', {
    input: { key, type, name: key, ...(channels ? { channels } : {}), versions: [{ contents: [{ locale: 'en', title: 'T {{ n }}', body: 'B {{ n }}' }] }] },
  });
}

async function send(messages: Record<string, unknown>[]) {
  const res = await rest(h.url, 'POST', '/messages.send', { messages }, bearer(h.project.apiKey));
  expect(res.status).toBe(200);
  return res.body.results as { id: string | null; ok: boolean; error?: string }[];
}

async function userId(externalId: string) {
  return (await prisma().user.findFirstOrThrow({ where: { projectId: h.project.projectId, externalId } })).id;
}

/** The inbox of a user as the database holds it, with the invariants every batch must keep. */
async function checkInbox(externalId: string) {
  const id = await userId(externalId);
  const items = await prisma().inboxItem.findMany({ where: { userId: id }, orderBy: { id: 'asc' } });
  const events = await prisma().inboxEvent.findMany({ where: { userId: id }, orderBy: { cursor: 'asc' } });
  const state = await prisma().inboxState.findUniqueOrThrow({ where: { userId: id } });
  const unread = await prisma().inboxItem.count({ where: { userId: id, readAt: null, archivedAt: null } });
  // Gap-free cursors, the counter equal to a count, exactly one item per message.
  expect(events.map((e) => Number(e.cursor))).toEqual(events.map((_, i) => i + 1));
  expect(Number(state.lastCursor)).toBe(events.length);
  expect(state.unreadCount).toBe(unread);
  const messageIds = items.map((i) => i.messageId);
  expect(new Set(messageIds).size).toBe(messageIds.length);
  return { items, events, state };
}

beforeAll(async () => {
  hookServer = createServer((req, res) => {
    const id = req.headers['x-herald-message-id'];
    if (typeof id === 'string') hookCalls.push(id);
    req.resume();
    req.on('end', () => res.writeHead(200).end('{}'));
  });
  await new Promise<void>((resolve) => hookServer.listen(0, '127.0.0.1', resolve));
  // A short lease and a quick reconciler, for the crash drill.
  h = await startTestHerald({ env: { DELIVERY_LEASE_MS: '1000', RECONCILE_INTERVAL_MS: '300', DELIVERY_BATCH_SIZE: '100' } });
  await createNotification('bell', 'in-app');
  await createNotification('multi', 'multichannel', ['IN_APP', 'WEBHOOK', 'EMAIL']);
  await graphqlCall('mutation($input: ProviderInput!) { configureProvider(input: $input) { id } }', {
    input: { channel: 'WEBHOOK', kind: 'webhook', name: 'sink', settings: { url: `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/hook` } },
  });
});
afterAll(async () => {
  await h?.stop();
  await new Promise<void>((resolve) => hookServer?.close(() => resolve()));
});

describe('batched accept and delivery', () => {
  it('decides a duplicate client id within a batch and one already taken, item by item', async () => {
    expect((await send([{ notificationId: 'bell', userId: 'dup-a', id: 'taken-1', data: { n: 0 } }]))[0]!.ok).toBe(true);
    const results = await send(
      Array.from({ length: 20 }, (_, i) => ({ notificationId: 'bell', userId: `dup-${i % 3}`, id: i === 7 ? 'taken-1' : i === 12 ? 'same-5' : `same-${i}`, data: { n: i } })),
    );
    expect(results.filter((r) => !r.ok).map((r) => [r.id, r.error])).toEqual([
      ['taken-1', 'id/exists'],
      ['same-5', 'id/exists'],
    ]);
    const rows = await prisma().message.findMany({ where: { projectId: h.project.projectId, externalId: { in: ['taken-1', 'same-5'] } } });
    // One message per client id: the refused items wrote nothing.
    expect(rows.map((r) => r.externalId).sort()).toEqual(['same-5', 'taken-1']);
    const ids = (await prisma().message.findMany({ where: { projectId: h.project.projectId, externalId: { startsWith: 'same-' } }, select: { id: true } })).map((m) => m.id);
    expect(ids).toHaveLength(18);
    await pollFor(async () => (await prisma().message.count({ where: { id: { in: ids }, status: 'DELIVERED' } })) === 18, 15_000, 'delivered');
    for (const user of ['dup-0', 'dup-1', 'dup-2']) await checkInbox(user);
  });

  it('delivers a user appearing several times in one batch in order, with gap-free cursors and exact counts', async () => {
    // An inbox that already has an item: the batch moves an existing counter, not a new row's.
    const [first0] = await send([{ notificationId: 'bell', userId: 'twice', data: { n: 0 } }]);
    await pollFor(async () => (await prisma().message.findUnique({ where: { id: first0!.id! } }))?.status === 'DELIVERED', 10_000, 'first item');
    const results = await send(Array.from({ length: 12 }, (_, i) => ({ notificationId: 'bell', userId: i % 4 === 0 ? 'other' : 'twice', data: { n: i } })));
    expect(results.every((r) => r.ok)).toBe(true);
    await pollFor(async () => (await prisma().message.count({ where: { id: { in: results.map((r) => r.id!) }, status: 'DELIVERED' } })) === 12, 15_000, 'delivered');
    const { items, events, state } = await checkInbox('twice');
    expect(items.map((i) => i.title)).toEqual(['T 0', 'T 1', 'T 2', 'T 3', 'T 5', 'T 6', 'T 7', 'T 9', 'T 10', 'T 11']);
    expect(events.map((e) => e.unreadCount)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // Events name the items in the order they were sent.
    expect(events.map((e) => e.itemId)).toEqual(items.map((i) => i.id));
    expect(state.unreadCount).toBe(10);
    // The message points at its item, as a single delivery does.
    const byMessage = new Map(items.map((i) => [i.messageId, i.id]));
    for (const m of await prisma().message.findMany({ where: { id: { in: results.map((r) => r.id!) } } })) {
      if (byMessage.has(m.id)) expect(m.providerMessageId).toBe(byMessage.get(m.id));
    }
    await checkInbox('other');
    // The counter keeps matching the items through a read.
    const [first] = items;
    const widgetSecret = (await prisma().project.findUniqueOrThrow({ where: { id: h.project.projectId } })).widgetSecret;
    const { createHmac } = await import('node:crypto');
    const hash = createHmac('sha256', widgetSecret).update('twice').digest('hex');
    const read = await rest(h.url, 'POST', '/graphql', { query: 'mutation($ids: [ID!]!) { markRead(ids: $ids) { unreadCount } }', variables: { ids: [first!.id] } }, {
      'x-herald-project': h.project.projectId,
      'x-herald-user': 'twice',
      'x-herald-user-hash': hash,
    });
    expect(read.body.data.markRead.unreadCount).toBe(9);
    expect((await checkInbox('twice')).state.unreadCount).toBe(9);
  });

  it('mixes channels, muted users and stacking messages in one batch, each to its own outcome', async () => {
    await send([{ notificationId: 'bell', userId: 'muted', data: { n: 0 } }]);
    await graphqlCall('mutation($userId: ID!, $p: PreferencesInput!) { setUserPreferences(userId: $userId, preferences: $p) { channels } }', {
      userId: await userIdWhenReady('muted'),
      p: { channels: ['IN_APP'] },
    });
    const before = hookCalls.length;
    const results = await send([
      { notificationId: 'multi', userId: 'mix-1', data: { n: 1 } },
      { notificationId: 'multi', userId: 'mix-2', userEmail: 'mix2@example.com', data: { n: 2 } },
      { notificationId: 'bell', userId: 'muted', data: { n: 3 } },
      { notificationId: 'bell', userId: 'mix-1', incrementId: 'stack', data: { n: 4 } },
      { notificationId: 'bell', userId: 'mix-1', incrementId: 'stack', data: { n: 5 } },
      { notificationId: 'multi', userId: 'mix-1', data: { n: 6 } },
    ]);
    expect(results.every((r) => r.ok)).toBe(true);
    const messages = await prisma().message.findMany({ where: { requestId: (await prisma().message.findFirstOrThrow({ where: { id: results[0]!.id! } })).requestId } });
    expect(messages).toHaveLength(3 * 3 + 3);
    await pollFor(async () => (await prisma().message.count({ where: { id: { in: messages.map((m) => m.id) }, status: { in: TERMINAL } } })) === messages.length, 20_000, 'terminal');
    const final = await prisma().message.findMany({ where: { id: { in: messages.map((m) => m.id) } } });
    const outcome = (channel: string, user: string) =>
      final.filter((m) => m.channel === channel && messages.find((x) => x.id === m.id)!.userId === user).map((m) => m.status);
    const [mix1, mix2, muted] = [await userId('mix-1'), await userId('mix-2'), await userId('muted')];
    expect(outcome('IN_APP', mix1).sort()).toEqual(['DELIVERED', 'DELIVERED', 'DELIVERED', 'DELIVERED']);
    expect(outcome('WEBHOOK', mix1)).toEqual(['SENT', 'SENT']);
    expect(outcome('EMAIL', mix1)).toEqual(['SKIPPED', 'SKIPPED']); // no address
    expect(outcome('IN_APP', mix2)).toEqual(['DELIVERED']);
    expect(outcome('WEBHOOK', mix2)).toEqual(['SENT']);
    // No SMTP provider configured: fails, but only that message.
    expect(outcome('EMAIL', mix2)).toEqual(['FAILED']);
    expect(outcome('IN_APP', muted)).toEqual(['SKIPPED']);
    expect(final.find((m) => m.userId === muted && m.status === 'SKIPPED')?.lastError).toMatch(/mute/i);
    // Each webhook message posted once.
    const posted = hookCalls.slice(before);
    expect(posted.sort()).toEqual(final.filter((m) => m.channel === 'WEBHOOK').map((m) => m.id).sort());
    // The two stacking messages share one item, stacked in the order they were sent (a user's
    // messages that take the one-by-one path go one after the other); the plain ones have their own.
    const { items } = await checkInbox('mix-1');
    expect(items.map((i) => [i.title, i.stackCount]).sort()).toEqual([
      ['T 1', 1],
      ['T 5', 2],
      ['T 6', 1],
    ]);
    await checkInbox('mix-2');
  });

  it('loses nothing and doubles nothing when the delivering statement dies between claim and commit', async () => {
    await send([{ notificationId: 'bell', userId: 'crash', data: { n: 0 } }]);
    const user = await userIdWhenReady('crash');
    await pollFor(async () => (await prisma().inboxItem.count({ where: { userId: user } })) === 1, 10_000, 'first item');
    // The worker's connection dies mid-statement (the batch claimed, then blocked on the inbox): nothing of it commits.
    const ids = await killInAppBatch(h.config.DATABASE_URL!, user, async () => {
      const results = await send(Array.from({ length: 5 }, (_, i) => ({ notificationId: 'bell', userId: 'crash', data: { n: i + 1 } })));
      const sent = results.map((r) => r.id!);
      await pollFor(async () => (await prisma().message.count({ where: { id: { in: sent }, status: 'SENDING' } })) === 5, 10_000, 'claimed');
      return sent;
    });
    expect(await prisma().inboxItem.count({ where: { userId: user } })).toBe(1);
    // Handed back to the queue (or, where that fails, freed by the reconciler after the lease): they arrive once.
    await pollFor(async () => (await prisma().message.count({ where: { id: { in: ids }, status: 'DELIVERED' } })) === 5, 20_000, 'redelivered');
    const { items, state } = await checkInbox('crash');
    expect(items).toHaveLength(6);
    expect(state.unreadCount).toBe(6);
    const events = await prisma().messageEvent.findMany({ where: { messageId: { in: ids } }, orderBy: { id: 'asc' } });
    for (const id of ids) {
      const statuses = events.filter((e) => e.messageId === id).map((e) => e.status);
      expect(statuses.filter((s) => s === 'DELIVERED')).toHaveLength(1);
      expect(statuses[0]).toBe('QUEUED');
      expect(statuses).toContain('SENDING');
    }
  });
});

async function userIdWhenReady(externalId: string) {
  return pollFor(async () => (await prisma().user.findFirst({ where: { projectId: h.project.projectId, externalId } }))?.id, 5_000, `user ${externalId}`);
}
