import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../src/db/client.ts';
import { graphql } from '../src/generated/gql/index.ts';
import { gql, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor } from './helpers/http-server.ts';

/**
 * Issue 10, NP6 items 1-7: a client migrating from NP6 sends the bodies exactly as NP6's
 * documentation writes them (../shared/seeds/np6-notifications-api.txt). The JSON below is
 * copied from the seed character for character; tests only parse it.
 */

/** Seed: the answer of POST /notifications/{id}/duplication (the Notification resource). */
const SEED_NOTIFICATION = `{ "type": "push-app", "id": 0, "name": "string", "description": "string", "stamp": { "creation": "2019-08-24T14:15:22Z", "modification": "2019-08-24T14:15:22Z" }, "active": true, "settings": { "urgent": true, "category": 0, "purpose": { "type": "string" }, "expiration": { "type": "string" }, "mp": {} }, "application": "2b22d485-f04e-492b-b364-e14f8506726a", "task": { "id": "497f6eca-6276-4993-bfeb-53cbbbba6f08", "name": "string", "description": "string", "scheduler": { "type": "string" } }, "versions": [ { "id": "497f6eca-6276-4993-bfeb-53cbbbba6f08", "master": true, "label": "string", "stamp": { "creation": "2019-08-24T14:15:22Z", "modification": "2019-08-24T14:15:22Z" }, "scripting": { "version": "string" }, "content": { "type": "string" }, "redirection": { "type": "string" }, "channel": { "type": "string" } } ] }`;

/** Seed: the -d body of the curl example of POST /notifications/{id}/executions. */
const SEED_EXECUTIONS = `[
{
"recipient": {
"type": "string"
},
"title": "string",
"body": "string",
"icon": "string",
"thumbnail": "string",
"image": "string",
"data": {},
"variables": [
{}
],
"redirection": {
"type": "string"
},
"channel": {
"type": "string"
},
"stamp": {
"time": 0,
"id": "497f6eca-6276-4993-bfeb-53cbbbba6f08",
"thread": "4e557e2e-a322-4083-8cda-d0357ed0cb0c",
"set": "6218c222-bd9f-4d43-9cbb-d1adfe7e63bd"
},
"urgent": true
}
]`;

const seedNotification = (): Record<string, any> => JSON.parse(SEED_NOTIFICATION);
const seedExecutions = (): Record<string, any>[] => JSON.parse(SEED_EXECUTIONS);
/** The seed's execution item, its recipient pointed at a real contact (the seed's `{ "type": "string" }` names nobody). */
const seedItemFor = (externalId: string) => ({ ...seedExecutions()[0], recipient: { type: 'id', value: externalId } });

const Upsert = graphql(`
  mutation Np6FidelityUpsert($users: [UserInput!]!) {
    upsertUsers(users: $users, mode: OVERWRITE) {
      ok
      user {
        id
      }
    }
  }
`);

let h: TestHerald;
const xKey = () => ({ 'x-key': h.project.apiKey });
const np6 = (method: string, path: string, body?: unknown) => rest(h.url, method, path, body, xKey());
const uuid = expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
let zoe: string;

async function create(body: unknown) {
  const res = await np6('POST', '/notifications', body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as Record<string, any>;
}

/** Whatever a GET answers except the modification time, which a PUT moves on. */
const unstamped = (n: Record<string, any>) => ({
  ...n,
  stamp: { creation: n.stamp.creation },
  versions: n.versions.map((v: Record<string, any>) => ({ ...v, stamp: { creation: v.stamp.creation } })),
});

beforeAll(async () => {
  h = await startTestHerald();
  const res = await gql(h.url, Upsert, { users: [{ externalId: 'zoe', email: 'zoe@example.com', firstName: 'Zoe' }] }, xKey());
  expect(res.errors).toBeUndefined();
  zoe = res.data!.upsertUsers[0]!.user!.id;
});
afterAll(async () => {
  await h?.stop();
});

describe('1. version content of any variant, answered as written', () => {
  it('accepts the seed Notification verbatim and a PUT of its GET changes nothing', async () => {
    const created = await create(seedNotification());
    expect(created.versions[0].content).toEqual({ type: 'string' });
    const got = await np6('GET', `/notifications/${created.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(created);

    const put = await np6('PUT', `/notifications/${created.id}`, got.body);
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    const again = await np6('GET', `/notifications/${created.id}`);
    expect(unstamped(again.body)).toEqual(unstamped(got.body));
  });

  it('accepts push-app, default, text and untyped content: top-level fields are the default language; round-trip keeps the form', async () => {
    const variants = [
      { type: 'push-app', title: 'Hi {{ firstName }}', body: 'string', icon: 'https://i/icon.png', thumbnail: 'https://i/thumb.png', image: 'https://i/image.png' },
      { type: 'default' },
      { type: 'text', body: 'Just text' },
      { title: 'No type at all' },
    ];
    for (const content of variants) {
      const body = seedNotification();
      body.versions[0].content = content;
      const created = await create(body);
      expect(created.versions[0].content, JSON.stringify(content)).toEqual(content);
      const got = await np6('GET', `/notifications/${created.id}`);
      expect(got.body.versions[0].content).toEqual(content);
      const put = await np6('PUT', `/notifications/${created.id}`, got.body);
      expect(put.status, JSON.stringify(put.body)).toBe(200);
      expect(unstamped((await np6('GET', `/notifications/${created.id}`)).body)).toEqual(unstamped(got.body));
    }

    const body = seedNotification();
    body.versions[0].content = variants[0];
    const pushApp = await create(body);
    const render = await np6('GET', `/notifications/${pushApp.id}/render/contact/zoe`);
    expect(render.status, JSON.stringify(render.body)).toBe(200);
    expect(render.body.render).toMatchObject({ title: 'Hi Zoe', body: 'string', icon: 'https://i/icon.png', thumbnail: 'https://i/thumb.png', image: 'https://i/image.png', locale: 'en' });
  });

  it("keeps Herald's localized form for several locales, and answers it as written", async () => {
    const body = seedNotification();
    const content = { type: 'localized', locales: { en: { title: 'Hello' }, fr: { title: 'Bonjour', body: 'Salut' } } };
    body.versions[0].content = content;
    const created = await create(body);
    expect(created.versions[0].content).toEqual(content);
    const render = await np6('POST', `/notifications/${created.id}/render`, { locale: 'fr' });
    expect(render.body.render).toMatchObject({ title: 'Bonjour', body: 'Salut', locale: 'fr' });
  });

  it('names the legacy field of a bad content member', async () => {
    const body = seedNotification();
    body.versions[0].content = { type: 'push-app', title: 42 };
    const res = await np6('POST', '/notifications', body);
    expect(res.status).toBe(400);
    expect(res.body.issues).toEqual([{ field: 'versions[0].content.title', message: expect.any(String) }]);
    expect(res.body.message).not.toMatch(/Variable|\$input/);
  });
});

describe('2. unknown members are stored and answered', () => {
  it('round-trips unknown members at the top level, in settings, task, a version and its content', async () => {
    const body = seedNotification();
    body.origin = { system: 'np6', exportedAt: '2026-01-01' };
    body.settings.quietHours = { from: 22, to: 7 };
    body.task.owner = 'crm';
    body.versions[0].abTest = { share: 0.5 };
    body.versions[0].content = { type: 'push-app', title: 'Hi', buttons: ['ok', 'later'], sound: 'chime' };
    const created = await create(body);
    expect(created).toMatchObject({ origin: body.origin, settings: { quietHours: { from: 22, to: 7 } }, task: { owner: 'crm' } });
    expect(created.versions[0]).toMatchObject({ abTest: { share: 0.5 }, content: body.versions[0].content });
    const got = await np6('GET', `/notifications/${created.id}`);
    expect(got.body).toEqual(created);
    const put = await np6('PUT', `/notifications/${created.id}`, got.body);
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(unstamped(put.body)).toEqual(unstamped(got.body));
  });

  it('refuses more than 16 KiB of unknown members in one object, naming it', async () => {
    const big = 'x'.repeat(17_000);
    const cases: [(b: Record<string, any>) => void, string][] = [
      [(b) => (b.blob = big), ''],
      [(b) => (b.settings.blob = big), 'settings'],
      [(b) => (b.versions[0].blob = big), 'versions[0]'],
      [(b) => (b.versions[0].content.blob = big), 'versions[0].content'],
      [(b) => (b.task.scheduler.blob = big), 'task.scheduler'],
    ];
    for (const [change, field] of cases) {
      const body = seedNotification();
      change(body);
      const res = await np6('POST', '/notifications', body);
      expect(res.status, field).toBe(400);
      expect(res.body.message, field).toMatch(/unknown members .*16384 bytes/);
      expect(res.body.issues[0].field, field).toBe(field);
    }
  });
});

describe('3. GET /notifications answers every notification', () => {
  it('returns all 75 notifications from the documented call; limit/cursor page only when asked', async () => {
    const other = await h.newProject('Seventy-five');
    const headers = { 'x-key': other.apiKey };
    for (let i = 0; i < 75; i += 15) {
      await Promise.all(
        Array.from({ length: 15 }, async () => {
          const res = await rest(h.url, 'POST', '/notifications', SEED_NOTIFICATION, headers);
          expect(res.status).toBe(201);
        }),
      );
    }
    const all = await rest(h.url, 'GET', '/notifications', undefined, headers);
    expect(all.status).toBe(200);
    expect(all.body).toHaveLength(75);
    expect(new Set(all.body.map((n: any) => n.id)).size).toBe(75);
    expect(all.headers.get('x-next-cursor')).toBeNull();

    const page = await rest(h.url, 'GET', '/notifications?limit=50', undefined, headers);
    expect(page.body).toHaveLength(50);
    const cursor = page.headers.get('x-next-cursor');
    expect(cursor).toEqual(expect.any(String));
    const rest2 = await rest(h.url, 'GET', `/notifications?limit=50&cursor=${encodeURIComponent(cursor!)}`, undefined, headers);
    expect(rest2.body).toHaveLength(25);
    expect(rest2.headers.get('x-next-cursor')).toBeNull();
  });
});

describe('4. push-app is delivered, never silently failed', () => {
  it('delivers a push-app execution to the in-app inbox and says so in the answer', async () => {
    const created = await create(seedNotification());
    const res = await np6('POST', `/notifications/${created.id}/executions`, [seedItemFor('zoe')]);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual([
      {
        type: 'success',
        id: uuid,
        recipient: expect.objectContaining({ id: zoe }),
        stamp: seedExecutions()[0]!.stamp, // the caller's stamp, as given
        fallback: { from: 'MOBILE_PUSH', to: ['IN_APP'], reason: expect.stringMatching(/mobile push/) },
      },
    ]);
    expect(res.headers.get('x-herald-fallback')).toBe('push-app: MOBILE_PUSH -> IN_APP');
    const [message] = await prisma().message.findMany({ where: { executionId: res.body[0].id } });
    expect(message!.channel).toBe('IN_APP');
    const delivered = await pollFor(async () => {
      const m = await prisma().message.findUnique({ where: { id: message!.id } });
      return m && m.status !== 'QUEUED' && m.status !== 'SENDING' ? m : null;
    }, 10_000, 'push-app delivery');
    expect(delivered.status).toBe('DELIVERED');
    expect(delivered.lastError).toBeNull();
  });
});

describe('5. every documented override reaches every channel that has the field', () => {
  it('puts title, body, icon, thumbnail, image and redirection of the seed item into in-app, web push and webhook messages', async () => {
    const body = seedNotification();
    body.type = 'multichannel';
    body.channels = ['IN_APP', 'WEB_PUSH', 'WEBHOOK'];
    body.versions[0].content = { type: 'push-app', title: 'Version title', body: 'Version body' };
    const created = await create(body);
    const item = { ...seedItemFor('zoe'), redirection: { type: 'literal', value: 'app://override' } };
    const res = await np6('POST', `/notifications/${created.id}/executions`, [item]);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const messages = await prisma().message.findMany({ where: { executionId: res.body[0].id }, orderBy: { channel: 'asc' } });
    expect(messages.map((m) => m.channel).sort()).toEqual(['IN_APP', 'WEBHOOK', 'WEB_PUSH']);
    for (const m of messages) {
      expect(m.content, m.channel).toMatchObject({ title: 'string', body: 'string', icon: 'string', thumbnail: 'string', image: 'string', redirection: 'app://override' });
      expect(m.critical, m.channel).toBe(true);
    }
    const inApp = messages.find((m) => m.channel === 'IN_APP')!;
    const inboxItem = await pollFor(() => prisma().inboxItem.findUnique({ where: { messageId: inApp.id } }), 10_000, 'inbox item');
    expect(inboxItem).toMatchObject({ title: 'string', icon: 'string', thumbnail: 'string', image: 'string' });
  });
});

describe('6. render and test answers carry the stamp and the subscription', () => {
  it('answers a stamp on GET renders and tests, and the contact web push subscription', async () => {
    const body = seedNotification();
    body.type = 'web-push';
    const created = await create(body);
    const subscription = await prisma().pushSubscription.create({
      data: { id: '0190f0f0-0000-7000-8000-00000000abcd', projectId: h.project.projectId, userId: zoe, endpoint: 'https://push.example.com/zoe', p256dh: 'k', auth: 'a' },
    });
    const render = await np6('GET', `/notifications/${created.id}/render/contact/zoe`);
    expect(render.status, JSON.stringify(render.body)).toBe(200);
    expect(render.body.meta.subscription).toBe(subscription.id);
    expect(render.body.meta.stamp).toEqual({ time: expect.any(Number), id: uuid, thread: uuid, set: uuid });

    const test = await np6('POST', `/notifications/${created.id}/test`, { recipient: { type: 'id', value: 'zoe' } });
    expect(test.status, JSON.stringify(test.body)).toBe(200);
    expect(test.body.meta.stamp).toEqual({ time: expect.any(Number), id: test.body.id, thread: test.body.id, set: uuid });
    expect(test.body.meta.subscription).toBe(subscription.id);

    // The documented stamp given with a render is answered as given.
    const stamp = seedExecutions()[0]!.stamp;
    const posted = await np6('POST', `/notifications/${created.id}/render`, { receiver: { id: 'zoe' }, stamp });
    expect(posted.body.meta.stamp).toEqual(stamp);
  });
});

describe('7. errors speak the legacy API', () => {
  it('refuses the seed execution body (recipient with only a type) naming [0].recipient.value, without GraphQL wording', async () => {
    const created = await create(seedNotification());
    const res = await rest(h.url, 'POST', `/notifications/${created.id}/executions`, SEED_EXECUTIONS, xKey());
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ type: 'error', status: 400, code: 'BAD_USER_INPUT' });
    expect(res.body.issues).toEqual([{ field: '[0].recipient.value', message: expect.any(String) }]);
    expect(res.body.message).toMatch(/^\[0\]\.recipient\.value: /);
    expect(JSON.stringify(res.body)).not.toMatch(/Variable|\$executions|JSON!|ExecutionInput/);

    const one = await np6('POST', `/notifications/${created.id}/execution`, seedExecutions()[0]);
    expect(one.status).toBe(400);
    expect(one.body.issues).toEqual([{ field: 'recipient.value', message: expect.any(String) }]);

    const wrongType = await np6('POST', `/notifications/${created.id}/executions`, [{ ...seedItemFor('zoe'), urgent: 'yes' }]);
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.issues).toEqual([{ field: '[0].urgent', message: expect.any(String) }]);
    expect(JSON.stringify(wrongType.body)).not.toMatch(/Variable|\$executions|Boolean/);

    const badTest = await np6('POST', `/notifications/${created.id}/test`, { recipient: { type: 'id' }, title: 5 });
    expect(badTest.status).toBe(400);
    expect(badTest.body.issues.map((i: any) => i.field).sort()).toEqual(['recipient.value', 'title']);
    expect(JSON.stringify(badTest.body)).not.toMatch(/Variable|\$input/);

    // Herald's own `contents` list is closed: the GraphQL refusal is still told in the body's terms.
    const closed = seedNotification();
    closed.versions[0] = { contents: [{ locale: 'en', title: 'Hi', foo: 1 }] };
    const heraldForm = await np6('POST', '/notifications', closed);
    expect(heraldForm.status).toBe(400);
    expect(heraldForm.body.issues).toEqual([{ field: 'versions[0].contents[0].foo', message: 'is not a member Herald knows' }]);
    expect(JSON.stringify(heraldForm.body)).not.toMatch(/Variable|\$input|LocaleContentInput/);

    const badNotification = await np6('POST', '/notifications', { ...seedNotification(), active: 'yes', settings: { urgent: 'no' } });
    expect(badNotification.status).toBe(400);
    expect(badNotification.body.issues.map((i: any) => i.field).sort()).toEqual(['active', 'settings.urgent']);
    expect(JSON.stringify(badNotification.body)).not.toMatch(/Variable|\$input/);
  });
});
