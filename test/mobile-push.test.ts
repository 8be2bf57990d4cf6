import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../src/db/client.ts';
import { closeApnsSessions } from '../src/delivery/providers/apns.ts';
import { graphql } from '../src/generated/gql/index.ts';
import { userHash } from '../src/modules/projects/credentials.ts';
import type { NewProjectCredentials } from '../src/modules/projects/service.ts';
import { bearer, gql, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor } from './helpers/http-server.ts';
import { apnsKey, serviceAccount, startApnsServer, startFcmServer, startTokenEndpoint } from './helpers/push-servers.ts';

const Upsert = graphql(`
  mutation MpUpsert($users: [UserInput!]!) {
    upsertUsers(users: $users, mode: OVERWRITE) {
      ok
      user {
        id
      }
    }
  }
`);
const Register = graphql(`
  mutation MpRegister($userId: ID!, $device: DeviceInput!) {
    registerDevice(userId: $userId, device: $device) {
      id
      userId
      platform
      service
      token
      appId
    }
  }
`);
const Unregister = graphql(`
  mutation MpUnregister($id: ID!) {
    unregisterDevice(id: $id)
  }
`);
const RegisterMine = graphql(`
  mutation MpRegisterMine($device: DeviceInput!) {
    registerMyDevice(device: $device) {
      id
      userId
      service
    }
  }
`);
const UnregisterMine = graphql(`
  mutation MpUnregisterMine($token: String!) {
    unregisterMyDevice(token: $token)
  }
`);
const MyDevices = graphql(`
  query MpMyDevices {
    myDevices {
      token
    }
  }
`);
const UserDevices = graphql(`
  query MpUserDevices($externalId: String!) {
    user(externalId: $externalId) {
      devices {
        token
        platform
        service
        appId
      }
    }
  }
`);
const Configure = graphql(`
  mutation MpConfigure($input: ProviderInput!) {
    configureProvider(input: $input) {
      id
    }
  }
`);
const CreateDept = graphql(`
  mutation MpCreateDept($name: String!) {
    createDepartment(name: $name) {
      id
    }
  }
`);
const AddMembers = graphql(`
  mutation MpAddMembers($departmentId: ID!, $userIds: [String!]!) {
    addDepartmentMembers(departmentId: $departmentId, userIds: $userIds) {
      id
    }
  }
`);
const Notify = graphql(`
  mutation MpNotify($departmentId: ID!, $userId: String!, $input: DepartmentNotifyInput) {
    notifyDepartmentUser(departmentId: $departmentId, userId: $userId, input: $input) {
      status
      warnings {
        warningCode
      }
      messages {
        id
        channel
        status
      }
    }
  }
`);

const TEAM = 'TEAM123456';
const KEY_ID = 'KEY1234567';
const FCM_PROJECT = 'herald-mp';
const apnsToken = (n: number) => n.toString(16).padStart(2, '0').repeat(32);
const fcmToken = (name: string) => `${name}:APA91b${'y'.repeat(100)}`;

let h: TestHerald;
let auth: Record<string, string>;
let other: NewProjectCredentials;
let apns: Awaited<ReturnType<typeof startApnsServer>>;
let tokens: Awaited<ReturnType<typeof startTokenEndpoint>>;
let fcm: Awaited<ReturnType<typeof startFcmServer>>;
const key = apnsKey();

const widget = (externalId: string, project = h.project) => ({
  'x-herald-project': project.projectId,
  'x-herald-user': externalId,
  'x-herald-user-hash': userHash(project.widgetSecret, externalId),
});
const codeOf = (res: { errors?: { extensions?: Record<string, unknown> }[] }) => res.errors?.[0]?.extensions?.code;
const issuesOf = (res: { errors?: { extensions?: Record<string, unknown> }[] }) => (res.errors?.[0]?.extensions?.issues as { field: string }[] | undefined)?.map((i) => i.field);

async function upsert(externalIds: string[], projectAuth = auth) {
  const res = await gql(h.url, Upsert, { users: externalIds.map((externalId) => ({ externalId, telephone: '+14155550100' })) }, projectAuth);
  expect(res.errors).toBeUndefined();
  return res.data!.upsertUsers.map((r) => r.user!.id);
}

beforeAll(async () => {
  let account: ReturnType<typeof serviceAccount> | undefined;
  tokens = await startTokenEndpoint({ publicKey: () => account!.publicKey, clientEmail: () => account!.json.client_email });
  account = serviceAccount(FCM_PROJECT, tokens.tokenUri);
  [apns, fcm] = await Promise.all([startApnsServer({ teamId: TEAM, keyId: KEY_ID, publicKey: key.publicKey }), startFcmServer({ projectId: FCM_PROJECT, tokens })]);
  h = await startTestHerald({ env: { DELIVERY_BACKOFF_MS: '50', DELIVERY_MAX_ATTEMPTS: '2' } });
  auth = bearer(h.project.apiKey);
  other = await h.newProject();
  await upsert(['ida', 'jon', 'kim', 'lou', 'max']);
  for (const input of [
    { kind: 'apns', priority: 0, settings: { teamId: TEAM, keyId: KEY_ID, topic: 'com.example.mp', baseUrl: apns.url, ca: apns.ca }, secrets: { privateKey: key.privateKey } },
    { kind: 'fcm', priority: 1, settings: { baseUrl: fcm.url }, secrets: { serviceAccount: account.json } },
  ]) {
    const res = await gql(h.url, Configure, { input: { channel: 'MOBILE_PUSH', name: input.kind, ...input } }, auth);
    expect(res.errors).toBeUndefined();
  }
});
afterAll(async () => {
  closeApnsSessions();
  await h?.stop();
  await Promise.all([apns?.close(), tokens?.close(), fcm?.close()]);
});

describe('devices', () => {
  it('registers devices for operators: validated, scoped to the project, the token identifies the device', async () => {
    const badIos = await gql(h.url, Register, { userId: 'ida', device: { platform: 'IOS', token: 'not-hex', appId: 'com.example.ida' } }, auth);
    expect(codeOf(badIos)).toBe('BAD_USER_INPUT');
    expect(issuesOf(badIos)).toEqual(['device.token']);
    const badApp = await gql(h.url, Register, { userId: 'ida', device: { platform: 'IOS', token: apnsToken(1), appId: 'com.example app' } }, auth);
    expect(issuesOf(badApp)).toEqual(['device.appId']);
    const badFcm = await gql(h.url, Register, { userId: 'ida', device: { platform: 'ANDROID', token: 'short' } }, auth);
    expect(issuesOf(badFcm)).toEqual(['device.token']);
    const huge = await gql(h.url, Register, { userId: 'ida', device: { platform: 'WEB', token: 'a'.repeat(5_000) } }, auth);
    expect(codeOf(huge)).toBe('BAD_USER_INPUT');
    const unknown = await gql(h.url, Register, { userId: 'nobody', device: { platform: 'ANDROID', token: fcmToken('x') } }, auth);
    expect(codeOf(unknown)).toBe('NOT_FOUND');
    // Another project's user is unknown here.
    const [foreignUser] = await upsert(['ida'], bearer(other.apiKey));
    const foreign = await gql(h.url, Register, { userId: foreignUser!, device: { platform: 'ANDROID', token: fcmToken('x') } }, auth);
    expect(codeOf(foreign)).toBe('NOT_FOUND');
    expect(await prisma().device.count()).toBe(0);

    const ios = await gql(h.url, Register, { userId: 'ida', device: { platform: 'IOS', token: apnsToken(1), appId: 'com.example.ida' } }, auth);
    expect(ios.data!.registerDevice).toMatchObject({ platform: 'IOS', service: 'APNS', token: apnsToken(1), appId: 'com.example.ida' });
    const android = await gql(h.url, Register, { userId: 'ida', device: { platform: 'ANDROID', token: fcmToken('ida') } }, auth);
    expect(android.data!.registerDevice.service).toBe('FCM');
    // The same token again, now signed in as Jon: the one device moves to him.
    const moved = await gql(h.url, Register, { userId: 'jon', device: { platform: 'ANDROID', token: fcmToken('ida') } }, auth);
    expect(moved.data!.registerDevice.id).toBe(android.data!.registerDevice.id);
    const ida = await gql(h.url, UserDevices, { externalId: 'ida' }, auth);
    expect(ida.data!.user.devices).toEqual([{ token: apnsToken(1), platform: 'IOS', service: 'APNS', appId: 'com.example.ida' }]);
    expect((await gql(h.url, UserDevices, { externalId: 'jon' }, auth)).data!.user.devices.map((d) => d.token)).toEqual([fcmToken('ida')]);

    // The other project cannot remove it; ids that are no device are NOT_FOUND.
    expect(codeOf(await gql(h.url, Unregister, { id: moved.data!.registerDevice.id }, bearer(other.apiKey)))).toBe('NOT_FOUND');
    expect(codeOf(await gql(h.url, Unregister, { id: 'not-a-uuid' }, auth))).toBe('NOT_FOUND');
    expect((await gql(h.url, Unregister, { id: moved.data!.registerDevice.id }, auth)).data!.unregisterDevice).toBe(moved.data!.registerDevice.id);
    expect((await gql(h.url, UserDevices, { externalId: 'jon' }, auth)).data!.user.devices).toEqual([]);
  });

  it('lets end users register and remove their own devices with widget credentials, and only theirs', async () => {
    const mine = await gql(h.url, RegisterMine, { device: { platform: 'ANDROID', token: fcmToken('kim') } }, widget('kim'));
    expect(mine.errors).toBeUndefined();
    expect(mine.data!.registerMyDevice.service).toBe('FCM');
    expect((await gql(h.url, MyDevices, {}, widget('kim'))).data!.myDevices).toEqual([{ token: fcmToken('kim') }]);
    // Lou cannot remove Kim's device (false, and it stays), Kim can.
    expect((await gql(h.url, UnregisterMine, { token: fcmToken('kim') }, widget('lou'))).data!.unregisterMyDevice).toBe(false);
    expect(await prisma().device.count({ where: { token: fcmToken('kim') } })).toBe(1);
    expect((await gql(h.url, UnregisterMine, { token: fcmToken('kim') }, widget('kim'))).data!.unregisterMyDevice).toBe(true);
    expect((await gql(h.url, MyDevices, {}, widget('kim'))).data!.myDevices).toEqual([]);

    const bad = await gql(h.url, RegisterMine, { device: { platform: 'IOS', token: 'zz' } }, widget('kim'));
    expect(codeOf(bad)).toBe('BAD_USER_INPUT');
    // A user nobody created yet has nothing to attach a device to.
    expect(codeOf(await gql(h.url, RegisterMine, { device: { platform: 'ANDROID', token: fcmToken('new') } }, widget('newcomer')))).toBe('NOT_FOUND');
    // Wrong kind of caller, wrong hash, no credentials.
    expect(codeOf(await gql(h.url, RegisterMine, { device: { platform: 'ANDROID', token: fcmToken('k2') } }, auth))).toBe('FORBIDDEN');
    expect(codeOf(await gql(h.url, Register, { userId: 'kim', device: { platform: 'ANDROID', token: fcmToken('k2') } }, widget('kim')))).toBe('FORBIDDEN');
    expect(codeOf(await gql(h.url, RegisterMine, { device: { platform: 'ANDROID', token: fcmToken('k2') } }, { ...widget('kim'), 'x-herald-user-hash': '00'.repeat(32) }))).toBe('UNAUTHENTICATED');
    expect(codeOf(await gql(h.url, RegisterMine, { device: { platform: 'ANDROID', token: fcmToken('k2') } }))).toBe('UNAUTHENTICATED');
    expect(await prisma().device.count({ where: { token: fcmToken('k2') } })).toBe(0);
  });
});

describe('NP6 push-app and department notes go out as mobile pushes', () => {
  it('delivers a push-app execution to the inbox, then to each device through APNs and FCM, with the badge counting it', async () => {
    await gql(h.url, Register, { userId: 'max', device: { platform: 'IOS', token: apnsToken(9) } }, auth);
    await gql(h.url, Register, { userId: 'max', device: { platform: 'ANDROID', token: fcmToken('max') } }, auth);
    const max = await prisma().user.findFirstOrThrow({ where: { projectId: h.project.projectId, externalId: 'max' } });
    // One unread item already: the push's badge is 2 once this one is in the inbox.
    await prisma().inboxState.create({ data: { userId: max.id, projectId: h.project.projectId, unreadCount: 1 } });

    const xKey = { 'x-key': h.project.apiKey };
    const created = await rest(h.url, 'POST', '/notifications', {
      type: 'push-app',
      name: 'Ride',
      settings: { urgent: true, category: 1, expiration: { type: 'ttl', value: 600 } },
      versions: [{ master: true, content: { type: 'push-app', title: 'Your ride', body: 'Driver {{ data.driver }} is here' } }],
    }, xKey);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.channels).toEqual(['IN_APP', 'MOBILE_PUSH']);
    const apnsBefore = apns.received.length;
    const res = await rest(h.url, 'POST', `/notifications/${created.body.id}/executions`, [
      { recipient: { type: 'id', value: 'max' }, data: { driver: 'Sam' } },
      { recipient: { type: 'id', value: 'lou' }, data: { driver: 'Sam' } }, // no device
    ], xKey);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    // The project has mobile push: nothing fell back.
    expect(res.headers.get('x-herald-fallback')).toBeNull();
    expect(res.body.map((r: { type: string; fallback?: unknown }) => [r.type, r.fallback ?? null])).toEqual([['success', null], ['success', null]]);

    const rows = await pollFor(async () => {
      const all = await prisma().message.findMany({ where: { executionId: { in: res.body.map((r: { id: string }) => r.id) } }, orderBy: { id: 'asc' }, include: { user: true } });
      return all.every((m) => ['DELIVERED', 'SENT', 'FAILED', 'SKIPPED'].includes(m.status)) ? all : null;
    }, 15_000, 'push-app outcomes');
    const summary = rows.map((m) => [m.user!.externalId, m.channel, m.status, m.to, m.lastError]).sort((a, b) => String(a).localeCompare(String(b)));
    expect(summary).toEqual([
      ['lou', 'IN_APP', 'DELIVERED', null, null],
      ['lou', 'MOBILE_PUSH', 'SKIPPED', null, 'the user has no registered device'],
      ['max', 'IN_APP', 'DELIVERED', null, null],
      ['max', 'MOBILE_PUSH', 'SENT', apnsToken(9), null],
      ['max', 'MOBILE_PUSH', 'SENT', fcmToken('max'), null],
    ].sort((a, b) => String(a).localeCompare(String(b))));
    expect(rows.find((m) => m.to === apnsToken(9))!.provider).toBe('apns');
    expect(rows.find((m) => m.to === fcmToken('max'))!.provider).toBe('fcm');

    const [iphone] = apns.received.slice(apnsBefore);
    expect(iphone!.payload.aps).toEqual({ alert: { title: 'Your ride', body: 'Driver Sam is here' }, badge: 2 });
    expect(iphone!.headers).toMatchObject({ 'apns-topic': 'com.example.mp', 'apns-priority': '10', 'apns-push-type': 'alert' });
    expect(Math.abs(Number(iphone!.headers['apns-expiration']) - (Math.floor(Date.now() / 1000) + 600))).toBeLessThan(60);
    const android = fcm.accepted.find((x) => x.token === fcmToken('max'))!.message;
    expect(android.notification).toEqual({ title: 'Your ride', body: 'Driver Sam is here' });
    expect(android.android).toMatchObject({ priority: 'HIGH', notification: { notification_count: 2 } });
    expect(Number(String(android.android.ttl).replace(/s$/, ''))).toBeGreaterThan(540);

    // An NP6 test sends to the test recipient's devices too, its `expiration` overriding the notification's.
    const before = apns.received.length;
    const test = await rest(h.url, 'POST', `/notifications/${created.body.id}/test`, { recipient: { type: 'id', value: 'max' }, data: { driver: 'Al' }, expiration: { type: 'ttl', value: 120 } }, xKey);
    expect(test.status, JSON.stringify(test.body)).toBe(200);
    expect(test.headers.get('x-herald-fallback')).toBeNull();
    const tested = await pollFor(() => apns.received.slice(before).find((r) => r.token === apnsToken(9)), 15_000, 'the test push');
    expect(tested.payload.aps.alert).toEqual({ title: 'Your ride', body: 'Driver Al is here' });
    expect(Math.abs(Number(tested.headers['apns-expiration']) - (Math.floor(Date.now() / 1000) + 120))).toBeLessThan(30);
  });

  it('sends a department note’s phone notification as a mobile push when the user has a device, as an SMS otherwise', async () => {
    const dept = (await gql(h.url, CreateDept, { name: 'Service' }, auth)).data!.createDepartment.id;
    expect((await gql(h.url, AddMembers, { departmentId: dept, userIds: ['ida', 'jon'] }, auth)).errors).toBeUndefined();
    const input = { messageAttributes: { subject: 'Car ready', body: 'Your car is ready' }, notificationAttributes: { sendPhoneNotification: true } };
    const before = apns.received.length;
    const withDevice = await gql(h.url, Notify, { departmentId: dept, userId: 'ida', input }, auth);
    expect(withDevice.errors).toBeUndefined();
    expect(withDevice.data!.notifyDepartmentUser.messages.map((m) => m.channel)).toEqual(['IN_APP', 'MOBILE_PUSH']);
    const pushId = withDevice.data!.notifyDepartmentUser.messages[1]!.id;
    await pollFor(async () => (await prisma().message.findUnique({ where: { id: pushId } }))?.status === 'SENT', 15_000, 'the note’s push');
    expect(apns.received.slice(before).map((r) => [r.token, r.payload.aps.alert])).toEqual([[apnsToken(1), { title: 'Car ready', body: 'Your car is ready' }]]);

    // Jon has no device now: his phone notification is a text.
    const noDevice = await gql(h.url, Notify, { departmentId: dept, userId: 'jon', input }, auth);
    expect(noDevice.data!.notifyDepartmentUser.messages.map((m) => m.channel)).toEqual(['IN_APP', 'SMS']);
  });
});
