import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { prisma } from '../src/db/client.ts';
import { closeApnsSessions } from '../src/delivery/providers/apns.ts';
import { graphql } from '../src/generated/gql/index.ts';
import { bearer, gql, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor } from './helpers/http-server.ts';
import { apnsKey, startApnsServer } from './helpers/push-servers.ts';

const Configure = graphql(`
  mutation ApnsConfigure($input: ProviderInput!) {
    configureProvider(input: $input) {
      id
      kind
      hasSecrets
    }
  }
`);
const CreateNotification = graphql(`
  mutation ApnsCreateNotification($input: NotificationInput!) {
    createNotification(input: $input) {
      id
    }
  }
`);
const Send = graphql(`
  mutation ApnsSend($messages: [SendMessageInput!]!) {
    sendMessages(messages: $messages) {
      ok
      error
      messages {
        id
        channel
        status
      }
    }
  }
`);
const Register = graphql(`
  mutation ApnsRegister($userId: ID!, $device: DeviceInput!) {
    registerDevice(userId: $userId, device: $device) {
      id
      token
      service
    }
  }
`);
const Devices = graphql(`
  query ApnsDevices($id: ID!) {
    user(id: $id) {
      devices {
        token
      }
    }
  }
`);

const TEAM = 'TEAM123456';
const KEY_ID = 'KEY1234567';
const key = apnsKey();
const hex = (n: number) => n.toString(16).padStart(2, '0').repeat(32);

let h: TestHerald;
let auth: Record<string, string>;
let apns: Awaited<ReturnType<typeof startApnsServer>>;

const configure = (settings: Record<string, unknown>, secrets: Record<string, unknown> = { privateKey: key.privateKey }) =>
  gql(h.url, Configure, { input: { channel: 'MOBILE_PUSH', kind: 'apns', name: 'apns', settings, secrets } }, auth);
const settingsFor = () => ({ teamId: TEAM, keyId: KEY_ID, topic: 'com.example.herald', baseUrl: apns.url, ca: apns.ca });

const users = new Set<string>();
async function register(userId: string, token: string, appId?: string) {
  // Users are the project's contacts: created here as an operator would (upsert), once.
  if (!users.has(userId) && !/^[0-9a-f-]{36}$/.test(userId)) {
    users.add(userId);
    await prisma().user.upsert({ where: { projectId_externalId: { projectId: h.project.projectId, externalId: userId } }, create: { id: crypto.randomUUID(), projectId: h.project.projectId, externalId: userId }, update: {} });
  }
  const res = await gql(h.url, Register, { userId, device: { platform: 'IOS', token, appId } }, auth);
  expect(res.errors).toBeUndefined();
  return res.data!.registerDevice;
}

async function send(userId: string, extra: Record<string, unknown> = {}) {
  const res = await gql(h.url, Send, { messages: [{ notificationId: 'phone', userId, ...extra }] }, auth);
  expect(res.errors).toBeUndefined();
  expect(res.data!.sendMessages[0]!.ok).toBe(true);
  return res.data!.sendMessages[0]!.messages.filter((m) => m.channel === 'MOBILE_PUSH');
}

const settled = (ids: string[]) =>
  pollFor(async () => {
    const rows = await prisma().message.findMany({ where: { id: { in: ids } }, orderBy: { id: 'asc' }, include: { events: { orderBy: { id: 'asc' } } } });
    return rows.every((m) => ['SENT', 'FAILED', 'SKIPPED'].includes(m.status)) ? rows : null;
  }, 15_000, 'push outcomes');

beforeAll(async () => {
  apns = await startApnsServer({ teamId: TEAM, keyId: KEY_ID, publicKey: key.publicKey });
  h = await startTestHerald({ env: { DELIVERY_BACKOFF_MS: '50', DELIVERY_MAX_ATTEMPTS: '3' } });
  auth = bearer(h.project.apiKey);
  const created = await gql(
    h.url,
    CreateNotification,
    { input: { key: 'phone', type: 'mobile-push', name: 'Phone', versions: [{ contents: [{ locale: 'en', title: 'Hello {{ user.firstName }}', body: 'Order {{ data.order }}', push: { sound: 'chime.caf' } }] }] } },
    auth,
  );
  expect(created.errors).toBeUndefined();
});
afterAll(async () => {
  closeApnsSessions();
  await h?.stop();
  await apns?.close();
});

describe('apns provider', () => {
  it('refuses a configuration it could not send with: precise fields, nothing stored', async () => {
    const bad = await configure({ teamId: 'short', keyId: KEY_ID, baseUrl: 'ftp://x' }, {});
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    const fields = (bad.errors![0]!.extensions!.issues as { field: string }[]).map((i) => i.field);
    expect(fields).toEqual(expect.arrayContaining(['input.settings.teamId', 'input.settings.baseUrl', 'input.secrets.privateKey']));
    const notPem = await configure(settingsFor(), { privateKey: 'not a key' });
    expect(notPem.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(await prisma().providerConfig.count({ where: { projectId: h.project.projectId } })).toBe(0);
    const ok = await configure(settingsFor());
    expect(ok.errors).toBeUndefined();
    expect(ok.data!.configureProvider).toMatchObject({ kind: 'apns', hasSecrets: true });
  });

  it('sends one push per device over HTTP/2 with the ES256 token and headers, and removes the tokens APNs refuses (410, 400 BadDeviceToken)', async () => {
    const [good, gone, bad] = [hex(1), hex(2), hex(3)];
    apns.answers.set(gone, { status: 410, reason: 'Unregistered' });
    apns.answers.set(bad, { status: 400, reason: 'BadDeviceToken' });
    await send('ana', { userFirstName: 'Ana', data: { order: 42 } }); // creates Ana (no device yet: SKIPPED)
    const ana = await prisma().user.findFirstOrThrow({ where: { projectId: h.project.projectId, externalId: 'ana' } });
    await register('ana', good, 'com.example.ana');
    await register(ana.id, gone);
    await register('ana', bad);
    // Two unread inbox items: the badge says 2.
    await prisma().inboxState.create({ data: { userId: ana.id, projectId: h.project.projectId, unreadCount: 2 } });
    const before = apns.received.length;
    const messages = await send('ana', { data: { order: 42, extra: { a: 1 } }, incrementId: 'order-42' });
    expect(messages).toHaveLength(3);
    const rows = await settled(messages.map((m) => m.id));
    const byToken = new Map(rows.map((m) => [m.to, m]));
    expect(byToken.get(good)).toMatchObject({ status: 'SENT', provider: 'apns', providerMessageId: byToken.get(good)!.id, lastError: null });
    expect(byToken.get(gone)).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(byToken.get(gone)!.lastError).toMatch(/^apns: 410 Unregistered: the device token is invalid and device .+ was removed$/);
    expect(byToken.get(bad)!.lastError).toMatch(/^apns: 400 BadDeviceToken: the device token is invalid and device .+ was removed$/);
    const devices = await gql(h.url, Devices, { id: ana.id }, auth);
    expect(devices.data!.user!.devices.map((d) => d.token)).toEqual([good]);

    const sent = apns.received.slice(before);
    expect(sent.map((r) => r.token).sort()).toEqual([good, gone, bad].sort());
    const mine = sent.find((r) => r.token === good)!;
    expect(mine.headers).toMatchObject({
      'apns-topic': 'com.example.ana', // the device's appId wins over the provider's topic
      'apns-push-type': 'alert',
      'apns-id': byToken.get(good)!.id,
      'apns-priority': '5',
      'apns-collapse-id': 'order-42',
    });
    expect(mine.headers['apns-expiration']).toBeUndefined();
    expect(sent.find((r) => r.token === gone)!.headers['apns-topic']).toBe('com.example.herald');
    expect(mine.payload).toEqual({
      aps: { alert: { title: 'Hello Ana', body: 'Order 42' }, badge: 2, sound: 'chime.caf' },
      order: '42',
      extra: '{"a":1}',
      heraldMessageId: byToken.get(good)!.id,
    });
    // One provider token for every push: it is cached, not signed per request.
    expect(new Set(sent.map((r) => r.jwt)).size).toBe(1);
    expect(apns.refused).toEqual([]);
  });

  it('retries a 429 and a 503 on the same device, then sends', async () => {
    const token = hex(4);
    await register('ben', token);
    apns.answers.set(token, [
      { status: 429, reason: 'TooManyRequests' },
      { status: 503, reason: 'ServiceUnavailable' },
    ]);
    const [m] = await send('ben');
    const [row] = await settled([m!.id]);
    expect(row).toMatchObject({ status: 'SENT', attempts: 3 });
    expect(row!.events.map((e) => [e.status, e.error?.slice(0, 25) ?? null])).toEqual([
      ['QUEUED', null],
      ['SENDING', null],
      ['QUEUED', 'apns answered 429: TooMan'],
      ['SENDING', null],
      ['QUEUED', 'apns answered 503: Servic'],
      ['SENDING', null],
      ['SENT', null],
    ]);
  });

  it('renews the provider token before Apple’s hour runs out, and once more when APNs says ExpiredProviderToken', async () => {
    const token = hex(5);
    await register('cy', token);
    const first = apns.received.at(-1)!;
    // 51 minutes later (only Date is faked: timers, sockets and the database run as usual).
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 51 * 60_000 });
    try {
      const [m] = await send('cy');
      await settled([m!.id]);
      const later = apns.received.at(-1)!;
      expect(later.jwt).not.toBe(first.jwt);
      expect(later.iat - first.iat).toBeGreaterThanOrEqual(51 * 60 - 5);
    } finally {
      vi.useRealTimers();
    }
    // APNs disagrees about the token's age: Herald signs a new one and sends again in the same attempt.
    apns.answers.set(token, [{ status: 403, reason: 'ExpiredProviderToken' }]);
    const before = apns.received.length;
    const [m] = await send('cy');
    const [row] = await settled([m!.id]);
    expect(row).toMatchObject({ status: 'SENT', attempts: 1 });
    const [refused, retried] = apns.received.slice(before);
    expect(retried!.jwt).not.toBe(refused!.jwt);
  });

  it('fails for good on a key APNs does not know (403 InvalidProviderToken), and marks urgent pushes priority 10', async () => {
    const other = apnsKey();
    expect((await configure(settingsFor(), { privateKey: other.privateKey })).errors).toBeUndefined();
    const token = hex(6);
    await register('dee', token);
    const refusedBefore = apns.refused.length;
    const [m] = await send('dee');
    const [row] = await settled([m!.id]);
    expect(row).toMatchObject({ status: 'FAILED', attempts: 1, lastError: 'apns answered 403: InvalidProviderToken' });
    expect(apns.refused.slice(refusedBefore).map((r) => r.reason)).toEqual(['InvalidProviderToken']);

    expect((await configure(settingsFor())).errors).toBeUndefined();
    const urgent = await prisma().notification.update({ where: { projectId_key: { projectId: h.project.projectId, key: 'phone' } }, data: { settings: { urgent: true, expiration: { type: 'duration', value: 'PT2H' } } } });
    expect(urgent.id).toBeGreaterThan(0);
    const [u] = await send('dee');
    await settled([u!.id]);
    const last = apns.received.at(-1)!;
    expect(last.headers['apns-priority']).toBe('10');
    const expiration = Number(last.headers['apns-expiration']);
    expect(Math.abs(expiration - (Math.floor(Date.now() / 1000) + 7200))).toBeLessThan(60);
  });
});
