import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../src/db/client.ts';
import { openPubSub } from '../src/realtime/pubsub.ts';
import { TEST_REDIS_URL } from './helpers/database.ts';
import { bearer, memoryLogger, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor } from './helpers/http-server.ts';
import { inboxSubscriber, INBOX_SUBSCRIPTION, rawSocket, sleep, sseSubscription, widgetAuth } from './helpers/realtime.ts';

// Realtime transports against a real Herald (PostgreSQL, Redis) with small limits, so each limit
// can be crossed quickly. Operations are plain strings: these tests speak the wire protocols.

const KEEPALIVE_MS = 1_000;
const INIT_TIMEOUT_MS = 600;
const MAX_SUBSCRIPTIONS = 3;
const MAX_BUFFERED_BYTES = 64 * 1024;

async function graphqlRequest(url: string, query: string, variables: Record<string, unknown>, headers: Record<string, string>) {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: (await response.json()) as { data?: any; errors?: { message: string; extensions?: Record<string, unknown> }[] } };
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([promise, sleep(ms).then(() => Promise.reject(new Error(`timed out after ${ms} ms waiting for ${what}`)))]);
}

/** An in-app notification "bell" in the project of `h`. */
async function createBell(h: TestHerald) {
  const created = await graphqlRequest(
    h.url,
    'mutation($input: NotificationInput!) { createNotification(input: $input) { id } }',
    { input: { key: 'bell', type: 'in-app', name: 'Bell', versions: [{ contents: [{ locale: 'en', title: 'Ping', body: 'b' }] }] } },
    bearer(h.project.apiKey),
  );
  expect(created.body.errors).toBeUndefined();
}

async function send(h: TestHerald, userId: string, data: Record<string, unknown> = {}, count = 1) {
  const messages = Array.from({ length: count }, () => ({ notificationId: 'bell', userId, data }));
  const res = await rest(h.url, 'POST', '/messages.send', { messages }, bearer(h.project.apiKey));
  expect(res.status).toBe(200);
  expect(res.body.results.map((r: { ok: boolean }) => r.ok)).toEqual(messages.map(() => true));
  return res.body.results.map((r: { id: string }) => r.id) as string[];
}

/** Creates users as operators do (a widget does not create its user). */
async function createUsers(h: TestHerald, ...externalIds: string[]) {
  const res = await rest(h.url, 'POST', '/users.upsert', { users: externalIds.map((id) => ({ id })) }, bearer(h.project.apiKey));
  expect(res.status).toBe(200);
}

/**
 * How many live inbox streams of a user the instance holds (a stream subscribes to its user's
 * events; the instance itself has one Redis subscription per topic, whatever their number).
 */
async function inboxStreams(h: TestHerald, externalId: string) {
  const user = await pollFor(() => prisma().user.findFirst({ where: { projectId: h.project.projectId, externalId } }), 5_000, `user ${externalId}`);
  return () => h.herald.pubsub.subscribers('inboxEvent', `${h.project.projectId}:${user.id}`);
}

/** Waits until the user's inbox holds `count` events (the sends were delivered). */
async function delivered(h: TestHerald, externalId: string, count: number) {
  await pollFor(async () => {
    const user = await prisma().user.findFirst({ where: { projectId: h.project.projectId, externalId } });
    return user && (await prisma().inboxEvent.count({ where: { userId: user.id } })) >= count;
  }, 20_000, `${count} inbox events of ${externalId}`);
}

describe('graphql-ws and SSE limits', () => {
  let h: TestHerald;
  const { logger, lines } = memoryLogger('info');
  const auth = (externalId: string) => widgetAuth(h.project.projectId, h.project.widgetSecret, externalId);

  beforeAll(async () => {
    h = await startTestHerald({
      env: {
        WS_KEEPALIVE_MS: String(KEEPALIVE_MS),
        WS_CONNECTION_INIT_TIMEOUT_MS: String(INIT_TIMEOUT_MS),
        WS_MAX_SUBSCRIPTIONS: String(MAX_SUBSCRIPTIONS),
        WS_MAX_BUFFERED_BYTES: String(MAX_BUFFERED_BYTES),
      },
      logger,
    });
    await createBell(h);
  });
  afterAll(async () => {
    await h?.stop();
  });

  describe('keep-alive', () => {
    it('terminates a socket that stops answering pings and frees its subscription; a peer that answers stays', async () => {
      await createUsers(h, 'ka-dead', 'ka-alive');
      // The server's keep-alive clock starts when it accepts the socket: no earlier than this.
      const connectingAt = Date.now();
      const dead = await rawSocket(h.url, { autoPong: false });
      const alive = await rawSocket(h.url);
      await dead.init(auth('ka-dead').params);
      await alive.init(auth('ka-alive').params);
      dead.subscribe('1', INBOX_SUBSCRIPTION);
      alive.subscribe('1', INBOX_SUBSCRIPTION);
      const deadStreams = await inboxStreams(h, 'ka-dead');
      const aliveStreams = await inboxStreams(h, 'ka-alive');
      await pollFor(() => deadStreams() === 1 && aliveStreams() === 1, 5_000, 'both subscriptions');
      const subscribedAt = Date.now();

      // The server pings after one interval and cuts the socket one interval later: no close frame (1006).
      const closed = await within(dead.closed, 6_000, 'the dead peer to be cut');
      expect(closed.code).toBe(1006);
      expect(closed.at - connectingAt).toBeGreaterThanOrEqual(KEEPALIVE_MS);
      expect(closed.at - subscribedAt).toBeLessThan(KEEPALIVE_MS * 2 + 1_500);
      // Its subscription is gone at once, not at the stream's next event or timer.
      await pollFor(() => deadStreams() === 0, 500, 'the dead peer to lose its subscription');

      // The answering peer has been pinged (and answered) several times meanwhile, and still works.
      await sleep(KEEPALIVE_MS);
      expect(alive.socket.readyState).toBe(alive.socket.OPEN);
      await send(h, 'ka-alive');
      const next = await pollFor(() => alive.of('1').find((m) => m.type === 'next'), 10_000, 'a live event');
      expect(next.payload.data.inbox.type).toBe('CREATED');
      alive.socket.close();
    });
  });

  describe('connection_init timeout', () => {
    it(`closes a socket that sends no connection_init within WS_CONNECTION_INIT_TIMEOUT_MS with 4408`, async () => {
      const silent = await rawSocket(h.url);
      const opened = Date.now();
      const prompt = await rawSocket(h.url);
      await sleep(INIT_TIMEOUT_MS / 2);
      await prompt.init(auth('init-prompt').params);

      const closed = await within(silent.closed, 5_000, 'the init timeout');
      expect(closed.code).toBe(4408);
      expect(closed.at - opened).toBeGreaterThanOrEqual(INIT_TIMEOUT_MS - 50);
      // Far below graphql-ws's own 3 s default and our 10 s one: the setting is applied.
      expect(closed.at - opened).toBeLessThan(2_500);
      // The timer does not fire for a socket that initialised in time.
      await sleep(INIT_TIMEOUT_MS);
      expect(prompt.socket.readyState).toBe(prompt.socket.OPEN);
      prompt.socket.close();
    });
  });

  describe('subscriptions per connection', () => {
    it('refuses one subscription too many with TOO_MANY_SUBSCRIPTIONS, keeps the socket and the others, and frees a slot on complete', async () => {
      const client = await rawSocket(h.url);
      await client.init(auth('limit').params);
      for (const id of ['s1', 's2', 's3', 's4']) client.subscribe(id, INBOX_SUBSCRIPTION);
      const refused = await pollFor(() => client.of('s4').find((m) => m.type === 'error'), 5_000, 'the refusal');
      expect(refused.payload).toEqual([
        expect.objectContaining({ extensions: expect.objectContaining({ code: 'TOO_MANY_SUBSCRIPTIONS', max: MAX_SUBSCRIPTIONS }) }),
      ]);

      // Queries do not count against the limit and still run on the same socket.
      client.send({ type: 'subscribe', id: 'q1', payload: { query: '{ unreadCount }' } });
      const answer = await pollFor(() => client.of('q1').find((m) => m.type === 'next'), 5_000, 'the query answer');
      expect(answer.payload).toEqual({ data: { unreadCount: 0 } });

      await send(h, 'limit');
      for (const id of ['s1', 's2', 's3']) await pollFor(() => client.of(id).find((m) => m.type === 'next'), 10_000, `an event on ${id}`);

      // Completing one frees its slot.
      client.send({ type: 'complete', id: 's1' });
      await sleep(100);
      client.subscribe('s5', INBOX_SUBSCRIPTION);
      await sleep(300);
      expect(client.of('s5').filter((m) => m.type === 'error')).toEqual([]);
      await send(h, 'limit');
      const live = await pollFor(() => client.of('s5').find((m) => m.type === 'next'), 10_000, 'an event on s5');
      expect(live.payload.data.inbox.cursor).toBe('2');
      expect(client.of('s1').filter((m) => m.type === 'next')).toHaveLength(1);
      expect(client.socket.readyState).toBe(client.socket.OPEN);
      client.socket.close();
    });

    it('answers a syntax error on one operation with an error, not by closing the socket', async () => {
      const client = await rawSocket(h.url);
      await client.init(auth('syntax').params);
      client.send({ type: 'subscribe', id: 'bad', payload: { query: 'subscription { inbox(' } });
      const error = await pollFor(() => client.of('bad').find((m) => m.type === 'error'), 5_000, 'the syntax error');
      expect(error.payload[0].message).toMatch(/Syntax Error/);
      client.send({ type: 'subscribe', id: 'q', payload: { query: '{ unreadCount }' } });
      await pollFor(() => client.of('q').find((m) => m.type === 'next'), 5_000, 'the next query');
      expect(client.socket.readyState).toBe(client.socket.OPEN);
      client.socket.close();
    });
  });

  describe('slow consumers', () => {
    const BIG = 'x'.repeat(150_000);
    const COUNT = 60;
    const query = 'subscription($since: String) { inbox(since: $since) { cursor item { data } } }';

    beforeAll(async () => {
      for (let i = 0; i < COUNT; i += 5) await send(h, 'slow', { pad: BIG }, 5);
      await delivered(h, 'slow', COUNT);
    });

    it('closes a socket that stops reading with 1013; a resubscription with since gets the rest, nothing lost', async () => {
      const client = await rawSocket(h.url);
      await client.init(auth('slow').params);
      // Three replays of 9 MB each into a socket whose reader has stopped: the kernel buffers
      // (about 4 MB here) fill, then each subscription leaves its next message unsent.
      const logged = lines.length;
      client.socket.pause();
      for (const id of ['a', 'b', 'c']) client.subscribe(id, query, { since: '0' });
      // The close frame waits behind what the client has not read yet: it reads again once the server has decided.
      const drop = await pollFor(() => lines.slice(logged).find((l) => l.msg === 'Closing a websocket that reads too slowly'), 15_000, 'the slow consumer rule');
      expect(drop.bufferedAmount).toBeGreaterThan(MAX_BUFFERED_BYTES);
      client.socket.resume();
      const closed = await within(client.closed, 10_000, 'the slow consumer to be closed');
      expect(closed.code).toBe(1013);
      expect(closed.reason).toMatch(/too slowly/);

      const received = client.of('a').filter((m) => m.type === 'next').map((m) => Number(m.payload.data.inbox.cursor));
      expect(received.length).toBeLessThan(COUNT);
      expect(received).toEqual(received.map((_, i) => i + 1));
      for (const m of client.of('a').filter((m) => m.type === 'next')) expect(m.payload.data.inbox.item.data.pad).toHaveLength(BIG.length);

      const again = await rawSocket(h.url);
      await again.init(auth('slow').params);
      const last = received.at(-1) ?? 0;
      again.subscribe('a', query, { since: String(last) });
      await pollFor(() => again.of('a').filter((m) => m.type === 'next').length >= COUNT - last, 20_000, 'the rest');
      await sleep(300);
      const rest = again.of('a').filter((m) => m.type === 'next').map((m) => Number(m.payload.data.inbox.cursor));
      expect([...received, ...rest]).toEqual(Array.from({ length: COUNT }, (_, i) => i + 1));
      expect(again.socket.readyState).toBe(again.socket.OPEN);
      again.socket.close();
    });

    it('closes with 1013 a socket whose subscription falls more than 1000 events behind, at once; what it got is a gap-free prefix', async () => {
      const client = await rawSocket(h.url);
      await client.init(auth('slow').params);
      // One subscription: its stream, not the socket, is where the backlog grows.
      client.socket.pause();
      client.subscribe('a', query, { since: '0' });
      await sleep(300);
      // Live events keep arriving while the client reads nothing (fakes, published as another instance would).
      const user = await prisma().user.findFirstOrThrow({ where: { projectId: h.project.projectId, externalId: 'slow' } });
      const publisher = openPubSub(TEST_REDIS_URL, undefined, h.config.QUEUE_PREFIX);
      const logged = lines.length;
      for (let i = 0; i < 1_001; i++) {
        const event = { projectId: h.project.projectId, userId: user.id, cursor: String(1_000_000 + i), type: 'READ' as const, itemId: null, unreadCount: 0, at: new Date().toISOString() };
        publisher.pubsub.publish('inboxEvent', `${h.project.projectId}:${user.id}`, event);
      }
      await publisher.close();
      // Decided while the client still reads nothing: the backlog is dropped, not kept for it.
      const drop = await pollFor(() => lines.slice(logged).find((l) => l.msg === 'Closing a websocket that reads too slowly'), 10_000, 'the slow consumer rule');
      expect(drop).toMatchObject({ subscription: 'a' });
      client.socket.resume();

      const closed = await within(client.closed, 15_000, 'the slow consumer to be closed');
      expect(closed.code).toBe(1013);
      const received = client.of('a').filter((m) => m.type === 'next').map((m) => Number(m.payload.data.inbox.cursor));
      expect(received.length).toBeLessThanOrEqual(COUNT);
      expect(received).toEqual(received.map((_, i) => i + 1));
    });

    it('does not close a client that reads the same replay as it comes', async () => {
      const client = await rawSocket(h.url);
      await client.init(auth('slow').params);
      for (const id of ['a', 'b', 'c']) client.subscribe(id, query, { since: '0' });
      const replayed = (id: string) => client.of(id).filter((m) => m.type === 'next').length === COUNT;
      await pollFor(() => replayed('a') && replayed('b') && replayed('c'), 20_000, 'the three replays');
      expect(client.socket.readyState).toBe(client.socket.OPEN);
      client.socket.close();
    });
  });

  describe('SSE (GraphQL over Server-Sent Events)', () => {
    it('replays inbox(since) then streams live events, with end-user headers; a disconnect ends the stream', async () => {
      await send(h, 'sse-user', {}, 3);
      await delivered(h, 'sse-user', 3);
      const stream = await sseSubscription(h.url, INBOX_SUBSCRIPTION, { since: '1' }, auth('sse-user').headers);
      expect(stream.response.status).toBe(200);
      expect(stream.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      await pollFor(() => stream.results().length >= 2, 10_000, 'the replay');
      await send(h, 'sse-user');
      await pollFor(() => stream.results().length >= 3, 10_000, 'the live event');
      await sleep(300);
      const events = stream.results().map((r) => r.data.inbox);
      expect(events.map((e) => e.cursor)).toEqual(['2', '3', '4']);
      expect(events.map((e) => e.unreadCount)).toEqual([2, 3, 4]);

      const streams = await inboxStreams(h, 'sse-user');
      expect(streams()).toBe(1);
      stream.close();
      await pollFor(() => streams() === 0, 2_000, 'the stream to end with its connection');
    });

    it('releases the subscription of messageStatus as soon as its client goes, with no event in between', async () => {
      const count = () => h.herald.pubsub.subscribers('messageStatus', h.project.projectId);
      const before = count();
      const stream = await sseSubscription(h.url, 'subscription { messageStatus { messageId status } }', {}, bearer(h.project.apiKey));
      await pollFor(() => count() === before + 1, 5_000, 'the subscription');
      stream.close();
      await pollFor(() => count() === before, 2_000, 'the subscription to end with its connection');
    });

    it('streams messageStatus to an API key, refuses the inbox to it, and answers 401 to a wrong key', async () => {
      const stream = await sseSubscription(h.url, 'subscription { messageStatus { messageId status } }', {}, bearer(h.project.apiKey));
      expect(stream.response.status).toBe(200);
      await sleep(200);
      const [id] = await send(h, 'sse-operator-view');
      await pollFor(() => stream.results().some((r) => r.data?.messageStatus.messageId === id && r.data.messageStatus.status === 'DELIVERED'), 10_000, 'DELIVERED');
      expect(stream.results().every((r) => r.errors === undefined)).toBe(true);
      stream.close();

      const inbox = await sseSubscription(h.url, INBOX_SUBSCRIPTION, {}, bearer(h.project.apiKey));
      await inbox.reading;
      expect(inbox.results()[0]?.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(inbox.events.at(-1)?.event).toBe('complete');

      const wrong = await sseSubscription(h.url, INBOX_SUBSCRIPTION, {}, bearer(`${h.project.keyId}.wrong-secret`));
      expect(wrong.response.status).toBe(401);
      await wrong.reading;
    });
  });
});

describe('pub/sub across instances', () => {
  it("delivers an instance's own events to its subscribers once (not again when Redis echoes them) and the other instance's once", async () => {
    const prefix = `rt-local-${process.pid}-${Date.now()}`;
    const a = openPubSub(TEST_REDIS_URL, undefined, prefix);
    const b = openPubSub(TEST_REDIS_URL, undefined, prefix);
    const event = (messageId: string) => ({ messageId, projectId: 'p', userId: null, notificationId: null, channel: 'IN_APP', status: 'SENT', attempt: 1, error: null, at: new Date(0).toISOString() });
    const seen = { a: [] as string[], b: [] as string[] };
    const collect = (handle: typeof a, into: string[]) => {
      const subscription = handle.pubsub.subscribe('messageStatus', 'p');
      void (async () => {
        for await (const e of subscription) into.push(e.messageId);
      })();
      return subscription;
    };
    const subscriptions = [collect(a, seen.a), collect(b, seen.b)];
    try {
      // Both Redis subscriptions are up once each instance has an event of the other.
      await pollFor(() => {
        a.pubsub.publish('messageStatus', 'p', event('warm-a'));
        b.pubsub.publish('messageStatus', 'p', event('warm-b'));
        return seen.a.includes('warm-b') && seen.b.includes('warm-a');
      }, 10_000, 'both instances subscribed');
      // Warm-ups still under way are left out of what follows.
      const measured = (list: string[]) => list.filter((id) => !id.startsWith('warm'));
      for (const id of ['a1', 'a2', 'a3']) a.pubsub.publish('messageStatus', 'p', event(id));
      // B has them: Redis has sent them to A's subscriber connection too (echoes included).
      await pollFor(() => measured(seen.b).length === 3, 10_000, "A's events on B");
      b.pubsub.publish('messageStatus', 'p', event('b1'));
      // A's connection gets B's event after any echo of its own.
      await pollFor(() => seen.a.includes('b1'), 10_000, "B's event on A");
      expect(measured(seen.a)).toEqual(['a1', 'a2', 'a3', 'b1']);
      await pollFor(() => seen.b.includes('b1'), 10_000, "B's own event on B");
      expect(measured(seen.b)).toEqual(['a1', 'a2', 'a3', 'b1']);
    } finally {
      await Promise.all(subscriptions.map((s) => s.return()));
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('server stop', () => {
  it('leaves no stream reading the database after it (a catch-up timer pending at stop used to)', async () => {
    const { logger, lines } = memoryLogger('info');
    const h = await startTestHerald({ logger });
    await createUsers(h, 'early-stop');
    const auth = widgetAuth(h.project.projectId, h.project.widgetSecret, 'early-stop');
    const ws = inboxSubscriber(h.url, auth.params);
    await pollFor(() => ws.acknowledged(), 5_000, 'connection_ack');
    const streams = await inboxStreams(h, 'early-stop');
    await pollFor(() => streams() === 1, 5_000, 'the subscription');

    // Stopped within the first catch-up delay (250 ms): every catch-up timer is still pending.
    const linesBefore = lines.length;
    await h.stop();
    expect(ws.closed()).toBe(1001);
    await sleep(3_500);
    const problems = lines.slice(linesBefore).filter((l) => (l.level as number) >= 40 || JSON.stringify(l).includes('Database not opened'));
    expect(problems).toEqual([]);
    await ws.client.dispose();
  });

  it('ends SSE and websocket subscriptions at once with complete and 1001, well before the shutdown timeout', async () => {
    const { logger, lines } = memoryLogger('info');
    const h = await startTestHerald({ logger, env: { SHUTDOWN_TIMEOUT_MS: '20000' } });
    await createBell(h);
    const auth = widgetAuth(h.project.projectId, h.project.widgetSecret, 'stopper');
    await send(h, 'stopper');
    await delivered(h, 'stopper', 1);

    const inboxSse = await sseSubscription(h.url, INBOX_SUBSCRIPTION, { since: '0' }, auth.headers);
    const statusSse = await sseSubscription(h.url, 'subscription { messageStatus { messageId status } }', {}, bearer(h.project.apiKey));
    const ws = inboxSubscriber(h.url, auth.params, '0');
    await pollFor(() => inboxSse.results().length === 1 && ws.events.length === 1, 5_000, 'both inbox replays');

    const linesBefore = lines.length;
    const started = Date.now();
    await h.stop();
    const took = Date.now() - started;

    // An SSE response that did not end would hold its connection until SHUTDOWN_TIMEOUT_MS (20 s,
    // and a warning in the log): half of it leaves a loaded machine room for dropping the database.
    expect(took).toBeLessThan(10_000);
    await inboxSse.reading;
    await statusSse.reading;
    expect(inboxSse.ended()).toBe('end');
    expect(inboxSse.events.at(-1)?.event).toBe('complete');
    expect(statusSse.ended()).toBe('end');
    expect(statusSse.events.at(-1)?.event).toBe('complete');
    await pollFor(() => ws.closed(), 2_000, 'the websocket close');
    expect(ws.closed()).toBe(1001);
    expect(lines.slice(linesBefore).filter((l) => (l.level as number) >= 40)).toEqual([]);
    await ws.client.dispose();
  });
});
