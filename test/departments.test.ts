import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../src/generated/gql/index.ts';
import { prisma } from '../src/db/client.ts';
import { SIGNATURE_HEADER, verify } from '../src/delivery/signing.ts';
import { bearer, gql, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor, startHttpServer } from './helpers/http-server.ts';

const Upsert = graphql(`
  mutation DeptUpsert($users: [UserInput!]!) {
    upsertUsers(users: $users, mode: OVERWRITE) {
      user {
        id
        externalId
      }
    }
  }
`);
const CreateDept = graphql(`
  mutation DeptCreate($name: String!) {
    createDepartment(name: $name) {
      id
      name
    }
  }
`);
const UpdateDept = graphql(`
  mutation DeptUpdate($id: ID!, $name: String!) {
    updateDepartment(id: $id, name: $name) {
      id
      name
    }
  }
`);
const DeleteDept = graphql(`
  mutation DeptDelete($id: ID!) {
    deleteDepartment(id: $id)
  }
`);
const GetDept = graphql(`
  query DeptGet($id: ID!) {
    department(id: $id) {
      id
      name
      members {
        isDefault
        user {
          externalId
        }
      }
      defaultMember {
        user {
          externalId
        }
      }
    }
  }
`);
const ListDepts = graphql(`
  query DeptList {
    departments {
      id
      name
    }
  }
`);
const AddMembers = graphql(`
  mutation DeptAdd($departmentId: ID!, $userIds: [String!]!, $default: Boolean) {
    addDepartmentMembers(departmentId: $departmentId, userIds: $userIds, default: $default) {
      id
    }
  }
`);
const RemoveMembers = graphql(`
  mutation DeptRemove($departmentId: ID!, $userIds: [String!]!) {
    removeDepartmentMembers(departmentId: $departmentId, userIds: $userIds) {
      id
    }
  }
`);
const Notify = graphql(`
  mutation DeptNotify($departmentId: ID!, $userId: String!, $input: DepartmentNotifyInput) {
    notifyDepartmentUser(departmentId: $departmentId, userId: $userId, input: $input) {
      notificationMessageUUID
      status
      requestUUID
      errors {
        errorCode
        errorDescription
      }
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

let h: TestHerald;
let auth: Record<string, string>;
let basicAuth: Record<string, string>;
let dept: string;
let users: Record<string, string>;
let hook: Awaited<ReturnType<typeof startHttpServer>>;
let signingSecret: string;

const basic = (user: string, pass: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` });
const uuid = expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
const notify = (department: string, user: string, body: unknown, headers: Record<string, string> = {}, prefix = '') =>
  rest(h.url, 'POST', `${prefix}/department/${department}/user/${user}/notify`, body, { ...basicAuth, ...headers });

beforeAll(async () => {
  h = await startTestHerald({ env: { DELIVERY_BACKOFF_MS: '50', DELIVERY_MAX_ATTEMPTS: '2', RECONCILE_INTERVAL_MS: '500', RECONCILE_STALE_MS: '2000' } });
  auth = bearer(h.project.apiKey);
  basicAuth = basic(h.project.keyId, h.project.keySecret);
  hook = await startHttpServer(() => ({ status: 200 }));
  signingSecret = (await prisma().project.findUniqueOrThrow({ where: { id: h.project.projectId } })).signingSecret;
  const res = await gql(
    h.url,
    Upsert,
    {
      users: [
        { externalId: 'sam', email: 'sam@dealer.example', telephone: '+14155550100', firstName: 'Sam' },
        { externalId: 'dee', firstName: 'Dee' },
        { externalId: 'outsider' },
      ],
    },
    auth,
  );
  users = Object.fromEntries(res.data!.upsertUsers.map((r) => [r.user!.externalId, r.user!.id]));
  dept = (await gql(h.url, CreateDept, { name: 'Service' }, auth)).data!.createDepartment.id;
  expect((await gql(h.url, AddMembers, { departmentId: dept, userIds: ['sam', users.dee!] }, auth)).errors).toBeUndefined();
  expect((await gql(h.url, AddMembers, { departmentId: dept, userIds: ['dee'], default: true }, auth)).errors).toBeUndefined();
});
afterAll(async () => {
  await h?.stop();
  await hook?.close();
});

const messageStatus = async (id: string) => (await prisma().message.findUniqueOrThrow({ where: { id } })).status;

describe('departments (GraphQL)', () => {
  it('creates, lists, reads, renames and deletes departments and manages members', async () => {
    const got = await gql(h.url, GetDept, { id: dept }, auth);
    expect(got.data!.department).toMatchObject({
      name: 'Service',
      members: [
        { isDefault: false, user: { externalId: 'sam' } },
        { isDefault: true, user: { externalId: 'dee' } },
      ],
      defaultMember: { user: { externalId: 'dee' } },
    });
    const other = (await gql(h.url, CreateDept, { name: 'Parts' }, auth)).data!.createDepartment.id;
    expect((await gql(h.url, ListDepts, {}, auth)).data!.departments.map((d) => d.name)).toEqual(['Service', 'Parts']);
    expect((await gql(h.url, UpdateDept, { id: other, name: 'Parts & Tires' }, auth)).data!.updateDepartment.name).toBe('Parts & Tires');
    expect((await gql(h.url, AddMembers, { departmentId: other, userIds: ['sam', 'nobody'] }, auth)).errors?.[0]).toMatchObject({
      message: 'userIds.1: no user "nobody"',
      extensions: { code: 'BAD_USER_INPUT' },
    });
    expect((await gql(h.url, AddMembers, { departmentId: other, userIds: ['sam', 'dee'], default: true }, auth)).errors?.[0]?.message).toMatch(/^default:/);
    await gql(h.url, AddMembers, { departmentId: other, userIds: ['sam'] }, auth);
    await gql(h.url, RemoveMembers, { departmentId: other, userIds: ['sam'] }, auth);
    expect((await gql(h.url, GetDept, { id: other }, auth)).data!.department.members).toEqual([]);
    expect((await gql(h.url, CreateDept, { name: '  ' }, auth)).errors?.[0]?.message).toMatch(/^name: is required/);
    expect((await gql(h.url, DeleteDept, { id: other }, auth)).data!.deleteDepartment).toBe(other);
    expect((await gql(h.url, GetDept, { id: other }, auth)).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it("answers another project's departments like unknown ones", async () => {
    const theirs = bearer((await h.newProject()).apiKey);
    expect((await gql(h.url, GetDept, { id: dept }, theirs)).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const res = await gql(h.url, Notify, { departmentId: dept, userId: 'sam', input: { messageAttributes: { body: 'x' } } }, theirs);
    expect(res.data!.notifyDepartmentUser).toMatchObject({ status: 'FAILURE', errors: [{ errorCode: 'DEPARTMENT_NOT_FOUND' }] });
  });

  it('notifyDepartmentUser answers the legacy envelope and delivers in-app', async () => {
    const res = await gql(h.url, Notify, { departmentId: dept, userId: 'sam', input: { messageAttributes: { body: 'Car ready', subject: 'Bay 3' } } }, { ...auth, 'x-request-id': 'dept-gql-1' });
    expect(res.errors).toBeUndefined();
    expect(res.data!.notifyDepartmentUser).toEqual({
      notificationMessageUUID: uuid,
      status: 'SUCCESS',
      requestUUID: 'dept-gql-1',
      errors: [],
      warnings: [],
      messages: [{ id: res.data!.notifyDepartmentUser.notificationMessageUUID, channel: 'IN_APP', status: 'QUEUED' }],
    });
    const id = res.data!.notifyDepartmentUser.notificationMessageUUID!;
    await pollFor(async () => (await messageStatus(id)) === 'DELIVERED', 10_000, 'delivery');
    expect(await prisma().inboxItem.findUniqueOrThrow({ where: { messageId: id } })).toMatchObject({ userId: users.sam, title: 'Bay 3', body: 'Car ready' });
  });
});

describe('POST /department/:departmentUUID/user/:userUUID/notify (myKaarma)', () => {
  it("sends an in-app note with buttons to a member, on both paths, and to the department's default user", async () => {
    const body = {
      messageAttributes: { body: 'Vehicle for _customer_names is ready', subject: 'Ready', type: 'NOTE', protocol: 'NONE', purpose: 'PDNOTIFY', metaData: { ro: '42' }, tags: ['TRASH'], isManual: false, unknownField: 1 },
      notificationAttributes: {
        threadOwnerNotifierPop: true,
        bodyTagsForSpecialRendering: { CUSTOMER_NAMES: 'J. Doe' },
        notificationButtons: [
          { buttonTextTranslationKey: 'btnOpen', buttonDefaultText: 'OPEN', buttonTheme: 'SECONDARY', buttonActionEventData: { ro: '42' }, isPrimaryButton: true },
          {},
        ],
      },
    };
    const res = await notify(dept, users.sam!, body, { 'x-request-id': 'dept-rest-1' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({ notificationMessageUUID: uuid, status: 'SUCCESS', requestUUID: 'dept-rest-1', errors: [], warnings: [] });
    const message = await prisma().message.findUniqueOrThrow({ where: { id: res.body.notificationMessageUUID } });
    expect(message).toMatchObject({ channel: 'IN_APP', userId: users.sam, source: 'department', category: 'PDNOTIFY', data: expect.objectContaining({ purpose: 'PDNOTIFY', metaData: { ro: '42' } }) });
    expect(message.content).toMatchObject({
      title: 'Ready',
      body: 'Vehicle for J. Doe is ready',
      actions: [
        { id: 'btnOpen', label: 'OPEN', theme: 'SECONDARY', primary: true, data: { ro: '42' } },
        { id: 'button-1', label: 'LEARN MORE', theme: 'PRIMARY', primary: false, data: {} },
      ],
    });
    await pollFor(async () => (await messageStatus(message.id)) === 'DELIVERED', 10_000, 'delivery');

    const prefixed = await notify(dept, 'default', { messageAttributes: { body: 'For the default user' } }, {}, '/communications');
    expect(prefixed.status, JSON.stringify(prefixed.body)).toBe(200);
    expect(await prisma().message.findUniqueOrThrow({ where: { id: prefixed.body.notificationMessageUUID } })).toMatchObject({ userId: users.dee });
    const upper = await notify(dept, 'DEFAULT', { messageAttributes: { body: 'x' } });
    expect(upper.status).toBe(200);
  });

  it('maps the protocol to email or SMS and sendPhoneNotification adds SMS; unreachable channels are warnings', async () => {
    const email = await notify(dept, 'sam', { messageAttributes: { body: 'Mail body', subject: 'Mail', protocol: 'EMAIL', attachments: [{ fileURL: 'https://x/y.pdf' }] } });
    expect(email.status).toBe(200);
    const mail = await prisma().message.findUniqueOrThrow({ where: { id: email.body.notificationMessageUUID } });
    expect(mail).toMatchObject({ channel: 'EMAIL', to: 'sam@dealer.example', content: { subject: 'Mail', text: 'Mail body', html: null, attachments: [{ fileURL: 'https://x/y.pdf' }] } });

    const text = await notify(dept, 'sam', { messageAttributes: { body: 'SMS', protocol: 'TEXT' } }, { 'x-request-id': 'dept-text' });
    expect((await prisma().message.findMany({ where: { requestId: 'dept-text' } })).map((m) => [m.channel, m.to])).toEqual([['SMS', '+14155550100']]);
    expect(text.body.status).toBe('SUCCESS');

    // Dee has no telephone: the SMS is SKIPPED (a warning), the in-app note goes out.
    const phone = await notify(dept, 'dee', { messageAttributes: { body: 'Both' }, notificationAttributes: { sendPhoneNotification: true } }, { 'x-request-id': 'dept-phone' });
    expect(phone.status).toBe(200);
    expect(phone.body.warnings).toEqual([{ warningCode: 'CHANNEL_SKIPPED', warningDescription: 'SMS: the user has no telephone number' }]);
    const rows = await prisma().message.findMany({ where: { requestId: 'dept-phone' }, orderBy: { channel: 'asc' } });
    // The in-app message may already be on its way: only the SMS's status is settled here.
    expect(rows.map((m) => m.channel)).toEqual(['IN_APP', 'SMS']);
    expect(rows[0]!.status).not.toBe('SKIPPED');
    expect(rows[1]!.status).toBe('SKIPPED');
    expect(phone.body.notificationMessageUUID).toBe(rows[0]!.id);
  });

  it('delay and scheduled drafts schedule the delivery', async () => {
    const before = Date.now();
    const delayed = await notify(dept, 'sam', { messageAttributes: { body: 'Later' }, messageSendingAttributesLite: { delay: 120 } });
    expect(delayed.status).toBe(200);
    const m = await prisma().message.findUniqueOrThrow({ where: { id: delayed.body.notificationMessageUUID } });
    expect(m.status).toBe('SCHEDULED');
    expect(m.scheduledAt!.getTime()).toBeGreaterThanOrEqual(before + 119_000);
    expect(m.scheduledAt!.getTime()).toBeLessThanOrEqual(Date.now() + 121_000);

    const on = new Date(Date.now() + 3_600_000).toISOString();
    const draft = await notify(dept, 'sam', { messageAttributes: { body: 'Scheduled', draftAttributes: { draftStatus: 'SCHEDULED', scheduledOn: on } } });
    expect(await prisma().message.findUniqueOrThrow({ where: { id: draft.body.notificationMessageUUID } })).toMatchObject({ status: 'SCHEDULED', scheduledAt: new Date(on) });

    // A short delay is delivered once it is due.
    const soon = await notify(dept, 'sam', { messageAttributes: { body: 'Soon' }, messageSendingAttributesLite: { delay: 1 } });
    expect(await messageStatus(soon.body.notificationMessageUUID)).toBe('SCHEDULED');
    await pollFor(async () => (await messageStatus(soon.body.notificationMessageUUID)) === 'DELIVERED', 10_000, 'scheduled delivery');
  });

  it('sendSynchronously answers after the outcome; callBackUrl receives a signed POST with the metadata', async () => {
    const res = await notify(dept, 'sam', {
      messageAttributes: { body: 'Sync' },
      messageSendingAttributesLite: { sendSynchronously: true, callBackUrl: `${hook.url}/cb`, callBackMetadata: { ticket: 'T-1' } },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ status: 'SUCCESS', errors: [], warnings: [] });
    const id = res.body.notificationMessageUUID;
    // Synchronous: the outcome is known when the answer arrives.
    expect(await messageStatus(id)).toBe('DELIVERED');
    expect(await prisma().message.findUniqueOrThrow({ where: { id } })).toMatchObject({ callbackUrl: `${hook.url}/cb`, callbackMetadata: { ticket: 'T-1' } });
    const call = await pollFor(() => hook.received.find((r) => r.url === '/cb' && JSON.parse(r.body).messageId === id), 10_000, 'callback');
    expect(verify(signingSecret, call.body, call.headers[SIGNATURE_HEADER] as string)).toBe(true);
    expect(JSON.parse(call.body)).toMatchObject({ messageId: id, status: 'DELIVERED', metadata: { ticket: 'T-1' } });

    // Synchronous and failing (no SMS provider): FAILURE with the reason.
    const failing = await notify(dept, 'sam', { messageAttributes: { body: 'Sync SMS', protocol: 'TEXT' }, messageSendingAttributesLite: { sendSynchronously: true } });
    expect(failing.status).toBe(200);
    expect(failing.body).toMatchObject({ status: 'FAILURE', errors: [{ errorCode: 'MESSAGE_SEND_FAILED', errorDescription: expect.stringMatching(/no SMS provider is configured/) }] });
  });

  it('answers the legacy failures: 400 for a missing body or attributes or a bad callback, 404 for unknown ids, 401 for bad auth', async () => {
    const failure = (errorCode: string) => ({ notificationMessageUUID: null, status: 'FAILURE', requestUUID: expect.any(String), errors: [{ errorCode, errorDescription: expect.any(String), errorUID: null }], warnings: [] });
    const noAttributes = await notify(dept, 'sam', { notificationAttributes: {} });
    expect(noAttributes.status).toBe(400);
    expect(noAttributes.body).toEqual(failure('MISSING_MESSAGE_ATTRIBUTES'));
    expect((await notify(dept, 'sam', undefined)).body.errors[0].errorCode).toBe('MISSING_MESSAGE_ATTRIBUTES');
    const noBody = await notify(dept, 'sam', { messageAttributes: { subject: 'x', body: '  ' } });
    expect(noBody.status).toBe(400);
    expect(noBody.body).toEqual(failure('MISSING_MESSAGE_BODY'));
    expect(noBody.body.errors[0].errorDescription).toMatch(/messageAttributes\.body/);

    const badCallback = await notify(dept, 'sam', { messageAttributes: { body: 'x' }, messageSendingAttributesLite: { callBackUrl: 'ftp://example.com/cb' } });
    expect(badCallback.status).toBe(400);
    expect(badCallback.body).toEqual(failure('INVALID_CALLBACK_URL'));
    expect(badCallback.body.errors[0].errorDescription).toMatch(/callBackUrl/);
    const badDelay = await notify(dept, 'sam', { messageAttributes: { body: 'x' }, messageSendingAttributesLite: { delay: 'soon' } });
    expect(badDelay.status).toBe(400);
    expect(badDelay.body.errors[0].errorDescription).toMatch(/delay/);
    const negative = await notify(dept, 'sam', { messageAttributes: { body: 'x' }, messageSendingAttributesLite: { delay: -5 } });
    expect(negative.status).toBe(400);
    expect(negative.body.errors[0]).toMatchObject({ errorCode: 'INVALID_REQUEST', errorDescription: expect.stringMatching(/^messageSendingAttributesLite\.delay:/) });
    const badScheduled = await notify(dept, 'sam', { messageAttributes: { body: 'x', draftAttributes: { draftStatus: 'SCHEDULED', scheduledOn: 'tomorrow' } } });
    expect(badScheduled.status).toBe(400);
    expect(badScheduled.body.errors[0].errorCode).toBe('INVALID_SCHEDULED_ON');

    const ok = { messageAttributes: { body: 'x' } };
    const unknownDept = await notify('6f1c9a52-0000-4000-8000-000000000000', 'sam', ok);
    expect(unknownDept.status).toBe(404);
    expect(unknownDept.body).toEqual(failure('DEPARTMENT_NOT_FOUND'));
    expect((await notify('not-a-uuid', 'sam', ok)).status).toBe(404);
    const notMember = await notify(dept, users.outsider!, ok);
    expect(notMember.status).toBe(404);
    expect(notMember.body).toEqual(failure('USER_NOT_FOUND'));
    expect((await notify(dept, 'nobody', ok)).status).toBe(404);
    const emptyDept = (await gql(h.url, CreateDept, { name: 'Empty' }, auth)).data!.createDepartment.id;
    expect((await notify(emptyDept, 'default', ok)).body.errors[0].errorCode).toBe('USER_NOT_FOUND');

    // Another project's department is unknown.
    const other = await h.newProject();
    const foreign = await notify(dept, 'sam', ok, basic(other.keyId, other.keySecret));
    expect(foreign.status).toBe(404);
    expect(foreign.body.errors[0].errorCode).toBe('DEPARTMENT_NOT_FOUND');

    for (const headers of [basic(h.project.keyId, 'wrong'), { authorization: '' }, bearer(h.project.apiKey)]) {
      const res = await rest(h.url, 'POST', `/department/${dept}/user/sam/notify`, ok, headers);
      expect(res.status, JSON.stringify(headers)).toBe(401);
      expect(res.body).toMatchObject({ status: 'FAILURE', notificationMessageUUID: null, errors: [{ errorCode: 'UNAUTHENTICATED' }], warnings: [] });
    }
    const notObject = await notify(dept, 'sam', [1]);
    expect(notObject.status).toBe(400);
    expect(notObject.body).toMatchObject({ status: 'FAILURE', errors: [{ errorCode: 'INVALID_REQUEST' }] });
  });
});
