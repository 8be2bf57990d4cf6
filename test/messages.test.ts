import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { graphql } from '../src/generated/gql/index.ts';
import { verify } from '../src/delivery/signing.ts';
import { prisma } from '../src/db/client.ts';
import { createVersion, updateVersion } from '../src/modules/notifications/service.ts';
import { bearer, gql, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor, startHttpServer } from './helpers/http-server.ts';
import { NOTIFUSE_SEND_WITHOUT_USER_ID } from './helpers/legacy-bodies.ts';
import { expectDocumented } from './helpers/openapi.ts';

const CreateNotification = graphql(`
  mutation MsgCreateNotification($input: NotificationInput!) {
    createNotification(input: $input) {
      id
    }
  }
`);
const Configure = graphql(`
  mutation MsgConfigure($input: ProviderInput!) {
    configureProvider(input: $input) {
      id
      hasSecrets
    }
  }
`);
const Send = graphql(`
  mutation MsgSend($messages: [SendMessageInput!]!) {
    sendMessages(messages: $messages) {
      ok
      id
      error
      messages {
        id
        channel
        status
      }
    }
  }
`);
const GetMessage = graphql(`
  query MsgGet($id: ID!) {
    message(id: $id) {
      id
      status
      attempts
      lastError
      provider
      events {
        status
        attempt
        error
      }
    }
  }
`);
const Retry = graphql(`
  mutation MsgRetry($id: ID!) {
    retryMessage(id: $id) {
      status
    }
  }
`);

const RetryFailed = graphql(`
  mutation MsgRetryFailed($channel: String) {
    retryFailed(channel: $channel)
  }
`);

let h: TestHerald;
let auth: Record<string, string>;
let hook: Awaited<ReturnType<typeof startHttpServer>>;
let hookAnswers: number[] = [];
let signingSecret: string;

beforeAll(async () => {
  h = await startTestHerald({ env: { DELIVERY_BACKOFF_MS: '50', DELIVERY_MAX_ATTEMPTS: '3', RECONCILE_INTERVAL_MS: '500', RECONCILE_STALE_MS: '2000' } });
  auth = bearer(h.project.apiKey);
  hook = await startHttpServer(() => ({ status: hookAnswers.shift() ?? 200 }));
  signingSecret = (await prisma().project.findUniqueOrThrow({ where: { id: h.project.projectId } })).signingSecret;
});
afterAll(async () => {
  await h?.stop();
  await hook?.close();
});

async function notification(key: string, type = 'in-app') {
  const res = await gql(
    h.url,
    CreateNotification,
    { input: { key, type, name: key, versions: [{ contents: [{ locale: 'en', title: 'Hi {{ user.firstName }}', body: 'You have {{ count }} news' }] }] } },
    auth,
  );
  expect(res.errors).toBeUndefined();
  return res.data!.createNotification.id;
}

const message = async (id: string) => (await gql(h.url, GetMessage, { id }, auth)).data!.message;

describe('messages.send (Notifuse)', () => {
  it('accepts, delivers in-app, answers one result per message and refuses a reused id', async () => {
    await notification('welcome');
    const res = await rest(
      h.url,
      'POST',
      '/messages.send',
      {
        messages: [
          { notificationId: 'welcome', userId: 'u1', id: 'm-1', data: { count: 3 }, userFirstName: 'Ada' },
          { notificationId: 'nope', userId: 'u1' },
          { notificationId: 'welcome', userId: 'u1', id: 'm-1' },
        ],
      },
      auth,
    );
    expect(res.status).toBe(200);
    expect(res.body.results).toEqual([
      { id: 'm-1', ok: true },
      { id: null, ok: false, error: 'notification/not-found' },
      { id: 'm-1', ok: false, error: 'id/exists' },
    ]);
    const [sent] = await prisma().message.findMany({ where: { projectId: h.project.projectId, externalId: 'm-1' } });
    const done = await pollFor(async () => ((await message(sent!.id)).status === 'DELIVERED' ? message(sent!.id) : null), 10_000, 'delivery');
    expect(done.events.map((e) => e.status)).toEqual(['QUEUED', 'SENDING', 'DELIVERED']);
    const item = await prisma().inboxItem.findUniqueOrThrow({ where: { messageId: sent!.id } });
    expect(item).toMatchObject({ title: 'Hi Ada', body: 'You have 3 news', stackCount: 1 });
  });

  it('refuses 51 messages with 400 and writes nothing', async () => {
    const before = await prisma().message.count();
    const res = await rest(h.url, 'POST', '/messages.send', { messages: Array.from({ length: 51 }, () => ({ notificationId: 'welcome', userId: 'x' })) }, auth);
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/50/);
    expect(await prisma().message.count()).toBe(before);
  });

  it('answers a message without userId with its own ok:false naming the field, and sends the others', async () => {
    await notification('legacy-welcome');
    const before = await prisma().message.count({ where: { projectId: h.project.projectId } });
    const res = await rest(h.url, 'POST', '/messages.send', NOTIFUSE_SEND_WITHOUT_USER_ID, auth);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({ results: [{ id: expect.any(String), ok: true }, { id: null, ok: false, error: 'invalid/userId: is required' }] });
    expectDocumented('POST', '/messages.send', 200, res.body);
    expect(await prisma().message.count({ where: { projectId: h.project.projectId } })).toBe(before + 1);
    const [sent] = await prisma().message.findMany({ where: { id: res.body.results[0].id } });
    expect(sent).toMatchObject({ channel: 'IN_APP' });
  });

  it('gives every unreadable item its own result in input order: wrong types, non-objects; unknown keys are ignored', async () => {
    await notification('legacy-items');
    const res = await rest(
      h.url,
      'POST',
      '/messages.send',
      {
        messages: [
          { notificationId: 'legacy-items', userId: 'items-1', userEmail: 42 },
          'not a message',
          { notificationId: 'legacy-items', userId: 'items-1', id: 'items-ok', somethingNew: true },
          { notificationId: 'legacy-items', userId: { id: 1 }, id: 'items-bad-user' },
          { notificationId: 'legacy-items', userId: 'items-1', data: 'x' },
          { userId: 'items-1' },
        ],
      },
      auth,
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.results).toEqual([
      { id: null, ok: false, error: 'invalid/userEmail: must be a string' },
      { id: null, ok: false, error: 'invalid/message: must be an object' },
      { id: 'items-ok', ok: true },
      { id: 'items-bad-user', ok: false, error: 'invalid/userId: must be a string' },
      { id: null, ok: false, error: 'invalid/data: must be an object' },
      { id: null, ok: false, error: 'invalid/notificationId: is required' },
    ]);
    expect(JSON.stringify(res.body)).not.toMatch(/Variable|\$messages|SendMessageInput/);
  });

  it('answers a batch of invalid items with their results, writing nothing; a body that is not a batch stays a 400', async () => {
    const before = await prisma().message.count();
    const res = await rest(h.url, 'POST', '/messages.send', { messages: [{ notificationId: 'legacy-welcome' }, { userId: 'x' }] }, auth);
    expect(res.status).toBe(200);
    expect(res.body.results.map((r: { ok: boolean; error: string }) => [r.ok, r.error])).toEqual([
      [false, 'invalid/userId: is required'],
      [false, 'invalid/notificationId: is required'],
    ]);
    for (const body of [{ messages: 'x' }, { message: { notificationId: 'legacy-welcome', userId: 'x' } }, [{ notificationId: 'legacy-welcome', userId: 'x' }], { messages: [] }]) {
      const refused = await rest(h.url, 'POST', '/messages.send', body, auth);
      expect(refused.status, JSON.stringify(body)).toBe(400);
      expect(refused.body).toMatchObject({ error: 'invalid_request', message: expect.stringMatching(/messages|JSON object/) });
      expectDocumented('POST', '/messages.send', 400, refused.body);
    }
    expect(await prisma().message.count()).toBe(before);
  });

  it('stacks messages with the same incrementId onto one inbox item', async () => {
    await notification('stacked');
    for (const count of [1, 2, 3]) {
      const res = await gql(h.url, Send, { messages: [{ notificationId: 'stacked', userId: 'stacker', incrementId: 'likes', data: { count } }] }, auth);
      expect(res.data?.sendMessages[0]?.ok).toBe(true);
      await pollFor(async () => (await message(res.data!.sendMessages[0]!.messages[0]!.id)).status === 'DELIVERED', 10_000, 'delivery');
    }
    const items = await prisma().inboxItem.findMany({ where: { projectId: h.project.projectId, incrementId: 'likes' } });
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ stackCount: 3, body: 'You have 3 news' });
  });
});

describe('messages.send sees catalog edits at once (the send path caches notifications, checked per request)', () => {
  const send = async (key: string, n: number) => {
    const res = await rest(h.url, 'POST', '/messages.send', { messages: [{ notificationId: key, userId: 'edit-u', userFirstName: 'Ada', data: { count: n } }] }, auth);
    expect(res.status).toBe(200);
    return (res.body as { results: { ok: boolean; id: string; error?: string }[] }).results[0]!;
  };
  const titleOf = async (messageId: string) => ((await prisma().message.findUniqueOrThrow({ where: { id: messageId } })).content as { title: string }).title;

  it('an updated version, a new master, a deactivation and a reactivation, through the API and straight in the database', async () => {
    const id = await notification('edit-me');
    const first = await send('edit-me', 1);
    expect(await titleOf(first.id)).toBe('Hi Ada');

    // The master version edited through the service (this instance).
    const master = await prisma().notificationVersion.findFirstOrThrow({ where: { masterOf: id } });
    await updateVersion(h.project.projectId, id, master.id, { contents: [{ locale: 'en', title: 'Edited {{ user.firstName }}', body: 'b' }] });
    expect(await titleOf((await send('edit-me', 2)).id)).toBe('Edited Ada');

    // Another version made master.
    await createVersion(h.project.projectId, id, { master: true, contents: [{ locale: 'en', title: 'Second {{ count }}', body: 'b' }] });
    expect(await titleOf((await send('edit-me', 3)).id)).toBe('Second 3');

    // Written by another instance (no local invalidation can help): deactivated, then back.
    await prisma().notification.update({ where: { id }, data: { active: false } });
    expect(await send('edit-me', 4)).toMatchObject({ ok: false, error: 'notification/inactive' });
    await prisma().notification.update({ where: { id }, data: { active: true } });
    expect((await send(String(id), 5)).ok).toBe(true);
    // ...and its master's content changed the same way.
    const current = await prisma().notificationVersion.findFirstOrThrow({ where: { masterOf: id } });
    await prisma().$executeRaw`UPDATE "NotificationVersion" SET content = jsonb_set(content, '{en,title}', '"Raw {{ count }}"') WHERE id = ${current.id}::uuid`;
    expect(await titleOf((await send('edit-me', 6)).id)).toBe('Raw 6');

    // Gone: not found, not a cached copy.
    await prisma().notification.delete({ where: { id } });
    expect(await send('edit-me', 7)).toMatchObject({ ok: false, error: 'notification/not-found' });
  });
});

describe('webhook channel: signing, retries, permanent failures, dead letters', () => {
  it('POSTs signed JSON, retries transient failures with backoff and ends SENT', async () => {
    await notification('hooked', 'webhook');
    await gql(h.url, Configure, { input: { channel: 'WEBHOOK', kind: 'webhook', name: 'primary', settings: { url: `${hook.url}/primary` } } }, auth);
    hookAnswers = [503, 500];
    const start = hook.received.length;
    const res = await gql(h.url, Send, { messages: [{ notificationId: 'hooked', userId: 'w1', data: { count: 1 } }] }, auth);
    const id = res.data!.sendMessages[0]!.messages[0]!.id;
    const done = await pollFor(async () => ((await message(id)).status === 'SENT' ? message(id) : null), 10_000, 'webhook SENT');
    expect(done.attempts).toBe(3);
    expect(done.events.map((e) => e.status)).toEqual(['QUEUED', 'SENDING', 'QUEUED', 'SENDING', 'QUEUED', 'SENDING', 'SENT']);
    const calls = hook.received.slice(start);
    expect(calls).toHaveLength(3);
    for (const call of calls) {
      expect(verify(signingSecret, call.body, String(call.headers['x-herald-signature']))).toBe(true);
      expect(call.headers['idempotency-key']).toBe(id);
    }
    expect(JSON.parse(calls[0]!.body)).toMatchObject({ id, content: { title: 'Hi ' } });
  });

  it('fails a permanent error at once, and retryMessage sends the dead letter again', async () => {
    hookAnswers = [400];
    const res = await gql(h.url, Send, { messages: [{ notificationId: 'hooked', userId: 'w2' }] }, auth);
    const id = res.data!.sendMessages[0]!.messages[0]!.id;
    const failed = await pollFor(async () => ((await message(id)).status === 'FAILED' ? message(id) : null), 10_000, 'FAILED');
    expect(failed.attempts).toBe(1);
    expect(failed.lastError).toMatch(/400/);
    expect((await gql(h.url, Retry, { id }, auth)).data?.retryMessage.status).toBe('QUEUED');
    await pollFor(async () => (await message(id)).status === 'SENT', 10_000, 'SENT after retry');
  });

  it('retryFailed sends every dead letter again once, even when two calls race', async () => {
    hookAnswers = [400, 400, 400, 400];
    const res = await gql(h.url, Send, { messages: ['d1', 'd2', 'd3', 'd4'].map((userId) => ({ notificationId: 'hooked', userId })) }, auth);
    const ids = res.data!.sendMessages.map((r) => r.messages[0]!.id);
    await pollFor(async () => (await prisma().message.count({ where: { id: { in: ids }, status: 'FAILED' } })) === 4, 10_000, '4 FAILED');
    const [a, b] = await Promise.all([gql(h.url, RetryFailed, { channel: 'WEBHOOK' }, auth), gql(h.url, RetryFailed, { channel: 'WEBHOOK' }, auth)]);
    expect(a.errors).toBeUndefined();
    expect(b.errors).toBeUndefined();
    expect(a.data!.retryFailed + b.data!.retryFailed).toBe(4);
    await pollFor(async () => (await prisma().message.count({ where: { id: { in: ids }, status: 'SENT' } })) === 4, 10_000, '4 SENT after the retry');
    const retries = await prisma().messageEvent.count({ where: { messageId: { in: ids }, error: 'retry requested' } });
    expect(retries).toBe(4);
    expect((await gql(h.url, RetryFailed, { channel: 'WEBHOOK' }, auth)).data!.retryFailed).toBe(0);
  });

  it('fails over to the failover provider when the primary keeps failing', async () => {
    await gql(h.url, Configure, { input: { channel: 'WEBHOOK', kind: 'webhook', name: 'backup', priority: 1, settings: { url: `${hook.url}/backup` } } }, auth);
    hookAnswers = [503, 503, 503];
    const start = hook.received.length;
    const res = await gql(h.url, Send, { messages: [{ notificationId: 'hooked', userId: 'w3' }] }, auth);
    const id = res.data!.sendMessages[0]!.messages[0]!.id;
    const done = await pollFor(async () => ((await message(id)).status === 'SENT' ? message(id) : null), 10_000, 'SENT by failover');
    expect(done.provider).toBe('backup');
    expect(hook.received.slice(start).map((r) => r.url)).toEqual(['/primary', '/primary', '/primary', '/backup']);
  });
});

describe('messageStatus subscription', () => {
  it('pushes every status change of a message over graphql-ws', async () => {
    const client = createClient({ url: `${h.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { apiKey: h.project.apiKey } });
    const seen: string[] = [];
    let target: string | undefined;
    const done = new Promise<void>((resolve, reject) => {
      client.subscribe(
        { query: 'subscription { messageStatus { messageId status } }' },
        {
          next: (value) => {
            const event = (value.data as { messageStatus: { messageId: string; status: string } }).messageStatus;
            if (target && event.messageId === target) seen.push(event.status);
            if (seen.includes('DELIVERED')) resolve();
          },
          error: reject,
          complete: () => {},
        },
      );
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const res = await gql(h.url, Send, { messages: [{ notificationId: 'welcome', userId: 'sub1' }] }, auth);
    target = res.data!.sendMessages[0]!.messages[0]!.id;
    await done;
    await client.dispose();
    expect(seen).toEqual(['SENDING', 'DELIVERED'].filter((s) => seen.includes(s)));
    expect(seen).toContain('DELIVERED');
  });
});
