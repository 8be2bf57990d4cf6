import { createHmac, generateKeyPairSync, randomBytes, sign as ecdsaSign, type KeyObject } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../src/generated/gql/index.ts';
import type { MessageStatusEvent } from '../src/realtime/pubsub.ts';
import { bearer, gql, memoryLogger, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor, startHttpServer } from './helpers/http-server.ts';

// Delivery receipts (src/modules/receipts) and the suppression list (src/modules/suppressions).
// Every callback is signed here exactly as each provider documents it, with node:crypto only
// (none of Herald's own signing code), and sent to the real endpoint over HTTP.

const CreateNotification = graphql(`
  mutation RcptCreateNotification($input: NotificationInput!) {
    createNotification(input: $input) {
      id
    }
  }
`);
const Configure = graphql(`
  mutation RcptConfigure($input: ProviderInput!) {
    configureProvider(input: $input) {
      id
    }
  }
`);
const UpdateProject = graphql(`
  mutation RcptUpdateProject($input: ProjectSettingsInput!) {
    updateProject(input: $input) {
      statusWebhookUrl
    }
  }
`);
const Execute = graphql(`
  mutation RcptExecute($id: Int!, $executions: [ExecutionInput!]!) {
    executeNotification(id: $id, executions: $executions) {
      messageIds
      error {
        code
      }
    }
  }
`);
const Send = graphql(`
  mutation RcptSend($messages: [SendMessageInput!]!) {
    sendMessages(messages: $messages) {
      ok
      error
      messages {
        id
        channel
        status
        lastError
      }
    }
  }
`);
const GetMessage = graphql(`
  query RcptMessage($id: ID!) {
    message(id: $id) {
      id
      status
      lastError
      providerMessageId
      deliveredAt
      events {
        status
        kind
        url
        error
        provider
      }
    }
  }
`);
const Suppressions = graphql(`
  query RcptSuppressions($filter: SuppressionFilter, $first: Int) {
    suppressions(filter: $filter, first: $first) {
      totalCount
      edges {
        node {
          id
          channel
          address
          reason
          source
          messageId
        }
      }
    }
  }
`);
const AddSuppression = graphql(`
  mutation RcptAddSuppression($input: AddSuppressionInput!) {
    addSuppression(input: $input) {
      id
      channel
      address
      reason
      source
    }
  }
`);
const RemoveSuppression = graphql(`
  mutation RcptRemoveSuppression($id: ID!) {
    removeSuppression(id: $id)
  }
`);

const TWILIO_TOKEN = 'tw-auth-token-123';
const APP_SECRET = 'meta-app-secret-456';
const VERIFY_TOKEN = 'meta-verify-token';
const MAILGUN_KEY = 'key-mailgun-signing-789';
const PUBLIC_CALLBACK = 'https://herald.example.com/providers/twilio/webhook/';
const MAX_BODY = 65_536;

let h: TestHerald;
let auth: Record<string, string>;
const log = memoryLogger('info');
let statusHook: Awaited<ReturnType<typeof startHttpServer>>;
let twilioApi: Awaited<ReturnType<typeof startHttpServer>>;
let metaApi: Awaited<ReturnType<typeof startHttpServer>>;
let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
const published: MessageStatusEvent[] = [];
let ids: { twilio: string; whatsapp: string; smtp: string };
const notificationIds = new Map<string, number>();
// SendGrid's key pair: Herald is given the public key as SendGrid shows it (base64 DER).
const sendgridKeys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const otherKeys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

async function startSmtpServer() {
  const received: ParsedMail[] = [];
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      simpleParser(stream)
        .then((mail) => {
          received.push(mail);
          callback();
        })
        .catch(callback);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.server.address() as AddressInfo).port, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

beforeAll(async () => {
  h = await startTestHerald({ env: { MAX_BODY_BYTES: String(MAX_BODY) }, logger: log.logger });
  auth = bearer(h.project.apiKey);
  statusHook = await startHttpServer(() => ({ status: 200 }));
  let sid = 0;
  twilioApi = await startHttpServer(() => ({ status: 201, body: { sid: `SM${String(++sid).padStart(32, '0')}`, status: 'queued' } }));
  let wamid = 0;
  metaApi = await startHttpServer(() => ({ status: 200, body: { messaging_product: 'whatsapp', messages: [{ id: `wamid.${++wamid}` }] } }));
  smtp = await startSmtpServer();
  // Everything the messageStatus topic carries for this project.
  void (async () => {
    for await (const event of h.herald.pubsub.subscribe('messageStatus', h.project.projectId)) published.push(event);
  })();

  for (const [key, type, content] of [
    ['mail', 'email', { title: 'Hi', email: { subject: 'Hello', text: 'Hello there' } }],
    ['sms', 'sms', { body: 'Your code is 1234' }],
    ['wa', 'whatsapp', { body: 'fallback', whatsapp: { text: 'Order shipped' } }],
  ] as const) {
    const res = await gql(h.url, CreateNotification, { input: { key, type, name: key, versions: [{ contents: [{ locale: 'en', ...content }] }] } }, auth);
    expect(res.errors).toBeUndefined();
    notificationIds.set(key, Number(res.data!.createNotification.id));
  }
  const configure = async (input: Record<string, unknown>) => {
    const res = await gql(h.url, Configure, { input: input as never }, auth);
    expect(res.errors).toBeUndefined();
    return res.data!.configureProvider.id;
  };
  const twilioSettings = { baseUrl: twilioApi.url, from: '+15005550006' };
  const twilioId = await configure({ channel: 'SMS', kind: 'twilio', name: 'twilio', settings: twilioSettings, secrets: { accountSid: 'AC1', authToken: TWILIO_TOKEN } });
  // Behind a proxy: the URL Twilio is given (and signs) is the public one, not the one Herald sees.
  await configure({ channel: 'SMS', kind: 'twilio', name: 'twilio', settings: { ...twilioSettings, statusCallbackUrl: `${PUBLIC_CALLBACK}${twilioId}` }, secrets: { accountSid: 'AC1', authToken: TWILIO_TOKEN } });
  ids = {
    twilio: twilioId,
    whatsapp: await configure({
      channel: 'WHATSAPP',
      kind: 'whatsapp-cloud',
      name: 'meta',
      settings: { baseUrl: metaApi.url, phoneNumberId: '1098765' },
      secrets: { accessToken: 'wa-token', appSecret: APP_SECRET, verifyToken: VERIFY_TOKEN },
    }),
    smtp: await configure({
      channel: 'EMAIL',
      kind: 'smtp',
      name: 'relay',
      settings: {
        host: '127.0.0.1',
        port: smtp.port,
        from: 'noreply@herald.test',
        sendgridWebhookPublicKey: sendgridKeys.publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
      },
      secrets: { mailgunWebhookSigningKey: MAILGUN_KEY },
    }),
  };
  const res = await gql(h.url, UpdateProject, { input: { statusWebhookUrl: statusHook.url } }, auth);
  expect(res.errors).toBeUndefined();
});

afterAll(async () => {
  await Promise.all([statusHook?.close(), twilioApi?.close(), metaApi?.close(), smtp?.close()]);
  await h?.stop();
});

const message = async (id: string) => (await gql(h.url, GetMessage, { id }, auth)).data!.message;
const hasStatus = (id: string, status: string) => pollFor(async () => ((await message(id)).status === status ? message(id) : null), 10_000, `${status} of ${id}`);

async function send(notificationId: string, userId: string, profile: { userEmail?: string; userTelephone?: string }) {
  const res = await gql(h.url, Send, { messages: [{ notificationId, userId, ...profile }] }, auth);
  expect(res.errors).toBeUndefined();
  expect(res.data!.sendMessages[0]!.ok).toBe(true);
  return res.data!.sendMessages[0]!.messages[0]!;
}

/** A message sent and SENT, with the id its provider gave it. */
async function sent(notificationId: string, userId: string, profile: { userEmail?: string; userTelephone?: string }) {
  const m = await send(notificationId, userId, profile);
  const row = await hasStatus(m.id, 'SENT');
  return { id: m.id, providerMessageId: row.providerMessageId! };
}

/** The status change was published on messageStatus and POSTed to the project's status webhook. */
async function announced(id: string, status: string) {
  await pollFor(() => published.some((e) => e.messageId === id && e.status === status), 5_000, `messageStatus ${status}`);
  await pollFor(() => statusHook.received.some((r) => JSON.parse(r.body).messageId === id && JSON.parse(r.body).status === status), 5_000, `status webhook ${status}`);
}

const post = (path: string, body: string | Uint8Array, headers: Record<string, string>) => fetch(`${h.url}${path}`, { method: "POST", headers, body: body as BodyInit });
const answer = async (response: Response) => ({ status: response.status, body: (await response.json()) as Record<string, unknown> });
const refusedLogged = (reason: RegExp) => pollFor(() => log.lines.some((l) => l.msg === 'Provider webhook refused' && reason.test(String(l.reason))), 2_000, `log ${reason}`);

// ---------- Twilio ----------

/** Twilio's documented algorithm: base64 HMAC-SHA1(authToken, URL + each POST param sorted by name as name+value). */
function twilioSign(token: string, url: string, params: Record<string, string>) {
  const data = Object.keys(params)
    .sort()
    .map((k) => k + params[k])
    .join('');
  return createHmac('sha1', token).update(url + data).digest('base64');
}

function twilioCallback(params: Record<string, string>, token = TWILIO_TOKEN) {
  const body = new URLSearchParams(params).toString();
  const signature = twilioSign(token, `${PUBLIC_CALLBACK}${ids.twilio}`, params);
  return () => post(`/providers/twilio/webhook/${ids.twilio}`, body, { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature });
}

describe('twilio status callbacks', () => {
  it('moves a message to DELIVERED, publishes it, and refuses the replay, a forged and an unsigned callback', async () => {
    const m = await sent('sms', 'tw-1', { userTelephone: '+447911000001' });
    // Herald asked Twilio to call back at the public URL.
    const call = twilioApi.received.find((r) => new URLSearchParams(r.body).get('To') === '+447911000001')!;
    expect(new URLSearchParams(call.body).get('StatusCallback')).toBe(`${PUBLIC_CALLBACK}${ids.twilio}`);

    const params = { AccountSid: 'AC1', MessageSid: m.providerMessageId, MessageStatus: 'delivered', To: '+447911000001', From: '+15005550006', ApiVersion: '2010-04-01' };
    const forged = await answer(await twilioCallback(params, 'not-the-token')());
    expect(forged).toEqual({ status: 401, body: { error: 'X-Twilio-Signature does not match' } });
    await refusedLogged(/X-Twilio-Signature does not match/);
    const unsigned = await post(`/providers/twilio/webhook/${ids.twilio}`, new URLSearchParams(params).toString(), { 'content-type': 'application/x-www-form-urlencoded' });
    expect(unsigned.status).toBe(401);
    expect((await message(m.id)).status).toBe('SENT');

    const delivered = twilioCallback(params);
    expect(await answer(await delivered())).toEqual({ status: 200, body: { ok: true, applied: 1, unmatched: 0, suppressed: 0, ignored: 0 } });
    const row = await message(m.id);
    expect(row.status).toBe('DELIVERED');
    expect(row.deliveredAt).not.toBeNull();
    expect(row.events.at(-1)).toMatchObject({ status: 'DELIVERED', provider: 'twilio', kind: null });
    await announced(m.id, 'DELIVERED');

    const replay = await answer(await delivered());
    expect(replay).toEqual({ status: 403, body: { error: 'replayed callback: this one was accepted before' } });
    await refusedLogged(/replayed/);
    // A late "sent" is nothing new.
    expect((await answer(await twilioCallback({ ...params, MessageStatus: 'sent' })())).body).toMatchObject({ applied: 0, ignored: 1 });
    expect((await message(m.id)).events.filter((e) => e.status === 'DELIVERED')).toHaveLength(1);
  });

  it('records undelivered as FAILED with the error code, and an unknown handset as a hard bounce that suppresses the number', async () => {
    const a = await sent('sms', 'tw-2', { userTelephone: '+447911000002' });
    await twilioCallback({ MessageSid: a.providerMessageId, MessageStatus: 'undelivered', ErrorCode: '30003' })();
    expect(await message(a.id)).toMatchObject({ status: 'FAILED', lastError: 'undelivered ErrorCode 30003' });
    await announced(a.id, 'FAILED');

    const b = await sent('sms', 'tw-3', { userTelephone: '+447911000003' });
    const res = await answer(await twilioCallback({ MessageSid: b.providerMessageId, MessageStatus: 'failed', ErrorCode: '30005' })());
    expect(res.body).toMatchObject({ applied: 1, suppressed: 1 });
    expect(await message(b.id)).toMatchObject({ status: 'BOUNCED', lastError: 'failed ErrorCode 30005' });
    const list = await gql(h.url, Suppressions, { filter: { channel: 'SMS', address: '+44 7911 000003' } }, auth);
    expect(list.data!.suppressions.edges.map((e) => e.node)).toEqual([expect.objectContaining({ address: '+447911000003', source: 'twilio', messageId: b.id, reason: 'failed ErrorCode 30005' })]);
    // The next SMS to that number is not sent.
    const next = await send('sms', 'tw-3', {});
    expect(next).toMatchObject({ status: 'SKIPPED', lastError: 'the address is suppressed: failed ErrorCode 30005' });
  });
});

// ---------- WhatsApp ----------

function whatsappCallback(statuses: Record<string, unknown>[], secret = APP_SECRET, phoneNumberId = '1098765') {
  const body = JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{ id: 'WABA1', changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata: { display_phone_number: '15550001111', phone_number_id: phoneNumberId }, statuses } }] }],
  });
  const signature = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  return () => post(`/providers/whatsapp/webhook/${ids.whatsapp}`, body, { 'content-type': 'application/json', 'x-hub-signature-256': signature });
}
const waStatus = (id: string, status: string, extra: Record<string, unknown> = {}) => ({ id, status, timestamp: String(Math.floor(Date.now() / 1000)), recipient_id: '447911000010', ...extra });

describe('whatsapp status webhooks', () => {
  it('answers the verification GET with the challenge only for the right verify token', async () => {
    const path = `/providers/whatsapp/webhook/${ids.whatsapp}`;
    const ok = await fetch(`${h.url}${path}?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1158201444`);
    expect([ok.status, await ok.text()]).toEqual([200, '1158201444']);
    const wrong = await fetch(`${h.url}${path}?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1158201444`);
    expect(wrong.status).toBe(403);
  });

  it('moves SENT → READ, keeps READ on a late "delivered", records failures with the error, refuses forged and replayed posts', async () => {
    const m = await sent('wa', 'wa-1', { userTelephone: '+447911000010' });
    expect((await answer(await whatsappCallback([waStatus(m.providerMessageId, 'read')], 'wrong-secret')())).status).toBe(401);
    const read = whatsappCallback([waStatus(m.providerMessageId, 'read')]);
    expect((await answer(await read())).body).toMatchObject({ applied: 1 });
    await announced(m.id, 'READ');
    expect(await message(m.id)).toMatchObject({ status: 'READ' });
    expect((await read()).status).toBe(403);
    // Late: a "delivered" after "read" changes nothing (the guard is in SQL).
    expect((await answer(await whatsappCallback([waStatus(m.providerMessageId, 'delivered')])())).body).toMatchObject({ applied: 0, unmatched: 1 });
    const after = await message(m.id);
    expect(after.status).toBe('READ');
    expect(after.events.map((e) => e.status)).not.toContain('DELIVERED');

    const f = await sent('wa', 'wa-2', { userTelephone: '+447911000011' });
    const failed = [{ code: 131026, title: 'Message undeliverable', message: 'Message undeliverable', error_data: { details: 'Receiver is incapable of receiving this message' } }];
    await whatsappCallback([waStatus(f.providerMessageId, 'failed', { errors: failed })])();
    expect(await message(f.id)).toMatchObject({ status: 'FAILED', lastError: '131026 Message undeliverable Receiver is incapable of receiving this message' });
    // Another number's statuses on the same Meta app are not this provider's.
    expect((await answer(await whatsappCallback([waStatus(f.providerMessageId, 'read')], APP_SECRET, '999')())).body).toMatchObject({ applied: 0, ignored: 1 });
  });
});

// ---------- SendGrid ----------

/** SendGrid's Event Webhook signature: ECDSA P-256 over SHA-256 of timestamp + raw payload, base64 DER. */
function sendgridCallback(events: Record<string, unknown>[], options: { key?: KeyObject; timestamp?: number; body?: string } = {}) {
  const body = options.body ?? JSON.stringify(events);
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const signature = ecdsaSign('sha256', Buffer.from(timestamp + body), options.key ?? sendgridKeys.privateKey).toString('base64');
  return () =>
    post(`/providers/sendgrid/webhook/${ids.smtp}`, body, {
      'content-type': 'application/json',
      'x-twilio-email-event-webhook-signature': signature,
      'x-twilio-email-event-webhook-timestamp': timestamp,
    });
}

describe('sendgrid event webhook', () => {
  it('sets the unique argument on the email, then records delivered, open and click', async () => {
    const m = await sent('mail', 'sg-1', { userEmail: 'sg1@example.com' });
    const mail = smtp.received.find((r) => r.messageId === `<${m.id}@herald>`)!;
    expect(JSON.parse(String(mail.headers.get('x-smtpapi')))).toEqual({ unique_args: { herald_message_id: m.id } });
    expect(JSON.parse(String(mail.headers.get('x-mailgun-variables')))).toEqual({ herald_message_id: m.id });

    const base = { email: 'sg1@example.com', timestamp: Math.floor(Date.now() / 1000), 'smtp-id': m.providerMessageId, sg_message_id: 'sg.1', herald_message_id: m.id };
    const res = await answer(
      await sendgridCallback([
        { ...base, event: 'processed' },
        { ...base, event: 'delivered', response: '250 OK' },
        { ...base, event: 'open', useragent: 'Mozilla' },
        { ...base, event: 'click', url: 'https://example.com/offer' },
      ])(),
    );
    expect(res).toEqual({ status: 200, body: { ok: true, applied: 3, unmatched: 0, suppressed: 0, ignored: 1 } });
    await announced(m.id, 'DELIVERED');
    const row = await message(m.id);
    expect(row.status).toBe('DELIVERED');
    expect(row.events.slice(-3)).toEqual([
      expect.objectContaining({ status: 'DELIVERED', kind: null }),
      expect.objectContaining({ status: 'DELIVERED', kind: 'OPENED' }),
      expect.objectContaining({ status: 'DELIVERED', kind: 'CLICKED', url: 'https://example.com/offer' }),
    ]);
  });

  it('refuses a stale timestamp, another key’s signature, a replay and an unsigned post', async () => {
    const m = await sent('mail', 'sg-2', { userEmail: 'sg2@example.com' });
    const events = [{ email: 'sg2@example.com', event: 'delivered', herald_message_id: m.id, timestamp: 1 }];
    const stale = await answer(await sendgridCallback(events, { timestamp: Math.floor(Date.now() / 1000) - 301 })());
    expect(stale).toEqual({ status: 401, body: { error: 'timestamp outside the 300 s tolerance' } });
    expect((await sendgridCallback(events, { key: otherKeys.privateKey })()).status).toBe(401);
    expect((await post(`/providers/sendgrid/webhook/${ids.smtp}`, JSON.stringify(events), { 'content-type': 'application/json' })).status).toBe(401);
    expect((await message(m.id)).status).toBe('SENT');
    const ok = sendgridCallback(events);
    expect((await ok()).status).toBe(200);
    expect((await ok()).status).toBe(403);
    expect((await message(m.id)).status).toBe('DELIVERED');
  });

  it('a hard bounce (found by smtp-id) suppresses the address and the next send is SKIPPED; a blocked one only fails', async () => {
    const m = await sent('mail', 'sg-3', { userEmail: 'Bounce.Me@Example.com' });
    const res = await answer(await sendgridCallback([{ email: 'bounce.me@example.com', event: 'bounce', type: 'bounce', status: '5.1.1', reason: '550 5.1.1 User unknown', 'smtp-id': m.providerMessageId }])());
    expect(res.body).toMatchObject({ applied: 1, suppressed: 1 });
    expect(await message(m.id)).toMatchObject({ status: 'BOUNCED', lastError: '5.1.1 550 5.1.1 User unknown' });
    await announced(m.id, 'BOUNCED');
    const next = await send('mail', 'sg-3', {});
    expect(next).toMatchObject({ status: 'SKIPPED', lastError: 'the address is suppressed: 5.1.1 550 5.1.1 User unknown' });
    // NP6 executions accept in a transaction of their own: suppressed there too.
    const executed = await gql(h.url, Execute, { id: notificationIds.get('mail')!, executions: [{ recipient: { type: 'id', value: 'sg-3' } }] }, auth);
    expect(executed.errors).toBeUndefined();
    const executedMessage = await message(executed.data!.executeNotification[0]!.messageIds[0]!);
    expect(executedMessage).toMatchObject({ status: 'SKIPPED', lastError: 'the address is suppressed: 5.1.1 550 5.1.1 User unknown' });

    const b = await sent('mail', 'sg-4', { userEmail: 'sg4@example.com' });
    await sendgridCallback([{ email: 'sg4@example.com', event: 'bounce', type: 'blocked', reason: 'IP blocked', herald_message_id: b.id }])();
    expect(await message(b.id)).toMatchObject({ status: 'FAILED', lastError: 'blocked: IP blocked' });
    expect((await gql(h.url, Suppressions, { filter: { address: 'sg4@example.com' } }, auth)).data!.suppressions.totalCount).toBe(0);
  });

  it('answers 400 to a signed body that is not an event array', async () => {
    expect((await sendgridCallback([], { body: '{"not":"an array"}' })()).status).toBe(400);
    expect((await sendgridCallback([], { body: 'not json' })()).status).toBe(400);
  });
});

// ---------- Mailgun ----------

function mailgunCallback(eventData: Record<string, unknown>, options: { key?: string; timestamp?: number; token?: string } = {}) {
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const token = options.token ?? randomBytes(25).toString('hex');
  const signature = createHmac('sha256', options.key ?? MAILGUN_KEY)
    .update(timestamp + token)
    .digest('hex');
  const body = JSON.stringify({ signature: { timestamp, token, signature }, 'event-data': eventData });
  return () => post(`/providers/mailgun/webhook/${ids.smtp}`, body, { 'content-type': 'application/json' });
}

describe('mailgun webhooks', () => {
  it('records delivered by the user variable, refuses forged, stale and replayed tokens', async () => {
    const m = await sent('mail', 'mg-1', { userEmail: 'mg1@example.com' });
    const event = { event: 'delivered', id: 'ev1', timestamp: Date.now() / 1000, recipient: 'mg1@example.com', 'user-variables': { herald_message_id: m.id }, 'delivery-status': { code: 250 } };
    expect((await mailgunCallback(event, { key: 'wrong-key' })()).status).toBe(401);
    expect((await mailgunCallback(event, { timestamp: Math.floor(Date.now() / 1000) - 600 })()).status).toBe(401);
    const ok = mailgunCallback(event);
    expect((await answer(await ok())).body).toMatchObject({ applied: 1 });
    await announced(m.id, 'DELIVERED');
    expect((await ok()).status).toBe(403);
  });

  it('a permanent failure (found by Message-ID) is a hard bounce that suppresses; a temporary one is a DEFERRED event; a complaint suppresses', async () => {
    const m = await sent('mail', 'mg-2', { userEmail: 'mg2@example.com' });
    const headers = { 'message-id': m.providerMessageId.replace(/^<|>$/g, '') };
    await mailgunCallback({ event: 'failed', severity: 'temporary', reason: 'generic', message: { headers }, 'delivery-status': { code: 452, message: 'mailbox full' } })();
    const deferred = await message(m.id);
    expect(deferred.status).toBe('SENT');
    expect(deferred.events.at(-1)).toMatchObject({ status: 'SENT', kind: 'DEFERRED', error: '452 mailbox full generic' });
    await mailgunCallback({ event: 'failed', severity: 'permanent', reason: 'bounce', message: { headers }, 'delivery-status': { code: 550, description: 'No such mailbox' } })();
    expect(await message(m.id)).toMatchObject({ status: 'BOUNCED', lastError: '550 No such mailbox bounce' });
    const list = await gql(h.url, Suppressions, { filter: { channel: 'EMAIL', address: 'MG2@example.com' } }, auth);
    expect(list.data!.suppressions.edges[0]?.node).toMatchObject({ source: 'mailgun', address: 'mg2@example.com' });

    const c = await sent('mail', 'mg-3', { userEmail: 'mg3@example.com' });
    await mailgunCallback({ event: 'complained', 'user-variables': { herald_message_id: c.id } })();
    expect((await message(c.id)).events.at(-1)).toMatchObject({ kind: 'COMPLAINED' });
    expect((await send('mail', 'mg-3', {})).status).toBe('SKIPPED');
  });
});

// ---------- The endpoint itself ----------

describe('receipt endpoint', () => {
  it('answers 404 for an unknown kind, provider id or a provider of another kind, 405 for GET, 413 over the body limit', async () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    expect((await post(`/providers/nope/webhook/${ids.twilio}`, 'a=b', form)).status).toBe(404);
    expect((await post('/providers/twilio/webhook/not-a-uuid', 'a=b', form)).status).toBe(404);
    expect((await post('/providers/twilio/webhook/0190a8a0-0000-7000-8000-000000000000', 'a=b', form)).status).toBe(404);
    expect(await answer(await post(`/providers/twilio/webhook/${ids.smtp}`, 'a=b', form))).toEqual({ status: 404, body: { error: 'provider not found' } });
    expect((await fetch(`${h.url}/providers/sendgrid/webhook/${ids.smtp}`)).status).toBe(405);
    const big = await post(`/providers/sendgrid/webhook/${ids.smtp}`, new Uint8Array(MAX_BODY + 1).fill(97), { 'content-type': 'application/json' });
    expect(big.status).toBe(413);
  });

  it('never touches another project’s message', async () => {
    const other = await h.newProject('Receipts other');
    const created = await gql(h.url, CreateNotification, { input: { key: 'inapp', type: 'in-app', name: 'x', versions: [{ contents: [{ locale: 'en', title: 't', body: 'b' }] }] } }, bearer(other.apiKey));
    expect(created.errors).toBeUndefined();
    const res = await gql(h.url, Send, { messages: [{ notificationId: 'inapp', userId: 'x1' }] }, bearer(other.apiKey));
    const foreign = res.data!.sendMessages[0]!.messages[0]!.id;
    const answered = await answer(await sendgridCallback([{ event: 'bounce', type: 'bounce', herald_message_id: foreign, email: 'x@example.com' }])());
    expect(answered.body).toMatchObject({ applied: 0, unmatched: 1, suppressed: 0 });
  });
});

// ---------- Suppressions in GraphQL ----------

describe('suppressions', () => {
  it('adds (normalized), lists with filters, refuses duplicates and bad input, removes; another project sees none of it', async () => {
    const added = await gql(h.url, AddSuppression, { input: { channel: 'EMAIL', address: ' Carol@Example.COM ', reason: 'asked by phone' } }, auth);
    expect(added.errors).toBeUndefined();
    expect(added.data!.addSuppression).toMatchObject({ channel: 'EMAIL', address: 'carol@example.com', reason: 'asked by phone', source: 'manual' });
    const id = added.data!.addSuppression.id;
    expect((await send('mail', 'carol', { userEmail: 'carol@example.com' })).status).toBe('SKIPPED');

    const again = await gql(h.url, AddSuppression, { input: { channel: 'EMAIL', address: 'carol@example.com' } }, auth);
    expect(again.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    for (const [input, field] of [
      [{ channel: 'EMAIL', address: 'not-an-email' }, 'input.address'],
      [{ channel: 'SMS', address: '12345' }, 'input.address'],
      [{ channel: 'IN_APP', address: 'x' }, 'input.channel'],
      [{ channel: 'EMAIL', address: '' }, 'input.address'],
      [{ channel: 'EMAIL', address: 'a@example.com', reason: 'x'.repeat(501) }, 'input.reason'],
    ] as const) {
      const res = await gql(h.url, AddSuppression, { input }, auth);
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [expect.objectContaining({ field })] });
    }

    const manual = await gql(h.url, Suppressions, { filter: { source: 'manual' } }, auth);
    expect(manual.data!.suppressions).toMatchObject({ totalCount: 1, edges: [{ node: { id } }] });
    const all = await gql(h.url, Suppressions, { first: 200 }, auth);
    expect(all.data!.suppressions.totalCount).toBeGreaterThanOrEqual(4);

    const other = await h.newProject('Suppressions other');
    const theirs = await gql(h.url, Suppressions, {}, bearer(other.apiKey));
    expect(theirs.data!.suppressions.totalCount).toBe(0);
    const foreignRemove = await gql(h.url, RemoveSuppression, { id }, bearer(other.apiKey));
    expect(foreignRemove.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await gql(h.url, RemoveSuppression, { id: 'nope' }, auth)).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    // The other project may suppress the same address for itself.
    expect((await gql(h.url, AddSuppression, { input: { channel: 'EMAIL', address: 'carol@example.com' } }, bearer(other.apiKey))).errors).toBeUndefined();

    expect((await gql(h.url, RemoveSuppression, { id }, auth)).data!.removeSuppression).toBe(id);
    expect((await gql(h.url, RemoveSuppression, { id }, auth)).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const resumed = await send('mail', 'carol', {});
    expect(resumed.status).toBe('QUEUED');
    await hasStatus(resumed.id, 'SENT');
  });

  it('requires an operator key', async () => {
    const res = await gql(h.url, Suppressions, {}, {});
    expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});
