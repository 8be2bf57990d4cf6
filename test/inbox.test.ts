import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { userHash } from '../src/modules/projects/credentials.ts';
import { graphql } from '../src/generated/gql/index.ts';
import { bearer, gql, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor } from './helpers/http-server.ts';

const CreateNotification = graphql(`
  mutation InboxCreateNotification($input: NotificationInput!) {
    createNotification(input: $input) {
      id
    }
  }
`);
const InboxQuery = graphql(`
  query InboxList($first: Int, $after: String, $filter: InboxFilter) {
    inbox(first: $first, after: $after, filter: $filter) {
      totalCount
      edges {
        node {
          id
          title
          readAt
          stackCount
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
    unreadCount
  }
`);
const MarkRead = graphql(`
  mutation InboxMarkRead($ids: [ID!]!) {
    markRead(ids: $ids) {
      unreadCount
      items {
        id
        readAt
      }
    }
  }
`);
const MarkUnread = graphql(`
  mutation InboxMarkUnread($ids: [ID!]!) {
    markUnread(ids: $ids) {
      unreadCount
    }
  }
`);
const Archive = graphql(`
  mutation InboxArchive($ids: [ID!]!) {
    archive(ids: $ids) {
      unreadCount
    }
  }
`);
const MarkAllRead = graphql(`
  mutation InboxMarkAllRead {
    markAllRead
  }
`);
const Cursor = graphql(`
  query InboxCursor {
    inboxCursor
  }
`);
const Project = graphql(`
  query InboxProject {
    project {
      id
    }
  }
`);

let h: TestHerald;
let widgetSecret: string;

const widget = (externalId: string, secret = widgetSecret, projectId = h.project.projectId) => ({
  'x-herald-project': projectId,
  'x-herald-user': externalId,
  'x-herald-user-hash': userHash(secret, externalId),
});

async function send(userId: string, extra: Record<string, unknown> = {}) {
  const res = await rest(h.url, 'POST', '/messages.send', { messages: [{ notificationId: 'bell', userId, data: { n: 1 }, ...extra }] }, bearer(h.project.apiKey));
  expect(res.body.results[0].ok).toBe(true);
}

function subscribe(params: Record<string, unknown>, since?: string) {
  const events: { cursor: string; type: string; unreadCount: number; item: { id: string; title: string; stackCount: number } | null }[] = [];
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
    { query: 'subscription($since: String) { inbox(since: $since) { cursor type unreadCount item { id title stackCount } } }', variables: { since } },
    { next: (v) => events.push((v.data as { inbox: (typeof events)[number] }).inbox), error: () => {}, complete: () => {} },
  );
  return { events, client, closed: () => closedWith };
}

beforeAll(async () => {
  h = await startTestHerald();
  const { prisma } = await import('../src/db/client.ts');
  widgetSecret = (await prisma().project.findUniqueOrThrow({ where: { id: h.project.projectId } })).widgetSecret;
  expect(widgetSecret).toBe(h.project.widgetSecret);
  const res = await gql(
    h.url,
    CreateNotification,
    { input: { key: 'bell', type: 'in-app', name: 'Bell', versions: [{ contents: [{ locale: 'en', title: 'Ping {{ n }}', body: 'b' }] }] } },
    bearer(h.project.apiKey),
  );
  expect(res.errors).toBeUndefined();
});
afterAll(async () => {
  await h?.stop();
});

describe('widget auth', () => {
  it("accepts the user's own hash and refuses a wrong one or another user's", async () => {
    const ok = await gql(h.url, InboxQuery, {}, widget('alice'));
    expect(ok.errors).toBeUndefined();
    expect(ok.data?.unreadCount).toBe(0);
    const wrong = await gql(h.url, InboxQuery, {}, { ...widget('alice'), 'x-herald-user-hash': '00'.repeat(32) });
    expect(wrong.status).toBe(401);
    const stolen = await gql(h.url, InboxQuery, {}, { ...widget('bob'), 'x-herald-user': 'alice' });
    expect(stolen.status).toBe(401);
    // A widget cannot call operator fields...
    const operator = await gql(h.url, Project, {}, widget('alice'));
    expect(operator.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    // ...and an API key has no inbox of its own.
    const keyInbox = await gql(h.url, InboxQuery, {}, bearer(h.project.apiKey));
    expect(keyInbox.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('creates no user for a widget of an unknown externalId: an empty inbox, no write, then the first send arrives live', async () => {
    const { prisma } = await import('../src/db/client.ts');
    const rows = () => prisma().user.count({ where: { projectId: h.project.projectId, externalId: 'newcomer' } });
    const read = await gql(h.url, InboxQuery, {}, widget('newcomer'));
    expect(read.errors).toBeUndefined();
    expect(read.data?.unreadCount).toBe(0);
    const more = await rest(h.url, 'POST', '/graphql', { query: '{ inboxCursor inbox(first: 5) { totalCount edges { node { id } } } inboxPage { total } }' }, widget('newcomer'));
    expect(more.body).toEqual({ data: { inboxCursor: '0', inbox: { totalCount: 0, edges: [] }, inboxPage: { total: 0 } } });
    const allRead = await rest(h.url, 'POST', '/graphql', { query: 'mutation { markAllRead }' }, widget('newcomer'));
    expect(allRead.body).toEqual({ data: { markAllRead: 0 } });
    const mark = await rest(h.url, 'POST', '/graphql', { query: 'mutation { markRead(ids: ["01a00000-0000-7000-8000-000000000000"]) { unreadCount } }' }, widget('newcomer'));
    expect(mark.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const viewer = await rest(h.url, 'POST', '/graphql', { query: '{ viewer { id } }' }, widget('newcomer'));
    expect(viewer.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const s = subscribe({ projectId: h.project.projectId, userId: 'newcomer', userHash: userHash(widgetSecret, 'newcomer') });
    await new Promise((r) => setTimeout(r, 500));
    expect(await rows()).toBe(0);
    // The operator's first send creates the user; the widget opened before it sees it live.
    await send('newcomer');
    const created = await pollFor(() => s.events.find((e) => e.type === 'CREATED'), 10_000, 'CREATED');
    expect(created).toMatchObject({ cursor: '1', unreadCount: 1, item: { title: 'Ping 1' } });
    expect(await rows()).toBe(1);
    await s.client.dispose();
  });

  it('closes a websocket with a wrong hash with 4403', async () => {
    const s = subscribe({ projectId: h.project.projectId, userId: 'alice', userHash: userHash(widgetSecret, 'bob') });
    await pollFor(() => s.closed(), 5_000, 'close');
    expect(s.closed()).toBe(4403);
  });
});

describe('inbox', () => {
  it('delivers a send live with the unread count, marks read, and isolates users', async () => {
    const alice = subscribe({ projectId: h.project.projectId, userId: 'carol', userHash: userHash(widgetSecret, 'carol') });
    const bob = subscribe({ projectId: h.project.projectId, userId: 'dave', userHash: userHash(widgetSecret, 'dave') });
    await new Promise((r) => setTimeout(r, 300));
    await send('carol');
    const created = await pollFor(() => alice.events.find((e) => e.type === 'CREATED'), 10_000, 'CREATED');
    expect(created).toMatchObject({ unreadCount: 1, item: { title: 'Ping 1' } });
    const read = await gql(h.url, MarkRead, { ids: [created.item!.id] }, widget('carol'));
    expect(read.data?.markRead.unreadCount).toBe(0);
    await pollFor(() => alice.events.find((e) => e.type === 'READ'), 5_000, 'READ');
    // Dave cannot touch Carol's item, and saw nothing of it.
    const foreign = await gql(h.url, MarkRead, { ids: [created.item!.id] }, widget('dave'));
    expect(foreign.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(bob.events).toEqual([]);
    await alice.client.dispose();
    await bob.client.dispose();
  });

  it('replays what happened while disconnected, once and in order, then goes live', async () => {
    const first = subscribe({ projectId: h.project.projectId, userId: 'erin', userHash: userHash(widgetSecret, 'erin') });
    await new Promise((r) => setTimeout(r, 300));
    await send('erin');
    const seen = await pollFor(() => first.events[0], 10_000, 'first event');
    await first.client.dispose();
    for (let i = 0; i < 3; i++) await send('erin');
    await pollFor(async () => (await gql(h.url, InboxQuery, {}, widget('erin'))).data?.unreadCount === 4, 10_000, '4 items');
    const again = subscribe({ projectId: h.project.projectId, userId: 'erin', userHash: userHash(widgetSecret, 'erin') }, seen.cursor);
    await pollFor(() => again.events.length >= 3, 10_000, 'replay');
    await send('erin');
    await pollFor(() => again.events.length >= 4, 10_000, 'live after replay');
    await new Promise((r) => setTimeout(r, 400));
    const cursors = again.events.map((e) => Number(e.cursor));
    expect(cursors).toEqual([Number(seen.cursor) + 1, Number(seen.cursor) + 2, Number(seen.cursor) + 3, Number(seen.cursor) + 4]);
    expect(again.events.map((e) => e.unreadCount)).toEqual([2, 3, 4, 5]);
    await again.client.dispose();
  });

  it('names the cursor to start from: a subscription from it gets what was sent after the read, none before', async () => {
    expect((await gql(h.url, Cursor, {}, widget('fay'))).data?.inboxCursor).toBe('0');
    await send('fay');
    await pollFor(async () => (await gql(h.url, InboxQuery, {}, widget('fay'))).data?.unreadCount === 1, 10_000, 'the first item');
    const cursor = (await gql(h.url, Cursor, {}, widget('fay'))).data!.inboxCursor;
    expect(cursor).toBe('1');
    // Sent after the cursor was read but before the subscription starts: replayed, not lost.
    await send('fay');
    await pollFor(async () => (await gql(h.url, InboxQuery, {}, widget('fay'))).data?.unreadCount === 2, 10_000, 'the second item');
    const late = subscribe({ projectId: h.project.projectId, userId: 'fay', userHash: userHash(widgetSecret, 'fay') }, cursor);
    await pollFor(() => late.events.length >= 1, 10_000, 'the replay');
    await new Promise((r) => setTimeout(r, 300));
    expect(late.events.map((e) => [e.cursor, e.type, e.unreadCount])).toEqual([['2', 'CREATED', 2]]);
    await late.client.dispose();
    const operator = await gql(h.url, Cursor, {}, bearer(h.project.apiKey));
    expect(operator.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('keeps the unread count exact under concurrent marks from several tabs', async () => {
    for (let i = 0; i < 10; i++) await send('frank');
    const list = await pollFor(async () => {
      const res = await gql(h.url, InboxQuery, { first: 50 }, widget('frank'));
      return res.data?.inbox.edges.length === 10 ? res.data : null;
    }, 10_000, '10 items');
    const ids = list.inbox.edges.map((e) => e.node.id);
    const ops = ids.flatMap((id, i) => [
      gql(h.url, MarkRead, { ids: [id] }, widget('frank')),
      i % 2 ? gql(h.url, MarkUnread, { ids: [id] }, widget('frank')) : gql(h.url, MarkRead, { ids: [id] }, widget('frank')),
      gql(h.url, MarkRead, { ids: [id, ids[(i + 1) % ids.length]!] }, widget('frank')),
    ]);
    const results = await Promise.all(ops);
    expect(results.filter((r) => r.errors)).toEqual([]);
    const { prisma } = await import('../src/db/client.ts');
    const user = await prisma().user.findFirstOrThrow({ where: { projectId: h.project.projectId, externalId: 'frank' } });
    const actual = await prisma().inboxItem.count({ where: { userId: user.id, readAt: null, archivedAt: null } });
    const state = await prisma().inboxState.findUniqueOrThrow({ where: { userId: user.id } });
    const lastEvent = await prisma().inboxEvent.findFirstOrThrow({ where: { userId: user.id }, orderBy: { cursor: 'desc' } });
    expect(state.unreadCount).toBe(actual);
    expect(lastEvent.unreadCount).toBe(actual);
    expect((await gql(h.url, InboxQuery, {}, widget('frank'))).data?.unreadCount).toBe(actual);
    const events = await prisma().inboxEvent.findMany({ where: { userId: user.id }, orderBy: { cursor: 'asc' } });
    expect(events.map((e) => Number(e.cursor))).toEqual(events.map((_, i) => i + 1));
    expect(await gql(h.url, MarkAllRead, {}, widget('frank')).then((r) => r.data?.markAllRead)).toBe(0);
    expect((await gql(h.url, Archive, { ids: [ids[0]!] }, widget('frank'))).data?.archive.unreadCount).toBe(0);
    expect((await gql(h.url, InboxQuery, {}, widget('frank'))).data?.inbox.totalCount).toBe(9);
  });

  it('stacks a repeated incrementId live as an UPDATED event', async () => {
    const s = subscribe({ projectId: h.project.projectId, userId: 'gina', userHash: userHash(widgetSecret, 'gina') });
    await new Promise((r) => setTimeout(r, 300));
    await send('gina', { incrementId: 'likes', data: { n: 1 } });
    await pollFor(() => s.events.find((e) => e.type === 'CREATED'), 10_000, 'CREATED');
    await send('gina', { incrementId: 'likes', data: { n: 2 } });
    const updated = await pollFor(() => s.events.find((e) => e.type === 'UPDATED'), 10_000, 'UPDATED');
    expect(updated.item).toMatchObject({ title: 'Ping 2', stackCount: 2 });
    expect(updated.unreadCount).toBe(1);
    await s.client.dispose();
  });

  it("keeps projects apart: another project's widget secret does not open this project's inbox", async () => {
    const other = await h.newProject();
    const res = await gql(h.url, InboxQuery, {}, widget('carol', other.widgetSecret));
    expect(res.status).toBe(401);
    const theirs = await gql(h.url, InboxQuery, {}, widget('carol', other.widgetSecret, other.projectId));
    expect(theirs.data?.inbox.totalCount).toBe(0);
  });
});

const SetPrefs = graphql(`
  mutation InboxSetUserPreferences($userId: ID!, $preferences: PreferencesInput!) {
    setUserPreferences(userId: $userId, preferences: $preferences) {
      channels
    }
  }
`);

describe("Notifuse's widget API (/front)", () => {
  const creds = (externalId: string) => ({ projectId: h.project.projectId, userId: externalId, userHmac: userHash(widgetSecret, externalId) });
  const qs = (params: Record<string, string | number>) => new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)])).toString();

  it('lists, reads and reads all through the same inbox, with the userHmac check', async () => {
    for (let i = 0; i < 3; i++) await send('hank');
    await pollFor(async () => (await rest(h.url, 'GET', `/front/messages.list?${qs(creds('hank'))}`)).body?.total === 3, 10_000, '3 messages');
    const list = await rest(h.url, 'GET', `/front/messages.list?${qs({ ...creds('hank'), skip: 1, limit: 1 })}`);
    expect(list.status).toBe(200);
    expect(list.body).toMatchObject({ unread: 3, total: 3 });
    expect(list.body.messages).toHaveLength(1);
    expect(list.body.messages[0]).toMatchObject({ title: 'Ping 1', read: false, userId: 'hank' });
    const read = await rest(h.url, 'POST', '/front/messages.read', { ...creds('hank'), messageId: list.body.messages[0].id });
    expect(read.body).toEqual({ ok: true, unread: 2 });
    const all = await rest(h.url, 'POST', '/front/messages.readAll', creds('hank'));
    expect(all.body).toEqual({ ok: true, unread: 0 });
    const bad = await rest(h.url, 'GET', `/front/messages.list?${qs({ ...creds('hank'), userHmac: userHash(widgetSecret, 'ivan') })}`);
    expect(bad.status).toBe(401);
    expect(bad.body).toMatchObject({ error: 'unauthorized' });
  });

  it('saves mute preferences with users.setProfile, shows them in users.get, and the pipeline honours them', async () => {
    // End users are created by operators: the widget of a user not created yet writes nothing.
    const early = await rest(h.url, 'POST', '/front/users.setProfile', { ...creds('jill'), user: { preferences: {} } });
    expect(early.status).toBe(404);
    expect(early.body).toMatchObject({ error: 'not_found' });
    const upserted = await rest(h.url, 'POST', '/users.upsert', { users: [{ id: 'jill' }] }, bearer(h.project.apiKey));
    expect(upserted.status).toBe(200);
    const saved = await rest(h.url, 'POST', '/front/users.setProfile', { ...creds('jill'), user: { preferences: { bell: { notificationId: 'bell', muteWidget: true, muteEmail: false, muteSMS: false } } } });
    expect(saved.status).toBe(200);
    const got = await rest(h.url, 'GET', `/front/users.get?${qs(creds('jill'))}`);
    expect(got.body.user.preferences.bell).toEqual({ notificationId: 'bell', muteWidget: true, muteEmail: false, muteSMS: false });
    expect(got.body.notifications.find((n: { id: string }) => n.id === 'bell')).toMatchObject({ withWidget: true, withEmail: false });
    await send('jill');
    const { prisma } = await import('../src/db/client.ts');
    const user = await prisma().user.findFirstOrThrow({ where: { projectId: h.project.projectId, externalId: 'jill' } });
    const skipped = await pollFor(async () => {
      const m = await prisma().message.findFirst({ where: { userId: user.id } });
      return m?.status === 'SKIPPED' ? m : null;
    }, 10_000, 'SKIPPED');
    expect(skipped.lastError).toMatch(/muted by the user's preferences/);
    expect(await prisma().inboxItem.count({ where: { userId: user.id } })).toBe(0);
    // Operators can set preferences too; a channel-wide mute works the same way.
    const res = await gql(h.url, SetPrefs, { userId: 'jill', preferences: { channels: ['IN_APP'] } }, bearer(h.project.apiKey));
    expect(res.data?.setUserPreferences.channels).toEqual(['IN_APP']);
    const invalid = await gql(h.url, SetPrefs, { userId: 'jill', preferences: { channels: ['FAX'] } }, bearer(h.project.apiKey));
    expect(invalid.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
