import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../src/db/client.ts';
import type { NewProjectCredentials } from '../src/modules/projects/service.ts';
import { bearer, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor } from './helpers/http-server.ts';
import { killAll, type Child } from './helpers/process.ts';
import { sleep, sseSubscription } from './helpers/realtime.ts';
import { startWorkerProcess } from './helpers/worker-process.ts';

// Broadcasts over a real fan-out: the API Herald here has no workers; a `herald worker` child
// process fans out and delivers (small chunks with a pause, so a test can act mid-way), and
// the last test kills it with SIGKILL in the middle of a broadcast and lets another worker
// resume from the cursor: every subscriber gets the broadcast exactly once.

let h: TestHerald;
let other: NewProjectCredentials;
let worker: Child;
let sibling: { herald: { stop(): Promise<void> } } | undefined;

// DELIVERY_LEASE_MS: the worker killed mid-way may hold in-app deliveries too; another worker
// takes them over once their lease runs out, and the default (60 s) would outlast the test.
const FANOUT_ENV = { BROADCAST_CHUNK_SIZE: '10', BROADCAST_CHUNK_DELAY_MS: '40', BROADCAST_LEASE_MS: '1500', RECONCILE_INTERVAL_MS: '300', DELIVERY_LEASE_MS: '3000' };

beforeAll(async () => {
  h = await startTestHerald({ env: { WORKERS_ENABLED: 'false' } });
  other = await h.newProject('Other');
  worker = await startWorkerProcess({ DATABASE_URL: h.config.DATABASE_URL!, REDIS_URL: h.config.REDIS_URL!, QUEUE_PREFIX: h.config.QUEUE_PREFIX, ...FANOUT_ENV }, 30_000);
  await call('mutation($input: NotificationInput!) { createNotification(input: $input) { id } }', {
    input: { key: 'bell', type: 'in-app', name: 'Bell', versions: [{ contents: [{ locale: 'en', title: 'News', body: 'Hello {{ user.externalId }}: {{ what }}' }] }] },
  });
  await call('mutation($input: NotificationInput!) { createNotification(input: $input) { id } }', {
    input: { key: 'bell', type: 'in-app', name: 'Bell', versions: [{ contents: [{ locale: 'en', title: 'Other', body: 'x' }] }] },
  }, other.apiKey);
}, 40_000);
afterAll(async () => {
  await killAll();
  await sibling?.herald.stop();
  await h?.stop();
});

async function call(query: string, variables: Record<string, unknown> = {}, apiKey = h.project.apiKey) {
  const res = await rest(h.url, 'POST', '/graphql', { query, variables }, bearer(apiKey));
  return res.body as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };
}
const codeOf = (r: { errors?: { extensions?: { code?: string } }[] }) => r.errors?.[0]?.extensions?.code;

/** A topic with n fresh users (externalIds `${key}-${i}`), created in one statement and subscribed with one call. */
async function topicWith(key: string, n: number, projectId = h.project.projectId, extra = '') {
  await prisma().$executeRawUnsafe(
    `INSERT INTO "User" (id, "projectId", "externalId", "updatedAt"${extra ? ', country' : ''})
     SELECT gen_random_uuid(), $1::uuid, $2 || '-' || g, now()${extra ? `, '${extra}'` : ''} FROM generate_series(0, $3::int - 1) g`,
    projectId,
    key,
    n,
  );
  const ids = Array.from({ length: n }, (_, i) => `${key}-${i}`);
  expect((await call('mutation($key: String!) { createTopic(key: $key) { id } }', { key })).errors).toBeUndefined();
  expect((await call('mutation($key: String!, $ids: [String!]!) { addTopicSubscribers(key: $key, userIds: $ids) { count } }', { key, ids })).data.addTopicSubscribers.count).toBe(n);
  return ids;
}

const FIELDS = 'id status total processed delivered skipped failed startedAt finishedAt transactionId topicKey lastError';
const SEND = `mutation($key: String!, $tx: String, $n: String!, $data: JSONObject) { sendToTopic(key: $key, notificationId: $n, transactionId: $tx, data: $data) { ${FIELDS} } }`;

async function broadcast(id: string) {
  const r = await call(`query($id: ID!) { broadcast(id: $id) { ${FIELDS} } }`, { id });
  expect(r.errors).toBeUndefined();
  return r.data.broadcast as { id: string; status: string; total: number; processed: number; delivered: number; skipped: number; failed: number; startedAt: string | null; finishedAt: string | null; lastError: string | null };
}
const finished = (id: string, timeoutMs = 15_000) =>
  pollFor(async () => {
    const b = await broadcast(id);
    return ['COMPLETED', 'CANCELED', 'FAILED'].includes(b.status) && b;
  }, timeoutMs, `broadcast ${id} to finish`);

/** Messages of a broadcast's transaction, per user externalId (a message's client id is "<transactionId>:<user id>"). */
async function messagesPerUser(transactionId: string) {
  const rows = await prisma().message.findMany({ where: { projectId: h.project.projectId, externalId: { startsWith: `${transactionId}:` } }, select: { user: { select: { externalId: true } }, status: true } });
  const per = new Map<string, number>();
  for (const r of rows) per.set(r.user!.externalId, (per.get(r.user!.externalId) ?? 0) + 1);
  return { per, rows };
}
const inboxCount = (externalIds: string[]) => prisma().inboxItem.count({ where: { projectId: h.project.projectId, user: { externalId: { in: externalIds } } } });

describe('broadcasts', () => {
  it('sendToTopic answers at once, fans out to every subscriber once with progress, and retries with the same transactionId send nothing twice', async () => {
    const ids = await topicWith('launch', 25);
    const sent = await call(SEND, { key: 'launch', tx: 'launch-1', n: 'bell', data: { what: 'v2' } });
    expect(sent.errors).toBeUndefined();
    // The answer comes before the fan-out: nothing processed yet.
    expect(sent.data.sendToTopic).toMatchObject({ status: 'QUEUED', total: 25, processed: 0, transactionId: 'launch-1', topicKey: 'launch' });
    const id = sent.data.sendToTopic.id as string;
    const stream = await sseSubscription(h.url, 'subscription($id: ID!) { broadcast(id: $id) { status processed } }', { id }, bearer(h.project.apiKey));
    const done = await finished(id);
    expect(done).toMatchObject({ status: 'COMPLETED', total: 25, processed: 25, delivered: 25, skipped: 0, failed: 0 });
    expect(done.startedAt).not.toBeNull();
    expect(done.finishedAt).not.toBeNull();
    // Progress arrived over the subscription, ending with the completion.
    const events = await pollFor(() => {
      const r = stream.results().map((x) => x.data?.broadcast);
      return r.at(-1)?.status === 'COMPLETED' && r;
    }, 5_000, 'the COMPLETED event');
    stream.close();
    const processed = events.map((e: { processed: number }) => e.processed);
    expect(processed).toEqual([...processed].sort((a, b) => a - b));
    expect(events.at(-1)).toEqual({ status: 'COMPLETED', processed: 25 });

    await pollFor(async () => (await inboxCount(ids)) === 25, 10_000, '25 inbox items');
    const item = await prisma().inboxItem.findFirst({ where: { user: { externalId: 'launch-3' } } });
    expect(item?.body).toBe('Hello launch-3: v2');
    const { per } = await messagesPerUser('launch-1');
    expect(per.size).toBe(25);
    expect([...per.values()].every((n) => n === 1)).toBe(true);

    // The same transactionId again: the same broadcast, no new fan-out.
    const again = await call(SEND, { key: 'launch', tx: 'launch-1', n: 'bell', data: { what: 'v2' } });
    expect(again.data.sendToTopic).toMatchObject({ id, status: 'COMPLETED' });
    // ...but not for something else.
    expect(codeOf(await call(SEND, { key: 'launch', tx: 'launch-1', n: 'bell', data: { what: 'v3' } }))).toBe('CONFLICT');

    // The broadcast retried from the start (as after a crash before its first cursor advance):
    // the redo finds every message already there and sends none again.
    await prisma().broadcast.update({ where: { id }, data: { status: 'RUNNING', cursor: null, processed: 0, delivered: 0, skipped: 0, failed: 0, leaseUntil: new Date(Date.now() - 1000), finishedAt: null } });
    const redone = await pollFor(async () => {
      const b = await broadcast(id);
      return b.status === 'COMPLETED' && b;
    }, 15_000, 'the retried broadcast to complete');
    expect(redone).toMatchObject({ processed: 25, delivered: 25, failed: 0 });
    expect((await messagesPerUser('launch-1')).rows.length).toBe(25);
    expect(await inboxCount(ids)).toBe(25);
  });

  it("honours each user's preferences: muted recipients are counted skipped and get no inbox item", async () => {
    const ids = await topicWith('prefs', 6);
    const mute = (userId: string, preferences: Record<string, unknown>) =>
      call('mutation($u: ID!, $p: PreferencesInput!) { setUserPreferences(userId: $u, preferences: $p) { channels } }', { u: userId, p: preferences });
    expect((await mute('prefs-0', { channels: ['IN_APP'] })).errors).toBeUndefined();
    expect((await mute('prefs-1', { notifications: { bell: ['IN_APP'] } })).errors).toBeUndefined();
    const id = (await call(SEND, { key: 'prefs', tx: 'prefs-1', n: 'bell' })).data.sendToTopic.id;
    expect(await finished(id)).toMatchObject({ status: 'COMPLETED', processed: 6, delivered: 4, skipped: 2, failed: 0 });
    await pollFor(async () => (await inboxCount(ids)) === 4, 10_000, '4 inbox items');
    const muted = await pollFor(async () => {
      const { rows } = await messagesPerUser('prefs-1');
      const m = rows.filter((r) => ['prefs-0', 'prefs-1'].includes(r.user!.externalId));
      return m.every((r) => r.status === 'SKIPPED') && m;
    }, 10_000, 'the muted messages to be skipped');
    expect(muted).toHaveLength(2);
    expect(await inboxCount(['prefs-0', 'prefs-1'])).toBe(0);
  });

  it('sendToAll reaches every user of the project, or those matching a filter, never another project\'s', async () => {
    await topicWith('fr', 3, h.project.projectId, 'FR');
    await prisma().$executeRawUnsafe(`INSERT INTO "User" (id, "projectId", "externalId", "updatedAt", country) VALUES (gen_random_uuid(), $1::uuid, 'elsewhere-fr', now(), 'FR')`, other.projectId);
    const all = await prisma().user.count({ where: { projectId: h.project.projectId } });
    const fr = await call(`mutation { sendToAll(notificationId: "bell", filter: { countries: ["fr"] }, transactionId: "fr-1") { ${FIELDS} } }`);
    expect(fr.errors).toBeUndefined();
    expect(fr.data.sendToAll.total).toBe(3);
    expect(await finished(fr.data.sendToAll.id)).toMatchObject({ status: 'COMPLETED', processed: 3, delivered: 3 });
    expect([...(await messagesPerUser('fr-1')).per.keys()].sort()).toEqual(['fr-0', 'fr-1', 'fr-2']);

    const everyone = await call(`mutation { sendToAll(notificationId: "bell", transactionId: "all-1") { ${FIELDS} } }`);
    expect(everyone.data.sendToAll.total).toBe(all);
    expect(await finished(everyone.data.sendToAll.id)).toMatchObject({ status: 'COMPLETED', processed: all });
    expect((await messagesPerUser('all-1')).per.size).toBe(all);
    expect(await prisma().message.count({ where: { projectId: other.projectId } })).toBe(0);

    for (const filter of ['{ countries: [] }', '{ custom: { plan: { nested: 1 } } }']) {
      expect(codeOf(await call(`mutation { sendToAll(notificationId: "bell", filter: ${filter}) { id } }`)), filter).toBe('BAD_USER_INPUT');
    }
  });

  it('sendMessages takes `to: { topic }` items beside ordinary ones', async () => {
    await topicWith('mixed', 2);
    const r = await call(`mutation($m: [SendMessageInput!]!) { sendMessages(messages: $m) { ok id error broadcastId messages { id } } }`, {
      m: [
        { notificationId: 'bell', to: { topic: 'mixed' }, id: 'mixed-1' },
        { notificationId: 'bell', userId: 'solo' },
        { notificationId: 'bell', to: { topic: 'nope' } },
        { notificationId: 'bell', to: { topic: 'mixed' }, userId: 'solo' },
        { notificationId: 'bell' },
      ],
    });
    expect(r.errors).toBeUndefined();
    const [topic, solo, unknown, both, none] = r.data.sendMessages;
    expect(topic).toMatchObject({ ok: true, id: 'mixed-1', messages: [] });
    expect(solo).toMatchObject({ ok: true, broadcastId: null });
    expect(solo.messages).toHaveLength(1);
    expect(unknown).toMatchObject({ ok: false, error: 'topic/not-found' });
    expect(both).toMatchObject({ ok: false, error: 'invalid/to: give userId or to, not both' });
    expect(none).toMatchObject({ ok: false, error: 'invalid/userId: is required' });
    expect(await finished(topic.broadcastId)).toMatchObject({ status: 'COMPLETED', processed: 2, delivered: 2 });
  });

  it('cancelBroadcast stops a fan-out mid-way', async () => {
    await topicWith('cancel', 120);
    const id = (await call(SEND, { key: 'cancel', tx: 'cancel-1', n: 'bell' })).data.sendToTopic.id;
    await pollFor(async () => (await broadcast(id)).processed >= 10, 10_000, 'the fan-out to start');
    const canceled = await call(`mutation($id: ID!) { cancelBroadcast(id: $id) { ${FIELDS} } }`, { id });
    expect(canceled.errors).toBeUndefined();
    expect(canceled.data.cancelBroadcast.status).toBe('CANCELED');
    // A few chunk periods: the chunk in hand may still be accepted, nothing after it.
    await sleep(400);
    const after = await broadcast(id);
    expect(after.status).toBe('CANCELED');
    expect(after.processed).toBeLessThan(120);
    const { rows } = await messagesPerUser('cancel-1');
    expect(rows.length).toBeLessThanOrEqual(after.processed + 10);
    await sleep(200);
    expect((await broadcast(id)).processed).toBe(after.processed);
    expect(codeOf(await call('mutation($id: ID!) { cancelBroadcast(id: $id) { id } }', { id }))).toBe('CONFLICT');
  });

  it("validates every input and treats another project's topics and broadcasts as unknown", async () => {
    await topicWith('mine', 1);
    const id = (await call(SEND, { key: 'mine', tx: 'mine-1', n: 'bell' })).data.sendToTopic.id;
    expect(codeOf(await call(SEND, { key: 'mine', tx: 'x', n: 'bell' }, other.apiKey))).toBe('NOT_FOUND');
    expect(codeOf(await call(`query($id: ID!) { broadcast(id: $id) { id } }`, { id }, other.apiKey))).toBe('NOT_FOUND');
    expect(codeOf(await call(`mutation($id: ID!) { cancelBroadcast(id: $id) { id } }`, { id }, other.apiKey))).toBe('NOT_FOUND');
    const foreignStream = await sseSubscription(h.url, 'subscription($id: ID!) { broadcast(id: $id) { status } }', { id }, bearer(other.apiKey));
    const refused = await pollFor(() => foreignStream.results()[0], 5_000, 'the refusal');
    foreignStream.close();
    expect(refused.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

    expect(codeOf(await call(`query { broadcast(id: "not-a-uuid") { id } }`))).toBe('NOT_FOUND');
    expect(codeOf(await call(SEND, { key: 'missing', n: 'bell' }))).toBe('NOT_FOUND');
    expect(codeOf(await call(SEND, { key: 'mine', n: 'no-such-notification' }))).toBe('NOT_FOUND');
    expect(codeOf(await call(SEND, { key: 'mine', n: 'bell', tx: 'has space' }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await call(SEND, { key: 'mine', n: 'bell', tx: 'x'.repeat(129) }))).toBe('BAD_USER_INPUT');
    const unauthenticated = await rest(h.url, 'POST', '/graphql', { query: SEND, variables: { key: 'mine', n: 'bell' } });
    expect(unauthenticated.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    // Without a transactionId, each call is a new broadcast.
    const a = (await call(SEND, { key: 'mine', n: 'bell' })).data.sendToTopic;
    const b = (await call(SEND, { key: 'mine', n: 'bell' })).data.sendToTopic;
    expect(a.id).not.toBe(b.id);
    await finished(id);
  });

  it("broadcasts lists the project's broadcasts newest first, pages, filters by status and topic, and never another project's", async () => {
    // A project of its own, so the list holds exactly what this test sent.
    const lister = await h.newProject('Lister');
    const as = (query: string, variables: Record<string, unknown> = {}) => call(query, variables, lister.apiKey);
    expect((await as('mutation($input: NotificationInput!) { createNotification(input: $input) { id } }', {
      input: { key: 'bell', type: 'in-app', name: 'Bell', versions: [{ contents: [{ locale: 'en', title: 'L', body: 'l' }] }] },
    })).errors).toBeUndefined();
    expect((await as('mutation { upsertUsers(users: [{ externalId: "l-0" }, { externalId: "l-1" }]) { ok } }')).errors).toBeUndefined();
    for (const key of ['alpha', 'beta']) expect((await as('mutation($key: String!) { createTopic(key: $key) { id } }', { key })).errors).toBeUndefined();
    expect((await as('mutation { addTopicSubscribers(key: "alpha", userIds: ["l-0", "l-1"]) { count } }')).data.addTopicSubscribers.count).toBe(2);
    expect((await as('mutation { addTopicSubscribers(key: "beta", userIds: ["l-0"]) { count } }')).data.addTopicSubscribers.count).toBe(1);
    const sent: string[] = [];
    for (const [key, tx] of [['alpha', 'list-1'], ['beta', 'list-2']] as const) sent.push((await as(SEND, { key, tx, n: 'bell' })).data.sendToTopic.id);
    sent.push((await as('mutation { sendToAll(notificationId: "bell", transactionId: "list-3") { id } }')).data.sendToAll.id);
    await topicWith('listed', 1);
    const mine = await call(SEND, { key: 'listed', tx: 'list-mine', n: 'bell' });
    expect(mine.errors).toBeUndefined();
    for (const id of sent) {
      await pollFor(async () => (await as('query($id: ID!) { broadcast(id: $id) { status } }', { id })).data.broadcast.status === 'COMPLETED', 15_000, `broadcast ${id} to complete`);
    }
    // One of them canceled, so the status filter has something to tell apart (set here rather
    // than racing cancelBroadcast against a two-user fan-out).
    await prisma().broadcast.update({ where: { id: sent[0] }, data: { status: 'CANCELED' } });

    const LIST = `query($first: Int, $after: String, $last: Int, $before: String, $filter: BroadcastFilter) {
      broadcasts(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
        totalCount pageInfo { hasNextPage hasPreviousPage endCursor startCursor } edges { cursor node { id transactionId topicKey status total } }
      }
    }`;
    type Page = { totalCount: number; pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; endCursor: string; startCursor: string }; edges: { cursor: string; node: { id: string; transactionId: string; topicKey: string | null; status: string; total: number } }[] };
    const list = async (variables: Record<string, unknown>, apiKey = lister.apiKey) => {
      const r = await call(LIST, variables, apiKey);
      expect(r.errors, JSON.stringify(variables)).toBeUndefined();
      return r.data.broadcasts as Page;
    };
    const ids = (p: Page) => p.edges.map((e) => e.node.id);

    const all = await list({});
    expect(all.totalCount).toBe(3);
    expect(ids(all)).toEqual([...sent].reverse());
    expect(all.edges.map((e) => [e.node.transactionId, e.node.topicKey, e.node.total])).toEqual([['list-3', null, 2], ['list-2', 'beta', 1], ['list-1', 'alpha', 2]]);

    const first = await list({ first: 2 });
    expect(ids(first)).toEqual([sent[2], sent[1]]);
    expect(first.pageInfo.hasNextPage).toBe(true);
    expect(first.totalCount).toBe(3);
    const second = await list({ first: 2, after: first.pageInfo.endCursor });
    expect(ids(second)).toEqual([sent[0]]);
    expect(second.pageInfo.hasNextPage).toBe(false);
    const back = await list({ last: 1, before: second.pageInfo.startCursor });
    expect(ids(back)).toEqual([sent[1]]);

    expect(ids(await list({ filter: { status: ['CANCELED'] } }))).toEqual([sent[0]]);
    const completed = await list({ filter: { status: ['COMPLETED'] } });
    expect(ids(completed)).toEqual([sent[2], sent[1]]);
    expect(completed.totalCount).toBe(2);
    expect(ids(await list({ filter: { status: ['QUEUED', 'RUNNING'] } }))).toEqual([]);
    expect(ids(await list({ filter: { status: ['CANCELED', 'COMPLETED'], topicKey: 'alpha' } }))).toEqual([sent[0]]);
    expect(ids(await list({ filter: { topicKey: 'beta' } }))).toEqual([sent[1]]);
    // A key no topic has (or a deleted topic's) is an empty list, not an error.
    expect((await list({ filter: { topicKey: 'gone' } })).totalCount).toBe(0);

    // Another project's broadcasts are never listed, and its cursors position nothing here.
    const theirs = await list({ first: 200 }, h.project.apiKey);
    expect(ids(theirs)).toContain(mine.data.sendToTopic.id);
    expect(ids(theirs).filter((id) => sent.includes(id))).toEqual([]);
    expect(ids(await list({ filter: { topicKey: 'listed' } }))).toEqual([]);
    expect(ids(await list({ first: 10, after: theirs.edges[0]!.cursor }))).toEqual(ids(all).filter((id) => id < theirs.edges[0]!.node.id));

    // Bad arguments: BAD_USER_INPUT naming the field.
    for (const [variables, field] of [
      [{ filter: { topicKey: 'has space' } }, 'filter.topicKey'],
      [{ filter: { status: [] } }, 'filter.status'],
      [{ first: -1 }, 'first'],
      [{ after: 'not-a-cursor' }, 'after'],
    ] as const) {
      const r = await call(LIST, variables, lister.apiKey);
      expect(codeOf(r), JSON.stringify(variables)).toBe('BAD_USER_INPUT');
      expect(JSON.stringify(r.errors), JSON.stringify(variables)).toContain(field);
    }
    const badStatus = await call(LIST, { filter: { status: ['NOPE'] } }, lister.apiKey);
    expect(codeOf(badStatus)).toBe('BAD_USER_INPUT');
    expect(codeOf(await rest(h.url, 'POST', '/graphql', { query: LIST }).then((r) => r.body))).toBe('UNAUTHENTICATED');
  });

  it('resumes after its worker is killed mid-way: every subscriber gets the broadcast exactly once', async () => {
    const ids = await topicWith('crash', 200);
    const id = (await call(SEND, { key: 'crash', tx: 'crash-1', n: 'bell' })).data.sendToTopic.id;
    await pollFor(async () => (await broadcast(id)).processed >= 30, 15_000, 'the fan-out to be under way');
    worker.process.kill('SIGKILL');
    await worker.exited;
    const atKill = await broadcast(id);
    expect(atKill.status).toBe('RUNNING');
    expect(atKill.processed).toBeLessThan(200);
    // Another worker (in this process): its reconciler finds the broadcast once the dead one's lease ran out.
    sibling = await h.startSibling({ WORKERS_ENABLED: 'true', ...FANOUT_ENV, BROADCAST_CHUNK_DELAY_MS: '0', DELIVERY_LEASE_MS: '1000', RECONCILE_STALE_MS: '1000' });
    const done = await finished(id, 20_000);
    expect(done).toMatchObject({ status: 'COMPLETED', total: 200, processed: 200, delivered: 200, skipped: 0, failed: 0 });
    const { per } = await messagesPerUser('crash-1');
    expect(per.size).toBe(200);
    expect([...per.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    await pollFor(async () => (await inboxCount(ids)) === 200, 20_000, '200 inbox items');
    const perInbox = await prisma().inboxItem.groupBy({ by: ['userId'], where: { projectId: h.project.projectId, user: { externalId: { in: ids } } }, _count: true });
    expect(perInbox.every((g) => g._count === 1)).toBe(true);
  }, 60_000);
});
