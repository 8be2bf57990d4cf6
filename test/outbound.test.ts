import { createECDH, randomBytes } from 'node:crypto';
import type { LookupAddress } from 'node:dns';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/env.ts';
import { prisma } from '../src/db/client.ts';
import { callProvider } from '../src/delivery/providers/http.ts';
import { excerpt, OutboundPolicy, OutboundRefusedError, outboundPolicyFromConfig, redactUrl, setOutboundPolicy } from '../src/delivery/providers/outbound.ts';
import { ProviderError } from '../src/delivery/providers/types.ts';
import { postSigned } from '../src/delivery/signing.ts';
import { graphql } from '../src/generated/gql/index.ts';
import { bearer, gql, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor, startHttpServer } from './helpers/http-server.ts';

const Configure = graphql(`
  mutation OutConfigure($input: ProviderInput!) {
    configureProvider(input: $input) {
      id
    }
  }
`);
const UpdateProject = graphql(`
  mutation OutUpdateProject($input: ProjectSettingsInput!) {
    updateProject(input: $input) {
      statusWebhookUrl
    }
  }
`);
const CreateNotification = graphql(`
  mutation OutCreateNotification($input: NotificationInput!) {
    createNotification(input: $input) {
      id
    }
  }
`);
const Send = graphql(`
  mutation OutSend($messages: [SendMessageInput!]!) {
    sendMessages(messages: $messages) {
      ok
      messages {
        id
        channel
      }
    }
  }
`);
const GetMessage = graphql(`
  query OutMessage($id: ID!) {
    message(id: $id) {
      status
      attempts
      lastError
    }
  }
`);

describe('the address policy', () => {
  const strict = new OutboundPolicy({ allowPrivate: false });

  it('refuses loopback, private, link-local, multicast, unspecified and their IPv4-mapped forms', () => {
    const refused: [string, RegExp][] = [
      ['127.0.0.1', /loopback/],
      ['127.8.9.10', /loopback/],
      ['::1', /loopback/],
      ['::ffff:127.0.0.1', /loopback/],
      ['::ffff:7f00:1', /loopback/],
      ['10.1.2.3', /private/],
      ['172.16.0.1', /private/],
      ['192.168.1.1', /private/],
      ['::ffff:192.168.1.1', /private/],
      ['169.254.169.254', /link-local/],
      ['fe80::1', /link-local/],
      ['fd00::1', /unique-local/],
      ['224.0.0.1', /multicast/],
      ['ff02::1', /multicast/],
      ['0.0.0.0', /unspecified/],
      ['::', /unspecified/],
      ['255.255.255.255', /broadcast/],
      ['100.100.100.200', /carrier-grade/],
      ['64:ff9b::7f00:1', /loopback/],
    ];
    for (const [address, reason] of refused) expect(strict.refusal(address), address).toMatch(reason);
    for (const address of ['93.184.215.14', '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808']) {
      expect(strict.refusal(address), address).toBeNull();
    }
  });

  it('checks URLs as they are configured: literal forms, local names, credentials', async () => {
    for (const url of ['http://127.0.0.1/x', 'http://0x7f000001/', 'http://2130706433/', 'http://[::1]:8080/', 'http://[::ffff:127.0.0.1]/', 'http://localhost:6379/', 'http://api.localhost/', 'http://169.254.169.254/latest/meta-data/']) {
      expect(await strict.checkUrl(url), url).toMatch(/loopback|link-local/);
    }
    expect(await strict.checkUrl('https://user:pass@hooks.example/x')).toMatch(/credentials/);
    // A name that does not resolve (here: no DNS at all) is not refused; its connection will be checked.
    expect(await strict.checkUrl('https://hooks.example/herald')).toBeNull();
  });

  it('allows what the operator lists: OUTBOUND_ALLOWED_CIDRS or OUTBOUND_ALLOW_PRIVATE', () => {
    const base = { DATABASE_URL: 'postgresql://x@127.0.0.1/db' };
    const listed = outboundPolicyFromConfig(parseConfig({ ...base, OUTBOUND_ALLOWED_CIDRS: '127.0.0.0/8, ::1/128' }));
    expect(listed.refusal('127.0.0.1')).toBeNull();
    expect(listed.refusal('::ffff:127.0.0.1')).toBeNull();
    expect(listed.refusal('::1')).toBeNull();
    expect(listed.refusal('10.0.0.1')).toMatch(/private/);
    expect(listed.refusal('169.254.169.254')).toMatch(/link-local/);

    expect(outboundPolicyFromConfig(parseConfig({ ...base, OUTBOUND_ALLOW_PRIVATE: 'true' })).refusal('10.0.0.1')).toBeNull();
    expect(() => parseConfig({ OUTBOUND_ALLOWED_CIDRS: '127.0.0.1/8,nope' })).toThrow(/OUTBOUND_ALLOWED_CIDRS: "nope" is not a CIDR/);
  });

  it('defaults: allowed only for the embedded mode outside production', () => {
    const allows = (env: Record<string, string>) => outboundPolicyFromConfig(parseConfig(env)).allowPrivate;
    expect(allows({})).toBe(true);
    expect(allows({ NODE_ENV: 'production' })).toBe(false);
    expect(allows({ DATABASE_URL: 'postgresql://x@127.0.0.1/db' })).toBe(false);
    expect(allows({ NODE_ENV: 'production', OUTBOUND_ALLOW_PRIVATE: 'true' })).toBe(true);
  });

  it('keeps a short single-line excerpt of a remote answer and shows URLs without credentials', () => {
    const shown = excerpt(`-ERR unknown command\r\n${'x'.repeat(5_000)}\u0000`);
    expect(shown.length).toBeLessThanOrEqual(201);
    expect(shown).not.toMatch(/[\r\n\u0000]/);
    expect(redactUrl('https://u:p@hooks.example/cb?token=1')).toBe('https://hooks.example/cb');
  });
});

describe('outbound requests of a Herald with private addresses refused', () => {
  let h: TestHerald;
  let auth: Record<string, string>;
  let hook: Awaited<ReturnType<typeof startHttpServer>>;
  let smtpSessions = 0;
  let smtp: SMTPServer;
  let smtpPort: number;
  /** The policy the server started with (from its configuration); tests that swap it put it back. */
  let started: OutboundPolicy;

  beforeAll(async () => {
    h = await startTestHerald({ env: { OUTBOUND_ALLOW_PRIVATE: 'false', DELIVERY_MAX_ATTEMPTS: '2', DELIVERY_BACKOFF_MS: '50' } });
    started = outboundPolicyFromConfig(h.config);
    auth = bearer(h.project.apiKey);
    hook = await startHttpServer(() => ({ status: 500, body: { error: `internal\n${'secret '.repeat(500)}` } }));
    smtp = new SMTPServer({ authOptional: true, disabledCommands: ['STARTTLS'], logger: false, onConnect: (_s, cb) => (smtpSessions++, cb()) });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    smtpPort = (smtp.server.address() as AddressInfo).port;
    for (const [key, type] of [
      ['hook', 'webhook'],
      ['mail', 'email'],
    ] as const) {
      const created = await gql(
        h.url,
        CreateNotification,
        { input: { key, type, name: key, versions: [{ contents: [{ locale: 'en', title: 'T', body: 'B', email: { subject: 'S', text: 'T' } }] }] } },
        auth,
      );
      expect(created.errors).toBeUndefined();
    }
  });
  afterEach(() => setOutboundPolicy(started));
  afterAll(async () => {
    await hook?.close();
    await new Promise<void>((resolve) => (smtp ? smtp.close(() => resolve()) : resolve()));
    await h?.stop();
  });

  const configure = (input: { channel: string; kind: string; settings: Record<string, unknown>; secrets?: Record<string, unknown> }) =>
    gql(h.url, Configure, { input: { name: 'p', ...input } }, auth);

  it('configureProvider refuses each URL and host setting that points inside, naming it', async () => {
    const cases: [Parameters<typeof configure>[0], string, RegExp][] = [
      [{ channel: 'WEBHOOK', kind: 'webhook', settings: { url: `${hook.url}/hook` } }, 'input.settings.url', /127\.0\.0\.1 is a loopback address/],
      [{ channel: 'WEBHOOK', kind: 'webhook', settings: { url: 'http://0x7f000001:6379/' } }, 'input.settings.url', /loopback/],
      [{ channel: 'SMS', kind: 'twilio', settings: { from: '+15005550006', baseUrl: 'http://[::1]:8080' }, secrets: { accountSid: 'AC1', authToken: 't' } }, 'input.settings.baseUrl', /::1 is a loopback/],
      [{ channel: 'WHATSAPP', kind: 'whatsapp-cloud', settings: { phoneNumberId: '1', baseUrl: 'http://169.254.169.254' }, secrets: { accessToken: 't' } }, 'input.settings.baseUrl', /link-local/],
      [{ channel: 'EMAIL', kind: 'smtp', settings: { host: 'localhost', from: 'a@b.test' } }, 'input.settings.host', /loopback/],
      [{ channel: 'EMAIL', kind: 'smtp', settings: { host: '10.0.0.25', from: 'a@b.test' } }, 'input.settings.host', /private/],
      [{ channel: 'WEBHOOK', kind: 'webhook', settings: { url: 'https://user:hunter2@hooks.example/x' } }, 'input.settings.url', /credentials/],
    ];
    for (const [input, field, message] of cases) {
      const res = await configure(input);
      expect(res.errors?.[0]?.extensions, JSON.stringify(input)).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ field, message: expect.stringMatching(message) }] });
      expect(res.errors?.[0]?.message).not.toContain('hunter2');
    }
    expect(await prisma().providerConfig.count({ where: { projectId: h.project.projectId } })).toBe(0);
  });

  it('updateProject refuses a status webhook inside (and credentials in it)', async () => {
    for (const [url, message] of [
      ['http://169.254.169.254/latest/meta-data/', /link-local/],
      ['http://[::ffff:127.0.0.1]:6379/', /loopback/],
      ['https://u:p@hooks.example/x', /credentials/],
    ] as const) {
      const res = await gql(h.url, UpdateProject, { input: { statusWebhookUrl: url } }, auth);
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ field: 'input.statusWebhookUrl', message: expect.stringMatching(message) }] });
    }
    expect((await prisma().project.findUniqueOrThrow({ where: { id: h.project.projectId } })).statusWebhookUrl).toBeNull();
  });

  it("department notify refuses a callBackUrl inside (REST 400 INVALID_CALLBACK_URL)", async () => {
    const call = async (query: string, variables: Record<string, unknown>) => {
      const response = await fetch(`${h.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify({ query, variables }) });
      const body = (await response.json()) as { data: Record<string, { id: string }>; errors?: unknown };
      expect(body.errors).toBeUndefined();
      return body.data;
    };
    await call('mutation($u: [UserInput!]!) { upsertUsers(users: $u) { ok } }', { u: [{ externalId: 'dealer-1' }] });
    const dept = (await call('mutation($n: String!) { createDepartment(name: $n) { id } }', { n: 'Service' })).createDepartment!.id;
    await call('mutation($d: ID!, $u: [String!]!) { addDepartmentMembers(departmentId: $d, userIds: $u) { id } }', { d: dept, u: ['dealer-1'] });
    const basic = { authorization: `Basic ${Buffer.from(`${h.project.keyId}:${h.project.keySecret}`).toString('base64')}` };
    const res = await rest(h.url, 'POST', `/department/${dept}/user/dealer-1/notify`, { messageAttributes: { body: 'x' }, messageSendingAttributesLite: { callBackUrl: 'http://169.254.169.254/latest/meta-data/' } }, basic);
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.errors[0]).toMatchObject({ errorCode: 'INVALID_CALLBACK_URL', errorDescription: expect.stringMatching(/callBackUrl: 169\.254\.169\.254 is a link-local address/) });
    expect(await prisma().message.count({ where: { projectId: h.project.projectId, callbackUrl: { not: null } } })).toBe(0);
  });

  it('registerPushSubscription refuses an endpoint inside', async () => {
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const keys = { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') };
    const response = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify({
        query: 'mutation($u: ID!, $s: PushSubscriptionInput!) { registerPushSubscription(userId: $u, subscription: $s) { id } }',
        variables: { u: 'push-1', s: { endpoint: 'https://[::1]:8443/push/abc', keys } },
      }),
    });
    const body = (await response.json()) as { errors?: { extensions?: Record<string, unknown> }[] };
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ field: 'subscription.endpoint', message: expect.stringMatching(/::1 is a loopback/) }] });
  });

  /** A provider row as an earlier release (or a name that resolved elsewhere then) left it: no configure-time check. */
  async function storedProvider(channel: 'WEBHOOK' | 'EMAIL', kind: string, settings: Record<string, string | number>) {
    await prisma().providerConfig.deleteMany({ where: { projectId: h.project.projectId, channel } });
    await prisma().providerConfig.create({ data: { id: uuidv7(), projectId: h.project.projectId, channel, priority: 0, kind, name: 'stored', settings, enabled: true } });
  }

  async function sendAndSettle(notificationId: string, extra: Record<string, string> = {}) {
    const res = await gql(h.url, Send, { messages: [{ notificationId, userId: `u-${uuidv7()}`, ...extra }] }, auth);
    expect(res.errors).toBeUndefined();
    const id = res.data!.sendMessages[0]!.messages[0]!.id;
    return pollFor(async () => {
      const m = (await gql(h.url, GetMessage, { id }, auth)).data!.message!;
      return m.status === 'FAILED' || m.status === 'SENT' ? m : null;
    }, 15_000, `the outcome of ${id}`);
  }

  it('refuses at connect time a name that resolves to loopback (localhost), for webhooks and SMTP', async () => {
    await storedProvider('WEBHOOK', 'webhook', { url: `http://localhost:${new URL(hook.url).port}/hook` });
    const before = hook.received.length;
    const failed = await sendAndSettle('hook');
    expect(failed).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(failed.lastError).toMatch(/webhook: localhost is this machine \(loopback\)/);
    expect(hook.received.length).toBe(before);

    await storedProvider('EMAIL', 'smtp', { host: 'localhost', port: smtpPort, from: 'a@b.test' });
    const sessions = smtpSessions;
    const mail = await sendAndSettle('mail', { userEmail: 'ada@example.com' });
    expect(mail).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(mail.lastError).toMatch(/smtp: .*loopback/);
    expect(smtpSessions).toBe(sessions);
  });

  it('refuses at connect time after DNS rebinding: public when configured, 127.0.0.1 when connecting', async () => {
    let lookups = 0;
    // The resolver answers a public address first (the configure-time check), loopback afterwards.
    const rebinding = (_hostname: string, callback: (e: NodeJS.ErrnoException | null, a: LookupAddress[]) => void) => {
      lookups++;
      callback(null, [{ address: lookups === 1 ? '93.184.215.14' : '127.0.0.1', family: 4 }]);
    };
    setOutboundPolicy(new OutboundPolicy({ allowPrivate: false, resolve: rebinding }));
    const url = `http://hooks.rebind.test:${new URL(hook.url).port}/hook`;
    const configured = await configure({ channel: 'WEBHOOK', kind: 'webhook', settings: { url } });
    expect(configured.errors).toBeUndefined();
    const before = hook.received.length;
    const failed = await sendAndSettle('hook');
    expect(failed.status).toBe('FAILED');
    expect(failed.lastError).toMatch(/hooks\.rebind\.test resolves to 127\.0\.0\.1 is a loopback address/);
    expect(hook.received.length).toBe(before);
    expect(lookups).toBeGreaterThanOrEqual(2);

    // Callbacks and status webhooks go through the same request function.
    await expect(postSigned(url, { x: 1 }, 'secret')).rejects.toBeInstanceOf(OutboundRefusedError);
    // So do the provider APIs (Twilio, WhatsApp, web push): refused is permanent, not retried.
    const error = await callProvider('twilio', `${hook.url}/2010-04-01`, { method: 'POST', headers: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ permanent: true, message: expect.stringMatching(/127\.0\.0\.1 is a loopback address/) });
  });

  it('an allow-listed range goes through; the remote answer is kept as a short excerpt', async () => {
    setOutboundPolicy(outboundPolicyFromConfig(parseConfig({ DATABASE_URL: h.config.DATABASE_URL!, OUTBOUND_ALLOWED_CIDRS: '127.0.0.0/8,::1/128' })));
    const configured = await configure({ channel: 'WEBHOOK', kind: 'webhook', settings: { url: `${hook.url}/hook` } });
    expect(configured.errors).toBeUndefined();
    const before = hook.received.length;
    const failed = await sendAndSettle('hook');
    // It reached the receiver (twice: 500 is transient), which answered 500 with a long body.
    expect(hook.received.length).toBe(before + 2);
    expect(failed.status).toBe('FAILED');
    expect(failed.lastError).toMatch(/^webhook answered 500: \{"error":"internal\\nsecret secret/);
    expect(failed.lastError!.length).toBeLessThan(260);
    expect(failed.lastError).not.toMatch(/\n/);
  });

  it('SMTP over implicit TLS still works on the socket Herald opens (allow-listed)', async () => {
    setOutboundPolicy(new OutboundPolicy({ allowPrivate: false, allowedCidrs: ['127.0.0.1/32'] }));
    // smtp-server's built-in self-signed certificate: hence tlsRejectUnauthorized false.
    const tlsServer = new SMTPServer({ secure: true, authOptional: true, logger: false, onData: (stream, _s, cb) => (stream.resume(), stream.on('end', () => cb())) });
    await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
    try {
      const port = (tlsServer.server.address() as AddressInfo).port;
      const configured = await configure({ channel: 'EMAIL', kind: 'smtp', settings: { host: '127.0.0.1', port, secure: true, tlsRejectUnauthorized: false, from: 'a@b.test' } });
      expect(configured.errors).toBeUndefined();
      const sent = await sendAndSettle('mail', { userEmail: 'ada@example.com' });
      expect(sent).toMatchObject({ status: 'SENT', lastError: null });
    } finally {
      await new Promise<void>((resolve) => tlsServer.close(() => resolve()));
    }
  });
});
