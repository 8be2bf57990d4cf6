import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { prisma } from '../src/db/client.ts';
import { tenantUserHash, userHash } from '../src/modules/projects/credentials.ts';
import type { NewProjectCredentials } from '../src/modules/projects/service.ts';
import { bearer, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor } from './helpers/http-server.ts';

let h: TestHerald;
let other: NewProjectCredentials;
const users: Record<string, string> = {};

/** A GraphQL call over HTTP: the parsed body and the status. */
async function q(query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = bearer(h.project.apiKey)) {
  const r = await rest(h.url, 'POST', '/graphql', { query, variables }, headers);
  return { status: r.status, data: r.body?.data, errors: r.body?.errors as { message: string; extensions?: { code?: string; issues?: { field: string }[] } }[] | undefined };
}
const code = (r: { errors?: { extensions?: { code?: string } }[] }) => r.errors?.[0]?.extensions?.code;

/** Widget credentials of an end user, scoped to a tenant or not, as headers and as connection params. */
function widget(externalId: string, tenant?: string, project = h.project) {
  const hash = tenant === undefined ? userHash(project.widgetSecret, externalId) : tenantUserHash(project.widgetSecret, tenant, externalId);
  return {
    headers: { 'x-herald-project': project.projectId, 'x-herald-user': externalId, 'x-herald-user-hash': hash, ...(tenant !== undefined ? { 'x-herald-tenant': tenant } : {}) },
    params: { projectId: project.projectId, userId: externalId, userHash: hash, ...(tenant !== undefined ? { tenant } : {}) },
  };
}

const SEND = `mutation($messages: [SendMessageInput!]!) { sendMessages(messages: $messages) { ok error messages { id status lastError content tenant { key } } } }`;
async function send(messages: Record<string, unknown>[]) {
  const r = await q(SEND, { messages });
  expect(r.errors).toBeUndefined();
  return r.data.sendMessages as { ok: boolean; error: string | null; messages: { id: string; status: string; lastError: string | null; content: Record<string, unknown>; tenant: { key: string } | null }[] }[];
}
/** Sends one in-app message and waits until its inbox item exists; answers the item id. */
async function deliver(userId: string, tenant: string | undefined, n: number): Promise<string> {
  const [r] = await send([{ notificationId: 'tn', userId, data: { n }, ...(tenant ? { tenant } : {}) }]);
  expect(r!.ok, r!.error ?? '').toBe(true);
  const messageId = r!.messages[0]!.id;
  const item = await pollFor(() => prisma().inboxItem.findUnique({ where: { messageId } }), 10_000, 'inbox item');
  return item.id;
}

interface Ev {
  cursor: string;
  type: string;
  unreadCount: number;
  item: { id: string; title: string | null } | null;
}
function subscriber(params: Record<string, unknown>, variables: Record<string, unknown> = {}) {
  const events: Ev[] = [];
  const errors: unknown[] = [];
  let closedWith: number | undefined;
  const client: Client = createClient({
    url: `${h.url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    connectionParams: params,
    on: { closed: (e) => (closedWith = (e as { code: number }).code) },
    onNonLazyError: () => {},
  });
  client.subscribe(
    { query: 'subscription($since: String, $tenant: String) { inbox(since: $since, tenant: $tenant) { cursor type unreadCount item { id title } } }', variables },
    { next: (v) => (v.errors ? errors.push(v.errors) : events.push((v.data as { inbox: Ev }).inbox)), error: (e) => errors.push(e), complete: () => {} },
  );
  return { events, errors, client, closed: () => closedWith };
}

beforeAll(async () => {
  h = await startTestHerald();
  other = await h.newProject('Other');
  const up = await q(`mutation($users: [UserInput!]!) { upsertUsers(users: $users, mode: OVERWRITE) { user { id externalId } } }`, {
    users: ['u1', 'u2', 'u3', 'u4'].map((externalId) => ({ externalId })),
  });
  for (const r of up.data.upsertUsers) users[r.user.externalId] = r.user.id;
  const created = await q(`mutation($input: NotificationInput!) { createNotification(input: $input) { id } }`, {
    input: { key: 'tn', type: 'in-app', name: 'Tenant note', versions: [{ contents: [{ locale: 'en', title: '{{ tenant.name }} #{{ n }}', body: 'key={{ tenant.key }} plan={{ tenant.data.plan }}' }] }] },
  });
  expect(created.errors).toBeUndefined();
  for (const [key, name, plan] of [['acme', 'Acme', 'gold'], ['globex', 'Globex', 'silver']] as const) {
    const t = await q(`mutation($key: String!, $name: String!, $data: JSONObject) { createTenant(key: $key, name: $name, data: $data) { id key } }`, { key, name, data: { plan } });
    expect(t.errors).toBeUndefined();
  }
  // The other project has a user with the same externalId and a tenant of its own.
  const o = await rest(h.url, 'POST', '/graphql', { query: 'mutation { upsertUsers(users: [{ externalId: "u1" }]) { user { id } } createTenant(key: "initech", name: "Initech") { id } }' }, bearer(other.apiKey));
  expect(o.body.errors).toBeUndefined();
  users.otherU1 = o.body.data.upsertUsers[0].user.id;
}, 60_000);
afterAll(async () => {
  await h?.stop();
});

describe('tenant CRUD', () => {
  it('creates, reads, pages, updates and deletes tenants; refuses duplicates and bad input', async () => {
    const dup = await q(`mutation { createTenant(key: "acme", name: "Again") { id } }`);
    expect(code(dup)).toBe('CONFLICT');
    for (const [key, name, data] of [
      ['a b', 'x', null],
      ['-x', 'x', null],
      ['k'.repeat(129), 'x', null],
      ['ok1', '  ', null],
      ['ok2', 'x', { blob: 'x'.repeat(17_000) }],
    ] as const) {
      const bad = await q(`mutation($key: String!, $name: String!, $data: JSONObject) { createTenant(key: $key, name: $name, data: $data) { id } }`, { key, name, data });
      expect(code(bad), `${key.slice(0, 10)} ${name}`).toBe('BAD_USER_INPUT');
    }
    expect(await prisma().tenant.count({ where: { projectId: h.project.projectId } })).toBe(2);

    const one = await q(`{ tenant(key: "acme") { key name data memberCount preferences { channels } } }`);
    expect(one.data.tenant).toEqual({ key: 'acme', name: 'Acme', data: { plan: 'gold' }, memberCount: 0, preferences: { channels: [] } });
    const page1 = await q(`{ tenants(first: 1) { totalCount edges { node { key } } pageInfo { hasNextPage endCursor } } }`);
    expect(page1.data.tenants.totalCount).toBe(2);
    expect(page1.data.tenants.edges.map((e: { node: { key: string } }) => e.node.key)).toEqual(['acme']);
    const page2 = await q(`query($after: String) { tenants(first: 5, after: $after) { edges { node { key } } pageInfo { hasNextPage } } }`, { after: page1.data.tenants.pageInfo.endCursor });
    expect(page2.data.tenants.edges.map((e: { node: { key: string } }) => e.node.key)).toEqual(['globex']);
    expect(page2.data.tenants.pageInfo.hasNextPage).toBe(false);

    const tmp = await q(`mutation { createTenant(key: "tmp", name: "Tmp") { key } }`);
    expect(tmp.errors).toBeUndefined();
    const upd = await q(`mutation { updateTenant(key: "tmp", input: { name: "Temporary", data: { a: 1 } }) { name data } }`);
    expect(upd.data.updateTenant).toEqual({ name: 'Temporary', data: { a: 1 } });
    const empty = await q(`mutation { updateTenant(key: "tmp", input: { name: "" }) { name } }`);
    expect(code(empty)).toBe('BAD_USER_INPUT');
    const del = await q(`mutation { deleteTenant(key: "tmp") }`);
    expect(del.errors).toBeUndefined();
    expect(code(await q(`{ tenant(key: "tmp") { key } }`))).toBe('NOT_FOUND');
    expect(code(await q(`mutation { deleteTenant(key: "tmp") }`))).toBe('NOT_FOUND');
    expect(code(await q(`mutation { updateTenant(key: "nope", input: { name: "x" }) { key } }`))).toBe('NOT_FOUND');
  });

  it("treats another project's tenants as unknown and keeps tenants operator-only", async () => {
    expect(code(await q(`{ tenant(key: "initech") { key } }`))).toBe('NOT_FOUND');
    expect(code(await q(`mutation { updateTenant(key: "initech", input: { name: "mine" }) { key } }`))).toBe('NOT_FOUND');
    expect(code(await q(`mutation { deleteTenant(key: "initech") }`))).toBe('NOT_FOUND');
    expect(code(await q(`mutation { addTenantMembers(key: "initech", userIds: ["u1"]) { changed } }`))).toBe('NOT_FOUND');
    const theirs = await rest(h.url, 'POST', '/graphql', { query: '{ tenants { totalCount edges { node { key } } } }' }, bearer(other.apiKey));
    expect(theirs.body.data.tenants).toEqual({ totalCount: 1, edges: [{ node: { key: 'initech' } }] });
    expect((await prisma().tenant.findFirstOrThrow({ where: { key: 'initech' } })).name).toBe('Initech');
    // A widget is no operator.
    expect(code(await q(`{ tenants { totalCount } }`, {}, widget('u1').headers))).toBe('FORBIDDEN');
    expect(code(await q(`mutation { createTenant(key: "w", name: "w") { id } }`, {}, widget('u1').headers))).toBe('FORBIDDEN');
    expect(code(await q(`{ viewer { tenants { key } } }`, {}, widget('u1').headers))).toBe('FORBIDDEN');
    expect((await q(`{ tenants { totalCount } }`, {}, {})).status).toBe(200);
    expect(code(await q(`{ tenants { totalCount } }`, {}, {}))).toBe('UNAUTHENTICATED');
  });
});

describe('membership', () => {
  const members = () => prisma().tenantMember.count({ where: { tenant: { key: 'acme', projectId: h.project.projectId } } });

  it('adds users by externalId or Herald id in bulk, idempotently, and lists them both ways', async () => {
    const add = await q(`mutation($ids: [String!]!) { addTenantMembers(key: "acme", userIds: $ids) { changed tenant { memberCount } } }`, { ids: ['u1', users.u2, 'u1'] });
    expect(add.errors).toBeUndefined();
    expect(add.data.addTenantMembers).toEqual({ changed: 2, tenant: { memberCount: 2 } });
    const again = await q(`mutation { addTenantMembers(key: "acme", userIds: ["u1", "u2"]) { changed } }`);
    expect(again.data.addTenantMembers.changed).toBe(0);
    const g = await q(`mutation { addTenantMembers(key: "globex", userIds: ["u1", "u3"]) { changed } }`);
    expect(g.data.addTenantMembers.changed).toBe(2);
    const list = await q(`{ tenant(key: "acme") { members(first: 10) { edges { node { externalId } } } } user(externalId: "u1") { tenants { key } } }`);
    expect(list.errors).toBeUndefined();
    expect(list.data.tenant.members.edges.map((e: { node: { externalId: string } }) => e.node.externalId).sort()).toEqual(['u1', 'u2']);
    expect(list.data.user.tenants.map((t: { key: string }) => t.key)).toEqual(['acme', 'globex']);
  });

  it('refuses unknown users, foreign users and oversize lists with nothing written', async () => {
    const before = await members();
    const unknown = await q(`mutation { addTenantMembers(key: "acme", userIds: ["u4", "ghost"]) { changed } }`);
    expect(code(unknown)).toBe('BAD_USER_INPUT');
    expect(unknown.errors?.[0]?.extensions?.issues?.map((i) => i.field)).toEqual(['userIds.1']);
    // The other project's user, by its Herald id: unknown here.
    const foreign = await q(`mutation($ids: [String!]!) { addTenantMembers(key: "acme", userIds: $ids) { changed } }`, { ids: ['u4', users.otherU1] });
    expect(code(foreign)).toBe('BAD_USER_INPUT');
    const big = await q(`mutation($ids: [String!]!) { addTenantMembers(key: "acme", userIds: $ids) { changed } }`, { ids: ['u4', ...Array.from({ length: 1_000 }, (_, i) => `x${i}`)] });
    expect(code(big)).toBe('BAD_USER_INPUT');
    expect(big.errors?.[0]?.message).toMatch(/at most 1000/);
    const none = await q(`mutation { addTenantMembers(key: "acme", userIds: []) { changed } }`);
    expect(code(none)).toBe('BAD_USER_INPUT');
    const blank = await q(`mutation { addTenantMembers(key: "acme", userIds: ["u4", " "]) { changed } }`);
    expect(code(blank)).toBe('BAD_USER_INPUT');
    expect(await members()).toBe(before);
    const removeUnknown = await q(`mutation { removeTenantMembers(key: "acme", userIds: ["u2", "ghost"]) { changed } }`);
    expect(code(removeUnknown)).toBe('BAD_USER_INPUT');
    expect(await members()).toBe(before);
  });

  it('adds a full batch of 1,000 users in one call and removes them again', async () => {
    const externalIds = Array.from({ length: 997 }, (_, i) => `bulk${i}`);
    // Seeded with one statement, then analyzed as autovacuum would (the fresh rows have no statistics yet).
    await prisma().$executeRaw`INSERT INTO "User" (id, "projectId", "externalId", "updatedAt") SELECT gen_random_uuid(), ${h.project.projectId}::uuid, 'bulk' || (i - 1), now() FROM generate_series(1, 997) i`;
    await prisma().$executeRawUnsafe('ANALYZE "User"');
    const all = [...externalIds, 'u1', 'u2', 'u4'];
    const add = await q(`mutation($ids: [String!]!) { addTenantMembers(key: "globex", userIds: $ids) { changed tenant { memberCount } } }`, { ids: all });
    expect(add.errors).toBeUndefined();
    // u1 was a member already.
    expect(add.data.addTenantMembers).toEqual({ changed: 999, tenant: { memberCount: 1_001 } });
    const removed = await q(`mutation($ids: [String!]!) { removeTenantMembers(key: "globex", userIds: $ids) { changed tenant { memberCount } } }`, { ids: [...externalIds, 'u4', 'u2'] });
    expect(removed.data.removeTenantMembers).toEqual({ changed: 999, tenant: { memberCount: 2 } });
  });
});

describe('sends for a tenant', () => {
  it('renders the tenant into templates and records it on the message and the inbox item', async () => {
    const [r] = await send([{ notificationId: 'tn', userId: 'u1', tenant: 'acme', data: { n: 1 } }]);
    expect(r).toMatchObject({ ok: true, messages: [{ tenant: { key: 'acme' }, content: { title: 'Acme #1', body: 'key=acme plan=gold' } }] });
    const item = await pollFor(() => prisma().inboxItem.findUnique({ where: { messageId: r!.messages[0]!.id } }), 10_000, 'item');
    const acme = await prisma().tenant.findFirstOrThrow({ where: { projectId: h.project.projectId, key: 'acme' } });
    expect(item.tenantId).toBe(acme.id);
    // Without a tenant, `tenant` is empty in templates.
    const [plain] = await send([{ notificationId: 'tn', userId: 'u1', data: { n: 2 } }]);
    expect(plain).toMatchObject({ ok: true, messages: [{ tenant: null, content: { title: ' #2', body: 'key= plan=' } }] });
  });

  it('refuses a tenant the user is not a member of, an unknown one and another project\'s, writing nothing', async () => {
    const before = await prisma().message.count();
    const users0 = await prisma().user.count({ where: { projectId: h.project.projectId } });
    const results = await send([
      { notificationId: 'tn', userId: 'u3', tenant: 'acme', id: 'nm-1' },
      { notificationId: 'tn', userId: 'u1', tenant: 'nope' },
      { notificationId: 'tn', userId: 'u1', tenant: 'initech' },
      { notificationId: 'tn', userId: 'brand-new', tenant: 'acme', userEmail: 'new@example.com' },
      { notificationId: 'tn', userId: 'u1', tenant: 'a b' },
      { notificationId: 'tn', userId: 'u1', tenant: '' },
      { notificationId: 'tn', userId: 'u2', tenant: 'acme', data: { n: 3 } },
    ]);
    expect(results.map((r) => r.error)).toEqual(['tenant/not-member', 'tenant/not-found', 'tenant/not-found', 'tenant/not-member', 'tenant/not-found', 'invalid/tenant: must be a tenant key', null]);
    expect(await prisma().message.count()).toBe(before + 1);
    // The refused new user was not created.
    expect(await prisma().user.count({ where: { projectId: h.project.projectId } })).toBe(users0);
    // The Notifuse body carries it too.
    const legacy = await rest(h.url, 'POST', '/messages.send', { messages: [{ notificationId: 'tn', userId: 'u1', tenant: 'globex' }, { notificationId: 'tn', userId: 'u2', tenant: 'globex' }, { notificationId: 'tn', userId: 'u2', tenant: 5 }] }, bearer(h.project.apiKey));
    expect(legacy.status).toBe(200);
    expect(legacy.body.results.map((r: { ok: boolean; error?: string }) => r.error ?? 'ok')).toEqual(['ok', 'tenant/not-member', 'invalid/tenant: must be a string']);
  });
});

describe('tenant default preferences', () => {
  it("mutes members by the tenant's defaults unless the user chose otherwise, and only on that tenant's sends", async () => {
    const set = await q(`mutation { setTenantPreferences(key: "acme", preferences: { notifications: { tn: ["IN_APP"] }, channels: ["EMAIL"] }) { notifications channels } }`);
    expect(set.data.setTenantPreferences).toEqual({ notifications: { tn: ['IN_APP'] }, channels: ['EMAIL'] });
    const bad = await q(`mutation { setTenantPreferences(key: "acme", preferences: { channels: ["PIGEON"] }) { channels } }`);
    expect(code(bad)).toBe('BAD_USER_INPUT');
    expect(code(await q(`mutation { setTenantPreferences(key: "initech", preferences: { channels: [] }) { channels } }`))).toBe('NOT_FOUND');
    expect((await q(`{ tenant(key: "acme") { preferences { notifications } } }`)).data.tenant.preferences.notifications).toEqual({ tn: ['IN_APP'] });

    // u2 chose to get "tn" in-app (an entry of their own, even empty, overrides the tenant's); u1 set only channels.
    const own = await q(`mutation($id: ID!) { setUserPreferences(userId: $id, preferences: { notifications: { tn: [] } }) { notifications } }`, { id: users.u2 });
    expect(own.errors).toBeUndefined();
    await q(`mutation { setUserPreferences(userId: "u1", preferences: { channels: [] }) { channels } }`);

    const results = await send([
      { notificationId: 'tn', userId: 'u1', tenant: 'acme', data: { n: 10 } },
      { notificationId: 'tn', userId: 'u2', tenant: 'acme', data: { n: 11 } },
      { notificationId: 'tn', userId: 'u1', data: { n: 12 } },
      { notificationId: 'tn', userId: 'u1', tenant: 'globex', data: { n: 13 } },
    ]);
    const ids = results.map((r) => r.messages[0]!.id);
    const final = await pollFor(async () => {
      const rows = await prisma().message.findMany({ where: { id: { in: ids } } });
      return rows.every((m) => ['DELIVERED', 'SKIPPED', 'FAILED'].includes(m.status)) ? rows : null;
    }, 15_000, 'outcomes');
    const byId = new Map(final.map((m) => [m.id, m]));
    expect(byId.get(ids[0]!)).toMatchObject({ status: 'SKIPPED', lastError: "muted by the tenant's default preferences (notification tn, channel IN_APP)" });
    expect(byId.get(ids[1]!)?.status).toBe('DELIVERED');
    expect(byId.get(ids[2]!)?.status).toBe('DELIVERED');
    expect(byId.get(ids[3]!)?.status).toBe('DELIVERED');

    // A channel muted by default; the user's own (empty) channel list overrides it.
    await q(`mutation { setTenantPreferences(key: "globex", preferences: { channels: ["IN_APP"] }) { channels } }`);
    await q(`mutation { setUserPreferences(userId: "u3", preferences: { categories: [] }) { categories } }`);
    const [u1g, u3g] = await send([
      { notificationId: 'tn', userId: 'u1', tenant: 'globex', data: { n: 14 } },
      { notificationId: 'tn', userId: 'u3', tenant: 'globex', data: { n: 15 } },
    ]);
    const outcome = (id: string) => pollFor(async () => {
      const m = await prisma().message.findUniqueOrThrow({ where: { id } });
      return m.status === 'DELIVERED' || m.status === 'SKIPPED' ? m : null;
    }, 15_000, 'outcome');
    expect((await outcome(u1g!.messages[0]!.id)).status).toBe('DELIVERED');
    expect(await outcome(u3g!.messages[0]!.id)).toMatchObject({ status: 'SKIPPED', lastError: "muted by the tenant's default preferences (channel IN_APP)" });
    // Reset for the isolation tests.
    await q(`mutation { a: setTenantPreferences(key: "acme", preferences: {}) { channels } g: setTenantPreferences(key: "globex", preferences: {}) { channels } }`);
  });
});

describe('tenant-scoped widgets', () => {
  let a1: string;
  let g1: string;
  let n1: string;

  beforeAll(async () => {
    // A fresh user in both tenants, with one item of each tenant and one without a tenant.
    await q(`mutation { upsertUsers(users: [{ externalId: "w1" }]) { ok } a: addTenantMembers(key: "acme", userIds: ["w1"]) { changed } g: addTenantMembers(key: "globex", userIds: ["w1"]) { changed } }`);
    a1 = await deliver('w1', 'acme', 1);
    g1 = await deliver('w1', 'globex', 2);
    n1 = await deliver('w1', undefined, 3);
  });

  it('binds the tenant into the hash: any other combination is refused', async () => {
    const ok = await q(`{ unreadCount }`, {}, widget('w1', 'acme').headers);
    expect(ok.data).toEqual({ unreadCount: 1 });
    const unscopedHash = { ...widget('w1').headers, 'x-herald-tenant': 'acme' };
    const otherTenantHash = { ...widget('w1', 'globex').headers, 'x-herald-tenant': 'acme' };
    const scopedWithoutTenant = { ...widget('w1', 'acme').headers } as Record<string, string>;
    delete scopedWithoutTenant['x-herald-tenant'];
    for (const headers of [unscopedHash, otherTenantHash, scopedWithoutTenant, widget('w1', 'nope').headers, widget('w1', 'initech').headers, { ...widget('w1', 'acme').headers, 'x-herald-tenant': '' }]) {
      const r = await q(`{ unreadCount }`, {}, headers);
      expect(r.status).toBe(401);
      expect(code(r)).toBe('UNAUTHENTICATED');
    }
    // The other project's tenant, with that project's own secret, is that project's widget: it sees nothing here.
    const theirs = await q(`{ unreadCount inbox { totalCount } }`, {}, widget('u1', 'initech', other).headers);
    expect(theirs.data).toEqual({ unreadCount: 0, inbox: { totalCount: 0 } });
  });

  it("over HTTP sees only its tenant's items, and cannot read or change another tenant's", async () => {
    const acme = widget('w1', 'acme').headers;
    const list = await q(`{ unreadCount inbox(first: 10) { totalCount edges { node { id } } } inboxPage { total unreadCount items { id } } }`, {}, acme);
    expect(list.data.inbox.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([a1]);
    expect(list.data.inbox.totalCount).toBe(1);
    expect(list.data.inboxPage).toEqual({ total: 1, unreadCount: 1, items: [{ id: a1 }] });
    expect(code(await q(`query($id: ID!) { inboxItem(id: $id) { id } }`, { id: g1 }, acme))).toBe('NOT_FOUND');
    expect(code(await q(`mutation($ids: [ID!]!) { markRead(ids: $ids) { unreadCount } }`, { ids: [a1, g1] }, acme))).toBe('NOT_FOUND');
    expect(code(await q(`mutation($ids: [ID!]!) { archive(ids: $ids) { unreadCount } }`, { ids: [n1] }, acme))).toBe('NOT_FOUND');
    const filtered = await q(`{ inbox(filter: { tenant: "globex" }) { totalCount } }`, {}, acme);
    expect(filtered.data.inbox.totalCount).toBe(0);
    // markAllRead reads its tenant's items only.
    expect((await q(`mutation { markAllRead }`, {}, acme)).data.markAllRead).toBe(0);
    const rows = await prisma().inboxItem.findMany({ where: { id: { in: [a1, g1, n1] } } });
    expect(Object.fromEntries(rows.map((r) => [r.id, r.readAt !== null]))).toEqual({ [a1]: true, [g1]: false, [n1]: false });
    await q(`mutation($ids: [ID!]!) { markUnread(ids: $ids) { unreadCount } }`, { ids: [a1] }, acme);

    // The unscoped widget sees all three, and filters by tenant.
    const all = await q(`{ unreadCount inbox { totalCount } g: inbox(filter: { tenant: "globex" }) { edges { node { id } } } x: inbox(filter: { tenant: "nope" }) { totalCount } }`, {}, widget('w1').headers);
    expect(all.data.unreadCount).toBe(3);
    expect(all.data.inbox.totalCount).toBe(3);
    expect(all.data.g.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([g1]);
    expect(all.data.x.totalCount).toBe(0);

    // The Notifuse widget API: `tenant` beside userHmac.
    const p = h.project.projectId;
    const scopedHmac = tenantUserHash(h.project.widgetSecret, 'acme', 'w1');
    const front = await rest(h.url, 'GET', `/front/messages.list?projectId=${p}&userId=w1&userHmac=${scopedHmac}&tenant=acme`);
    expect(front.status).toBe(200);
    expect(front.body.messages.map((m: { id: string }) => m.id)).toEqual([a1]);
    expect(front.body.unread).toBe(1);
    const noTenant = await rest(h.url, 'GET', `/front/messages.list?projectId=${p}&userId=w1&userHmac=${scopedHmac}`);
    expect(noTenant.status).toBe(401);
    const readOther = await rest(h.url, 'POST', '/front/messages.read', { projectId: p, userId: 'w1', userHmac: scopedHmac, tenant: 'acme', messageId: g1 });
    expect(readOther.status).toBe(404);
  });

  it('over websockets and SSE sends a scoped widget its tenant\'s events only, replayed and live', async () => {
    const cursor = (await q(`{ inboxCursor }`, {}, widget('w1').headers)).data.inboxCursor as string;
    const scoped = subscriber(widget('w1', 'acme').params, { since: '0' });
    const filtered = subscriber(widget('w1').params, { since: cursor, tenant: 'globex' });
    const everything = subscriber(widget('w1').params, { since: cursor });
    // Replay: the scoped widget gets a1's CREATED, its tenant's ALL_READ and a1's UNREAD, nothing of g1 or n1.
    await pollFor(() => scoped.events.some((e) => e.type === 'UNREAD'), 10_000, 'replay');
    // SSE, scoped, from the start.
    const sse = new AbortController();
    let sseText = '';
    const sseDone = (async () => {
      const response = await fetch(`${h.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...widget('w1', 'acme').headers },
        body: JSON.stringify({ query: 'subscription { inbox(since: "0") { cursor type unreadCount item { id } } }' }),
        signal: sse.signal,
      });
      const reader = response.body!.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        sseText += new TextDecoder().decode(value);
      }
    })().catch(() => {});

    // Live: one more of each tenant; a change of the other tenant's item; a mark-all-read of globex.
    const g2 = await deliver('w1', 'globex', 4);
    const a2 = await deliver('w1', 'acme', 5);
    await q(`mutation($ids: [ID!]!) { markRead(ids: $ids) { unreadCount } }`, { ids: [g1] }, widget('w1', 'globex').headers);
    await q(`mutation { markAllRead }`, {}, widget('w1', 'globex').headers);
    const a3 = await deliver('w1', 'acme', 6);
    await pollFor(() => scoped.events.some((e) => e.item?.id === a3), 10_000, 'a3 on the scoped socket');
    await pollFor(() => filtered.events.some((e) => e.type === 'ALL_READ'), 10_000, 'ALL_READ on the filtered socket');
    await pollFor(() => everything.events.some((e) => e.item?.id === a3), 10_000, 'a3 on the unscoped socket');
    await pollFor(() => sseText.includes(a3), 10_000, 'a3 over SSE');
    sse.abort();
    await sseDone;

    const acmeItems = new Set([a1, a2, a3]);
    expect(scoped.errors).toEqual([]);
    // Its own markAllRead of the HTTP test (an ALL_READ of its tenant) is there; globex's is not.
    expect(scoped.events.map((e) => e.type)).toEqual(['CREATED', 'ALL_READ', 'UNREAD', 'CREATED', 'CREATED']);
    expect(scoped.events.filter((e) => e.type !== 'ALL_READ').every((e) => e.item && acmeItems.has(e.item.id))).toBe(true);
    // The count a scoped widget is shown is its tenant's.
    expect(scoped.events.at(-1)!.unreadCount).toBe(3);
    for (const id of [g1, g2, n1]) expect(sseText).not.toContain(id);
    expect(sseText).toContain(a1);
    expect(sseText).toContain(a2);
    expect(filtered.events.map((e) => e.type)).toEqual(['CREATED', 'READ', 'ALL_READ']);
    expect(filtered.events.filter((e) => e.item).every((e) => e.item!.id === g1 || e.item!.id === g2)).toBe(true);
    expect(filtered.events.at(-1)!.unreadCount).toBe(0);
    // The unscoped widget got every event.
    expect(everything.events.map((e) => e.type)).toEqual(['CREATED', 'CREATED', 'READ', 'ALL_READ', 'CREATED']);
    await Promise.all([scoped.client.dispose(), filtered.client.dispose(), everything.client.dispose()]);
  });

  it("scopes a signed widget token by its tenant claim, as a tenant-bound hash does", async () => {
    const { SignJWT } = await import('jose');
    const token = (claims: Record<string, unknown>) =>
      new SignJWT({ projectId: h.project.projectId, ...claims })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('w1')
        .setExpirationTime('10m')
        .sign(new TextEncoder().encode(h.project.widgetSecret));
    // The token scoped to acme sees exactly what acme's tenant-bound hash sees: a1 (and what the tests above sent to acme), never g1.
    const VIEW = `{ unreadCount inbox(first: 50) { totalCount edges { node { id } } } }`;
    const byToken = await q(VIEW, {}, { 'x-herald-user-token': await token({ tenant: 'acme' }) });
    const byHash = await q(VIEW, {}, widget('w1', 'acme').headers);
    expect(byToken.data).toEqual(byHash.data);
    const ids = byToken.data.inbox.edges.map((e: { node: { id: string } }) => e.node.id);
    expect(ids).toContain(a1);
    expect(ids).not.toContain(g1);
    expect(ids).not.toContain(n1);
    expect(code(await q(`query($id: ID!) { inboxItem(id: $id) { id } }`, { id: g1 }, { 'x-herald-user-token': await token({ tenant: 'acme' }) }))).toBe('NOT_FOUND');
    // Unscoped: the whole inbox, as the unscoped hash. A tenant the project does not have, or a claim that is no key: refused.
    const all = await q(`{ inbox { totalCount } }`, {}, { 'x-herald-user-token': await token({}) });
    expect(all.data).toEqual((await q(`{ inbox { totalCount } }`, {}, widget('w1').headers)).data);
    expect(all.data.inbox.totalCount).toBeGreaterThan(byToken.data.inbox.totalCount);
    for (const tenant of ['nope', 'initech', '', 42]) {
      const r = await q(`{ unreadCount }`, {}, { 'x-herald-user-token': await token({ tenant }) });
      expect(r.status, String(tenant)).toBe(401);
      expect(code(r)).toBe('UNAUTHENTICATED');
    }
  });

  it('refuses a stream for another tenant, and ends scoped streams when their tenant is deleted', async () => {
    const wrong = subscriber(widget('w1', 'acme').params, { tenant: 'globex' });
    await pollFor(() => wrong.errors.length > 0, 5_000, 'error');
    expect(JSON.stringify(wrong.errors)).toContain('BAD_USER_INPUT');
    await wrong.client.dispose();
    const closedTenant = await q(`mutation { createTenant(key: "closing", name: "Closing") { id } addTenantMembers(key: "closing", userIds: ["w1"]) { changed } }`);
    expect(closedTenant.errors).toBeUndefined();
    const s = subscriber(widget('w1', 'closing').params);
    // Live: proven by an event of its tenant.
    const c1 = await deliver('w1', 'closing', 9);
    await pollFor(() => s.events.some((e) => e.item?.id === c1), 10_000, 'live');
    expect((await q(`mutation { deleteTenant(key: "closing") }`)).errors).toBeUndefined();
    await pollFor(() => s.closed(), 10_000, 'close');
    expect(s.closed()).toBe(4403);
    expect((await q(`{ unreadCount }`, {}, widget('w1', 'closing').headers)).status).toBe(401);
  });

  it('keeps stacking (incrementId) within a tenant', async () => {
    const [x] = await send([{ notificationId: 'tn', userId: 'w1', tenant: 'acme', incrementId: 'stack', data: { n: 7 } }]);
    await pollFor(() => prisma().inboxItem.findFirst({ where: { messageId: x!.messages[0]!.id } }), 10_000, 'first');
    const [y] = await send([{ notificationId: 'tn', userId: 'w1', tenant: 'globex', incrementId: 'stack', data: { n: 8 } }]);
    const second = await pollFor(async () => (await prisma().message.findUniqueOrThrow({ where: { id: y!.messages[0]!.id } })).status === 'DELIVERED', 10_000, 'second');
    expect(second).toBe(true);
    const items = await prisma().inboxItem.findMany({ where: { incrementId: 'stack' }, orderBy: { id: 'asc' } });
    expect(items.map((i) => [i.title, i.stackCount])).toEqual([['Acme #7', 1], ['Globex #8', 1]]);
  });
});
