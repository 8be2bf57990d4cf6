import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../src/db/client.ts';
import { setClock } from '../src/modules/workflows/clock.ts';
import type { WorkflowEngine } from '../src/modules/workflows/engine.ts';
import { liveInAppStep } from '../src/modules/workflows/live-digest.ts';
import type { WorkflowStep } from '../src/modules/workflows/model.ts';
import { bearer, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor } from './helpers/http-server.ts';
import { widgetAuth } from './helpers/realtime.ts';

// A digest's live in-app item through the real pipeline (PostgreSQL, Redis, BullMQ, graphql-ws):
// created at the first event, updated in place (UPDATED) as triggers join, finalised, not
// written again, by the IN_APP step at the close. Time moves with the engine's clock seam.

let h: TestHerald;
let now = Date.parse('2026-06-01T10:00:00Z');
const engine = () => h.herald.delivery.workflows as WorkflowEngine;
const clients: Client[] = [];

async function ok(query: string, variables: Record<string, unknown> = {}) {
  const res = await rest(h.url, 'POST', '/graphql', { query, variables }, bearer(h.project.apiKey));
  expect(res.body.errors).toBeUndefined();
  return res.body.data as Record<string, any>;
}
let seq = 0;
async function notification(workflow: unknown[], channels = ['IN_APP']) {
  const key = `live-${++seq}`;
  const data = await ok('mutation($input: NotificationInput!) { createNotification(input: $input) { id } }', {
    input: {
      key,
      type: 'multichannel',
      name: key,
      channels,
      workflow,
      versions: [{ contents: [{ locale: 'en', title: '{{ digest.count }} new comments', body: 'first by {{ digest.events[0].author }}', email: { subject: '{{ digest.count }} new', text: 'x' } }] }],
    },
  });
  return { key, id: data.createNotification.id as number };
}
async function send(messages: Record<string, unknown>[]) {
  const res = await rest(h.url, 'POST', '/messages.send', { messages }, bearer(h.project.apiKey));
  expect(res.status).toBe(200);
  expect((res.body.results as { ok: boolean }[]).every((r) => r.ok)).toBe(true);
}
async function user(externalId: string) {
  await ok('mutation($users: [UserInput!]!) { upsertUsers(users: $users) { ok } }', { users: [{ externalId, email: `${externalId}@example.com` }] });
  return prisma().user.findFirstOrThrow({ where: { externalId } });
}
const itemsOf = (notificationId: number) => prisma().inboxItem.findMany({ where: { notificationId }, orderBy: { id: 'asc' } });
async function advance(seconds: number) {
  now += seconds * 1000;
  await engine().sweep();
}

interface Event {
  type: string;
  unreadCount: number;
  item: { id: string; title: string; stackCount: number } | null;
}
/** The user's inbox over SSE (GraphQL over HTTP, text/event-stream) from its start: the text received. */
function sse(externalId: string) {
  const abort = new AbortController();
  const stream = { text: '', stop: () => abort.abort() };
  void (async () => {
    const response = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...widgetAuth(h.project.projectId, h.project.widgetSecret, externalId).headers },
      body: JSON.stringify({ query: 'subscription { inbox(since: "0") { type item { stackCount } } }' }),
      signal: abort.signal,
    });
    const reader = response.body!.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) stream.text += new TextDecoder().decode(r.value);
  })().catch(() => {});
  return stream;
}

/** The user's inbox over graphql-ws from the start of their inbox (since "0": nothing missed). */
function subscribe(externalId: string) {
  const events: Event[] = [];
  const client = createClient({
    url: `${h.url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    connectionParams: widgetAuth(h.project.projectId, h.project.widgetSecret, externalId).params,
  });
  clients.push(client);
  client.subscribe(
    { query: 'subscription { inbox(since: "0") { type unreadCount item { id title stackCount } } }' },
    { next: (v) => events.push((v.data as { inbox: Event }).inbox), error: () => {}, complete: () => {} },
  );
  return events;
}

beforeAll(async () => {
  setClock(() => now);
  h = await startTestHerald({ env: { RECONCILE_INTERVAL_MS: '60000', DELIVERY_LEASE_MS: '2000' } });
});
afterAll(async () => {
  setClock(null);
  for (const c of clients) await c.dispose();
  await h?.stop();
});

describe('which IN_APP step gets a live item', () => {
  const ch = (channel: string, condition?: unknown) => ({ kind: 'CHANNEL', channel, ...(condition ? { condition } : {}) }) as WorkflowStep;
  const digest = { kind: 'DIGEST', windowSeconds: 60 } as WorkflowStep;
  it('the first IN_APP step reached from the DIGEST through unconditioned CHANNEL steps only', () => {
    expect(liveInAppStep([digest, ch('IN_APP')], 0)).toBe(1);
    expect(liveInAppStep([digest, ch('EMAIL'), ch('IN_APP'), ch('IN_APP')], 0)).toBe(2);
    expect(liveInAppStep([digest, { kind: 'DELAY', seconds: 60 } as WorkflowStep, ch('IN_APP')], 0)).toBeNull();
    expect(liveInAppStep([digest, { kind: 'THROTTLE', limit: 1, windowSeconds: 60 } as WorkflowStep, ch('IN_APP')], 0)).toBeNull();
    expect(liveInAppStep([digest, ch('EMAIL', { '==': [1, 1] }), ch('IN_APP')], 0)).toBeNull();
    expect(liveInAppStep([digest, ch('IN_APP', { '==': [1, 1] })], 0)).toBeNull();
    expect(liveInAppStep([ch('IN_APP'), digest, ch('EMAIL')], 1)).toBeNull();
  });
});

describe('live digest item', () => {
  it('is created at the first event, updated live with the count, and finalised by the close: one item, unread once', async () => {
    const { id, key } = await notification([{ kind: 'DIGEST', key: '{{ data.thread }}', windowSeconds: 300 }, { kind: 'CHANNEL', channel: 'IN_APP' }, { kind: 'CHANNEL', channel: 'EMAIL' }], ['IN_APP', 'EMAIL']);
    const u = await user('live-reader');
    const events = subscribe('live-reader');
    const overSse = sse('live-reader');
    const trigger = (n: number) => send([{ notificationId: key, userId: 'live-reader', data: { thread: 'q3', author: `a${n}` } }]);

    await trigger(1);
    const [item] = await pollFor(async () => {
      const items = await itemsOf(id);
      return items.length === 1 ? items : null;
    }, 10_000, 'the live item');
    expect(item).toMatchObject({ title: '1 new comments', body: 'first by a1', stackCount: 1, messageId: null, readAt: null });
    const digest = await prisma().workflowDigest.findFirstOrThrow({ where: { notificationId: id } });
    expect(digest).toMatchObject({ closedAt: null, count: 1, inboxItemId: item!.id });
    // Reachable from the run: the DIGEST step's digest names it.
    const view = await ok('query($id: ID!) { workflowRun(id: $id) { steps { status digest { count inboxItemId } } } }', { id: digest.runId });
    expect(view.workflowRun.steps[0]).toEqual({ status: 'WAITING', digest: { count: 1, inboxItemId: item!.id } });

    for (const n of [2, 3]) {
      await trigger(n);
      await pollFor(async () => (await prisma().inboxItem.findUniqueOrThrow({ where: { id: item!.id } })).stackCount === n, 10_000, `count ${n}`);
    }
    await pollFor(() => events.some((e) => e.type === 'UPDATED' && e.item?.stackCount === 3), 10_000, 'UPDATED with count 3 over graphql-ws');
    expect(events[0]).toMatchObject({ type: 'CREATED', unreadCount: 1, item: { id: item!.id } });
    const updates = events.filter((e) => e.type === 'UPDATED');
    expect(updates.length).toBeGreaterThanOrEqual(1);
    expect(updates.every((e) => e.item?.id === item!.id && e.unreadCount === 1)).toBe(true);
    const counts = updates.map((e) => e.item!.stackCount);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    await pollFor(() => overSse.text.includes('{"type":"UPDATED","item":{"stackCount":3}}'), 10_000, 'UPDATED with count 3 over SSE');
    overSse.stop();
    expect((await itemsOf(id))[0]).toMatchObject({ title: '3 new comments', body: 'first by a1' });
    expect((await prisma().message.count({ where: { notificationId: id } }))).toBe(0);

    // The close: the IN_APP step's message is delivered into the same item; EMAIL goes as always.
    const seen = events.length;
    await advance(300);
    const messages = await pollFor(async () => {
      const m = await prisma().message.findMany({ where: { notificationId: id }, orderBy: { id: 'asc' } });
      return m.length === 2 && m[0]!.status === 'DELIVERED' ? m : null;
    }, 10_000, 'the close delivered');
    expect(messages.map((m) => m.channel)).toEqual(['IN_APP', 'EMAIL']);
    expect(messages[0]!.providerMessageId).toBe(item!.id);
    const items = await itemsOf(id);
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ id: item!.id, messageId: messages[0]!.id, title: '3 new comments', stackCount: 3 });
    await pollFor(() => events.length > seen, 10_000, 'the final event');
    expect(events.slice(seen).map((e) => e.type)).toEqual(['UPDATED']);
    expect(events.filter((e) => e.type === 'CREATED')).toHaveLength(1);
    expect((await prisma().inboxState.findUniqueOrThrow({ where: { userId: u.id } })).unreadCount).toBe(1);
    // The IN_APP step's message links to the item (for conditions on steps.N.readAt too).
    const run = await ok('query($id: ID!) { workflowRun(id: $id) { status steps { status messages { id } } } }', { id: digest.runId });
    expect(run.workflowRun.status).toBe('COMPLETED');
    expect(run.workflowRun.steps[1].messages).toEqual([{ id: messages[0]!.id }]);

    // A late refresh (the sweep again) changes nothing; a new trigger opens a new digest and a new item.
    await advance(1);
    expect(await itemsOf(id)).toHaveLength(1);
    await trigger(4);
    await pollFor(async () => (await itemsOf(id)).length === 2, 10_000, 'a new live item');
  });

  it('100 concurrent triggers: one item, final count 100, the last UPDATED shows 100; two keys keep two items', async () => {
    const { id, key } = await notification([{ kind: 'DIGEST', key: '{{ data.thread }}', windowSeconds: 300 }, { kind: 'CHANNEL', channel: 'IN_APP' }]);
    const u = await user('live-crowd');
    const events = subscribe('live-crowd');
    const batch = (thread: string, from: number, n = 50) => Array.from({ length: n }, (_, i) => ({ notificationId: key, userId: 'live-crowd', data: { thread, author: `a${from + i}` } }));
    await Promise.all([send(batch('t1', 0)), send(batch('t1', 50)), send(batch('t2', 100, 3))]);
    const items = await pollFor(async () => {
      const all = await itemsOf(id);
      return all.length === 2 && all.map((i) => i.stackCount).sort((a, b) => a - b).join() === '3,100' ? all : null;
    }, 20_000, 'two live items at 3 and 100');
    const t1 = items.find((i) => i.stackCount === 100)!;
    expect(t1.title).toBe('100 new comments');
    expect(items.find((i) => i.stackCount === 3)!.title).toBe('3 new comments');
    const digests = await prisma().workflowDigest.findMany({ where: { notificationId: id } });
    expect(digests.map((d) => d.count).sort((a, b) => a - b)).toEqual([3, 100]);
    await pollFor(() => {
      const last = events.filter((e) => e.item?.id === t1.id).at(-1);
      return last?.type === 'UPDATED' && last.item!.stackCount === 100;
    }, 10_000, 'the last UPDATED of t1 shows 100');
    expect(events.filter((e) => e.type === 'CREATED')).toHaveLength(2);
    expect((await prisma().inboxState.findUniqueOrThrow({ where: { userId: u.id } })).unreadCount).toBe(2);

    await advance(300);
    await pollFor(async () => (await prisma().message.count({ where: { notificationId: id, status: 'DELIVERED' } })) === 2, 10_000, 'both closed');
    const after = await itemsOf(id);
    expect(after.map((i) => i.id).sort()).toEqual(items.map((i) => i.id).sort());
    expect(after.every((i) => i.messageId !== null)).toBe(true);
    expect(after.find((i) => i.id === t1.id)).toMatchObject({ title: '100 new comments', stackCount: 100 });
    expect((await prisma().inboxState.findUniqueOrThrow({ where: { userId: u.id } })).unreadCount).toBe(2);
  });

  it('a join whose refresh was lost (worker killed between the join and the update): the close still shows the right count', async () => {
    const { id, key } = await notification([{ kind: 'DIGEST', windowSeconds: 60 }, { kind: 'CHANNEL', channel: 'IN_APP' }]);
    await user('live-crash');
    await send([1, 2].map((n) => ({ notificationId: key, userId: 'live-crash', data: { author: `a${n}` } })));
    const item = await pollFor(async () => (await itemsOf(id)).find((i) => i.stackCount === 2) ?? null, 10_000, 'live at 2');
    // What the killed worker committed: the join (count, events), never its refresh of the item.
    await prisma().$executeRaw`UPDATE "WorkflowDigest" SET count = count + 1, events = events || '[{"author":"lost"}]'::jsonb WHERE "notificationId" = ${id}`;
    expect((await prisma().inboxItem.findUniqueOrThrow({ where: { id: item.id } })).stackCount).toBe(2);
    await advance(60);
    await pollFor(async () => (await prisma().message.count({ where: { notificationId: id, status: 'DELIVERED' } })) === 1, 10_000, 'closed');
    const items = await itemsOf(id);
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ id: item.id, title: '3 new comments', stackCount: 3 });
  });

  it('in-app muted by the user meanwhile: the live item is archived at the close, and the next digest shows none', async () => {
    const { id, key } = await notification([{ kind: 'DIGEST', windowSeconds: 60 }, { kind: 'CHANNEL', channel: 'IN_APP' }]);
    const u = await user('live-muted');
    await send([{ notificationId: key, userId: 'live-muted', data: { author: 'a1' } }]);
    const item = await pollFor(async () => (await itemsOf(id))[0] ?? null, 10_000, 'live item');
    await prisma().user.update({ where: { id: u.id }, data: { preferences: { channels: ['IN_APP'] } } });
    await advance(60);
    await pollFor(async () => (await prisma().message.count({ where: { notificationId: id, status: 'SKIPPED' } })) === 1, 10_000, 'message skipped');
    expect(await itemsOf(id)).toEqual([expect.objectContaining({ id: item.id, messageId: null, archivedAt: expect.any(Date) })]);
    expect((await prisma().inboxState.findUniqueOrThrow({ where: { userId: u.id } })).unreadCount).toBe(0);
    await send([{ notificationId: key, userId: 'live-muted', data: { author: 'a2' } }]);
    await pollFor(async () => (await prisma().workflowDigest.count({ where: { notificationId: id, closedAt: null } })) === 1, 10_000, 'second digest open');
    await send([{ notificationId: key, userId: 'live-muted', data: { author: 'a3' } }]);
    await pollFor(async () => (await prisma().workflowRun.count({ where: { notificationId: id, status: 'MERGED' } })) === 1, 10_000, 'joined');
    await advance(60);
    await pollFor(async () => (await prisma().message.count({ where: { notificationId: id, status: 'SKIPPED' } })) === 2, 10_000, 'second message skipped');
    // Only the first digest's (archived) item: a live item of the second would still be there, archived.
    expect(await itemsOf(id)).toEqual([expect.objectContaining({ id: item.id })]);
  });

  it('no live item where the IN_APP step waits behind a DELAY: the item comes with the step, as before', async () => {
    const { id, key } = await notification([{ kind: 'DIGEST', windowSeconds: 60 }, { kind: 'DELAY', seconds: 60 }, { kind: 'CHANNEL', channel: 'IN_APP' }]);
    await user('live-delayed');
    await send([{ notificationId: key, userId: 'live-delayed', data: { author: 'a1' } }]);
    await pollFor(async () => (await prisma().workflowDigest.count({ where: { notificationId: id } })) === 1, 10_000, 'digest open');
    await send([{ notificationId: key, userId: 'live-delayed', data: { author: 'a2' } }]);
    await pollFor(async () => (await prisma().workflowRun.count({ where: { notificationId: id, status: 'MERGED' } })) === 1, 10_000, 'joined');
    expect(await itemsOf(id)).toHaveLength(0);
    await advance(60);
    await pollFor(async () => (await prisma().workflowRun.count({ where: { notificationId: id, status: 'WAITING', cursor: 1 } })) === 1, 10_000, 'at the delay');
    expect(await itemsOf(id)).toHaveLength(0);
    await advance(60);
    const items = await pollFor(async () => {
      const all = await itemsOf(id);
      return all.length === 1 ? all : null;
    }, 10_000, 'delivered after the delay');
    expect(items[0]).toMatchObject({ title: '2 new comments' });
    expect((await prisma().workflowDigest.findFirstOrThrow({ where: { notificationId: id } })).inboxItemId).toBeNull();
  });
});
