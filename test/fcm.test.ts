import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../src/db/client.ts';
import { graphql } from '../src/generated/gql/index.ts';
import { bearer, gql, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor } from './helpers/http-server.ts';
import { serviceAccount, startFcmServer, startTokenEndpoint } from './helpers/push-servers.ts';

const Configure = graphql(`
  mutation FcmConfigure($input: ProviderInput!) {
    configureProvider(input: $input) {
      id
      kind
      hasSecrets
      settings
    }
  }
`);
const CreateNotification = graphql(`
  mutation FcmCreateNotification($input: NotificationInput!) {
    createNotification(input: $input) {
      id
    }
  }
`);
const Send = graphql(`
  mutation FcmSend($messages: [SendMessageInput!]!) {
    sendMessages(messages: $messages) {
      ok
      messages {
        id
        channel
        status
      }
    }
  }
`);
const Register = graphql(`
  mutation FcmRegister($userId: ID!, $device: DeviceInput!) {
    registerDevice(userId: $userId, device: $device) {
      id
      token
      service
      platform
    }
  }
`);

const PROJECT = 'herald-test';
const fcmToken = (name: string) => `${name}:APA91b${'x'.repeat(140)}`;

let h: TestHerald;
let auth: Record<string, string>;
let account: ReturnType<typeof serviceAccount>;
let tokens: Awaited<ReturnType<typeof startTokenEndpoint>>;
let fcm: Awaited<ReturnType<typeof startFcmServer>>;

const configure = (secrets: Record<string, unknown>, settings: Record<string, unknown> = { baseUrl: fcm.url }) =>
  gql(h.url, Configure, { input: { channel: 'MOBILE_PUSH', kind: 'fcm', name: 'fcm', settings, secrets } }, auth);

async function register(userId: string, token: string, platform: 'ANDROID' | 'WEB' | 'IOS' = 'ANDROID') {
  await prisma().user.upsert({
    where: { projectId_externalId: { projectId: h.project.projectId, externalId: userId } },
    create: { id: crypto.randomUUID(), projectId: h.project.projectId, externalId: userId },
    update: {},
  });
  const res = await gql(h.url, Register, { userId, device: { platform, token, ...(platform === 'IOS' ? { service: 'FCM' as const } : {}) } }, auth);
  expect(res.errors).toBeUndefined();
  return res.data!.registerDevice;
}

async function send(userId: string, extra: Record<string, unknown> = {}) {
  const res = await gql(h.url, Send, { messages: [{ notificationId: 'phone', userId, ...extra }] }, auth);
  expect(res.errors).toBeUndefined();
  return res.data!.sendMessages[0]!.messages.filter((m) => m.channel === 'MOBILE_PUSH').map((m) => m.id);
}

const settled = (ids: string[]) =>
  pollFor(async () => {
    const rows = await prisma().message.findMany({ where: { id: { in: ids } }, orderBy: { id: 'asc' } });
    return rows.length === ids.length && rows.every((m) => ['SENT', 'FAILED', 'SKIPPED'].includes(m.status)) ? rows : null;
  }, 15_000, 'push outcomes');

beforeAll(async () => {
  // The token endpoint knows the service account's public key, as Google does.
  let known: ReturnType<typeof serviceAccount> | undefined;
  tokens = await startTokenEndpoint({ publicKey: () => known!.publicKey, clientEmail: () => known!.json.client_email });
  account = known = serviceAccount(PROJECT, tokens.tokenUri);
  fcm = await startFcmServer({ projectId: PROJECT, tokens });
  h = await startTestHerald({ env: { DELIVERY_BACKOFF_MS: '50', DELIVERY_MAX_ATTEMPTS: '2' } });
  auth = bearer(h.project.apiKey);
  const created = await gql(
    h.url,
    CreateNotification,
    { input: { key: 'phone', type: 'mobile-push', name: 'Phone', versions: [{ contents: [{ locale: 'en', title: 'Hi {{ user.firstName }}', body: 'Parcel {{ data.parcel }}', image: 'https://img.example/p.png', push: { title: 'Parcel for {{ user.firstName }}' } }] }] } },
    auth,
  );
  expect(created.errors).toBeUndefined();
});
afterAll(async () => {
  await h?.stop();
  await Promise.all([tokens?.close(), fcm?.close()]);
});

describe('fcm provider', () => {
  it('takes the service account key file as JSON text or object, and refuses a broken one field by field', async () => {
    const broken = await configure({ serviceAccount: { ...account.json, private_key: 'nope', client_email: 'not-an-email' } });
    expect(broken.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(broken.errors![0]!.message).toMatch(/private_key: must be the PEM private key/);
    expect(broken.errors![0]!.message).toMatch(/client_email/);
    const notJson = await configure({ serviceAccount: '{ not json' });
    expect(notJson.errors?.[0]?.message).toMatch(/must be the service account key file \(JSON\)/);
    const unknown = await configure({ serviceAccount: JSON.stringify(account.json), apiKey: 'legacy' });
    expect(unknown.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(await prisma().providerConfig.count({ where: { projectId: h.project.projectId } })).toBe(0);
    const ok = await configure({ serviceAccount: JSON.stringify(account.json) });
    expect(ok.errors).toBeUndefined();
    expect(ok.data!.configureProvider).toMatchObject({ kind: 'fcm', hasSecrets: true, settings: { baseUrl: fcm.url } });
  });

  it('gets an access token with the service account JWT once, and sends one message per device with it', async () => {
    const [a, b] = [fcmToken('eva-phone'), fcmToken('eva-tablet')];
    await register('eva', a);
    await register('eva', b, 'WEB');
    const eva = await prisma().user.findFirstOrThrow({ where: { projectId: h.project.projectId, externalId: 'eva' } });
    await prisma().user.update({ where: { id: eva.id }, data: { firstName: 'Eva' } });
    await prisma().inboxState.create({ data: { userId: eva.id, projectId: h.project.projectId, unreadCount: 5 } });
    const ids = await send('eva', { data: { parcel: 'P-7', n: 3 }, incrementId: 'parcel-P-7' });
    expect(ids).toHaveLength(2);
    const rows = await settled(ids);
    expect(rows.map((r) => [r.status, r.lastError])).toEqual([["SENT", null], ["SENT", null]]);
    expect(rows.map((r) => r.providerMessageId)).toEqual([expect.stringMatching(/^projects\/herald-test\/messages\/0:\d+$/), expect.stringMatching(/^projects\/herald-test\/messages\/0:\d+$/)]);
    // Both devices' sends shared one token: one grant for the two.
    expect(tokens.issued).toHaveLength(1);
    expect(fcm.accepted.map((x) => x.bearer)).toEqual([tokens.issued[0]!.token, tokens.issued[0]!.token]);
    const phone = fcm.accepted.find((x) => x.token === a)!.message;
    expect(phone).toMatchObject({
      token: a,
      notification: { title: 'Parcel for Eva', body: 'Parcel P-7', image: 'https://img.example/p.png' },
      data: { parcel: 'P-7', n: '3', heraldMessageId: rows.find((r) => r.to === a)!.id },
      android: { priority: 'NORMAL', collapse_key: 'parcel-P-7', notification: { notification_count: 5 } },
      apns: { headers: { 'apns-priority': '5', 'apns-collapse-id': 'parcel-P-7' }, payload: { aps: { badge: 5 } } },
      webpush: { headers: { Urgency: 'normal' } },
    });
    expect(phone.android.ttl).toBeUndefined();

    // Later sends reuse the cached token.
    await settled(await send('eva', { data: { parcel: 'P-8' } }));
    expect(tokens.issued).toHaveLength(1);
  });

  it('gets a new token when FCM refuses the old one (401) and when it is about to expire', async () => {
    const token = fcmToken('fay-phone');
    await register('fay', token);
    fcm.revoked.add(tokens.issued[0]!.token);
    tokens.state.expiresIn = 61; // the next token is "about to expire" (under a minute left) after 1 s
    const [first] = await settled(await send('fay'));
    expect(first).toMatchObject({ status: 'SENT', attempts: 1 });
    expect(tokens.issued).toHaveLength(2);
    expect(fcm.accepted.at(-1)!.bearer).toBe(tokens.issued[1]!.token);
    const issuedAt = tokens.issued[1]!.issuedAt;
    await pollFor(() => Date.now() > issuedAt + 1_100, 5_000, 'the token to near its expiry');
    tokens.state.expiresIn = 3600;
    const [second] = await settled(await send('fay'));
    expect(second!.status).toBe('SENT');
    expect(tokens.issued).toHaveLength(3);
    expect(fcm.accepted.at(-1)!.bearer).toBe(tokens.issued[2]!.token);
  });

  it('removes devices FCM reports UNREGISTERED or with an invalid token, keeps one whose payload was refused, retries quota errors', async () => {
    const [gone, invalid, payload, busy] = ['gus-a', 'gus-b', 'gus-c', 'gus-d'].map(fcmToken) as [string, string, string, string];
    for (const t of [gone, invalid, payload, busy]) await register('gus', t);
    fcm.answers.set(gone, 'unregistered');
    fcm.answers.set(invalid, 'invalid-token');
    fcm.answers.set(payload, 'invalid-payload');
    fcm.answers.set(busy, ['quota']);
    const rows = await settled(await send('gus'));
    const byToken = new Map(rows.map((r) => [r.to, r]));
    expect(byToken.get(gone)!.lastError).toMatch(/^fcm: UNREGISTERED \(404\): the device token is invalid and device .+ was removed$/);
    expect(byToken.get(invalid)!.lastError).toMatch(/^fcm: INVALID_ARGUMENT \(The registration token is not a valid FCM registration token\): the device token is invalid and device .+ was removed$/);
    expect(byToken.get(payload)).toMatchObject({ status: 'FAILED', lastError: 'fcm answered 400: INVALID_ARGUMENT Invalid value at message.android.ttl' });
    expect(byToken.get(busy)).toMatchObject({ status: 'SENT', attempts: 2 });
    const left = await prisma().device.findMany({ where: { projectId: h.project.projectId, user: { externalId: 'gus' } }, orderBy: { token: 'asc' } });
    expect(left.map((d) => d.token)).toEqual([payload, busy]);
  });

  it('fails for good when the token endpoint refuses the service account, and an APNs-token device is not FCM’s', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const stranger = { ...account.json, private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
    expect((await configure({ serviceAccount: stranger })).errors).toBeUndefined();
    await register('hal', fcmToken('hal-phone'));
    const [refused] = await settled(await send('hal'));
    expect(refused).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(refused!.lastError).toMatch(/^fcm: the token endpoint refused the service account \(400\)/);

    expect((await configure({ serviceAccount: account.json })).errors).toBeUndefined();
    await register('hal', 'ab'.repeat(32), 'IOS'); // FCM (service given) for IOS
    const apnsDevice = await gql(h.url, Register, { userId: 'hal', device: { platform: 'IOS', token: 'cd'.repeat(32) } }, auth);
    expect(apnsDevice.data!.registerDevice.service).toBe('APNS');
    const rows = await settled(await send('hal'));
    const byToken = new Map(rows.map((r) => [r.to, r]));
    // FCM is the only MOBILE_PUSH provider: the APNs device has none that reaches it.
    expect(byToken.get('cd'.repeat(32))).toMatchObject({ status: 'FAILED', lastError: 'no MOBILE_PUSH provider is configured for this project that reaches APNS devices' });
    expect(byToken.get(fcmToken('hal-phone'))!.status).toBe('SENT');
  });
});
