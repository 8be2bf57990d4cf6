import { createECDH, randomBytes, randomUUID } from 'node:crypto';
import { print } from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../src/db/client.ts';
import { graphql } from '../src/generated/gql/index.ts';
import { schema } from '../src/graphql/schema.ts';
import { userHash } from '../src/modules/projects/credentials.ts';
import type { NewProjectCredentials } from '../src/modules/projects/service.ts';
import { bearer, gql, startTestHerald, type GraphQLResponse, type TestHerald } from './helpers/herald.ts';
import { pollFor } from './helpers/http-server.ts';

/**
 * Tenant isolation, operation by operation: project B's key on project A's ids must get exactly
 * what it gets for ids that exist nowhere (same code, same message but for the id), malformed
 * ids get NOT_FOUND or BAD_USER_INPUT (never a 500), each field answers only its kind of
 * principal, and none of these refusals writes anything.
 */

// ---------- setup documents ----------

const Upsert = graphql(`
  mutation IsoUpsert($users: [UserInput!]!) {
    upsertUsers(users: $users) {
      user {
        id
        externalId
      }
    }
  }
`);
const CreateNotification = graphql(`
  mutation IsoCreateNotification($input: NotificationInput!) {
    createNotification(input: $input) {
      id
      versions {
        id
        master
      }
    }
  }
`);
const CreateDepartment = graphql(`
  mutation IsoCreateDepartment($name: String!) {
    createDepartment(name: $name) {
      id
    }
  }
`);
const Configure = graphql(`
  mutation IsoConfigure($input: ProviderInput!) {
    configureProvider(input: $input) {
      id
    }
  }
`);
const CreateKey = graphql(`
  mutation IsoCreateKey($name: String!) {
    createApiKey(name: $name) {
      key {
        id
      }
    }
  }
`);
const UnreadCount = graphql(`
  query IsoUnreadCount {
    unreadCount
  }
`);

// ---------- the operations under test ----------

const Message = graphql(`
  query IsoMessage($id: ID!) {
    message(id: $id) {
      id
    }
  }
`);
const CancelMessage = graphql(`
  mutation IsoCancelMessage($id: ID!) {
    cancelMessage(id: $id) {
      id
    }
  }
`);
const RetryMessage = graphql(`
  mutation IsoRetryMessage($id: ID!) {
    retryMessage(id: $id) {
      id
    }
  }
`);
const RetryFailed = graphql(`
  mutation IsoRetryFailed($channel: String, $notificationId: Int) {
    retryFailed(channel: $channel, notificationId: $notificationId)
  }
`);
const Messages = graphql(`
  query IsoMessages($filter: MessageFilter, $after: String, $before: String, $first: Int, $last: Int) {
    messages(filter: $filter, after: $after, before: $before, first: $first, last: $last) {
      totalCount
      edges {
        node {
          id
        }
      }
    }
  }
`);
const User = graphql(`
  query IsoUser($id: ID, $externalId: String) {
    user(id: $id, externalId: $externalId) {
      id
      externalId
    }
  }
`);
const Users = graphql(`
  query IsoUsers($filter: UserFilter, $after: String, $before: String, $first: Int, $last: Int) {
    users(filter: $filter, after: $after, before: $before, first: $first, last: $last) {
      totalCount
      edges {
        node {
          id
          externalId
        }
      }
    }
  }
`);
const Notification = graphql(`
  query IsoNotification($id: Int, $key: String) {
    notification(id: $id, key: $key) {
      id
    }
  }
`);
const Notifications = graphql(`
  query IsoNotifications($after: String) {
    notifications(after: $after) {
      edges {
        node {
          id
        }
      }
    }
  }
`);
const UpdateNotification = graphql(`
  mutation IsoUpdateNotification($id: Int!, $input: NotificationInput!) {
    updateNotification(id: $id, input: $input) {
      id
    }
  }
`);
const DeleteNotification = graphql(`
  mutation IsoDeleteNotification($id: Int!) {
    deleteNotification(id: $id)
  }
`);
const DuplicateNotification = graphql(`
  mutation IsoDuplicateNotification($id: Int!) {
    duplicateNotification(id: $id) {
      id
    }
  }
`);
const Activate = graphql(`
  mutation IsoActivate($id: Int!) {
    activateNotification(id: $id) {
      active
    }
  }
`);
const Deactivate = graphql(`
  mutation IsoDeactivate($id: Int!) {
    deactivateNotification(id: $id) {
      active
    }
  }
`);
const CreateVersion = graphql(`
  mutation IsoCreateVersion($notificationId: Int!, $input: NotificationVersionInput!) {
    createNotificationVersion(notificationId: $notificationId, input: $input) {
      id
    }
  }
`);
const UpdateVersion = graphql(`
  mutation IsoUpdateVersion($notificationId: Int!, $versionId: ID!, $input: NotificationVersionInput!) {
    updateNotificationVersion(notificationId: $notificationId, versionId: $versionId, input: $input) {
      id
    }
  }
`);
const DeleteVersion = graphql(`
  mutation IsoDeleteVersion($notificationId: Int!, $versionId: ID!) {
    deleteNotificationVersion(notificationId: $notificationId, versionId: $versionId)
  }
`);
const SetMaster = graphql(`
  mutation IsoSetMaster($notificationId: Int!, $versionId: ID!) {
    setMasterVersion(notificationId: $notificationId, versionId: $versionId) {
      id
      master
    }
  }
`);
const Render = graphql(`
  query IsoRender($id: Int!, $versionId: ID, $contact: ContactInput) {
    renderNotification(id: $id, versionId: $versionId, contact: $contact) {
      type
      contact {
        externalId
      }
    }
  }
`);
const TestNotification = graphql(`
  mutation IsoTestNotification($id: Int!, $versionId: ID, $input: NotificationTestInput) {
    testNotification(id: $id, versionId: $versionId, input: $input) {
      id
      status
    }
  }
`);
const Execute = graphql(`
  mutation IsoExecute($id: Int!, $executions: [ExecutionInput!]!) {
    executeNotification(id: $id, executions: $executions) {
      type
      error {
        code
        message
      }
    }
  }
`);
const Send = graphql(`
  mutation IsoSend($messages: [SendMessageInput!]!) {
    sendMessages(messages: $messages) {
      ok
      error
      messages {
        id
      }
    }
  }
`);
const Department = graphql(`
  query IsoDepartment($id: ID!) {
    department(id: $id) {
      id
    }
  }
`);
const UpdateDepartment = graphql(`
  mutation IsoUpdateDepartment($id: ID!, $name: String!) {
    updateDepartment(id: $id, name: $name) {
      id
    }
  }
`);
const DeleteDepartment = graphql(`
  mutation IsoDeleteDepartment($id: ID!) {
    deleteDepartment(id: $id)
  }
`);
const AddMembers = graphql(`
  mutation IsoAddMembers($departmentId: ID!, $userIds: [String!]!, $default: Boolean) {
    addDepartmentMembers(departmentId: $departmentId, userIds: $userIds, default: $default) {
      id
    }
  }
`);
const RemoveMembers = graphql(`
  mutation IsoRemoveMembers($departmentId: ID!, $userIds: [String!]!) {
    removeDepartmentMembers(departmentId: $departmentId, userIds: $userIds) {
      id
    }
  }
`);
const Notify = graphql(`
  mutation IsoNotify($departmentId: ID!, $userId: String!, $input: DepartmentNotifyInput) {
    notifyDepartmentUser(departmentId: $departmentId, userId: $userId, input: $input) {
      status
      errors {
        errorCode
        errorDescription
      }
    }
  }
`);
const DeleteProvider = graphql(`
  mutation IsoDeleteProvider($id: ID!) {
    deleteProvider(id: $id)
  }
`);
const RevokeKey = graphql(`
  mutation IsoRevokeKey($id: ID!) {
    revokeApiKey(id: $id) {
      id
      active
    }
  }
`);
const RegisterPush = graphql(`
  mutation IsoRegisterPush($userId: ID!, $subscription: PushSubscriptionInput!) {
    registerPushSubscription(userId: $userId, subscription: $subscription) {
      id
    }
  }
`);
const DeletePush = graphql(`
  mutation IsoDeletePush($endpoint: String!) {
    deleteUserPushSubscription(endpoint: $endpoint)
  }
`);
const SetPreferences = graphql(`
  mutation IsoSetPreferences($userId: ID!, $preferences: PreferencesInput!) {
    setUserPreferences(userId: $userId, preferences: $preferences) {
      channels
    }
  }
`);
const NeucronSend = graphql(`
  mutation IsoNeucronSend($input: NeucronNotificationInput!) {
    neucronSendNotification(input: $input) {
      ids
    }
  }
`);
const NeucronWhatsApp = graphql(`
  mutation IsoNeucronWhatsApp($input: NeucronWhatsAppInput!) {
    neucronSendWhatsApp(input: $input) {
      ids
    }
  }
`);
const InboxItem = graphql(`
  query IsoInboxItem($id: ID!) {
    inboxItem(id: $id) {
      id
    }
  }
`);
const Inbox = graphql(`
  query IsoInbox($after: String, $before: String, $last: Int) {
    inbox(after: $after, before: $before, last: $last) {
      edges {
        node {
          id
        }
      }
    }
  }
`);
const MarkRead = graphql(`
  mutation IsoMarkRead($ids: [ID!]!) {
    markRead(ids: $ids) {
      unreadCount
    }
  }
`);
const MarkUnread = graphql(`
  mutation IsoMarkUnread($ids: [ID!]!) {
    markUnread(ids: $ids) {
      unreadCount
    }
  }
`);
const MarkSeen = graphql(`
  mutation IsoMarkSeen($ids: [ID!]!) {
    markSeen(ids: $ids) {
      unreadCount
    }
  }
`);
const Archive = graphql(`
  mutation IsoArchive($ids: [ID!]!) {
    archive(ids: $ids) {
      unreadCount
    }
  }
`);
const Unarchive = graphql(`
  mutation IsoUnarchive($ids: [ID!]!) {
    unarchive(ids: $ids) {
      unreadCount
    }
  }
`);
const PerformAction = graphql(`
  mutation IsoPerformAction($id: ID!, $actionId: String!) {
    performAction(id: $id, actionId: $actionId) {
      action
    }
  }
`);
const MessageStatus = graphql(`
  subscription IsoMessageStatus($messageId: ID, $userId: ID) {
    messageStatus(messageId: $messageId, userId: $userId) {
      messageId
      status
    }
  }
`);
const InboxEvents = graphql(`
  subscription IsoInboxEvents {
    inbox {
      type
      item {
        id
      }
    }
  }
`);

// ---------- the two projects ----------

let h: TestHerald;
let A: NewProjectCredentials;
let B: NewProjectCredentials;

/** One side's ids: what a call by that side uses for the containers it does not test. */
interface Side {
  notificationId: number;
  masterVersionId: string;
  otherVersionId: string;
  departmentId: string;
  /** A user of the side who is not in its department. */
  outsider: string;
}
let a: Side & { aliceId: string; messageId: string; itemId: string; providerId: string; spareKeyId: string; endpoint: string; key: string };
let b: Side;

/** The caller of one call: its credentials and its own containers. */
interface Caller {
  name: string;
  headers: Record<string, string>;
  side: Side;
}

const widget = (project: NewProjectCredentials, externalId: string) => ({
  'x-herald-project': project.projectId,
  'x-herald-user': externalId,
  'x-herald-user-hash': userHash(project.widgetSecret, externalId),
});
const operatorA = (): Caller => ({ name: "A's key", headers: bearer(A.apiKey), side: a });
const operatorB = (): Caller => ({ name: "B's key", headers: bearer(B.apiKey), side: b });
const aliceA = (): Caller => ({ name: 'alice of A', headers: widget(A, 'alice'), side: a });
const bobA = (): Caller => ({ name: 'bob of A', headers: widget(A, 'bob'), side: a });
// Same externalId as A's alice, in B: the widget headers name a project, the hash must bind to it.
const aliceB = (): Caller => ({ name: 'alice of B', headers: widget(B, 'alice'), side: b });

function browserKeys() {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') };
}

const UNKNOWN_INT = 2_000_000_000;
const cursorOf = (value: string | number) => Buffer.from(`GPC:${typeof value === 'number' ? 'N' : 'S'}:${value}`).toString('base64');

async function side(project: NewProjectCredentials, key: string, users: string[], member: string, outsider: string): Promise<Side & { ids: Record<string, string> }> {
  const auth = bearer(project.apiKey);
  const upserted = await gql(h.url, Upsert, { users: users.map((externalId) => ({ externalId, email: `${externalId}@${key}.example` })) }, auth);
  expect(upserted.errors).toBeUndefined();
  const ids = Object.fromEntries(upserted.data!.upsertUsers.map((r) => [r.user!.externalId, r.user!.id]));
  const created = await gql(
    h.url,
    CreateNotification,
    {
      input: {
        key,
        type: 'in-app',
        name: key,
        versions: [{ master: true, contents: [{ locale: 'en', title: 'Hi {{ user.externalId }}', body: 'b' }] }, { contents: [{ locale: 'en', title: 'Other' }] }],
      },
    },
    auth,
  );
  expect(created.errors).toBeUndefined();
  const n = created.data!.createNotification;
  const departmentId = (await gql(h.url, CreateDepartment, { name: `${key} desk` }, auth)).data!.createDepartment.id;
  expect((await gql(h.url, AddMembers, { departmentId, userIds: [member], default: true }, auth)).errors).toBeUndefined();
  return {
    ids,
    notificationId: n.id,
    masterVersionId: n.versions.find((v) => v.master)!.id,
    otherVersionId: n.versions.find((v) => !v.master)!.id,
    departmentId,
    outsider,
  };
}

/** Every row of both projects, read straight from the database: the "nothing was written" check. */
async function snapshot() {
  const db = prisma();
  const projectId = { in: [A.projectId, B.projectId] };
  return {
    projects: await db.project.findMany({ where: { id: projectId }, orderBy: { id: 'asc' } }),
    apiKeys: await db.apiKey.findMany({ where: { projectId }, orderBy: { id: 'asc' } }),
    users: await db.user.findMany({ where: { projectId }, orderBy: { id: 'asc' } }),
    notifications: await db.notification.findMany({ where: { projectId }, orderBy: { id: 'asc' } }),
    versions: await db.notificationVersion.findMany({ where: { projectId }, orderBy: { id: 'asc' } }),
    executions: await db.execution.findMany({ where: { projectId }, orderBy: { id: 'asc' } }),
    messages: await db.message.findMany({ where: { projectId }, orderBy: { id: 'asc' } }),
    messageEvents: await db.messageEvent.findMany({ where: { projectId }, orderBy: { id: 'asc' } }),
    providers: await db.providerConfig.findMany({ where: { projectId }, orderBy: { id: 'asc' } }),
    inboxItems: await db.inboxItem.findMany({ where: { projectId }, orderBy: { id: 'asc' } }),
    inboxStates: await db.inboxState.findMany({ where: { projectId }, orderBy: { userId: 'asc' } }),
    inboxEvents: await db.inboxEvent.findMany({ where: { projectId }, orderBy: [{ userId: 'asc' }, { cursor: 'asc' }] }),
    departments: await db.department.findMany({ where: { projectId }, orderBy: { id: 'asc' } }),
    members: await db.departmentMember.findMany({ where: { department: { projectId } }, orderBy: [{ departmentId: 'asc' }, { userId: 'asc' }] }),
    pushSubscriptions: await db.pushSubscription.findMany({ where: { projectId }, orderBy: { id: 'asc' } }),
  };
}
let before: Awaited<ReturnType<typeof snapshot>>;

beforeAll(async () => {
  h = await startTestHerald();
  A = h.project;
  B = await h.newProject('Isolation B');
  // carl exists only in A and bella only in B: each is the other side's unknown externalId.
  const sa = await side(A, 'iso-a', ['alice', 'bob', 'carl'], 'alice', 'carl');
  b = await side(B, 'iso-b', ['bella', 'bert'], 'bella', 'bert');
  const authA = bearer(A.apiKey);
  // Created after B's users, so that B's ids fall between A's (see the cursor tests).
  expect((await gql(h.url, Upsert, { users: [{ externalId: 'dave' }] }, authA)).errors).toBeUndefined();
  const send = async (userId: string, extra: Record<string, unknown> = {}) => {
    const sent = await gql(h.url, Send, { messages: [{ notificationId: 'iso-a', userId, ...extra }] }, authA);
    expect(sent.data?.sendMessages[0]?.ok).toBe(true);
    const id = sent.data!.sendMessages[0]!.messages[0]!.id;
    await pollFor(async () => (await prisma().message.findUniqueOrThrow({ where: { id } })).status === 'DELIVERED', 10_000, `delivery to ${userId}`);
    return { messageId: id, item: await prisma().inboxItem.findUniqueOrThrow({ where: { messageId: id } }) };
  };
  // Bob's inbox has items on both sides of alice's (see the inbox cursor test).
  await send('bob');
  const { messageId, item } = await send('alice', { widgetSettingsOverride: { actions: [{ id: 'open', label: 'Open' }] } });
  await send('bob');
  const providerId = (await gql(h.url, Configure, { input: { channel: 'WEBHOOK', kind: 'webhook', name: 'hook', settings: { url: 'https://hooks.example/a' } } }, authA)).data!
    .configureProvider.id;
  const endpoint = 'https://push.example/send/alice-of-a';
  expect((await gql(h.url, RegisterPush, { userId: 'alice', subscription: { endpoint, keys: browserKeys() } }, authA)).errors).toBeUndefined();
  const spareKeyId = (await gql(h.url, CreateKey, { name: 'spare' }, authA)).data!.createApiKey.key.id;
  a = { ...sa, aliceId: sa.ids.alice!, messageId, itemId: item.id, providerId, spareKeyId, endpoint, key: 'iso-a' };
  // Widget users are created on their first call: create them now, before the snapshot.
  for (const caller of [aliceA(), bobA(), aliceB()]) expect((await gql(h.url, UnreadCount, {}, caller.headers)).errors).toBeUndefined();
  before = await snapshot();
});
afterAll(async () => {
  await h?.stop();
});

// ---------- the table ----------

interface Outcome {
  code: string;
  message?: string;
  issues?: unknown;
  resource?: unknown;
  data?: unknown;
}

/** The first error (or the data when there is none), as a client would compare them. */
function firstError(res: GraphQLResponse<unknown>): Outcome {
  const error = res.errors?.[0];
  if (!error) return { code: 'OK', data: res.data };
  return { code: String(error.extensions?.code), message: error.message, issues: error.extensions?.issues, resource: error.extensions?.resource };
}

/** The outcome with the id replaced, wherever Herald quotes it (`"<id>"`). */
function withoutId(outcome: Outcome, id: unknown): Outcome {
  const quoted = JSON.stringify(JSON.stringify(String(id))).slice(1, -1);
  return JSON.parse(JSON.stringify(outcome).split(quoted).join('\\"<id>\\"')) as Outcome;
}

interface Spec<I, D> {
  name: string;
  scope: 'operator' | 'endUser';
  /** The id of project A that the row is about. */
  foreign: () => I;
  /** An id of the same kind that exists in no project. */
  unknown: () => I;
  call: (id: I, caller: Caller) => Promise<GraphQLResponse<D>>;
  /** Where the answer carries the refusal; default: the first error. */
  outcome?: (res: GraphQLResponse<D>) => Outcome;
  /** The code for a foreign (and so an unknown) id. */
  expected: string;
  malformed?: [I, string][];
  /** What A's own principal gets with the same id: proves the row calls what it means to. */
  own: (res: GraphQLResponse<D>) => void;
}
type Row = Spec<unknown, unknown>;
const row = <I, D>(spec: Spec<I, D>): Row => spec as unknown as Row;

const ok = (res: GraphQLResponse<unknown>) => expect(res.errors).toBeUndefined();
const fails = (code: string) => (res: GraphQLResponse<unknown>) => expect(res.errors?.[0]?.extensions?.code).toBe(code);
const uuid = () => randomUUID();
const MALFORMED_UUID: [string, string][] = [
  ['x', 'NOT_FOUND'],
  ['', 'NOT_FOUND'],
  ['-1', 'NOT_FOUND'],
  ['123e4567-e89b-12d3-a456-42661417400z', 'NOT_FOUND'],
];
const MALFORMED_INT: [number, string][] = [
  [-1, 'NOT_FOUND'],
  [0, 'NOT_FOUND'],
  [2_147_483_648, 'BAD_USER_INPUT'],
  [-2_147_483_649, 'BAD_USER_INPUT'],
];

/** Int notification ids, for every operation that takes one. */
const notificationRow = <D>(name: string, call: (id: number, c: Caller) => Promise<GraphQLResponse<D>>, own: (res: GraphQLResponse<D>) => void = ok) =>
  row({ name, scope: 'operator', foreign: () => a.notificationId, unknown: () => UNKNOWN_INT, call, expected: 'NOT_FOUND', malformed: MALFORMED_INT, own });
const notificationRows: Row[] = [
  notificationRow('notification(id)', (id, c) => gql(h.url, Notification, { id }, c.headers)),
  notificationRow('updateNotification', (id, c) => gql(h.url, UpdateNotification, { id, input: { type: 'in-app', name: 'renamed' } }, c.headers)),
  notificationRow('duplicateNotification', (id, c) => gql(h.url, DuplicateNotification, { id }, c.headers)),
  notificationRow('deactivateNotification', (id, c) => gql(h.url, Deactivate, { id }, c.headers)),
  notificationRow('activateNotification', (id, c) => gql(h.url, Activate, { id }, c.headers)),
  notificationRow('createNotificationVersion', (id, c) =>
    gql(h.url, CreateVersion, { notificationId: id, input: { contents: [{ locale: 'en', title: 'third' }] } }, c.headers),
  ),
  notificationRow('renderNotification(id)', (id, c) => gql(h.url, Render, { id }, c.headers)),
  notificationRow('testNotification(id)', (id, c) => gql(h.url, TestNotification, { id }, c.headers)),
  notificationRow(
    'executeNotification(id)',
    (id, c) => gql(h.url, Execute, { id, executions: [{ recipient: { value: 'alice' } }] }, c.headers),
    (res) => expect(res.data?.executeNotification[0]?.type).toBe('success'),
  ),
];

/** Version ids, each under the caller's own notification. */
const versionRow = <D>(
  name: string,
  foreign: () => string,
  call: (versionId: string, c: Caller) => Promise<GraphQLResponse<D>>,
  own: (res: GraphQLResponse<D>) => void = ok,
  malformed: [string, string][] = MALFORMED_UUID,
) => row({ name, scope: 'operator', foreign, unknown: uuid, call, expected: 'NOT_FOUND', malformed, own });
const versionRows: Row[] = [
  versionRow(
    'updateNotificationVersion',
    () => a.otherVersionId,
    (versionId, c) => gql(h.url, UpdateVersion, { notificationId: c.side.notificationId, versionId, input: { contents: [{ locale: 'en', title: 'edited' }] } }, c.headers),
  ),
  versionRow(
    'setMasterVersion',
    () => a.masterVersionId,
    (versionId, c) => gql(h.url, SetMaster, { notificationId: c.side.notificationId, versionId }, c.headers),
    (res) => expect(res.data?.setMasterVersion.master).toBe(true),
  ),
  versionRow('renderNotification(versionId)', () => a.masterVersionId, (versionId, c) => gql(h.url, Render, { id: c.side.notificationId, versionId }, c.headers)),
  versionRow('testNotification(versionId)', () => a.masterVersionId, (versionId, c) =>
    gql(h.url, TestNotification, { id: c.side.notificationId, versionId }, c.headers),
  ),
];

const operatorRows: Row[] = [
  // By key first: A's own PUT below (updateNotification, PUT semantics) drops the key.
  row({
    name: 'notification(key)',
    scope: 'operator',
    foreign: () => a.key,
    unknown: () => `iso-${randomBytes(4).toString('hex')}`,
    call: (key: string, c) => gql(h.url, Notification, { key }, c.headers),
    expected: 'NOT_FOUND',
    malformed: [['', 'NOT_FOUND']],
    own: ok,
  }),
  row({
    name: 'sendMessages(notificationId key)',
    scope: 'operator',
    foreign: () => a.key,
    unknown: () => `iso-${randomBytes(4).toString('hex')}`,
    call: (notificationId: string, c) => gql(h.url, Send, { messages: [{ notificationId, userId: 'sender-test' }] }, c.headers),
    outcome: (res) => ({ code: res.data?.sendMessages[0]?.error ?? firstError(res).code }),
    expected: 'notification/not-found',
    own: (res) => expect(res.data?.sendMessages[0]?.ok).toBe(true),
  }),
  ...notificationRows,
  ...versionRows,
  row({
    name: 'message',
    scope: 'operator',
    foreign: () => a.messageId,
    unknown: uuid,
    call: (id: string, c) => gql(h.url, Message, { id }, c.headers),
    expected: 'NOT_FOUND',
    malformed: MALFORMED_UUID,
    own: ok,
  }),
  row({
    name: 'cancelMessage',
    scope: 'operator',
    foreign: () => a.messageId,
    unknown: uuid,
    call: (id: string, c) => gql(h.url, CancelMessage, { id }, c.headers),
    expected: 'NOT_FOUND',
    malformed: MALFORMED_UUID,
    // Delivered already: found, and refused for its state.
    own: fails('CONFLICT'),
  }),
  row({
    name: 'retryMessage',
    scope: 'operator',
    foreign: () => a.messageId,
    unknown: uuid,
    call: (id: string, c) => gql(h.url, RetryMessage, { id }, c.headers),
    expected: 'NOT_FOUND',
    malformed: MALFORMED_UUID,
    own: fails('CONFLICT'),
  }),
  row({
    name: 'retryFailed(notificationId)',
    scope: 'operator',
    foreign: () => a.notificationId,
    unknown: () => UNKNOWN_INT,
    call: (notificationId: number, c) => gql(h.url, RetryFailed, { notificationId }, c.headers),
    expected: 'OK',
    malformed: [
      [-1, 'BAD_USER_INPUT'],
      // 0 used to mean "no filter": every dead letter of the project.
      [0, 'BAD_USER_INPUT'],
      [2_147_483_648, 'BAD_USER_INPUT'],
    ],
    own: ok,
  }),
  row({
    name: 'messages(filter.userId)',
    scope: 'operator',
    foreign: () => a.aliceId,
    unknown: uuid,
    call: (userId: string, c) => gql(h.url, Messages, { filter: { userId } }, c.headers),
    expected: 'OK',
    own: (res) => expect(res.data?.messages.totalCount).toBeGreaterThan(0),
  }),
  row({
    name: 'messages(filter.notificationId)',
    scope: 'operator',
    foreign: () => a.notificationId,
    unknown: () => UNKNOWN_INT,
    call: (notificationId: number, c) => gql(h.url, Messages, { filter: { notificationId } }, c.headers),
    expected: 'OK',
    own: (res) => expect(res.data?.messages.totalCount).toBeGreaterThan(0),
  }),
  row({
    name: 'user(id)',
    scope: 'operator',
    foreign: () => a.aliceId,
    unknown: uuid,
    call: (id: string, c) => gql(h.url, User, { id }, c.headers),
    expected: 'NOT_FOUND',
    malformed: [
      ['x', 'NOT_FOUND'],
      ['', 'BAD_USER_INPUT'],
    ],
    own: (res) => expect(res.data?.user.externalId).toBe('alice'),
  }),
  row({
    name: 'user(externalId)',
    scope: 'operator',
    foreign: () => 'carl',
    unknown: () => `nobody-${randomBytes(4).toString('hex')}`,
    call: (externalId: string, c) => gql(h.url, User, { externalId }, c.headers),
    expected: 'NOT_FOUND',
    own: ok,
  }),
  row({
    name: 'users(filter.externalIds)',
    scope: 'operator',
    foreign: () => 'carl',
    unknown: () => `nobody-${randomBytes(4).toString('hex')}`,
    call: (externalId: string, c) => gql(h.url, Users, { filter: { externalIds: [externalId] } }, c.headers),
    expected: 'OK',
    own: (res) => expect(res.data?.users.totalCount).toBe(1),
  }),
  row({
    name: 'renderNotification(contact.id)',
    scope: 'operator',
    foreign: () => a.aliceId,
    unknown: uuid,
    call: (id: string, c) => gql(h.url, Render, { id: c.side.notificationId, contact: { id } }, c.headers),
    expected: 'NOT_FOUND',
    own: (res) => expect(res.data?.renderNotification.contact?.externalId).toBe('alice'),
  }),
  row({
    name: 'testNotification(input.recipient)',
    scope: 'operator',
    foreign: () => a.aliceId,
    unknown: uuid,
    call: (value: string, c) => gql(h.url, TestNotification, { id: c.side.notificationId, input: { recipient: { value } } }, c.headers),
    expected: 'NOT_FOUND',
    own: (res) => expect(res.data?.testNotification.status).toBe('SENT_TO_PIPELINE'),
  }),
  row({
    name: 'executeNotification(recipient)',
    scope: 'operator',
    foreign: () => a.aliceId,
    unknown: uuid,
    call: (value: string, c) => gql(h.url, Execute, { id: c.side.notificationId, executions: [{ recipient: { value } }] }, c.headers),
    outcome: (res) => {
      const result = res.data?.executeNotification[0];
      return result?.error ? { code: result.error.code, message: result.error.message } : firstError(res);
    },
    expected: 'contact/not-found',
    malformed: [['', 'BAD_USER_INPUT']],
    own: (res) => expect(res.data?.executeNotification[0]?.type).toBe('success'),
  }),
  row({
    name: 'sendMessages(notificationId)',
    scope: 'operator',
    foreign: () => String(a.notificationId),
    unknown: () => String(UNKNOWN_INT),
    call: (notificationId: string, c) => gql(h.url, Send, { messages: [{ notificationId, userId: 'sender-test' }] }, c.headers),
    outcome: (res) => ({ code: res.data?.sendMessages[0]?.error ?? firstError(res).code }),
    expected: 'notification/not-found',
    own: (res) => expect(res.data?.sendMessages[0]?.ok).toBe(true),
  }),
  row({
    name: 'department',
    scope: 'operator',
    foreign: () => a.departmentId,
    unknown: uuid,
    call: (id: string, c) => gql(h.url, Department, { id }, c.headers),
    expected: 'NOT_FOUND',
    malformed: MALFORMED_UUID,
    own: ok,
  }),
  row({
    name: 'updateDepartment',
    scope: 'operator',
    foreign: () => a.departmentId,
    unknown: uuid,
    call: (id: string, c) => gql(h.url, UpdateDepartment, { id, name: 'renamed' }, c.headers),
    expected: 'NOT_FOUND',
    malformed: MALFORMED_UUID,
    own: ok,
  }),
  row({
    name: 'addDepartmentMembers(departmentId)',
    scope: 'operator',
    foreign: () => a.departmentId,
    unknown: uuid,
    call: (departmentId: string, c) => gql(h.url, AddMembers, { departmentId, userIds: [c.side.outsider] }, c.headers),
    expected: 'NOT_FOUND',
    malformed: MALFORMED_UUID,
    own: ok,
  }),
  row({
    name: 'addDepartmentMembers(userIds)',
    scope: 'operator',
    foreign: () => a.aliceId,
    unknown: uuid,
    call: (userId: string, c) => gql(h.url, AddMembers, { departmentId: c.side.departmentId, userIds: [userId] }, c.headers),
    expected: 'BAD_USER_INPUT',
    malformed: [['', 'BAD_USER_INPUT']],
    own: ok,
  }),
  row({
    name: 'notifyDepartmentUser(departmentId)',
    scope: 'operator',
    foreign: () => a.departmentId,
    unknown: uuid,
    call: (departmentId: string, c) => gql(h.url, Notify, { departmentId, userId: 'default', input: { messageAttributes: { body: 'note' } } }, c.headers),
    outcome: (res) => {
      const error = res.data?.notifyDepartmentUser.errors[0];
      return error ? { code: error.errorCode, message: error.errorDescription } : firstError(res);
    },
    expected: 'DEPARTMENT_NOT_FOUND',
    malformed: MALFORMED_UUID.map(([v]): [string, string] => [v, 'DEPARTMENT_NOT_FOUND']),
    own: (res) => expect(res.data?.notifyDepartmentUser.status).toBe('SUCCESS'),
  }),
  row({
    name: 'notifyDepartmentUser(userId)',
    scope: 'operator',
    foreign: () => a.aliceId,
    unknown: uuid,
    call: (userId: string, c) =>
      gql(h.url, Notify, { departmentId: c.side.departmentId, userId, input: { messageAttributes: { body: 'note' } } }, c.headers),
    outcome: (res) => {
      const error = res.data?.notifyDepartmentUser.errors[0];
      return error ? { code: error.errorCode, message: error.errorDescription } : firstError(res);
    },
    expected: 'USER_NOT_FOUND',
    malformed: [['', 'USER_NOT_FOUND']],
    own: (res) => expect(res.data?.notifyDepartmentUser.status).toBe('SUCCESS'),
  }),
  row({
    name: 'removeDepartmentMembers(departmentId)',
    scope: 'operator',
    foreign: () => a.departmentId,
    unknown: uuid,
    call: (departmentId: string, c) => gql(h.url, RemoveMembers, { departmentId, userIds: [c.side.outsider] }, c.headers),
    expected: 'NOT_FOUND',
    malformed: MALFORMED_UUID,
    own: ok,
  }),
  row({
    name: 'removeDepartmentMembers(userIds)',
    scope: 'operator',
    foreign: () => a.aliceId,
    unknown: uuid,
    call: (userId: string, c) => gql(h.url, RemoveMembers, { departmentId: c.side.departmentId, userIds: [userId] }, c.headers),
    expected: 'BAD_USER_INPUT',
    own: ok,
  }),
  row({
    name: 'registerPushSubscription(userId)',
    scope: 'operator',
    foreign: () => a.aliceId,
    unknown: uuid,
    call: (userId: string, c) => gql(h.url, RegisterPush, { userId, subscription: { endpoint: `https://push.example/send/${c.name.replace(/\W/g, '')}`, keys: browserKeys() } }, c.headers),
    expected: 'NOT_FOUND',
    malformed: [
      ['', 'BAD_USER_INPUT'],
      [' ', 'BAD_USER_INPUT'],
    ],
    own: ok,
  }),
  row({
    name: 'setUserPreferences(userId)',
    scope: 'operator',
    foreign: () => a.aliceId,
    unknown: uuid,
    call: (userId: string, c) => gql(h.url, SetPreferences, { userId, preferences: { channels: ['EMAIL'] } }, c.headers),
    expected: 'NOT_FOUND',
    malformed: [['', 'BAD_USER_INPUT']],
    own: (res) => expect(res.data?.setUserPreferences.channels).toEqual(['EMAIL']),
  }),
  row({
    name: 'neucronSendNotification(userIds)',
    scope: 'operator',
    foreign: () => a.aliceId,
    unknown: uuid,
    call: (userId: string, c) => gql(h.url, NeucronSend, { input: { userIds: [userId], body: 'hi' } }, c.headers),
    expected: 'BAD_USER_INPUT',
    malformed: [['', 'BAD_USER_INPUT']],
    own: ok,
  }),
  row({
    name: 'neucronSendNotification(notificationId)',
    scope: 'operator',
    foreign: () => String(a.notificationId),
    unknown: () => String(UNKNOWN_INT),
    call: (notificationId: string, c) => gql(h.url, NeucronSend, { input: { userIds: [c.side.outsider], notificationId } }, c.headers),
    expected: 'BAD_USER_INPUT',
    malformed: [['99999999999', 'BAD_USER_INPUT']],
    own: ok,
  }),
  row({
    name: 'neucronSendWhatsApp(userIds)',
    scope: 'operator',
    foreign: () => a.aliceId,
    unknown: uuid,
    call: (userId: string, c) => gql(h.url, NeucronWhatsApp, { input: { userIds: [userId], text: 'hi' } }, c.headers),
    expected: 'BAD_USER_INPUT',
    own: ok,
  }),
  row({
    name: 'deleteUserPushSubscription(endpoint)',
    scope: 'operator',
    foreign: () => a.endpoint,
    unknown: () => `https://push.example/send/${randomUUID()}`,
    call: (endpoint: string, c) => gql(h.url, DeletePush, { endpoint }, c.headers),
    // false for both: "this project has no subscription with that endpoint".
    expected: 'OK',
    own: (res) => expect(res.data?.deleteUserPushSubscription).toBe(true),
  }),
  // Destructive ones last, so that the own-principal controls above still find their rows.
  versionRow('deleteNotificationVersion', () => a.otherVersionId, (versionId, c) =>
    gql(h.url, DeleteVersion, { notificationId: c.side.notificationId, versionId }, c.headers),
  ),
  // A version id of A in B's own PUT body: the PUT is refused, its version deletions rolled back.
  // After deleteNotificationVersion: A's own PUT keeps only the master.
  versionRow(
    'updateNotification(input.versions.id)',
    () => a.masterVersionId,
    (versionId, c) =>
      gql(
        h.url,
        UpdateNotification,
        { id: c.side.notificationId, input: { type: 'in-app', name: 'put', versions: [{ id: versionId, contents: [{ locale: 'en', title: 'put' }] }] } },
        c.headers,
      ),
    ok,
    // The body's ids are validated as uuids before anything is looked up.
    [
      ['x', 'BAD_USER_INPUT'],
      ['', 'BAD_USER_INPUT'],
    ],
  ),
  row({
    name: 'deleteProvider',
    scope: 'operator',
    foreign: () => a.providerId,
    unknown: uuid,
    call: (id: string, c) => gql(h.url, DeleteProvider, { id }, c.headers),
    expected: 'NOT_FOUND',
    malformed: MALFORMED_UUID,
    own: ok,
  }),
  row({
    name: 'revokeApiKey',
    scope: 'operator',
    foreign: () => a.spareKeyId,
    unknown: () => `hk_${randomBytes(10).toString('hex')}`,
    call: (id: string, c) => gql(h.url, RevokeKey, { id }, c.headers),
    expected: 'NOT_FOUND',
    malformed: [['', 'NOT_FOUND']],
    own: (res) => expect(res.data?.revokeApiKey.active).toBe(false),
  }),
  row({
    name: 'deleteDepartment',
    scope: 'operator',
    foreign: () => a.departmentId,
    unknown: uuid,
    call: (id: string, c) => gql(h.url, DeleteDepartment, { id }, c.headers),
    expected: 'NOT_FOUND',
    malformed: MALFORMED_UUID,
    own: ok,
  }),
  row({
    name: 'deleteNotification',
    scope: 'operator',
    foreign: () => a.notificationId,
    unknown: () => UNKNOWN_INT,
    call: (id: number, c) => gql(h.url, DeleteNotification, { id }, c.headers),
    expected: 'NOT_FOUND',
    malformed: MALFORMED_INT,
    own: ok,
  }),
];

/** The inbox: alice's item, asked for by another user of A and by B's user with the same externalId. */
const inboxRow = <D>(name: string, call: (id: string, c: Caller) => Promise<GraphQLResponse<D>>, own: (res: GraphQLResponse<D>) => void = ok) =>
  row({ name, scope: 'endUser', foreign: () => a.itemId, unknown: uuid, call, expected: 'NOT_FOUND', malformed: MALFORMED_UUID, own });
const endUserRows: Row[] = [
  inboxRow('inboxItem', (id, c) => gql(h.url, InboxItem, { id }, c.headers)),
  inboxRow('markSeen', (id, c) => gql(h.url, MarkSeen, { ids: [id] }, c.headers)),
  inboxRow('markRead', (id, c) => gql(h.url, MarkRead, { ids: [id] }, c.headers)),
  inboxRow('markUnread', (id, c) => gql(h.url, MarkUnread, { ids: [id] }, c.headers)),
  inboxRow('archive', (id, c) => gql(h.url, Archive, { ids: [id] }, c.headers)),
  inboxRow('unarchive', (id, c) => gql(h.url, Unarchive, { ids: [id] }, c.headers)),
  inboxRow(
    'performAction',
    (id, c) => gql(h.url, PerformAction, { id, actionId: 'open' }, c.headers),
    (res) => expect(res.data?.performAction.action).toMatchObject({ id: 'open' }),
  ),
];

const rows = [...operatorRows, ...endUserRows];
const foreignCallers = (r: Row) => (r.scope === 'operator' ? [operatorB()] : [aliceB(), bobA()]);
const ownCaller = (r: Row) => (r.scope === 'operator' ? operatorA() : aliceA());
const wrongKindCaller = (r: Row) => (r.scope === 'operator' ? aliceA() : operatorA());

describe('another project\'s ids are unknown ids', () => {
  it.each(rows)('$name', async (r) => {
    const outcome = r.outcome ?? firstError;
    for (const caller of foreignCallers(r)) {
      const foreignId = r.foreign();
      const unknownId = r.unknown();
      const foreign = outcome(await r.call(foreignId, caller));
      const unknown = outcome(await r.call(unknownId, caller));
      expect(foreign.code, `${caller.name}: ${JSON.stringify(foreign)}`).toBe(r.expected);
      expect(withoutId(foreign, foreignId), caller.name).toEqual(withoutId(unknown, unknownId));
    }
  });
});

describe('malformed ids', () => {
  const cases = rows.flatMap((r) => (r.malformed ?? []).map(([value, code]) => ({ name: `${r.name} ← ${JSON.stringify(value)}`, r, value, code })));
  it.each(cases)('$name', async ({ r, value, code }) => {
    const res = await r.call(value, ownCaller(r));
    const got = (r.outcome ?? firstError)(res);
    expect(got.code, JSON.stringify(res)).toBe(code);
    expect(res.status).toBeLessThan(500);
    if (code === 'BAD_USER_INPUT') {
      const issues = res.errors?.[0]?.extensions?.issues as { field: string; message: string }[] | undefined;
      expect(issues?.length, JSON.stringify(res.errors)).toBeGreaterThan(0);
      for (const issue of issues!) expect(issue).toEqual({ field: expect.any(String), message: expect.any(String) });
    }
  });

  it('a cursor that is not one of the list is BAD_USER_INPUT, not a 500', async () => {
    const auth = operatorA().headers;
    for (const after of ['garbage', cursorOf('x'), cursorOf(12), Buffer.from('GPC:J:{"id":1}').toString('base64')]) {
      const res = await gql(h.url, Messages, { after }, auth);
      expect(res.errors?.[0]?.extensions, after).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ field: 'after' }] });
    }
    const users = await gql(h.url, Users, { before: cursorOf('x'), last: 2 }, auth);
    expect(users.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ field: 'before' }] });
    const notifications = await gql(h.url, Notifications, { after: cursorOf(2_147_483_648) }, auth);
    expect(notifications.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ field: 'after' }] });
    const negative = await gql(h.url, Users, { first: -1 }, auth);
    expect(negative.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ field: 'first' }] });
    const inbox = await gql(h.url, Inbox, { after: cursorOf('x') }, aliceA().headers);
    expect(inbox.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ field: 'after' }] });
  });

  it('an NP6 recipient object names exactly one of id, unicity and hash (an empty one was a 500)', async () => {
    for (const value of [{}, { id: '' }, { unicity: ' ' }, { id: 'alice', hash: 'x' }]) {
      const res = await gql(h.url, Execute, { id: a.notificationId, executions: [{ recipient: { value } }] }, operatorA().headers);
      expect(res.errors?.[0]?.extensions, JSON.stringify(value)).toMatchObject({
        code: 'BAD_USER_INPUT',
        issues: [{ field: 'executions.0.recipient.value', message: 'give exactly one of id, unicity and hash' }],
      });
    }
  });

  it('retryFailed refuses a channel it does not know instead of retrying every channel', async () => {
    const res = await gql(h.url, RetryFailed, { channel: 'email' }, operatorA().headers);
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ field: 'channel' }] });
  });
});

describe('cursors', () => {
  /** An id that exists nowhere and sorts right next to `id`. */
  const beside = (id: string) => `${id.slice(0, -1)}${id.endsWith('0') ? '1' : '0'}`;
  const idsOf = (res: GraphQLResponse<{ users: { edges: { node: { id: string } }[] } }>) => res.data?.users.edges.map((e) => e.node.id);

  it("page after and before another project's id as after and before an unknown one", async () => {
    const authA = operatorA().headers;
    const all = idsOf(await gql(h.url, Users, { first: 200 }, authA))!;
    const bella = (await prisma().user.findFirstOrThrow({ where: { projectId: B.projectId, externalId: 'bella' } })).id;
    const later = all.filter((id) => id > bella);
    const earlier = all.filter((id) => id < bella);
    expect(later.length && earlier.length).toBeTruthy();
    for (const cursor of [bella, beside(bella)]) {
      expect(idsOf(await gql(h.url, Users, { after: cursorOf(cursor), first: 200 }, authA)), cursor).toEqual(later);
      expect(idsOf(await gql(h.url, Users, { before: cursorOf(cursor), last: 200 }, authA)), cursor).toEqual(earlier);
    }
  });

  it("an end user's inbox pages after another user's item as after an unknown id", async () => {
    const page = async (cursor: string) => (await gql(h.url, Inbox, { after: cursorOf(cursor) }, bobA().headers)).data?.inbox.edges.map((e) => e.node.id);
    const bobs = (await prisma().inboxItem.findMany({ where: { projectId: A.projectId, user: { externalId: 'bob' } }, orderBy: { id: 'desc' } })).map((i) => i.id);
    // Newest first: after alice's item come bob's older one.
    const older = bobs.filter((id) => id < a.itemId);
    expect(older).toHaveLength(1);
    expect(await page(a.itemId)).toEqual(older);
    expect(await page(beside(a.itemId))).toEqual(older);
  });
});

describe('principals', () => {
  it('every root field is for operators or for end users, never both or neither', () => {
    const roots = [schema.getQueryType()!, schema.getMutationType()!, schema.getSubscriptionType()!];
    const unscoped = roots.flatMap((type) =>
      Object.values(type.getFields()).flatMap((field) => {
        const scopes = (field.extensions as { pothosOptions?: { authScopes?: Record<string, boolean> } }).pothosOptions?.authScopes ?? {};
        const kinds = Object.keys(scopes).filter((k) => scopes[k] === true);
        return kinds.length === 1 && (kinds[0] === 'operator' || kinds[0] === 'endUser') ? [] : [`${type.name}.${field.name}: ${JSON.stringify(scopes)}`];
      }),
    );
    expect(unscoped).toEqual([]);
  });

  it.each(rows)('$name refuses the other kind of principal with FORBIDDEN', async (r) => {
    // The caller's own id: only the kind of principal stops it.
    const res = await r.call(r.foreign(), wrongKindCaller(r));
    expect(res.errors?.[0]?.extensions?.code, JSON.stringify(res)).toBe('FORBIDDEN');
  });
});

describe('refusals write nothing', () => {
  // Runs after every refusal above (vitest runs a file's tests in order) and before the controls below.
  it('leaves both projects exactly as they were', async () => {
    expect(await snapshot()).toEqual(before);
  });
});

describe('subscriptions', () => {
  it("messageStatus and inbox streams carry nothing of another project's", async () => {
    const connect = (params: Record<string, unknown>) =>
      createClient({ url: `${h.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: params });
    const watch = <T>(client: ReturnType<typeof connect>, query: string, variables: Record<string, unknown> = {}) => {
      const seen: T[] = [];
      const errors: unknown[] = [];
      // A refusal at subscribe time comes as a result with errors, not as a graphql-ws error.
      client.subscribe(
        { query, variables },
        { next: (v) => (v.errors ? errors.push(...v.errors) : seen.push(v.data as T)), error: (e) => errors.push(e), complete: () => {} },
      );
      return { seen, errors };
    };
    const clients = {
      a: connect({ apiKey: A.apiKey }),
      b: connect({ apiKey: B.apiKey }),
      aliceA: connect({ projectId: A.projectId, userId: 'alice', userHash: userHash(A.widgetSecret, 'alice') }),
      aliceB: connect({ projectId: B.projectId, userId: 'alice', userHash: userHash(B.widgetSecret, 'alice') }),
    };
    try {
      type Status = { messageStatus: { messageId: string; status: string } };
      type Inbox = { inbox: { type: string; item: { id: string } | null } };
      const statusA = watch<Status>(clients.a, print(MessageStatus));
      const statusB = watch<Status>(clients.b, print(MessageStatus));
      const statusBForAlice = watch<Status>(clients.b, print(MessageStatus), { userId: a.aliceId });
      const malformed = watch(clients.b, print(MessageStatus), { messageId: 'not-a-uuid' });
      const inboxA = watch<Inbox>(clients.aliceA, print(InboxEvents));
      const inboxB = watch<Inbox>(clients.aliceB, print(InboxEvents));
      await new Promise((resolve) => setTimeout(resolve, 400));
      const sendTo = async (caller: Caller, key: string) => {
        const sent = await gql(h.url, Send, { messages: [{ notificationId: key, userId: 'alice' }] }, caller.headers);
        return sent.data!.sendMessages[0]!.messages[0]!.id;
      };
      const toA = await sendTo(operatorA(), 'iso-a');
      const toB = await sendTo(operatorB(), 'iso-b');
      const delivered = (w: { seen: Status[] }, id: string) => w.seen.some((e) => e.messageStatus.messageId === id && e.messageStatus.status === 'DELIVERED');
      // B's streams are live (they get B's own events), so what they did not get was not sent to them.
      await pollFor(() => delivered(statusA, toA) && delivered(statusB, toB), 10_000, 'both deliveries');
      await pollFor(() => inboxA.seen.some((e) => e.inbox.type === 'CREATED') && inboxB.seen.some((e) => e.inbox.type === 'CREATED'), 10_000, 'both inboxes');
      await pollFor(() => malformed.errors.length > 0, 5_000, 'the malformed subscription refused');
      // Let anything misrouted arrive before concluding it did not.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(new Set(statusB.seen.map((e) => e.messageStatus.messageId))).toEqual(new Set([toB]));
      expect(statusBForAlice.seen).toEqual([]);
      const itemOfB = await prisma().inboxItem.findUniqueOrThrow({ where: { messageId: toB } });
      expect(inboxB.seen.map((e) => e.inbox.item?.id)).toEqual([itemOfB.id]);
      expect(JSON.stringify(malformed.errors)).toContain('BAD_USER_INPUT');
    } finally {
      await Promise.all(Object.values(clients).map((c) => c.dispose()));
    }
  });
});

// These write: after the snapshot check.
describe('references by Herald id or externalId', () => {
  it('reach a user whose externalId looks like a uuid', async () => {
    const externalId = randomUUID();
    expect((await gql(h.url, Upsert, { users: [{ externalId }] }, operatorA().headers)).errors).toBeUndefined();
    const prefs = await gql(h.url, SetPreferences, { userId: externalId, preferences: { channels: ['SMS'] } }, operatorA().headers);
    expect(prefs.data?.setUserPreferences.channels).toEqual(['SMS']);
    const push = await gql(h.url, RegisterPush, { userId: externalId, subscription: { endpoint: `https://push.example/send/${externalId}`, keys: browserKeys() } }, operatorA().headers);
    expect(push.errors).toBeUndefined();
  });

  it('take an inbox id in upper case wherever inboxItem does', async () => {
    const upper = a.itemId.toUpperCase();
    expect((await gql(h.url, InboxItem, { id: upper }, aliceA().headers)).data?.inboxItem.id).toBe(a.itemId);
    expect((await gql(h.url, MarkSeen, { ids: [upper] }, aliceA().headers)).errors).toBeUndefined();
    expect((await gql(h.url, MarkSeen, { ids: [upper] }, bobA().headers)).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});

describe("the same calls with A's own principal", () => {
  it.each(rows)('$name', async (r) => {
    r.own(await r.call(r.foreign(), ownCaller(r)));
  });
});
