import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../src/generated/gql/index.ts';
import { prisma } from '../src/db/client.ts';
import { SIGNATURE_HEADER, verify } from '../src/delivery/signing.ts';
import { bearer, gql, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor, startHttpServer } from './helpers/http-server.ts';
import { DEPARTMENT_NOTIFY_DOC_BODY } from './helpers/legacy-bodies.ts';
import { expectDocumented } from './helpers/openapi.ts';

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

  it("raises the documentation's example as an internal note: in-app, plus SMS for sendPhoneNotification; type and protocol are forced", async () => {
    // Verbatim: type DRAFT, protocol TEXT, a SCHEDULED draft, sendSynchronously, callBackUrl "string"...
    const res = await notify(dept, 'dee', DEPARTMENT_NOTIFY_DOC_BODY, { 'x-request-id': 'dept-doc-dee' }, '/communications');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expectDocumented('POST', '/communications/department/:departmentUUID/user/:userUUID/notify', 200, res.body);
    expect(res.body).toMatchObject({ notificationMessageUUID: uuid, status: 'SUCCESS', requestUUID: 'dept-doc-dee', errors: [] });
    expect(res.body.warnings.map((w: { warningCode: string }) => w.warningCode).sort()).toEqual(['ADDITIONAL_USER_NOT_FOUND', 'CHANNEL_SKIPPED', 'INVALID_CALLBACK_URL']);
    const rows = await prisma().message.findMany({ where: { requestId: 'dept-doc-dee' }, orderBy: { channel: 'asc' } });
    // The note itself goes to the inbox, at once (a draft does not delay it), synchronously delivered.
    expect(rows.map((m) => [m.channel, m.status])).toEqual([
      ['IN_APP', 'DELIVERED'],
      ['SMS', 'SKIPPED'],
    ]);
    expect(rows[0]!.scheduledAt).toBeNull();
    expect(rows[0]!.callbackUrl).toBeNull();
    expect(rows[0]!.data).toMatchObject({ type: 'NOTE', protocol: 'NONE', isManual: false, draftAttributes: { draftStatus: 'SCHEDULED', scheduledOn: 'string', draftFailureReason: 'MDL_EVENT_UNDER_TIME_LIMIT_REASON' } });
    // Stored and returned: the inbox item carries the draft attributes as given.
    const item = await prisma().inboxItem.findUniqueOrThrow({ where: { messageId: rows[0]!.id } });
    expect(item).toMatchObject({ userId: users.dee, title: 'string', body: 'string', data: expect.objectContaining({ draftAttributes: expect.objectContaining({ draftStatus: 'SCHEDULED' }) }) });

    // Sam has a telephone: sendPhoneNotification texts it (no mobile push in Herald); no SMS provider here, so synchronously FAILURE.
    const sam = await notify(dept, 'sam', DEPARTMENT_NOTIFY_DOC_BODY, { 'x-request-id': 'dept-doc-sam' });
    expect(sam.status, JSON.stringify(sam.body)).toBe(200);
    expectDocumented('POST', '/department/:departmentUUID/user/:userUUID/notify', 200, sam.body);
    expect(sam.body).toMatchObject({ status: 'FAILURE', errors: [{ errorCode: 'MESSAGE_SEND_FAILED', errorDescription: expect.stringMatching(/^SMS: .*no SMS provider/) }] });
    const samRows = await prisma().message.findMany({ where: { requestId: 'dept-doc-sam' }, orderBy: { channel: 'asc' } });
    expect(samRows.map((m) => [m.channel, m.to, m.status])).toEqual([
      ['IN_APP', null, 'DELIVERED'],
      ['SMS', '+14155550100', 'FAILED'],
    ]);
    expect(sam.body.notificationMessageUUID).toBe(samRows[0]!.id);
  });

  it('ignores the protocol (EMAIL, TEXT): the note is in-app only; notifier flags add nothing else', async () => {
    for (const protocol of ['EMAIL', 'TEXT', 'VOICE_CALL', 'NONE']) {
      const requestId = `dept-protocol-${protocol}`;
      const res = await notify(dept, 'sam', { messageAttributes: { body: 'Note', subject: 'S', protocol, type: 'OUTGOING' }, notificationAttributes: { internalSubscribersNotifierPop: true } }, { 'x-request-id': requestId });
      expect(res.status, protocol).toBe(200);
      expect((await prisma().message.findMany({ where: { requestId } })).map((m) => [m.channel, (m.data as { type: string; protocol: string }).type, (m.data as { protocol: string }).protocol])).toEqual([['IN_APP', 'NOTE', 'NONE']]);
    }
    // Dee has no telephone: the SMS is SKIPPED (a warning), the in-app note goes out.
    const phone = await notify(dept, 'dee', { messageAttributes: { body: 'Both' }, notificationAttributes: { sendPhoneNotification: true } }, { 'x-request-id': 'dept-phone' });
    expect(phone.status).toBe(200);
    expect(phone.body.warnings).toEqual([{ warningCode: 'CHANNEL_SKIPPED', warningDescription: 'SMS: the user has no telephone number' }]);
    const rows = await prisma().message.findMany({ where: { requestId: 'dept-phone' }, orderBy: { channel: 'asc' } });
    expect(rows.map((m) => m.channel)).toEqual(['IN_APP', 'SMS']);
    expect(rows[1]!.status).toBe('SKIPPED');
    expect(phone.body.notificationMessageUUID).toBe(rows[0]!.id);
  });

  it('delay postpones the note; a scheduled draft does not (its attributes are kept, whatever scheduledOn says)', async () => {
    const before = Date.now();
    const delayed = await notify(dept, 'sam', { messageAttributes: { body: 'Later' }, messageSendingAttributesLite: { delay: 120 } });
    expect(delayed.status).toBe(200);
    const m = await prisma().message.findUniqueOrThrow({ where: { id: delayed.body.notificationMessageUUID } });
    expect(m.status).toBe('SCHEDULED');
    expect(m.scheduledAt!.getTime()).toBeGreaterThanOrEqual(before + 119_000);
    expect(m.scheduledAt!.getTime()).toBeLessThanOrEqual(Date.now() + 121_000);

    for (const scheduledOn of [new Date(Date.now() + 3_600_000).toISOString(), 'tomorrow']) {
      const draft = await notify(dept, 'sam', { messageAttributes: { body: 'Draft', draftAttributes: { draftStatus: 'SCHEDULED', scheduledOn } } });
      expect(draft.status, scheduledOn).toBe(200);
      const row = await prisma().message.findUniqueOrThrow({ where: { id: draft.body.notificationMessageUUID } });
      expect(row.scheduledAt).toBeNull();
      expect(row.data).toMatchObject({ draftAttributes: { draftStatus: 'SCHEDULED', scheduledOn } });
      await pollFor(async () => (await messageStatus(row.id)) === 'DELIVERED', 10_000, 'draft delivered at once');
    }

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
    const failing = await notify(dept, 'sam', { messageAttributes: { body: 'Sync SMS' }, notificationAttributes: { sendPhoneNotification: true }, messageSendingAttributesLite: { sendSynchronously: true } });
    expect(failing.status).toBe(200);
    expect(failing.body).toMatchObject({ status: 'FAILURE', errors: [{ errorCode: 'MESSAGE_SEND_FAILED', errorDescription: expect.stringMatching(/no SMS provider is configured/) }] });
  });

  it('answers the legacy failures: 400 for a missing body or attributes or a bad callback, 404 for unknown ids, 401 for bad auth', async () => {
    const failure = (errorCode: string) => ({ notificationMessageUUID: null, status: 'FAILURE', requestUUID: expect.any(String), errors: [{ errorCode, errorDescription: expect.any(String), errorUID: null }], warnings: [] });
    const noAttributes = await notify(dept, 'sam', { notificationAttributes: {} });
    expect(noAttributes.status).toBe(400);
    expect(noAttributes.body).toEqual(failure('MISSING_MESSAGE_ATTRIBUTES'));
    expectDocumented('POST', '/department/:departmentUUID/user/:userUUID/notify', 400, noAttributes.body);
    expect((await notify(dept, 'sam', undefined)).body.errors[0].errorCode).toBe('MISSING_MESSAGE_ATTRIBUTES');
    const noBody = await notify(dept, 'sam', { messageAttributes: { subject: 'x', body: '  ' } });
    expect(noBody.status).toBe(400);
    expect(noBody.body).toEqual(failure('MISSING_MESSAGE_BODY'));
    expect(noBody.body.errors[0].errorDescription).toMatch(/messageAttributes\.body/);

    // An unusable callback does not stop the note (myKaarma validates only the body): a warning names it.
    const badCallback = await notify(dept, 'sam', { messageAttributes: { body: 'x' }, messageSendingAttributesLite: { callBackUrl: 'ftp://example.com/cb' } });
    expect(badCallback.status).toBe(200);
    expect(badCallback.body.warnings).toEqual([{ warningCode: 'INVALID_CALLBACK_URL', warningDescription: expect.stringMatching(/^messageSendingAttributesLite\.callBackUrl: /) }]);
    const badDelay = await notify(dept, 'sam', { messageAttributes: { body: 'x' }, messageSendingAttributesLite: { delay: 'soon' } });
    expect(badDelay.status).toBe(400);
    expect(badDelay.body.errors[0].errorDescription).toMatch(/delay/);
    // Wrong JSON types are named by their path in the body, in the envelope (not in GraphQL's words).
    for (const [body, description] of [
      [{ messageAttributes: { body: 5 } }, 'messageAttributes.body: must be a string'],
      [{ messageAttributes: 'x' }, 'messageAttributes: must be an object'],
      [{ messageAttributes: { body: 'x' }, notificationAttributes: { notificationButtons: [{ isPrimaryButton: 'yes' }] } }, 'notificationAttributes.notificationButtons.0.isPrimaryButton: must be true or false'],
      [{ messageAttributes: { body: 'x' }, messageSendingAttributesLite: { delay: 2 ** 40 } }, 'messageSendingAttributesLite.delay: must be a whole number'],
    ] as const) {
      const res = await notify(dept, 'sam', body);
      expect(res.status, description).toBe(400);
      expect(res.body).toMatchObject({ status: 'FAILURE', errors: [{ errorCode: 'INVALID_REQUEST', errorDescription: description }] });
    }
    const negative = await notify(dept, 'sam', { messageAttributes: { body: 'x' }, messageSendingAttributesLite: { delay: -5 } });
    expect(negative.status).toBe(400);
    expect(negative.body.errors[0]).toMatchObject({ errorCode: 'INVALID_REQUEST', errorDescription: expect.stringMatching(/^messageSendingAttributesLite\.delay:/) });

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
