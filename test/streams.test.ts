import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPubSub, type MessageStatusEvent, type PubSubHandle } from '../src/realtime/pubsub.ts';
import { TEST_REDIS_URL } from './helpers/database.ts';
import { bearer, memoryLogger, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor } from './helpers/http-server.ts';
import { prisma } from '../src/db/client.ts';
import { widgetSecretTag } from '../src/modules/projects/credentials.ts';
import { watchCredentials } from '../src/realtime/revocation.ts';
import { inboxSubscriber, INBOX_SUBSCRIPTION, rawSocket, sleep, sseSubscription, widgetAuth } from './helpers/realtime.ts';

// Long-lived streams against a real Herald (PostgreSQL, Redis): subscribers that stop reading,
// credentials that stop being valid. Events are published from a second pub/sub connection,
// as another instance (or a worker process) would publish them.

const STATUS_SUBSCRIPTION = 'subscription { messageStatus { messageId status error } }';

/** An HTTP client that sends one SSE subscription request and then never reads again. */
async function stalledSse(port: number, headers: Record<string, string>, query: string) {
  const socket: Socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const body = JSON.stringify({ query });
  const head = [
    'POST /graphql HTTP/1.1',
    'host: 127.0.0.1',
    'content-type: application/json',
    'accept: text/event-stream',
    `content-length: ${Buffer.byteLength(body)}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    '',
    '',
  ].join('\r\n');
  socket.write(head + body);
  // Read until the response has begun (the subscription is running), then stop reading.
  let received = '';
  await new Promise<void>((resolve) => {
    const onData = (chunk: Buffer) => {
      received += chunk.toString('utf8');
      if (received.includes('\r\n\r\n')) {
        socket.off('data', onData);
        socket.pause();
        resolve();
      }
    };
    socket.on('data', onData);
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => {});
  return {
    status: Number(received.split(' ')[1]),
    socket,
    closed,
    /** Reads everything the server still sends, until it closes the connection. */
    async drain(): Promise<string> {
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      socket.resume();
      await closed;
      return text;
    },
  };
}

function statusEvent(projectId: string, i: number, pad: string): MessageStatusEvent {
  return {
    messageId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    projectId,
    userId: null,
    notificationId: null,
    channel: 'IN_APP',
    status: 'SENT',
    attempt: 1,
    error: pad,
    at: new Date().toISOString(),
  };
}

describe('subscribers that stop reading', () => {
  let h: TestHerald;
  let publisher: PubSubHandle;
  const { logger, lines } = memoryLogger('info');

  beforeAll(async () => {
    // The credentials of open streams are re-read every 300 ms here (a user deleted in SQL, below).
    h = await startTestHerald({ logger, env: { WS_MAX_BUFFERED_BYTES: String(64 * 1024), STREAM_RECHECK_MS: '300' } });
    publisher = openPubSub(TEST_REDIS_URL, undefined, h.config.QUEUE_PREFIX);
  });
  afterAll(async () => {
    await publisher?.close();
    await h?.stop();
  });

  it('ends the stalled messageStatus subscriptions (websocket 1013, SSE) and keeps the server and the other subscribers going', async () => {
    // A websocket subscriber and an SSE subscriber that stop reading once subscribed.
    const slowWs = await rawSocket(h.url);
    await slowWs.init({ authorization: `Bearer ${h.project.apiKey}` });
    slowWs.subscribe('slow', STATUS_SUBSCRIPTION);
    const slowSse = await stalledSse(h.port, bearer(h.project.apiKey), STATUS_SUBSCRIPTION);
    expect(slowSse.status).toBe(200);
    // One that keeps reading.
    const reader = await rawSocket(h.url);
    await reader.init({ authorization: `Bearer ${h.project.apiKey}` });
    reader.subscribe('fast', STATUS_SUBSCRIPTION);
    await sleep(300);
    slowWs.socket.pause();

    // Far more than any buffer holds: 4,000 events of 4 KB (16 MB) for each subscriber.
    const pad = 'x'.repeat(4_000);
    const COUNT = 4_000;
    for (let i = 0; i < COUNT; i++) {
      publisher.pubsub.publish('messageStatus', h.project.projectId, statusEvent(h.project.projectId, i, pad));
      if (i % 200 === 199) await sleep(20);
    }
    const received = () => reader.of('fast').filter((m) => m.type === 'next').length;
    await pollFor(() => received() === COUNT, 60_000, 'every event at the subscriber that reads');

    // The server is up and answers.
    const health = await fetch(`${h.url}/healthz`);
    expect(health.status).toBe(200);

    // The stalled websocket is closed with 1013 once it reads again; the stalled SSE stream ends
    // with SLOW_CONSUMER then `complete`.
    slowWs.socket.resume();
    const closed = await slowWs.closed;
    expect(closed.code).toBe(1013);
    expect(slowWs.of('slow').filter((m) => m.type === 'next').length).toBeLessThan(COUNT);
    const sseText = await slowSse.drain();
    expect(sseText).toContain('SLOW_CONSUMER');
    expect(sseText.indexOf('event: complete')).toBeGreaterThan(sseText.indexOf('SLOW_CONSUMER'));

    // The reader still receives new events.
    publisher.pubsub.publish('messageStatus', h.project.projectId, statusEvent(h.project.projectId, COUNT, 'after'));
    await pollFor(() => reader.of('fast').some((m) => m.type === 'next' && m.payload.data.messageStatus.error === 'after'), 10_000, 'an event after the flood');
    expect(lines.filter((l) => (l.level as number) >= 50)).toEqual([]);
    reader.socket.close();
  }, 120_000);

  it('ends the streams of a user deleted without an event (in SQL) at the next re-check: websocket 4403, SSE UNAUTHENTICATED then complete', async () => {
    const upserted = await fetch(`${h.url}/users.upsert`, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(h.project.apiKey) }, body: JSON.stringify({ users: [{ id: 'doomed' }] }) });
    expect(upserted.status).toBe(200);
    const auth = widgetAuth(h.project.projectId, h.project.widgetSecret, 'doomed');
    const ws = inboxSubscriber(h.url, auth.params);
    await pollFor(() => ws.acknowledged(), 5_000, 'connection_ack');
    const sse = await sseSubscription(h.url, INBOX_SUBSCRIPTION, {}, auth.headers);
    expect(sse.response.status).toBe(200);
    const user = await prisma().user.findFirstOrThrow({ where: { projectId: h.project.projectId, externalId: 'doomed' } });
    await pollFor(() => h.herald.pubsub.subscribers('inboxEvent', `${h.project.projectId}:${user.id}`) === 2, 5_000, 'both streams');
    await prisma().user.delete({ where: { id: user.id } });

    await pollFor(() => ws.closed(), 5_000, 'the websocket to close');
    expect(ws.closed()).toBe(4403);
    await sse.reading;
    expect(sse.results().at(-1)?.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(sse.results().at(-1)?.errors?.[0]?.message).toMatch(/user deleted/);
    expect(sse.events.at(-1)?.event).toBe('complete');
    expect(h.herald.pubsub.subscribers('inboxEvent', `${h.project.projectId}:${user.id}`)).toBe(0);
    await ws.client.dispose();
  });
});

describe('streams whose credentials stop being valid', () => {
  let h: TestHerald;

  beforeAll(async () => {
    // No periodic re-check: what ends these streams is the event every instance receives.
    h = await startTestHerald({ env: { STREAM_RECHECK_MS: '0', MAX_BODY_BYTES: String(64 * 1024) } });
  });
  afterAll(async () => {
    await h?.stop();
  });

  const gqlPost = async (query: string, variables: Record<string, unknown>, headers: Record<string, string>) => {
    const response = await fetch(`${h.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query, variables }) });
    return (await response.json()) as { data?: any; errors?: unknown[] };
  };

  it('ends the SSE and websocket streams of a revoked API key: SSE with UNAUTHENTICATED then complete, websocket with 4403', async () => {
    const created = await gqlPost('mutation { createApiKey(name: "streams") { apiKey key { id } } }', {}, bearer(h.project.apiKey));
    const { apiKey, key } = created.data.createApiKey as { apiKey: string; key: { id: string } };
    const sse = await sseSubscription(h.url, STATUS_SUBSCRIPTION, {}, bearer(apiKey));
    expect(sse.response.status).toBe(200);
    const ws = await rawSocket(h.url);
    await ws.init({ authorization: `Bearer ${apiKey}` });
    ws.subscribe('s', STATUS_SUBSCRIPTION);
    // A stream of another key of the project goes on.
    const other = await sseSubscription(h.url, STATUS_SUBSCRIPTION, {}, bearer(h.project.apiKey));
    await pollFor(() => h.herald.pubsub.subscribers('messageStatus', h.project.projectId) === 3, 5_000, 'three subscriptions');

    const revoked = await gqlPost('mutation($id: ID!) { revokeApiKey(id: $id) { active } }', { id: key.id }, bearer(h.project.apiKey));
    expect(revoked.data.revokeApiKey.active).toBe(false);

    await sse.reading;
    const last = sse.results().at(-1);
    expect(last?.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(last?.errors?.[0]?.message).toMatch(/API key revoked/);
    expect(sse.events.at(-1)?.event).toBe('complete');
    expect((await ws.closed).code).toBe(4403);
    expect(other.ended()).toBeUndefined();
    expect(h.herald.pubsub.subscribers('messageStatus', h.project.projectId)).toBe(1);
    other.close();
  });

  it("ends the end-user streams of a project whose widget secret is rotated, and only that project's", async () => {
    const project = await h.newProject('Rotating');
    const auth = widgetAuth(project.projectId, project.widgetSecret, 'u1');
    const ws = inboxSubscriber(h.url, auth.params);
    await pollFor(() => ws.acknowledged(), 5_000, 'connection_ack');
    const sse = await sseSubscription(h.url, INBOX_SUBSCRIPTION, {}, auth.headers);
    expect(sse.response.status).toBe(200);
    // An end user of another project keeps their stream.
    const bystander = inboxSubscriber(h.url, widgetAuth(h.project.projectId, h.project.widgetSecret, 'bystander').params);
    await pollFor(() => bystander.acknowledged(), 5_000, 'connection_ack of the bystander');
    await sleep(200);

    const rotated = await gqlPost('mutation { rotateProjectSecret(secret: WIDGET) }', {}, bearer(project.apiKey));
    expect(rotated.data.rotateProjectSecret).toEqual(expect.any(String));

    await pollFor(() => ws.closed(), 5_000, 'the websocket to close');
    expect(ws.closed()).toBe(4403);
    await sse.reading;
    expect(sse.results().at(-1)?.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(sse.results().at(-1)?.errors?.[0]?.message).toMatch(/widget secret rotated/);
    expect(sse.events.at(-1)?.event).toBe('complete');
    await sleep(200);
    expect(bystander.closed()).toBeUndefined();
    await ws.client.dispose();
    await bystander.client.dispose();
  });

  it('a re-check ends only streams whose credentials it read: one opened while its queries run stays open', async () => {
    const [a, b] = await Promise.all(['recheck-a', 'recheck-b'].map((externalId) => prisma().user.create({ data: { projectId: h.project.projectId, externalId } })));
    const ended: string[] = [];
    const stream = (user: { id: string; externalId: string }) =>
      h.herald.pubsub.streams.add({
        principal: { kind: 'endUser', projectId: h.project.projectId, userId: user.id, externalId: user.externalId, secretTag: widgetSecretTag(h.project.widgetSecret) },
        end: () => void ended.push(user.externalId),
      });
    const watcher = watchCredentials(h.herald.pubsub, { recheckMs: 0 });
    const removeA = stream(a!);
    const checking = watcher.recheck();
    // Opened after the re-check took its list: b's id is not in what its queries read.
    const removeB = stream(b!);
    await checking;
    expect(ended).toEqual([]);
    // What the re-check did read is still judged: a deleted in SQL ends at the next one.
    await prisma().user.delete({ where: { id: a!.id } });
    await watcher.recheck();
    expect(ended).toEqual(['recheck-a']);
    removeA();
    removeB();
    await watcher.stop();
  });
});

describe('websocket messages', () => {
  let h: TestHerald;
  beforeAll(async () => {
    h = await startTestHerald({ env: { MAX_BODY_BYTES: String(64 * 1024) } });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('closes a socket whose message is larger than MAX_BODY_BYTES with 1009; other sockets go on', async () => {
    const other = await rawSocket(h.url);
    await other.init({ authorization: `Bearer ${h.project.apiKey}` });
    const big = await rawSocket(h.url);
    await big.init({ authorization: `Bearer ${h.project.apiKey}` });
    big.send({ type: 'subscribe', id: 'q', payload: { query: 'query($n: String) { project { id } }', variables: { n: 'x'.repeat(70 * 1024) } } });
    const closed = await big.closed;
    expect(closed.code).toBe(1009);
    expect(big.of('q')).toEqual([]);
    other.send({ type: 'subscribe', id: 'q', payload: { query: '{ project { id } }' } });
    const answer = await pollFor(() => other.of('q').find((m) => m.type === 'next'), 5_000, 'the answer on the other socket');
    expect(answer.payload).toEqual({ data: { project: { id: h.project.projectId } } });
    other.socket.close();
  });

  it('answers a variable of the wrong type without repeating its value, over websocket and HTTP', async () => {
    const value = `secret-${'y'.repeat(20_000)}`;
    const query = 'query($first: Int) { users(first: $first) { totalCount } }';
    const ws = await rawSocket(h.url);
    await ws.init({ authorization: `Bearer ${h.project.apiKey}` });
    ws.send({ type: 'subscribe', id: 'q', payload: { query, variables: { first: value } } });
    const answer = await pollFor(() => ws.of('q').find((m) => m.type === 'next' || m.type === 'error'), 5_000, 'the answer');
    const wsErrors = (answer.type === 'next' ? answer.payload.errors : answer.payload) as { message: string; extensions?: Record<string, unknown> }[];
    const response = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(h.project.apiKey) },
      body: JSON.stringify({ query, variables: { first: value } }),
    });
    const httpErrors = ((await response.json()) as { errors: { message: string; extensions?: Record<string, unknown> }[] }).errors;
    for (const errors of [wsErrors, httpErrors]) {
      expect(errors).toHaveLength(1);
      expect(errors[0]!.message).toBe('Variable "$first" got an invalid value; Int cannot represent the value given.');
      expect(errors[0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ field: 'first', message: errors[0]!.message }] });
      expect(JSON.stringify(errors)).not.toContain('secret-');
    }
    // Inside an input object: the path is named, the value still is not.
    const nested = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(h.project.apiKey) },
      body: JSON.stringify({ query: 'mutation($users: [UserInput!]!) { upsertUsers(users: $users) { ok } }', variables: { users: [{ externalId: 'u', email: [value] }] } }),
    });
    const nestedBody = JSON.stringify(await nested.json());
    expect(nestedBody).not.toContain('secret-');
    expect(nestedBody).toContain('users[0]');
    ws.socket.close();
  });
});
