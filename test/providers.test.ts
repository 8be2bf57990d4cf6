import { createECDH, createPublicKey, randomBytes, verify as verifySignature } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import webpush from 'web-push';
import { prisma } from '../src/db/client.ts';
import { graphql } from '../src/generated/gql/index.ts';
import { bearer, gql, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor, startHttpServer, type Received } from './helpers/http-server.ts';

const CreateNotification = graphql(`
  mutation ProvCreateNotification($input: NotificationInput!) {
    createNotification(input: $input) {
      id
    }
  }
`);
const Configure = graphql(`
  mutation ProvConfigure($input: ProviderInput!) {
    configureProvider(input: $input) {
      id
      kind
      hasSecrets
    }
  }
`);
const Providers = graphql(`
  query ProvProviders {
    providers {
      id
      channel
      kind
      name
      priority
      settings
      hasSecrets
      enabled
    }
  }
`);
const DeleteProvider = graphql(`
  mutation ProvDeleteProvider($id: ID!) {
    deleteProvider(id: $id)
  }
`);
const Send = graphql(`
  mutation ProvSend($messages: [SendMessageInput!]!) {
    sendMessages(messages: $messages) {
      ok
      error
      emailError
      smsError
      messages {
        id
        channel
        status
      }
    }
  }
`);
const GetMessage = graphql(`
  query ProvMessage($id: ID!) {
    message(id: $id) {
      id
      status
      attempts
      lastError
      provider
      providerMessageId
      events {
        status
      }
    }
  }
`);
const RegisterPush = graphql(`
  mutation ProvRegisterPush($userId: ID!, $subscription: PushSubscriptionInput!) {
    registerPushSubscription(userId: $userId, subscription: $subscription) {
      id
      userId
      endpoint
      user {
        externalId
      }
    }
  }
`);
const DeletePush = graphql(`
  mutation ProvDeletePush($endpoint: String!) {
    deleteUserPushSubscription(endpoint: $endpoint)
  }
`);

const SECRETS = { smtpPass: 's3cret-smtp', authToken: 'tw-token-xyz', accessToken: 'wa-token-abc' };

let h: TestHerald;
let auth: Record<string, string>;

beforeAll(async () => {
  h = await startTestHerald({ env: { DELIVERY_BACKOFF_MS: '50', DELIVERY_MAX_ATTEMPTS: '3', RECONCILE_INTERVAL_MS: '500', RECONCILE_STALE_MS: '2000' } });
  auth = bearer(h.project.apiKey);
});
afterAll(async () => {
  await h?.stop();
});

async function notification(input: { key: string; type: string; content: Record<string, unknown> }) {
  const res = await gql(
    h.url,
    CreateNotification,
    { input: { key: input.key, type: input.type, name: input.key, versions: [{ contents: [{ locale: 'en', ...input.content }] }] } },
    auth,
  );
  expect(res.errors).toBeUndefined();
}

async function configure(input: { channel: string; kind: string; name: string; priority?: number; settings: Record<string, unknown>; secrets?: Record<string, unknown> }) {
  const res = await gql(h.url, Configure, { input }, auth);
  expect(res.errors).toBeUndefined();
  return res.data!.configureProvider;
}

const message = async (id: string) => (await gql(h.url, GetMessage, { id }, auth)).data!.message;
const settled = (id: string, status: string) => pollFor(async () => ((await message(id)).status === status ? message(id) : null), 10_000, `${status} of ${id}`);

async function sendOne(item: { notificationId: string; userId: string; userEmail?: string; userTelephone?: string; userFirstName?: string; data?: Record<string, unknown> }) {
  const res = await gql(h.url, Send, { messages: [item] }, auth);
  expect(res.errors).toBeUndefined();
  const result = res.data!.sendMessages[0]!;
  expect(result.ok).toBe(true);
  return { result, id: result.messages[0]!.id };
}

// ---------- SMTP ----------

/** A real SMTP server (smtp-server): requires AUTH, and scripts its RCPT answers by recipient. */
async function startSmtpServer() {
  const received: { mail: ParsedMail; user: string | undefined; envelope: { from: string; to: string[] } }[] = [];
  const rcptTries = new Map<string, number>();
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    logger: false,
    onAuth(login, _session, callback) {
      if (login.username === 'mailer' && login.password === SECRETS.smtpPass) return callback(null, { user: login.username });
      callback(Object.assign(new Error('Invalid credentials'), { responseCode: 535 }));
    },
    onRcptTo(address, _session, callback) {
      const tries = (rcptTries.get(address.address) ?? 0) + 1;
      rcptTries.set(address.address, tries);
      if (address.address.startsWith('bounce')) return callback(Object.assign(new Error('5.1.1 No such user'), { responseCode: 550 }));
      if (address.address.startsWith('greylisted') && tries === 1) return callback(Object.assign(new Error('4.7.1 Greylisted, try again later'), { responseCode: 451 }));
      callback();
    },
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((mail) => {
          received.push({
            mail,
            user: session.user as string | undefined,
            envelope: { from: (session.envelope.mailFrom as { address: string }).address, to: session.envelope.rcptTo.map((r) => r.address) },
          });
          callback();
        })
        .catch(callback);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.server.address() as AddressInfo).port, received, rcptTries, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('smtp provider', () => {
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  beforeAll(async () => {
    smtp = await startSmtpServer();
    await notification({
      key: 'mail',
      type: 'email',
      content: { title: 'Fallback', email: { subject: 'Hello {{ user.firstName }}', html: '<p>Your code is <b>{{ code }}</b></p>', text: 'Your code is {{ code }}' } },
    });
    const configured = await configure({
      channel: 'EMAIL',
      kind: 'smtp',
      name: 'local-smtp',
      settings: { host: '127.0.0.1', port: smtp.port, secure: false, from: 'Herald <noreply@herald.test>', replyTo: 'support@herald.test' },
      secrets: { user: 'mailer', pass: SECRETS.smtpPass },
    });
    expect(configured).toMatchObject({ kind: 'smtp', hasSecrets: true });
  });
  afterAll(() => smtp?.close());

  it('sends subject, html, text, from, reply-to and a Message-ID derived from the idempotency key', async () => {
    const { id } = await sendOne({ notificationId: 'mail', userId: 'mail-1', userEmail: 'ada@example.com', userFirstName: 'Ada', data: { code: 4242 } });
    const sent = await settled(id, 'SENT');
    expect(sent).toMatchObject({ attempts: 1, provider: 'local-smtp', providerMessageId: `<${id}@herald>` });
    const got = smtp.received.find((r) => r.mail.messageId === `<${id}@herald>`)!;
    expect(got).toBeDefined();
    expect(got.user).toBe('mailer');
    expect(got.envelope).toEqual({ from: 'noreply@herald.test', to: ['ada@example.com'] });
    expect(got.mail.subject).toBe('Hello Ada');
    expect(got.mail.html).toContain('<p>Your code is <b>4242</b></p>');
    expect(got.mail.text?.trim()).toBe('Your code is 4242');
    expect(got.mail.from?.value).toEqual([{ name: 'Herald', address: 'noreply@herald.test' }]);
    expect(got.mail.replyTo?.text).toBe('support@herald.test');
    expect((got.mail.to as { text: string }).text).toBe('ada@example.com');
    expect(got.mail.headers.get('x-herald-message-id')).toBe(id);
  });

  it('applies emailSettingsOverride (from, replyTo, subject)', async () => {
    const res = await gql(
      h.url,
      Send,
      { messages: [{ notificationId: 'mail', userId: 'mail-2', userEmail: 'bob@example.com', emailSettingsOverride: { from: 'Ops <ops@herald.test>', replyTo: 'ops@herald.test', subject: 'Overridden' } }] },
      auth,
    );
    const id = res.data!.sendMessages[0]!.messages[0]!.id;
    await settled(id, 'SENT');
    const got = smtp.received.find((r) => r.mail.messageId === `<${id}@herald>`)!;
    expect(got.mail.subject).toBe('Overridden');
    expect(got.mail.from?.value).toEqual([{ name: 'Ops', address: 'ops@herald.test' }]);
    expect(got.mail.replyTo?.text).toBe('ops@herald.test');
  });

  it('fails at once when the server rejects the recipient with 550 (permanent)', async () => {
    const { id } = await sendOne({ notificationId: 'mail', userId: 'mail-3', userEmail: 'bounce@example.com' });
    const failed = await settled(id, 'FAILED');
    expect(failed.attempts).toBe(1);
    expect(failed.lastError).toMatch(/550/);
    expect(smtp.rcptTries.get('bounce@example.com')).toBe(1);
  });

  it('retries a 451 (transient) and then sends', async () => {
    const { id } = await sendOne({ notificationId: 'mail', userId: 'mail-4', userEmail: 'greylisted@example.com' });
    const sent = await settled(id, 'SENT');
    expect(sent.attempts).toBe(2);
    expect(sent.events.map((e) => e.status)).toEqual(['QUEUED', 'SENDING', 'QUEUED', 'SENDING', 'SENT']);
    expect(smtp.rcptTries.get('greylisted@example.com')).toBe(2);
    expect(smtp.received.filter((r) => r.mail.messageId === `<${id}@herald>`)).toHaveLength(1);
  });

  it('messages.send (REST) answers ok with emailError for a permanent failure, and SKIPPED for a user without email', async () => {
    const res = await rest(
      h.url,
      'POST',
      '/messages.send',
      {
        messages: [
          { notificationId: 'mail', userId: 'mail-5', id: 'prov-bounce', userEmail: 'bounce2@example.com' },
          { notificationId: 'mail', userId: 'mail-6', id: 'prov-no-email' },
        ],
      },
      auth,
    );
    expect(res.status).toBe(200);
    expect(res.body.results[0]).toMatchObject({ id: 'prov-bounce', ok: true });
    expect(res.body.results[0].emailError).toMatch(/550/);
    expect(res.body.results[1]).toEqual({ id: 'prov-no-email', ok: true, emailError: 'the user has no email address' });
    const skipped = await prisma().message.findFirstOrThrow({ where: { projectId: h.project.projectId, externalId: 'prov-no-email' } });
    expect(skipped).toMatchObject({ status: 'SKIPPED', lastError: 'the user has no email address', attempts: 0 });
  });
});

// ---------- Twilio ----------

describe('twilio provider', () => {
  let twilio: Awaited<ReturnType<typeof startHttpServer>>;
  let answers: { status: number; body?: unknown }[] = [];
  let sids = 0;
  beforeAll(async () => {
    twilio = await startHttpServer(() => answers.shift() ?? { status: 201, body: { sid: `SM${String(++sids).padStart(32, '0')}`, status: 'queued' } });
    await notification({ key: 'sms', type: 'sms', content: { body: 'fallback', sms: { text: 'Code {{ code }}' } } });
    await configure({
      channel: 'SMS',
      kind: 'twilio',
      name: 'twilio-main',
      settings: { baseUrl: twilio.url, from: '+15005550006' },
      secrets: { accountSid: 'AC0123456789', authToken: SECRETS.authToken },
    });
  });
  afterAll(() => twilio?.close());

  const requestsFor = (start: number) => twilio.received.slice(start);

  it('POSTs the form with Basic auth and the idempotency token, and keeps the sid', async () => {
    const start = twilio.received.length;
    const { id } = await sendOne({ notificationId: 'sms', userId: 'sms-1', userTelephone: '+447911123456', data: { code: 77 } });
    const sent = await settled(id, 'SENT');
    const [call] = requestsFor(start) as [Received];
    expect(call.method).toBe('POST');
    expect(call.url).toBe('/2010-04-01/Accounts/AC0123456789/Messages.json');
    expect(call.headers.authorization).toBe(`Basic ${Buffer.from(`AC0123456789:${SECRETS.authToken}`).toString('base64')}`);
    expect(call.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(call.headers['i-twilio-idempotency-token']).toBe(id);
    expect(Object.fromEntries(new URLSearchParams(call.body))).toEqual({ To: '+447911123456', From: '+15005550006', Body: 'Code 77' });
    expect(sent.providerMessageId).toMatch(/^SM\d{32}$/);
  });

  it('fails at once on 400 code 21211 (invalid number) and reports smsError in messages.send', async () => {
    answers = [{ status: 400, body: { code: 21211, message: "The 'To' number +15005550001 is not a valid phone number.", more_info: 'https://www.twilio.com/docs/errors/21211', status: 400 } }];
    const { id, result } = await sendOne({ notificationId: 'sms', userId: 'sms-2', userTelephone: '+15005550001' });
    expect(result.smsError).toMatch(/21211/);
    const failed = await settled(id, 'FAILED');
    expect(failed.attempts).toBe(1);
    expect(failed.lastError).toMatch(/twilio answered 400: 21211/);
  });

  it('retries a 503, then sends with the same idempotency token', async () => {
    answers = [{ status: 503, body: { code: 20500, message: 'Service unavailable', status: 503 } }];
    const start = twilio.received.length;
    const { id } = await sendOne({ notificationId: 'sms', userId: 'sms-3', userTelephone: '+33612345678' });
    const sent = await settled(id, 'SENT');
    expect(sent.attempts).toBe(2);
    const calls = requestsFor(start);
    expect(calls).toHaveLength(2);
    expect(calls.map((c) => c.headers['i-twilio-idempotency-token'])).toEqual([id, id]);
  });

  it('fails over to a second twilio account when the primary keeps answering 503', async () => {
    const backup = await startHttpServer(() => ({ status: 201, body: { sid: 'SMbackup' } }));
    try {
      const failover = await configure({
        channel: 'SMS',
        kind: 'twilio',
        name: 'twilio-backup',
        priority: 1,
        settings: { baseUrl: backup.url, messagingServiceSid: 'MG42' },
        secrets: { accountSid: 'ACbackup', authToken: 'other-token' },
      });
      answers = [503, 503, 503].map((status) => ({ status, body: { code: 20500, message: 'down', status } }));
      const start = twilio.received.length;
      const { id } = await sendOne({ notificationId: 'sms', userId: 'sms-4', userTelephone: '+33699999999' });
      const sent = await settled(id, 'SENT');
      expect(sent).toMatchObject({ attempts: 4, provider: 'twilio-backup', providerMessageId: 'SMbackup' });
      expect(requestsFor(start)).toHaveLength(3);
      expect(backup.received).toHaveLength(1);
      expect(backup.received[0]!.url).toBe('/2010-04-01/Accounts/ACbackup/Messages.json');
      expect(Object.fromEntries(new URLSearchParams(backup.received[0]!.body))).toEqual({ To: '+33699999999', MessagingServiceSid: 'MG42', Body: 'Code ' });
      expect((await gql(h.url, DeleteProvider, { id: failover.id }, auth)).data?.deleteProvider).toBe(failover.id);
    } finally {
      await backup.close();
    }
  });
});

// ---------- WhatsApp Cloud API ----------

describe('whatsapp-cloud provider', () => {
  let meta: Awaited<ReturnType<typeof startHttpServer>>;
  let answers: { status: number; body?: unknown }[] = [];
  beforeAll(async () => {
    meta = await startHttpServer(() => answers.shift() ?? { status: 200, body: { messaging_product: 'whatsapp', contacts: [{ input: 'x', wa_id: 'x' }], messages: [{ id: 'wamid.OK' }] } });
    await notification({ key: 'wa-text', type: 'whatsapp', content: { body: 'fallback', whatsapp: { text: 'Hi {{ user.firstName }}, order {{ order }} shipped' } } });
    await notification({
      key: 'wa-template',
      type: 'whatsapp',
      content: { whatsapp: { templateName: 'order_shipped', templateLanguage: 'pt-BR', parameters: ['{{ user.firstName }}', '{{ order }}'] } },
    });
    await configure({ channel: 'WHATSAPP', kind: 'whatsapp-cloud', name: 'meta', settings: { baseUrl: meta.url, phoneNumberId: '1098765' }, secrets: { accessToken: SECRETS.accessToken } });
  });
  afterAll(() => meta?.close());

  it('sends a text message with the exact Cloud API body', async () => {
    const start = meta.received.length;
    const { id } = await sendOne({ notificationId: 'wa-text', userId: 'wa-1', userTelephone: '+44 7911 123456', userFirstName: 'Ada', data: { order: 'A1' } });
    const sent = await settled(id, 'SENT');
    expect(sent.providerMessageId).toBe('wamid.OK');
    const [call] = meta.received.slice(start) as [Received];
    expect(call.url).toBe('/v21.0/1098765/messages');
    expect(call.headers.authorization).toBe(`Bearer ${SECRETS.accessToken}`);
    expect(call.headers['content-type']).toBe('application/json');
    expect(JSON.parse(call.body)).toEqual({ messaging_product: 'whatsapp', recipient_type: 'individual', to: '447911123456', type: 'text', text: { body: 'Hi Ada, order A1 shipped' } });
  });

  it('sends a template message with its body parameters', async () => {
    const start = meta.received.length;
    const { id } = await sendOne({ notificationId: 'wa-template', userId: 'wa-2', userTelephone: '+5511987654321', userFirstName: 'Bia', data: { order: 'B2' } });
    await settled(id, 'SENT');
    expect(JSON.parse(meta.received[start]!.body)).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: '5511987654321',
      type: 'template',
      template: {
        name: 'order_shipped',
        language: { code: 'pt_BR' },
        components: [{ type: 'body', parameters: [{ type: 'text', text: 'Bia' }, { type: 'text', text: 'B2' }] }],
      },
    });
  });

  it('fails at once on a permanent Graph API error', async () => {
    answers = [{ status: 400, body: { error: { message: 'Recipient phone number not in allowed list', type: 'OAuthException', code: 131030, fbtrace_id: 'x' } } }];
    const { id } = await sendOne({ notificationId: 'wa-text', userId: 'wa-3', userTelephone: '+15550000000' });
    const failed = await settled(id, 'FAILED');
    expect(failed.attempts).toBe(1);
    expect(failed.lastError).toMatch(/whatsapp-cloud answered 400: 131030 Recipient phone number not in allowed list/);
  });

  it('retries a rate limit even though Meta answers it with a 400', async () => {
    answers = [{ status: 400, body: { error: { message: 'Rate limit hit', code: 130429 } } }];
    const { id } = await sendOne({ notificationId: 'wa-text', userId: 'wa-4', userTelephone: '+15550000001' });
    const sent = await settled(id, 'SENT');
    expect(sent.attempts).toBe(2);
  });
});

// ---------- Web Push ----------

/** What a browser's PushSubscription.toJSON() holds: an ECDH P-256 public key and a 16-byte auth secret. */
function browserKeys() {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') };
}

/** Checks a VAPID (RFC 8292) Authorization header: ES256 JWT signed by the key the header names. */
function checkVapid(header: string | undefined, vapidPublicKey: string, audience: string) {
  const match = /^vapid t=([\w-]+)\.([\w-]+)\.([\w-]+), k=([\w-]+)$/.exec(header ?? '');
  if (!match) return false;
  const [, head, claims, signature, k] = match as unknown as [string, string, string, string, string];
  if (k !== vapidPublicKey) return false;
  const point = Buffer.from(k, 'base64url');
  const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') }, format: 'jwk' });
  const ok = verifySignature('sha256', Buffer.from(`${head}.${claims}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'));
  const payload = JSON.parse(Buffer.from(claims, 'base64url').toString()) as { aud: string; sub: string; exp: number };
  return ok && payload.aud === audience && payload.sub === 'mailto:ops@herald.test' && payload.exp > Date.now() / 1000;
}

describe('web-push provider', () => {
  const vapid = webpush.generateVAPIDKeys();
  let push: Awaited<ReturnType<typeof startHttpServer>>;

  beforeAll(async () => {
    push = await startHttpServer((req) => {
      const valid =
        checkVapid(req.headers.authorization as string | undefined, vapid.publicKey, push.url) &&
        req.headers['content-encoding'] === 'aes128gcm' &&
        req.headers.ttl === '3600' &&
        req.body.length > 0;
      if (!valid) return { status: 400, body: { reason: 'bad request' } };
      if (req.url.startsWith('/gone')) return { status: 410 };
      return { status: 201 };
    });
    await notification({ key: 'push', type: 'web-push', content: { title: 'Hello {{ user.firstName }}', body: 'New message' } });
    await configure({
      channel: 'WEB_PUSH',
      kind: 'web-push',
      name: 'vapid',
      settings: { subject: 'mailto:ops@herald.test', publicKey: vapid.publicKey, ttl: 3600 },
      secrets: { privateKey: vapid.privateKey },
    });
  });
  afterAll(() => push?.close());

  // Real push services are https (and registerPushSubscription insists); the local one is plain
  // http, so these subscriptions are stored directly.
  async function subscribe(externalId: string, path: string) {
    const user = await prisma().user.upsert({
      where: { projectId_externalId: { projectId: h.project.projectId, externalId } },
      create: { projectId: h.project.projectId, externalId, firstName: 'Pat' },
      update: {},
    });
    return prisma().pushSubscription.create({ data: { id: uuidv7(), projectId: h.project.projectId, userId: user.id, endpoint: `${push.url}${path}`, ...browserKeys() } });
  }

  it('pushes an encrypted, VAPID-signed request to every subscription and removes the expired ones (410)', async () => {
    const live = await subscribe('push-1', '/live/1');
    const gone = await subscribe('push-1', '/gone/1');
    const start = push.received.length;
    const { id } = await sendOne({ notificationId: 'push', userId: 'push-1' });
    const sent = await settled(id, 'SENT');
    expect(sent.attempts).toBe(1);
    const calls = push.received.slice(start);
    expect(calls.map((c) => c.url).sort()).toEqual(['/gone/1', '/live/1']);
    for (const call of calls) {
      expect(call.headers.topic).toBe(id.replaceAll('-', ''));
      expect(call.headers.urgency).toBe('normal');
      expect(call.headers['content-type']).toBe('application/octet-stream');
    }
    expect(await prisma().pushSubscription.findUnique({ where: { id: gone.id } })).toBeNull();
    expect(await prisma().pushSubscription.findUnique({ where: { id: live.id } })).not.toBeNull();
  });

  it('fails permanently when the only subscription is gone, and when there is none', async () => {
    const gone = await subscribe('push-2', '/gone/2');
    const first = await sendOne({ notificationId: 'push', userId: 'push-2' });
    const failed = await settled(first.id, 'FAILED');
    expect(failed.attempts).toBe(1);
    expect(failed.lastError).toMatch(/expired \(410\)/);
    expect(await prisma().pushSubscription.findUnique({ where: { id: gone.id } })).toBeNull();

    const second = await sendOne({ notificationId: 'push', userId: 'push-2' });
    expect((await settled(second.id, 'FAILED')).lastError).toMatch(/no push subscription/);
  });

  it('registers subscriptions through GraphQL: validated, upserted by endpoint, scoped to the project', async () => {
    const endpoint = `https://push.example.test/send/${randomBytes(8).toString('hex')}`;
    const keys = browserKeys();
    const byExternal = await gql(h.url, RegisterPush, { userId: 'push-3', subscription: { endpoint, keys } }, auth);
    // push-3 does not exist yet
    expect(byExternal.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

    await sendOne({ notificationId: 'push', userId: 'push-3' }); // creates the user (then fails: no subscription)
    const created = await gql(h.url, RegisterPush, { userId: 'push-3', subscription: { endpoint, keys } }, auth);
    expect(created.errors).toBeUndefined();
    expect(created.data!.registerPushSubscription).toMatchObject({ endpoint, user: { externalId: 'push-3' } });

    // Same endpoint again, by Herald id and with new keys: the same row, now for that user.
    const { id: userId } = await prisma().user.findUniqueOrThrow({ where: { projectId_externalId: { projectId: h.project.projectId, externalId: 'push-1' } } });
    const again = await gql(h.url, RegisterPush, { userId, subscription: { endpoint, keys: browserKeys() } }, auth);
    expect(again.data!.registerPushSubscription).toMatchObject({ id: created.data!.registerPushSubscription.id, userId });
    expect(await prisma().pushSubscription.count({ where: { endpoint } })).toBe(1);

    const invalid = await gql(h.url, RegisterPush, { userId, subscription: { endpoint: 'http://push.example.test/x', keys: { p256dh: 'not+base64url', auth: 'c2hvcnQ' } } }, auth);
    expect(invalid.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(invalid.errors?.[0]?.message).toMatch(/subscription\.endpoint: must be an https URL/);
    expect(invalid.errors?.[0]?.message).toMatch(/subscription\.keys\.p256dh/);
    expect(invalid.errors?.[0]?.message).toMatch(/subscription\.keys\.auth/);

    const other = await h.newProject();
    const foreign = await gql(h.url, RegisterPush, { userId, subscription: { endpoint: `${endpoint}/x`, keys } }, bearer(other.apiKey));
    expect(foreign.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await gql(h.url, DeletePush, { endpoint }, bearer(other.apiKey))).data?.deleteUserPushSubscription).toBe(false);

    expect((await gql(h.url, DeletePush, { endpoint }, auth)).data?.deleteUserPushSubscription).toBe(true);
    expect((await gql(h.url, DeletePush, { endpoint }, auth)).data?.deleteUserPushSubscription).toBe(false);
  });
});

describe('provider configuration', () => {
  it('never returns secrets', async () => {
    const res = await gql(h.url, Providers, {}, auth);
    expect(res.errors).toBeUndefined();
    const kinds = res.data!.providers.map((p) => p.kind).sort();
    expect(kinds).toEqual(['smtp', 'twilio', 'web-push', 'whatsapp-cloud']);
    expect(res.data!.providers.every((p) => p.hasSecrets)).toBe(true);
    const text = JSON.stringify(res);
    for (const secret of [...Object.values(SECRETS), 'AC0123456789']) expect(text).not.toContain(secret);
    const stored = await prisma().providerConfig.findMany({ where: { projectId: h.project.projectId } });
    for (const row of stored) for (const secret of Object.values(SECRETS)) expect(row.secrets ?? '').not.toContain(secret);
  });

  it('refuses a configuration its kind cannot use, naming the field, and keeps the one in place', async () => {
    const before = await prisma().providerConfig.findMany({ where: { projectId: h.project.projectId }, orderBy: { id: 'asc' } });
    const attempt = async (input: Record<string, unknown>) => {
      const res = await gql(h.url, Configure, { input: { name: 'bad', priority: 1, ...input } as never }, auth);
      expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      return (res.errors![0]!.extensions!.issues as { field: string; message: string }[]).map((i) => i.field);
    };
    // Another channel's kind, a misspelt setting, a missing secret, a base URL that is not http(s).
    expect(await attempt({ channel: 'EMAIL', kind: 'twilio' })).toEqual(['input.kind']);
    expect(await attempt({ channel: 'EMAIL', kind: 'smtp', settings: { hots: 'smtp.example', from: 'a@b.c' } })).toEqual(
      expect.arrayContaining(['input.settings.host', 'input.settings.hots']),
    );
    expect(await attempt({ channel: 'SMS', kind: 'twilio', settings: { from: '+15005550006' }, secrets: { accountSid: 'AC1' } })).toEqual(['input.secrets.authToken']);
    expect(await attempt({ channel: 'WHATSAPP', kind: 'whatsapp-cloud', settings: { phoneNumberId: '1', baseUrl: 'file:///etc/passwd' }, secrets: { accessToken: 't' } })).toEqual([
      'input.settings.baseUrl',
    ]);
    expect(await attempt({ channel: 'WEB_PUSH', kind: 'web-push', settings: { subject: 'me', publicKey: 'k' }, secrets: { privateKey: 'p' } })).toEqual(['input.settings.subject']);
    expect(await prisma().providerConfig.findMany({ where: { projectId: h.project.projectId }, orderBy: { id: 'asc' } })).toEqual(before);
  });
});
