import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { tenantUserHash, userHash } from '../src/modules/projects/credentials.ts';
import { graphql } from '../src/generated/gql/index.ts';
import { bearer, gql, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor } from './helpers/http-server.ts';

const DeleteItems = graphql(`
  mutation InboxDeleteItems($ids: [ID!]!) {
    deleteItems(ids: $ids) {
      deletedIds
      unreadCount
    }
  }
`);
const DeleteList = graphql(`
  query InboxDeleteList($filter: InboxFilter) {
    inbox(first: 50, filter: $filter) {
      edges {
        node {
          id
          title
        }
      }
    }
    unreadCount
  }
`);
const DeleteArchive = graphql(`
  mutation InboxDeleteArchive($ids: [ID!]!) {
    archive(ids: $ids) {
      unreadCount
    }
  }
`);

let h: TestHerald;

const widget = (externalId: string, tenant?: string) => ({
  'x-herald-project': h.project.projectId,
  'x-herald-user': externalId,
  'x-herald-user-hash': tenant === undefined ? userHash(h.project.widgetSecret, externalId) : tenantUserHash(h.project.widgetSecret, tenant, externalId),
  ...(tenant !== undefined ? { 'x-herald-tenant': tenant } : {}),
});

async function operator(query: string, variables: Record<string, unknown> = {}) {
  const res = await rest(h.url, 'POST', '/graphql', { query, variables }, bearer(h.project.apiKey));
  expect(res.body.errors).toBeUndefined();
  return res.body.data;
}

/** n in-app items to the user (optionally in a tenant), delivered: their ids, newest first. */
async function deliver(userId: string, n: number, tenant?: string): Promise<string[]> {
  const messages = Array.from({ length: n }, (_, i) => ({ notificationId: 'bell', userId, data: { n: i + 1 }, ...(tenant ? { tenant } : {}) }));
  const res = await rest(h.url, 'POST', '/messages.send', { messages }, bearer(h.project.apiKey));
  expect(res.body.results.every((r: { ok: boolean }) => r.ok)).toBe(true);
  const list = await pollFor(async () => {
    const r = await gql(h.url, DeleteList, {}, widget(userId, tenant));
    return r.data && r.data.inbox.edges.length >= n ? r.data : null;
  }, 10_000, `${n} items of ${userId}`);
  return list.inbox.edges.map((e) => e.node.id);
}

type Event = { cursor: string; type: string; unreadCount: number; itemId: string | null; item: { id: string } | null };
function subscribe(params: Record<string, unknown>, since?: string) {
  const events: Event[] = [];
  const client: Client = createClient({ url: `${h.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false, connectionParams: params, onNonLazyError: () => {} });
  client.subscribe(
    { query: 'subscription($since: String) { inbox(since: $since) { cursor type unreadCount itemId item { id } } }', variables: { since } },
    { next: (v) => events.push((v.data as { inbox: Event }).inbox), error: () => {}, complete: () => {} },
  );
  return { events, client };
}
const socketParams = (externalId: string, tenant?: string) => {
  const w = widget(externalId, tenant);
  return { projectId: w['x-herald-project'], userId: w['x-herald-user'], userHash: w['x-herald-user-hash'], ...(tenant !== undefined ? { tenant } : {}) };
};

beforeAll(async () => {
  h = await startTestHerald();
  await operator('mutation($input: NotificationInput!) { createNotification(input: $input) { id } }', {
    input: { key: 'bell', type: 'in-app', name: 'Bell', versions: [{ contents: [{ locale: 'en', title: 'Ping {{ n }}', body: 'b' }] }] },
  });
});
afterAll(async () => {
  await h?.stop();
});

describe('deleteItems', () => {
  it('deletes items for good: a DELETED event names each, with the unread count without them, live and on replay', async () => {
    const [c, b, a] = await deliver('del1', 3);
    const live = subscribe(socketParams('del1'), '0');
    await pollFor(() => live.events.length >= 3, 10_000, 'the replay of three CREATED');

    // One read item and one unread one deleted: the count drops by one only.
    await rest(h.url, 'POST', '/graphql', { query: 'mutation($ids: [ID!]!) { markRead(ids: $ids) { unreadCount } }', variables: { ids: [a] } }, widget('del1'));
    const res = await gql(h.url, DeleteItems, { ids: [a!.toUpperCase(), b!, b!] }, widget('del1'));
    expect(res.errors).toBeUndefined();
    expect([...res.data!.deleteItems.deletedIds].sort()).toEqual([a, b].sort());
    expect(res.data!.deleteItems.unreadCount).toBe(1);

    const deleted = await pollFor(() => {
      const found = live.events.filter((e) => e.type === 'DELETED');
      return found.length === 2 ? found : null;
    }, 10_000, 'two DELETED events');
    expect(deleted.map((e) => e.itemId).sort()).toEqual([a, b].sort());
    expect(deleted.every((e) => e.item === null)).toBe(true);
    expect(deleted.at(-1)!.unreadCount).toBe(1);
    const list = await gql(h.url, DeleteList, {}, widget('del1'));
    expect(list.data!.inbox.edges.map((e) => e.node.id)).toEqual([c]);
    expect(list.data!.unreadCount).toBe(1);

    // The stored counter and the events agree with the rows.
    const { prisma } = await import('../src/db/client.ts');
    const user = await prisma().user.findFirstOrThrow({ where: { projectId: h.project.projectId, externalId: 'del1' } });
    expect(await prisma().inboxItem.count({ where: { userId: user.id } })).toBe(1);
    expect((await prisma().inboxState.findUniqueOrThrow({ where: { userId: user.id } })).unreadCount).toBe(1);
    // The messages that delivered them keep their status.
    expect(await prisma().message.count({ where: { userId: user.id, status: 'DELIVERED' } })).toBe(3);

    // A widget that reconnects from before the deletion is replayed it, in order.
    const before = live.events[2]!.cursor;
    await live.client.dispose();
    const again = subscribe(socketParams('del1'), before);
    const replayed = await pollFor(() => (again.events.filter((e) => e.type === 'DELETED').length === 2 ? again.events : null), 10_000, 'the replayed deletions');
    expect(replayed.map((e) => e.type)).toEqual(['READ', 'DELETED', 'DELETED']);
    expect(replayed.map((e) => Number(e.cursor))).toEqual([1, 2, 3].map((i) => Number(before) + i));
    await again.client.dispose();
  });

  it('deletes archived items too', async () => {
    const [x] = await deliver('del2', 1);
    await gql(h.url, DeleteArchive, { ids: [x!] }, widget('del2'));
    const res = await gql(h.url, DeleteItems, { ids: [x!] }, widget('del2'));
    expect(res.data!.deleteItems).toEqual({ deletedIds: [x], unreadCount: 0 });
    expect((await gql(h.url, DeleteList, { filter: { archived: true } }, widget('del2'))).data!.inbox.edges).toEqual([]);
  });

  it("refuses another user's, an unknown or a malformed id: NOT_FOUND, and deletes none of the call's ids", async () => {
    const [mine] = await deliver('del3', 1);
    const [theirs] = await deliver('del4', 1);
    const watcher = subscribe(socketParams('del4'), '0');
    await pollFor(() => watcher.events.length >= 1, 10_000, "del4's CREATED");
    for (const ids of [[mine!, theirs!], [mine!, '01a00000-0000-7000-8000-000000000000'], [mine!, 'not-a-uuid'], [mine!, '']]) {
      const res = await gql(h.url, DeleteItems, { ids }, widget('del3'));
      expect(res.errors?.[0]?.extensions?.code, JSON.stringify(ids)).toBe('NOT_FOUND');
    }
    expect((await gql(h.url, DeleteList, {}, widget('del3'))).data!.inbox.edges.map((e) => e.node.id)).toEqual([mine]);
    expect((await gql(h.url, DeleteList, {}, widget('del4'))).data!.inbox.edges.map((e) => e.node.id)).toEqual([theirs]);
    // A user no operator has created yet has no items at all.
    expect((await gql(h.url, DeleteItems, { ids: [mine!] }, widget('nobody-yet'))).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    await new Promise((r) => setTimeout(r, 300));
    expect(watcher.events.map((e) => e.type)).toEqual(['CREATED']);
    await watcher.client.dispose();
  });

  it('validates the list and is for end users only', async () => {
    const none = await gql(h.url, DeleteItems, { ids: [] }, widget('del3'));
    expect(none.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const many = await gql(h.url, DeleteItems, { ids: Array.from({ length: 501 }, (_, i) => `01a00000-0000-7000-8000-${String(i).padStart(12, '0')}`) }, widget('del3'));
    expect(many.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const byOperator = await gql(h.url, DeleteItems, { ids: ['01a00000-0000-7000-8000-000000000000'] }, bearer(h.project.apiKey));
    expect(byOperator.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const wrongHash = await gql(h.url, DeleteItems, { ids: ['01a00000-0000-7000-8000-000000000000'] }, { ...widget('del3'), 'x-herald-user-hash': 'x'.repeat(64) });
    expect(wrongHash.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it("a tenant-scoped widget deletes its tenant's items only, and only its tenant's widgets hear of it", async () => {
    await operator('mutation { upsertUsers(users: [{ externalId: "del5" }]) { user { id } } a: createTenant(key: "acme", name: "Acme") { id } b: createTenant(key: "globex", name: "Globex") { id } }');
    await operator('mutation { a: addTenantMembers(key: "acme", userIds: ["del5"]) { changed } b: addTenantMembers(key: "globex", userIds: ["del5"]) { changed } }');
    const [acmeItem] = await deliver('del5', 1, 'acme');
    const [globexItem] = await deliver('del5', 1, 'globex');
    const globexWidget = subscribe(socketParams('del5', 'globex'), '0');
    await pollFor(() => globexWidget.events.length >= 1, 10_000, "globex's CREATED");

    expect((await gql(h.url, DeleteItems, { ids: [globexItem!] }, widget('del5', 'acme'))).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const res = await gql(h.url, DeleteItems, { ids: [acmeItem!] }, widget('del5', 'acme'));
    expect(res.data!.deleteItems).toEqual({ deletedIds: [acmeItem], unreadCount: 0 });
    // The whole inbox (an unscoped widget) still has the other tenant's item.
    expect((await gql(h.url, DeleteList, {}, widget('del5'))).data!.inbox.edges.map((e) => e.node.id)).toEqual([globexItem]);
    await new Promise((r) => setTimeout(r, 300));
    expect(globexWidget.events.map((e) => [e.type, e.itemId])).toEqual([['CREATED', globexItem]]);
    await globexWidget.client.dispose();
  });
});
