import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgPool, prisma } from '../src/db/client.ts';
import type { NewProjectCredentials } from '../src/modules/projects/service.ts';
import { bearer, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';

// Topics: CRUD, bulk subscription limits (10,000 per call, one statement, all or nothing),
// idempotency, pagination and project isolation, over HTTP against a real Herald.

let h: TestHerald;
let other: NewProjectCredentials;

beforeAll(async () => {
  h = await startTestHerald();
  other = await h.newProject('Other');
});
afterAll(async () => {
  await h?.stop();
});

async function call(query: string, variables: Record<string, unknown> = {}, apiKey = h.project.apiKey) {
  const res = await rest(h.url, 'POST', '/graphql', { query, variables }, bearer(apiKey));
  return res.body as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };
}
const codeOf = (r: { errors?: { extensions?: { code?: string } }[] }) => r.errors?.[0]?.extensions?.code;

/** Users u0..u(n-1) (externalIds `${prefix}${i}`) of a project, in one statement. */
async function seedUsers(projectId: string, prefix: string, n: number) {
  await prisma().$executeRawUnsafe(
    `INSERT INTO "User" (id, "projectId", "externalId", "updatedAt")
     SELECT gen_random_uuid(), $1::uuid, $2 || g, now() FROM generate_series(0, $3::int - 1) g`,
    projectId,
    prefix,
    n,
  );
  return Array.from({ length: n }, (_, i) => `${prefix}${i}`);
}

const ADD = 'mutation($key: String!, $ids: [String!]!) { addTopicSubscribers(key: $key, userIds: $ids) { count topic { key subscriberCount } } }';
const REMOVE = 'mutation($key: String!, $ids: [String!]!) { removeTopicSubscribers(key: $key, userIds: $ids) { count topic { subscriberCount } } }';
const COUNT = 'query($key: String!) { topic(key: $key) { subscriberCount } }';

describe('topics', () => {
  it('creates, lists, reads and deletes topics; keys are unique per project and checked', async () => {
    const created = await call('mutation { createTopic(key: "project-42", name: "Project 42 followers") { id key name subscriberCount } }');
    expect(created.errors).toBeUndefined();
    expect(created.data.createTopic).toMatchObject({ key: 'project-42', name: 'Project 42 followers', subscriberCount: 0 });
    // The name defaults to the key.
    const news = (await call('mutation { createTopic(key: "news") { id name } }')).data.createTopic;
    expect(news.name).toBe('news');
    expect(codeOf(await call('mutation { createTopic(key: "news") { id } }'))).toBe('CONFLICT');
    for (const key of ['', 'has space', 'x'.repeat(129), 'é']) {
      expect(codeOf(await call('mutation($key: String!) { createTopic(key: $key) { id } }', { key })), key).toBe('BAD_USER_INPUT');
    }
    expect(codeOf(await call('mutation { createTopic(key: "n", name: "") { id } }'))).toBe('BAD_USER_INPUT');

    const list = await call('{ topics(first: 10) { totalCount edges { node { key } } } }');
    expect(list.data.topics.edges.map((e: any) => e.node.key)).toEqual(['project-42', 'news']);
    expect(list.data.topics.totalCount).toBe(2);
    expect(codeOf(await call('{ topics(after: "nope") { totalCount } }'))).toBe('BAD_USER_INPUT');

    // Another project sees none of them, and may use the same key.
    expect(codeOf(await call('{ topic(key: "news") { id } }', {}, other.apiKey))).toBe('NOT_FOUND');
    expect((await call('{ topics { totalCount } }', {}, other.apiKey)).data.topics.totalCount).toBe(0);
    expect(codeOf(await call('mutation { deleteTopic(key: "news") }', {}, other.apiKey))).toBe('NOT_FOUND');
    expect((await call('mutation { createTopic(key: "news") { key } }', {}, other.apiKey)).errors).toBeUndefined();

    const deleted = await call('mutation { deleteTopic(key: "news") }');
    expect(deleted.data.deleteTopic).toBe(news.id);
    expect(codeOf(await call('{ topic(key: "news") { id } }'))).toBe('NOT_FOUND');
    expect(codeOf(await call('mutation { deleteTopic(key: "news") }'))).toBe('NOT_FOUND');
    // The other project's topic of the same key is untouched.
    expect((await call('{ topic(key: "news") { key } }', {}, other.apiKey)).data.topic.key).toBe('news');
  });

  it('subscribes 10,000 users in one call and one statement, idempotently; 10,001 is refused and writes nothing', async () => {
    await call('mutation { createTopic(key: "big") { id } }');
    const ids = await seedUsers(h.project.projectId, 'big-', 10_001);
    const pool = pgPool()!;
    const original = pool.query.bind(pool);
    let statements = 0;
    (pool as { query: unknown }).query = (...args: unknown[]) => {
      statements++;
      return (original as (...a: unknown[]) => unknown)(...args);
    };
    let few: number;
    let many: number;
    try {
      statements = 0;
      const small = await call(ADD, { key: 'big', ids: ids.slice(0, 2) });
      few = statements;
      expect(small.data.addTopicSubscribers).toEqual({ count: 2, topic: { key: 'big', subscriberCount: 2 } });
      statements = 0;
      const full = await call(ADD, { key: 'big', ids: ids.slice(0, 10_000) });
      many = statements;
      expect(full.errors).toBeUndefined();
      // The two already subscribed are not counted again.
      expect(full.data.addTopicSubscribers).toEqual({ count: 9_998, topic: { key: 'big', subscriberCount: 10_000 } });
    } finally {
      (pool as { query: unknown }).query = original;
    }
    // The same number of raw statements for 2 users as for 10,000: not one per user.
    expect(many).toBe(few);

    // Again: nothing new, nothing duplicated.
    expect((await call(ADD, { key: 'big', ids: ids.slice(0, 10_000) })).data.addTopicSubscribers.count).toBe(0);

    const tooMany = await call(ADD, { key: 'big', ids });
    expect(codeOf(tooMany)).toBe('BAD_USER_INPUT');
    expect(tooMany.errors![0]!.message).toMatch(/at most 10000 user ids per call/);
    expect((await call(COUNT, { key: 'big' })).data.topic.subscriberCount).toBe(10_000);
    expect(await prisma().topicSubscriber.count({ where: { topic: { key: 'big' } } })).toBe(10_000);
  });

  it('refuses unknown and foreign user ids as a whole (nothing written) and checks every id', async () => {
    await call('mutation { createTopic(key: "strict") { id } }');
    await seedUsers(h.project.projectId, 'strict-', 3);
    const foreign = await seedUsers(other.projectId, 'foreign-', 1);
    const unknown = await call(ADD, { key: 'strict', ids: ['strict-0', 'strict-1', 'nobody'] });
    expect(codeOf(unknown)).toBe('BAD_USER_INPUT');
    expect(unknown.errors![0]!.message).toMatch(/1 user id\(s\) are not users of this project \("nobody"\).*nothing was subscribed/);
    // Another project's user is unknown here.
    expect(codeOf(await call(ADD, { key: 'strict', ids: ['strict-2', foreign[0]] }))).toBe('BAD_USER_INPUT');
    expect((await call(COUNT, { key: 'strict' })).data.topic.subscriberCount).toBe(0);

    for (const ids of [[], [''], ['x'.repeat(257)]]) expect(codeOf(await call(ADD, { key: 'strict', ids })), JSON.stringify(ids)).toBe('BAD_USER_INPUT');
    expect(codeOf(await call(ADD, { key: 'missing', ids: ['strict-0'] }))).toBe('NOT_FOUND');
    // The project's topic through another project's key: as unknown.
    expect(codeOf(await call(ADD, { key: 'strict', ids: foreign }, other.apiKey))).toBe('NOT_FOUND');
    // Duplicates in one call count once.
    expect((await call(ADD, { key: 'strict', ids: ['strict-0', 'strict-0', 'strict-1'] })).data.addTopicSubscribers.count).toBe(2);
  });

  it('pages subscribers, lists a user\'s topics, removes subscribers idempotently, and deleting a topic keeps the users', async () => {
    await call('mutation { createTopic(key: "pages") { id } }');
    await call('mutation { createTopic(key: "pages-2") { id } }');
    const ids = await seedUsers(h.project.projectId, 'page-', 5);
    expect((await call(ADD, { key: 'pages', ids })).data.addTopicSubscribers.count).toBe(5);
    expect((await call(ADD, { key: 'pages-2', ids: ids.slice(0, 1) })).data.addTopicSubscribers.count).toBe(1);

    const PAGE = 'query($after: String) { topic(key: "pages") { subscribers(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { externalId } } } } }';
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 5; page++) {
      const r: any = await call(PAGE, { after });
      const s = r.data.topic.subscribers;
      expect(s.totalCount).toBe(5);
      seen.push(...s.edges.map((e: any) => e.node.externalId));
      if (!s.pageInfo.hasNextPage) break;
      after = s.pageInfo.endCursor;
    }
    expect(seen.sort()).toEqual([...ids].sort());
    expect(codeOf(await call(PAGE, { after: 'bad' }))).toBe('BAD_USER_INPUT');

    const userTopics = await call('{ users(filter: { externalIds: ["page-0", "page-1"] }) { edges { node { externalId topics { edges { node { key } } } } } } }');
    const byUser = Object.fromEntries(userTopics.data.users.edges.map((e: any) => [e.node.externalId, e.node.topics.edges.map((t: any) => t.node.key)]));
    expect(byUser).toEqual({ 'page-0': ['pages', 'pages-2'], 'page-1': ['pages'] });

    const removed = await call(REMOVE, { key: 'pages', ids: ['page-0', 'page-1', 'nobody'] });
    expect(removed.data.removeTopicSubscribers).toEqual({ count: 2, topic: { subscriberCount: 3 } });
    expect((await call(REMOVE, { key: 'pages', ids: ['page-0'] })).data.removeTopicSubscribers.count).toBe(0);
    expect(codeOf(await call(REMOVE, { key: 'pages', ids: Array.from({ length: 10_001 }, (_, i) => `x${i}`) }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await call(REMOVE, { key: 'pages', ids: ['page-2'] }, other.apiKey))).toBe('NOT_FOUND');

    await call('mutation { deleteTopic(key: "pages") }');
    expect(await prisma().user.count({ where: { projectId: h.project.projectId, externalId: { in: ids } } })).toBe(5);
    const after0 = await call('{ users(filter: { externalIds: ["page-0"] }) { edges { node { topics { edges { node { key } } } } } } }');
    expect(after0.data.users.edges[0].node.topics.edges.map((t: any) => t.node.key)).toEqual(['pages-2']);
  });

  it('needs an API key', async () => {
    const res = await rest(h.url, 'POST', '/graphql', { query: '{ topics { totalCount } }' });
    expect(res.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });
});
