import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../src/db/client.ts';
import { graphql } from '../src/generated/gql/index.ts';
import { neucronRoutes } from '../src/modules/neucron/rest.ts';
import { bearer, gql, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor, startHttpServer, type Received } from './helpers/http-server.ts';
import { NEUCRON_FCM_BODY, NEUCRON_GO_BODY } from './helpers/legacy-bodies.ts';
import { expectDocumented } from './helpers/openapi.ts';

const Upsert = graphql(`
  mutation NeuUpsert($users: [UserInput!]!) {
    upsertUsers(users: $users, mode: OVERWRITE) {
      user {
        id
        externalId
      }
    }
  }
`);
const CreateNotification = graphql(`
  mutation NeuCreateNotification($input: NotificationInput!) {
    createNotification(input: $input) {
      id
    }
  }
`);
const Deactivate = graphql(`
  mutation NeuDeactivate($id: Int!) {
    deactivateNotification(id: $id) {
      id
    }
  }
`);
const Configure = graphql(`
  mutation NeuConfigure($input: ProviderInput!) {
    configureProvider(input: $input) {
      id
    }
  }
`);
const GetMessage = graphql(`
  query NeuMessage($id: ID!) {
    message(id: $id) {
      id
      status
      lastError
      provider
      providerMessageId
    }
  }
`);
const Send = graphql(`
  mutation NeuSend($userId: String, $input: NeucronNotificationInput!) {
    neucronSendNotification(userId: $userId, input: $input) {
      message
      ids
      messages {
        id
        channel
        status
        userId
        to
        content
        source
        notificationId
      }
    }
  }
`);
const WhatsApp = graphql(`
  mutation NeuWhatsApp($input: NeucronWhatsAppInput!) {
    neucronSendWhatsApp(input: $input) {
      message
      ids
      messages {
        id
        channel
        status
        userId
        to
        content
        lastError
      }
    }
  }
`);
const WhatsAppTemplate = graphql(`
  mutation NeuWhatsAppTemplate($input: NeucronWhatsAppTemplateInput!) {
    neucronSendWhatsAppTemplate(input: $input) {
      message
      ids
      messages {
        id
        channel
        status
        to
        content
      }
    }
  }
`);

const ACCESS_TOKEN = 'wa-neucron-token';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let h: TestHerald;
let auth: Record<string, string>;
/** Neucron's three credential headers for the test project's key. */
let neucron: Record<string, string>;
let meta: Awaited<ReturnType<typeof startHttpServer>>;
let users: Record<string, string>;
let other: { projectId: string; keyId: string; keySecret: string; apiKey: string };
let strangerId: string;
let strangerNotificationId: number;
let waNotificationId: number;
let dormantId: number;

const counts = async () => ({
  messages: await prisma().message.count({ where: { projectId: h.project.projectId } }),
  // Neucron sends never create users: a refused request that did would show here.
  users: await prisma().user.count({ where: { projectId: h.project.projectId } }),
});
const message = async (id: string) => (await gql(h.url, GetMessage, { id }, auth)).data!.message;
const settled = (id: string, status: string) => pollFor(async () => ((await message(id)).status === status ? message(id) : null), 10_000, `${status} of ${id}`);
/** The Cloud API requests for one recipient (digits only, as WhatsApp takes them). */
const callsTo = (to: string, from = 0) => meta.received.slice(from).filter((r) => JSON.parse(r.body).to === to);

const post = (path: string, body: unknown, headers: Record<string, string> = neucron) => rest(h.url, 'POST', path, body, headers);

/** A refused request: the status, Neucron's error shape, and nothing written. */
async function refused(path: string, body: unknown, status: number, message: RegExp, headers: Record<string, string> = neucron) {
  const before = await counts();
  const res = await post(path, body, headers);
  expect(res.status).toBe(status);
  expect(res.body).toEqual({ error: expect.stringMatching(message), message: expect.stringMatching(message), status_code: status });
  expect(await counts()).toEqual(before);
  return res.body as { error: string; message: string; status_code: number };
}

beforeAll(async () => {
  h = await startTestHerald({ env: { DELIVERY_BACKOFF_MS: '50', DELIVERY_MAX_ATTEMPTS: '2', RECONCILE_INTERVAL_MS: '500', RECONCILE_STALE_MS: '2000' } });
  auth = bearer(h.project.apiKey);
  neucron = { 'x-neucron-app-id': h.project.projectId, 'x-neucron-key-id': h.project.keyId, 'x-neucron-key-secret': h.project.keySecret };
  meta = await startHttpServer((req) => ({
    status: 200,
    body: { messaging_product: 'whatsapp', contacts: [{ input: JSON.parse(req.body).to, wa_id: JSON.parse(req.body).to }], messages: [{ id: `wamid.${JSON.parse(req.body).to}` }] },
  }));
  expect(
    (await gql(h.url, Configure, { input: { channel: 'WHATSAPP', kind: 'whatsapp-cloud', name: 'meta', settings: { baseUrl: meta.url, phoneNumberId: '555000111' }, secrets: { accessToken: ACCESS_TOKEN } } }, auth))
      .errors,
  ).toBeUndefined();

  const upserted = await gql(
    h.url,
    Upsert,
    {
      users: [
        { externalId: 'ada', firstName: 'Ada', telephone: '+44 7911 123456' },
        { externalId: 'bob', firstName: 'Bob' },
        { externalId: 'cy', firstName: 'Cy', telephone: '+5511987654321' },
        { externalId: 'neu-fcm' },
        { externalId: 'neu-go' },
      ],
    },
    auth,
  );
  expect(upserted.errors).toBeUndefined();
  users = Object.fromEntries(upserted.data!.upsertUsers.map((r) => [r.user!.externalId, r.user!.id]));

  const content = { locale: 'en', title: 'Hi {{ user.firstName }}', body: 'You have {{ count }} news' };
  expect((await gql(h.url, CreateNotification, { input: { key: 'welcome', type: 'in-app', name: 'Welcome', versions: [{ contents: [content] }] } }, auth)).errors).toBeUndefined();
  const wa = await gql(
    h.url,
    CreateNotification,
    { input: { key: 'wa-order', type: 'whatsapp', name: 'Order', versions: [{ contents: [{ locale: 'en', whatsapp: { text: 'Hi {{ user.firstName }}, order {{ order }} shipped' } }] }] } },
    auth,
  );
  waNotificationId = wa.data!.createNotification.id;
  dormantId = (await gql(h.url, CreateNotification, { input: { key: 'dormant', type: 'in-app', name: 'Dormant', versions: [{ contents: [content] }] } }, auth)).data!.createNotification.id;
  expect((await gql(h.url, Deactivate, { id: dormantId }, auth)).errors).toBeUndefined();

  // Another project, with a user and a notification of its own: its ids must look unknown here.
  other = await h.newProject('Neighbour');
  const theirs = await gql(h.url, Upsert, { users: [{ externalId: 'stranger', telephone: '+14155550199' }] }, bearer(other.apiKey));
  strangerId = theirs.data!.upsertUsers[0]!.user!.id;
  strangerNotificationId = (await gql(h.url, CreateNotification, { input: { key: 'theirs', type: 'in-app', name: 'Theirs', versions: [{ contents: [content] }] } }, bearer(other.apiKey))).data!
    .createNotification.id;
});
afterAll(async () => {
  await h?.stop();
  await meta?.close();
});

describe('POST /notif/send', () => {
  it('sends an ad-hoc in-app notification to the header user and the body users, once each', async () => {
    const res = await post(
      '/notif/send',
      { subs: { user_ids: ['bob', users.ada!.toUpperCase(), 'ada'], title: 'Maintenance', message: 'Back at 10:00', data: { ticket: 7 } } },
      // Neucron clients send a token of their own as well: the X-Neucron-* headers decide.
      { ...neucron, 'x-neucron-user-id': 'cy', authorization: 'Bearer some.neucron.jwt', 'x-request-id': 'neu-send-1' },
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: { message: 'Notification sent successfully.', ids: [expect.stringMatching(UUID), expect.stringMatching(UUID), expect.stringMatching(UUID)] }, status_code: 200 });
    const rows = await prisma().message.findMany({ where: { id: { in: res.body.data.ids } } });
    expect(rows.map((m) => m.userId).sort()).toEqual([users.ada, users.bob, users.cy].sort());
    for (const row of rows) {
      expect(row).toMatchObject({ projectId: h.project.projectId, channel: 'IN_APP', source: 'neucron', requestId: 'neu-send-1', notificationId: null, data: { ticket: 7 } });
      expect(row.content).toMatchObject({ title: 'Maintenance', body: 'Back at 10:00' });
    }
    for (const id of res.body.data.ids) await settled(id, 'DELIVERED');
    const items = await prisma().inboxItem.findMany({ where: { messageId: { in: res.body.data.ids } } });
    expect(items.map((i) => [i.title, i.body])).toEqual(Array(3).fill(['Maintenance', 'Back at 10:00']));
  });

  it("renders a notification's master version for each user, with the call's data and title override", async () => {
    const res = await post('/notif/send', { userIds: 'ada', notification_id: 'welcome', title: 'Custom {{ user.firstName }}', data: { count: 4 } }, { ...neucron, 'x-neucron-user-id': 'bob' });
    expect(res.status).toBe(200);
    const rows = await prisma().message.findMany({ where: { id: { in: res.body.data.ids } }, orderBy: { userId: 'asc' } });
    const byUser = Object.fromEntries(rows.map((m) => [m.userId, m]));
    expect(byUser[users.ada!]!.content).toMatchObject({ title: 'Custom Ada', body: 'You have 4 news' });
    expect(byUser[users.bob!]!.content).toMatchObject({ title: 'Custom Bob', body: 'You have 4 news' });
    expect(rows.every((m) => m.channel === 'IN_APP' && m.notificationId !== null)).toBe(true);
  });

  it("delivers a WhatsApp notification (by numeric id) through the Cloud API to the user's telephone", async () => {
    const start = meta.received.length;
    const res = await post('/notif/send', { userIds: ['ada'], notificationId: waNotificationId, data: { order: 'A-17' } });
    expect(res.status).toBe(200);
    const [id] = res.body.data.ids as string[];
    const sent = await settled(id!, 'SENT');
    expect(sent.providerMessageId).toBe('wamid.447911123456');
    const [call] = callsTo('447911123456', start) as [Received];
    expect(call.url).toBe('/v21.0/555000111/messages');
    expect(call.headers.authorization).toBe(`Bearer ${ACCESS_TOKEN}`);
    expect(JSON.parse(call.body)).toEqual({ messaging_product: 'whatsapp', recipient_type: 'individual', to: '447911123456', type: 'text', text: { body: 'Hi Ada, order A-17 shipped' } });
  });

  it('refuses bad input with 400, naming the field, and writes nothing', async () => {
    await refused('/notif/send', { message: 'hi' }, 400, /^userIds: give at least one user/);
    await refused('/notif/send', { userIds: ['ada'] }, 400, /^body: is required/);
    await refused('/notif/send', { userIds: ['ada'], body: '   ' }, 400, /^body: is required/);
    await refused('/notif/send', { userIds: ['ada'], title: true, body: 'x' }, 400, /^title: must be a string/);
    await refused('/notif/send', { userIds: ['ada'], body: 'x', data: 'nope' }, 400, /^data: must be an object/);
    await refused('/notif/send', { userIds: ['ada', { nope: 1 }], body: 'x' }, 400, /^userIds\.1: must be a string/);
    await refused('/notif/send', { userIds: ['ada', ' '], body: 'x' }, 400, /^userIds\.1: must not be empty$/);
    // Every issue at once, not one per attempt.
    await refused('/notif/send', { userIds: [''], title: '' }, 400, /^userIds\.0: must not be empty; body: is required/);
    await refused('/notif/send', ['ada'], 400, /must be a JSON object/);
    await refused('/notif/send', '{"userIds": [', 400, /not valid JSON/);
  });

  it('answers unknown users and notifications, and other projects\' ones alike, with 400 and writes nothing', async () => {
    const unknown = await refused('/notif/send', { userIds: ['ada', 'ghost'], body: 'x' }, 400, /^userIds\.1: no user "ghost"/);
    const foreign = await refused('/notif/send', { userIds: ['ada', strangerId], body: 'x' }, 400, /^userIds\.1: no user/);
    expect(foreign.message.replace(strangerId, 'ghost')).toBe(unknown.message);
    await refused('/notif/send', { body: 'x' }, 400, /^X-Neucron-User-ID: no user "ghost"/, { ...neucron, 'x-neucron-user-id': 'ghost' });
    const missing = await refused('/notif/send', { userIds: ['ada'], notificationId: 987654 }, 400, /^notificationId: no notification "987654"/);
    const theirs = await refused('/notif/send', { userIds: ['ada'], notificationId: strangerNotificationId }, 400, /^notificationId: no notification/);
    expect(theirs.message.replace(String(strangerNotificationId), '987654')).toBe(missing.message);
    await refused('/notif/send', { userIds: ['ghost'], notificationId: 'nope' }, 400, /^userIds\.0: no user "ghost"; notificationId: no notification "nope"$/);
  });

  it('answers an inactive notification with 409 and writes nothing', async () => {
    await refused('/notif/send', { userIds: ['ada'], notificationId: 'dormant' }, 409, /inactive/);
  });
});

describe('POST /notif/send: the shapes Neucron clients send', () => {
  const contentOf = async (ids: string[]) => (await prisma().message.findMany({ where: { id: { in: ids } } })).map((m) => [m.userId, m.channel, m.content, m.data]);

  it('reads an FCM-style body: { notification: { title, body }, data }', async () => {
    const res = await post('/notif/send', NEUCRON_FCM_BODY);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expectDocumented('POST', '/notif/send', 200, res.body);
    expect(await contentOf(res.body.data.ids)).toEqual([
      [users['neu-fcm'], 'IN_APP', expect.objectContaining({ title: 'Order shipped', body: 'Your order A-17 is on its way' }), { order: 'A-17' }],
    ]);
    // FCM HTTP v1 wraps it in { message: { notification, data } }; the header names the user.
    const v1 = await post('/notif/send', { message: { notification: { title: 'T', body: 'B' }, data: { k: 'v' } } }, { ...neucron, 'x-neucron-user-id': 'neu-fcm' });
    expect(v1.status, JSON.stringify(v1.body)).toBe(200);
    expect(await contentOf(v1.body.data.ids)).toEqual([[users['neu-fcm'], 'IN_APP', expect.objectContaining({ title: 'T', body: 'B' }), { k: 'v' }]]);
  });

  it('reads a Go struct marshalled without json tags: { Title, Body, UserIDs, Data }', async () => {
    const res = await post('/notif/send', NEUCRON_GO_BODY);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(await contentOf(res.body.data.ids)).toEqual([[users['neu-go'], 'IN_APP', expect.objectContaining({ title: 'Maintenance', body: 'Back at 10:00' }), { ticket: '7' }]]);
    // Go matches keys case-insensitively: so does Herald, on every route.
    const wa = await post('/notif/whatsappSend', { To: ['+14155550177'], Message: 'Go style' });
    expect(wa.status, JSON.stringify(wa.body)).toBe(200);
  });

  it('names, in the client\'s own spelling, every field it cannot read', async () => {
    await refused('/notif/send', { user_ids: ['neu-fcm'], notification: { title: true, body: 'x' } }, 400, /^notification\.title: must be a string/);
    await refused('/notif/send', { user_ids: ['neu-fcm'], notification: { body: ['x'] } }, 400, /^notification\.body: must be a string/);
    await refused('/notif/send', { user_ids: ['neu-fcm'], notification: { title: 'x' }, data: [1] }, 400, /^data: must be an object/);
    await refused('/notif/send', { UserIDs: ['neu-go', 'ghost'], Body: 'x' }, 400, /^UserIDs\.1: no user "ghost"$/);
    await refused('/notif/send', { UserIDs: ['neu-go', ' '], Body: 'x' }, 400, /^UserIDs\.1: must not be empty$/);
    await refused('/notif/send', { UserIDs: ['neu-go'], Title: 'x', Data: 'nope' }, 400, /^Data: must be an object/);
    await refused('/notif/send', { UserIDs: ['neu-go'], NotificationID: 'nope' }, 400, /^NotificationID: no notification "nope"$/);
    await refused('/notif/send', { notification: { title: 'x' } }, 400, /^userIds: give at least one user/);
    const bad = await refused('/notif/send', { UserIDs: ['neu-go'], Title: true, Body: 'x' }, 400, /^Title: must be a string/);
    expectDocumented('POST', '/notif/send', 400, bad);
    await refused('/notif/whatsappSend', { To: ['+14155550100', 'call me'], Message: 'hi' }, 400, /^To\.1: must be an E\.164 phone number/);
  });
});

describe('POST /notif/whatsappSend', () => {
  it('sends the text to numbers and to users at their telephone, with the exact Cloud API body', async () => {
    const start = meta.received.length;
    const res = await post('/notif/whatsappSend', { to: ['+1 (415) 555-0110', '0033612345678', '14155550110'], userIds: ['cy', 'bob'], message: 'Your table is ready' });
    expect(res.status).toBe(200);
    expect(res.body.data.message).toBe('WhatsApp message sent successfully.');
    const rows = await prisma().message.findMany({ where: { id: { in: res.body.data.ids } } });
    // The two spellings of one number are one message.
    expect(rows.map((m) => m.to).sort()).toEqual(['+14155550110', '+33612345678', '+5511987654321', null].sort());
    // Bob has no telephone: recorded as SKIPPED with the reason, not silently dropped.
    const bob = rows.find((m) => m.userId === users.bob)!;
    expect(bob).toMatchObject({ status: 'SKIPPED', lastError: 'the user has no telephone number' });
    for (const row of rows.filter((m) => m !== bob)) await settled(row.id, 'SENT');
    for (const to of ['14155550110', '33612345678', '5511987654321']) {
      const calls = callsTo(to, start);
      expect(calls).toHaveLength(1);
      expect(JSON.parse(calls[0]!.body)).toEqual({ messaging_product: 'whatsapp', recipient_type: 'individual', to, type: 'text', text: { body: 'Your table is ready' } });
    }
  });

  it('reads a Cloud API shaped body ({ to, text: { body } })', async () => {
    const start = meta.received.length;
    const res = await post('/notif/whatsappSend', { to: '447700900123', type: 'text', text: { body: 'Cloud style' } });
    expect(res.status).toBe(200);
    await settled(res.body.data.ids[0], 'SENT');
    expect(JSON.parse(callsTo('447700900123', start)[0]!.body).text).toEqual({ body: 'Cloud style' });
  });

  it('refuses bad input with 400, naming the field, and writes nothing', async () => {
    await refused('/notif/whatsappSend', { to: ['+14155550100'] }, 400, /^text: is required/);
    await refused('/notif/whatsappSend', { to: ['+14155550100'], message: 'x'.repeat(4097) }, 400, /^message: at most 4096/);
    await refused('/notif/whatsappSend', { message: 'hi' }, 400, /^to: give at least one recipient/);
    await refused('/notif/whatsappSend', { to: ['+14155550100', 'call me'], message: 'hi' }, 400, /^to\.1: must be an E\.164 phone number/);
    await refused('/notif/whatsappSend', { to: [true], message: 'hi' }, 400, /^to\.0: must be a string/);
    await refused('/notif/whatsappSend', { userIds: ['cy', 'ghost'], message: 'hi' }, 400, /^userIds\.1: no user "ghost"/);
    await refused('/notif/whatsappSend', { userIds: [strangerId], message: 'hi' }, 400, /^userIds\.0: no user/);
    await refused('/notif/whatsappSend', { userIds: [''], message: 'hi' }, 400, /^userIds\.0: must not be empty$/);
    await refused('/notif/whatsappSend', { phone: ['bad'] }, 400, /^text: is required.*; phone\.0: must be an E\.164/);
    await refused('/notif/whatsappSend', { to: Array.from({ length: 501 }, (_, i) => `+1415555${String(i).padStart(4, '0')}`), message: 'hi' }, 400, /^to: at most 500/);
  });
});

describe('POST /notif/whatsappSendTemplate', () => {
  it('sends a template with its language and body parameters', async () => {
    const start = meta.received.length;
    const res = await post('/notif/whatsappSendTemplate', { to: ['+14155550123'], userIds: ['cy'], template: 'order_shipped', language: 'pt-BR', parameters: ['Cy', 'B-2'] });
    expect(res.status).toBe(200);
    expect(res.body.data.message).toBe('WhatsApp template message sent successfully.');
    for (const id of res.body.data.ids) await settled(id, 'SENT');
    for (const to of ['14155550123', '5511987654321']) {
      const calls = callsTo(to, start);
      expect(calls).toHaveLength(1);
      expect(JSON.parse(calls[0]!.body)).toEqual({
        messaging_product: 'whatsapp',
        recipient_type: 'individual',
        to,
        type: 'template',
        template: { name: 'order_shipped', language: { code: 'pt_BR' }, components: [{ type: 'body', parameters: [{ type: 'text', text: 'Cy' }, { type: 'text', text: 'B-2' }] }] },
      });
    }
  });

  it('sends a Cloud API template object with its components as given', async () => {
    const start = meta.received.length;
    const components = [
      { type: 'header', parameters: [{ type: 'image', image: { link: 'https://example.com/p.png' } }] },
      { type: 'body', parameters: [{ type: 'text', text: 'Ada' }] },
      { type: 'button', sub_type: 'url', index: '0', parameters: [{ type: 'text', text: 'A-17' }] },
    ];
    const res = await post('/notif/whatsappSendTemplate', { to: '+447700900555', template: { name: 'order_update', language: { code: 'en_GB' }, components } });
    expect(res.status).toBe(200);
    await settled(res.body.data.ids[0], 'SENT');
    expect(JSON.parse(callsTo('447700900555', start)[0]!.body)).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: '447700900555',
      type: 'template',
      template: { name: 'order_update', language: { code: 'en_GB' }, components },
    });
  });

  it('puts body parameters between a header and the buttons given as components', async () => {
    const start = meta.received.length;
    const header = { type: 'header', parameters: [{ type: 'text', text: 'Spring sale' }] };
    const button = { type: 'button', sub_type: 'quick_reply', index: '0', parameters: [{ type: 'payload', payload: 'STOP' }] };
    const res = await post('/notif/whatsappSendTemplate', { phone: '+447700900556', template_name: 'promo', language_code: 'en_US', params: ['20%'], components: [button, header] });
    expect(res.status).toBe(200);
    await settled(res.body.data.ids[0], 'SENT');
    expect(JSON.parse(callsTo('447700900556', start)[0]!.body).template).toEqual({
      name: 'promo',
      language: { code: 'en_US' },
      components: [header, { type: 'body', parameters: [{ type: 'text', text: '20%' }] }, button],
    });
  });

  it('refuses bad input with 400, naming the field, and writes nothing', async () => {
    const to = ['+14155550100'];
    await refused('/notif/whatsappSendTemplate', { to }, 400, /^template: is required/);
    await refused('/notif/whatsappSendTemplate', { to, template: 'Order Shipped' }, 400, /^template: must be a WhatsApp template name/);
    await refused('/notif/whatsappSendTemplate', { to, template: 'order_shipped', language: 'english!' }, 400, /^language: must be a language code/);
    await refused('/notif/whatsappSendTemplate', { to, template: 'order_shipped', components: [1] }, 400, /^components: must be an array of objects/);
    await refused('/notif/whatsappSendTemplate', { to, template: { name: ['x'] } }, 400, /^template\.name: must be a string/);
    await refused('/notif/whatsappSendTemplate', { to, template: { name: 'x', language: { code: true } } }, 400, /^template\.language\.code: must be a string/);
    await refused('/notif/whatsappSendTemplate', { to, template: { name: 'x', components: {} } }, 400, /^template\.components: must be an array of objects/);
    await refused('/notif/whatsappSendTemplate', { to, template: 'order_shipped', parameters: ['ok', ' '] }, 400, /^parameters\.1: must not be empty$/);
    await refused('/notif/whatsappSendTemplate', { to, template: 'order_shipped', parameters: ['line\nbreak'] }, 400, /^parameters\.0: must not contain new lines/);
    await refused('/notif/whatsappSendTemplate', { to, template: 'order_shipped', components: [{ parameters: [] }] }, 400, /^components\.0\.type: is required/);
    await refused(
      '/notif/whatsappSendTemplate',
      { to, template: 'order_shipped', parameters: ['a'], components: [{ type: 'body', parameters: [{ type: 'text', text: 'b' }] }] },
      400,
      /^parameters: give the body parameters either in parameters or in a body component/,
    );
    await refused('/notif/whatsappSendTemplate', { template: 'order_shipped' }, 400, /^to: give at least one recipient/);
    await refused('/notif/whatsappSendTemplate', { userIds: ['ghost'], template: 'order_shipped' }, 400, /^userIds\.0: no user "ghost"/);
  });
});

describe('Neucron credentials', () => {
  const paths = ['/notif/send', '/notif/whatsappSend', '/notif/whatsappSendTemplate'];
  const bodies: Record<string, unknown> = {
    '/notif/send': { userIds: ['ada'], body: 'hi' },
    '/notif/whatsappSend': { to: ['+14155550100'], message: 'hi' },
    '/notif/whatsappSendTemplate': { to: ['+14155550100'], template: 'order_shipped' },
  };

  it('answers 401 in Neucron shape for missing, partial, wrong or foreign credentials, and writes nothing', async () => {
    const cases: Record<string, Record<string, string>> = {
      none: {},
      // A valid Herald key in Authorization is not a Neucron credential.
      heraldBearerOnly: bearer(h.project.apiKey),
      missingSecret: { 'x-neucron-app-id': h.project.projectId, 'x-neucron-key-id': h.project.keyId },
      // The X-Neucron-* headers decide, even next to a valid Herald key.
      wrongSecretWithValidBearer: { ...neucron, 'x-neucron-key-secret': 'wrong', ...bearer(h.project.apiKey) },
      unknownKey: { ...neucron, 'x-neucron-key-id': 'hk_nope' },
      otherProjectsApp: { ...neucron, 'x-neucron-app-id': other.projectId },
      notAnAppId: { ...neucron, 'x-neucron-app-id': 'app-1' },
    };
    for (const path of paths) {
      for (const [name, headers] of Object.entries(cases)) {
        const before = await counts();
        const res = await post(path, bodies[path], headers);
        expect({ name, path, status: res.status, body: res.body }).toEqual({ name, path, status: 401, body: { error: expect.any(String), message: expect.any(String), status_code: 401 } });
        expect(await counts()).toEqual(before);
      }
    }
  });

  it('accepts the same key through the Neucron headers on every route', async () => {
    for (const path of paths) expect((await post(path, bodies[path])).status).toBe(200);
  });
});

describe('Neucron over GraphQL', () => {
  it('neucronSendNotification: the same send, with the Neucron headers or a Herald key', async () => {
    // A Neucron client's own raw token in Authorization does not get in the way of its X-Neucron-* headers.
    const res = await gql(h.url, Send, { userId: 'cy', input: { userIds: ['bob'], body: 'From GraphQL', data: { via: 'gql' } } }, { ...neucron, authorization: 'raw-neucron-token' });
    expect(res.errors).toBeUndefined();
    const result = res.data!.neucronSendNotification;
    expect(result.message).toBe('Notification sent successfully.');
    expect(result.messages.map((m) => m.id)).toEqual(result.ids);
    expect(result.messages.map((m) => m.userId).sort()).toEqual([users.bob, users.cy].sort());
    for (const m of result.messages) expect(m).toMatchObject({ channel: 'IN_APP', status: 'QUEUED', source: 'neucron', content: { title: null, body: 'From GraphQL' } });
    const templated = await gql(h.url, Send, { input: { userIds: ['ada'], notificationId: 'welcome', data: { count: 2 } } }, auth);
    expect(templated.data!.neucronSendNotification.messages[0]).toMatchObject({ channel: 'IN_APP', content: { title: 'Hi Ada', body: 'You have 2 news' } });
  });

  it('neucronSendWhatsApp and neucronSendWhatsAppTemplate deliver through the Cloud API', async () => {
    const start = meta.received.length;
    const text = await gql(h.url, WhatsApp, { input: { to: ['+61 2 9876 5432'], userIds: ['bob'], text: 'GraphQL text' } }, auth);
    expect(text.errors).toBeUndefined();
    const [toNumber, toBob] = text.data!.neucronSendWhatsApp.messages;
    expect(toNumber).toMatchObject({ channel: 'WHATSAPP', status: 'QUEUED', to: '+61298765432', content: { text: 'GraphQL text' } });
    expect(toBob).toMatchObject({ userId: users.bob, status: 'SKIPPED', lastError: 'the user has no telephone number' });
    await settled(toNumber!.id, 'SENT');
    expect(JSON.parse(callsTo('61298765432', start)[0]!.body)).toEqual({ messaging_product: 'whatsapp', recipient_type: 'individual', to: '61298765432', type: 'text', text: { body: 'GraphQL text' } });

    const template = await gql(h.url, WhatsAppTemplate, { input: { to: ['+61298765433'], template: 'appointment_reminder', language: 'fr', parameters: ['lundi'] } }, neucron);
    expect(template.errors).toBeUndefined();
    const [m] = template.data!.neucronSendWhatsAppTemplate.messages;
    await settled(m!.id, 'SENT');
    expect(JSON.parse(callsTo('61298765433', start)[0]!.body).template).toEqual({
      name: 'appointment_reminder',
      language: { code: 'fr' },
      components: [{ type: 'body', parameters: [{ type: 'text', text: 'lundi' }] }],
    });
  });

  it('answers the same errors as REST, with a code and the offending fields, and writes nothing', async () => {
    const before = await counts();
    const unknown = await gql(h.url, Send, { input: { userIds: ['ada', strangerId], body: 'x' } }, auth);
    expect(unknown.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ field: 'userIds.1', message: `no user "${strangerId}"` }] });
    const viaRest = await post('/notif/send', { userIds: ['ada', strangerId], body: 'x' });
    expect(viaRest.body.message).toBe(unknown.errors![0]!.message);

    const inactive = await gql(h.url, Send, { input: { userIds: ['ada'], notificationId: String(dormantId) } }, auth);
    expect(inactive.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    const badNumber = await gql(h.url, WhatsApp, { input: { to: ['12'], text: 'x' } }, auth);
    expect(badNumber.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ field: 'to.0' }] });
    const badTemplate = await gql(h.url, WhatsAppTemplate, { input: { to: ['+61298765433'], template: '' } }, auth);
    expect(badTemplate.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ field: 'template' }] });
    expect(await counts()).toEqual(before);
  });

  it('refuses callers without credentials or with wrong Neucron headers', async () => {
    const anonymous = await gql(h.url, WhatsApp, { input: { to: ['+61298765433'], text: 'x' } });
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const wrong = await gql(h.url, WhatsApp, { input: { to: ['+61298765433'], text: 'x' } }, { ...neucron, 'x-neucron-key-secret': 'nope', ...auth });
    expect(wrong.status).toBe(401);
    expect(wrong.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('backs every Neucron route with its GraphQL mutation', () => {
    const fields = neucronRoutes.map((r) => [r.path, print(r.operation).match(/\{\s*(\w+)\(/)?.[1]]);
    expect(fields).toEqual([
      ['/notif/send', 'neucronSendNotification'],
      ['/notif/whatsappSend', 'neucronSendWhatsApp'],
      ['/notif/whatsappSendTemplate', 'neucronSendWhatsAppTemplate'],
    ]);
  });
});

describe('internal failures', () => {
  it('answers 500 in Neucron shape when the messages cannot be written, and writes nothing', async () => {
    // A real database failure while accepting: the insert of this one text is refused by PostgreSQL.
    await prisma().$executeRawUnsafe(`CREATE FUNCTION neucron_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.content->>'text' = 'explode' THEN RAISE EXCEPTION 'simulated storage failure'; END IF; RETURN NEW; END $$`);
    await prisma().$executeRawUnsafe(`CREATE TRIGGER neucron_test_refuse BEFORE INSERT ON "Message" FOR EACH ROW EXECUTE FUNCTION neucron_test_refuse()`);
    try {
      const body = await refused('/notif/whatsappSend', { to: ['+14155550100', '+14155550101'], message: 'explode' }, 500, /^Unexpected error\.$/);
      expect(JSON.stringify(body)).not.toMatch(/simulated/);
      const viaGraphQL = await gql(h.url, WhatsApp, { input: { to: ['+14155550100'], text: 'explode' } }, auth);
      expect(viaGraphQL.errors?.[0]).toMatchObject({ message: 'Unexpected error.' });
    } finally {
      await prisma().$executeRawUnsafe('DROP TRIGGER neucron_test_refuse ON "Message"');
      await prisma().$executeRawUnsafe('DROP FUNCTION neucron_test_refuse()');
    }
  });
});
