import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../src/generated/gql/index.ts';
import type { UserFilter, UserInput } from '../src/generated/gql/graphql.ts';
import { userHash } from '../src/modules/projects/credentials.ts';
import { bearer, gql, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { NOTIFUSE_UPSERT_DOC_USER } from './helpers/legacy-bodies.ts';
import { expectDocumented } from './helpers/openapi.ts';

const Upsert = graphql(`
  mutation UsersUpsert($users: [UserInput!]!, $mode: UpsertMode! = FILL_MISSING) {
    upsertUsers(users: $users, mode: $mode) {
      ok
      externalId
      created
      user {
        id
        externalId
        email
        telephone
        language
        timezone
        firstName
        lastName
        photoURL
        country
        custom
        createdAt
        updatedAt
      }
      error {
        code
        message
        issues {
          field
          message
        }
      }
    }
  }
`);

const UserById = graphql(`
  query UsersUserById($id: ID) {
    user(id: $id) {
      id
      externalId
      email
      custom
    }
  }
`);

const UserByExternalId = graphql(`
  query UsersUserByExternalId($externalId: String) {
    user(externalId: $externalId) {
      id
      externalId
      email
      telephone
      language
      timezone
      firstName
      lastName
      photoURL
      country
      custom
    }
  }
`);

const UserByBoth = graphql(`
  query UsersUserByBoth($id: ID, $externalId: String) {
    user(id: $id, externalId: $externalId) {
      id
    }
  }
`);

const UsersCount = graphql(`
  query UsersCount($filter: UserFilter) {
    users(filter: $filter, first: 1) {
      totalCount
    }
  }
`);

const UsersPage = graphql(`
  query UsersPage($first: Int, $after: String, $filter: UserFilter) {
    users(first: $first, after: $after, filter: $filter) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        cursor
        node {
          id
          externalId
        }
      }
    }
  }
`);

let h: TestHerald;
let auth: Record<string, string>;
beforeAll(async () => {
  h = await startTestHerald();
  auth = bearer(h.project.apiKey);
});
afterAll(async () => {
  await h?.stop();
});

const upsert = (users: UserInput[], mode: 'FILL_MISSING' | 'OVERWRITE' = 'FILL_MISSING', headers = auth) =>
  gql(h.url, Upsert, { users, mode }, headers);

/** Upserts and fails loudly on any GraphQL or per-item error. */
async function upsertOk(users: UserInput[], mode: 'FILL_MISSING' | 'OVERWRITE' = 'FILL_MISSING', headers = auth) {
  const res = await upsert(users, mode, headers);
  expect(res.errors).toBeUndefined();
  const results = res.data!.upsertUsers;
  expect(results.filter((r) => !r.ok).map((r) => r.error)).toEqual([]);
  return results;
}

const byExternalId = (externalId: string, headers = auth) => gql(h.url, UserByExternalId, { externalId }, headers);

/** One page of the users connection (fails on any GraphQL error). */
async function usersPage(first: number, after: string | null, filter?: UserFilter) {
  const res = await gql(h.url, UsersPage, { first, after, filter: filter ?? null }, auth);
  expect(res.errors).toBeUndefined();
  return res.data!.users;
}

async function countUsers(filter?: UserFilter) {
  const res = await gql(h.url, UsersCount, { filter: filter ?? null }, auth);
  expect(res.errors).toBeUndefined();
  return res.data!.users.totalCount;
}

/** A unique prefix per test, so counts and filters are not disturbed by other tests. */
let seq = 0;
const prefix = (name: string) => `${name}-${++seq}-${Date.now().toString(36)}`;

describe('upsertUsers (GraphQL)', () => {
  it('creates a user, storing and returning every field normalized', async () => {
    const externalId = prefix('create');
    const [result] = await upsertOk([
      {
        externalId,
        email: 'ada@example.com',
        telephone: '+44 7911 123456',
        language: 'en',
        timezone: 'Europe/London',
        firstName: 'Ada',
        lastName: 'Lovelace',
        photoURL: 'https://example.com/ada.jpg',
        country: 'gb',
        custom: { plan: 'pro', seats: 3 },
      },
    ]);
    const expected = {
      externalId,
      email: 'ada@example.com',
      telephone: '+447911123456',
      language: 'en',
      timezone: 'Europe/London',
      firstName: 'Ada',
      lastName: 'Lovelace',
      photoURL: 'https://example.com/ada.jpg',
      country: 'GB',
      custom: { plan: 'pro', seats: 3 },
    };
    expect(result).toMatchObject({ ok: true, created: true, externalId, error: null });
    expect(result!.user).toMatchObject(expected);
    expect(result!.user!.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);

    // Stored, not only echoed.
    const stored = await byExternalId(externalId);
    expect(stored.errors).toBeUndefined();
    expect(stored.data!.user).toEqual({ id: result!.user!.id, ...expected });
  });

  it('normalizes language tags to dashes, whatever their number of subtags', async () => {
    const p = prefix('lang');
    const results = await upsertOk([
      { externalId: `${p}-1`, language: 'fr_FR' },
      { externalId: `${p}-2`, language: 'zh_Hant_TW' },
      { externalId: `${p}-3`, language: ' en ' },
    ]);
    expect(results.map((r) => r.user!.language)).toEqual(['fr-FR', 'zh-Hant-TW', 'en']);
    expect((await byExternalId(`${p}-2`)).data!.user.language).toBe('zh-Hant-TW');
  });

  it('is idempotent: the same item again is created: false, same id, same values', async () => {
    const externalId = prefix('idem');
    const item: UserInput = { externalId, email: 'same@example.com', telephone: '+33 6 12 34 56 78', country: 'fr', custom: { a: 1 } };
    const [first] = await upsertOk([item]);
    const before = await countUsers();
    for (const mode of ['FILL_MISSING', 'OVERWRITE'] as const) {
      const [again] = await upsertOk([item], mode);
      expect(again!.created, mode).toBe(false);
      expect(again!.user!.id, mode).toBe(first!.user!.id);
      const { updatedAt: _a, ...firstUser } = first!.user!;
      const { updatedAt: _b, ...againUser } = again!.user!;
      expect(againUser, mode).toEqual(firstUser);
    }
    expect(await countUsers()).toBe(before);
    expect((await byExternalId(externalId)).data!.user).toMatchObject({ telephone: '+33612345678', country: 'FR', custom: { a: 1 } });
  });

  it('FILL_MISSING only fills empty fields, keeps existing custom keys and adds new ones', async () => {
    const externalId = prefix('fill');
    await upsertOk([{ externalId, email: 'first@example.com', firstName: 'First', custom: { plan: 'free', keep: true } }]);
    const [result] = await upsertOk(
      [
        {
          externalId,
          email: 'second@example.com',
          firstName: 'Second',
          lastName: 'Filled',
          country: 'de',
          custom: { plan: 'pro', added: 'yes' },
        },
      ],
      'FILL_MISSING',
    );
    expect(result!.created).toBe(false);
    const expected = {
      email: 'first@example.com',
      firstName: 'First',
      lastName: 'Filled',
      country: 'DE',
      telephone: null,
      custom: { plan: 'free', keep: true, added: 'yes' },
    };
    expect(result!.user).toMatchObject(expected);
    expect((await byExternalId(externalId)).data!.user).toMatchObject(expected);
  });

  it('a repeated externalId is applied item by item in input order, each result showing the user after its item', async () => {
    const [fresh, stored] = [prefix('repeat-new'), prefix('repeat-old')];
    const [seeded] = await upsertOk([{ externalId: stored, firstName: 'Stored', custom: { plan: 'free' } }]);
    const fill = await upsertOk([
      { externalId: stored, email: 'one@example.com', custom: { plan: 'pro', a: 1 } },
      { externalId: fresh, custom: { a: 1 } },
      { externalId: stored, email: 'two@example.com', lastName: 'Two', custom: { a: 2, b: 2 } },
      { externalId: fresh, email: 'fresh@example.com', custom: { a: 2, b: 2 } },
      { externalId: fresh, firstName: 'Fresh', email: 'ignored@example.com' },
    ]);
    expect(fill.map((r) => [r.externalId, r.created])).toEqual([
      [stored, false],
      [fresh, true],
      [stored, false],
      [fresh, false],
      [fresh, false],
    ]);
    expect(fill.map((r) => r.user)).toMatchObject([
      { id: seeded!.user!.id, firstName: 'Stored', email: 'one@example.com', lastName: null, custom: { plan: 'free', a: 1 } },
      { email: null, firstName: null, custom: { a: 1 } },
      { id: seeded!.user!.id, firstName: 'Stored', email: 'one@example.com', lastName: 'Two', custom: { plan: 'free', a: 1, b: 2 } },
      { email: 'fresh@example.com', firstName: null, custom: { a: 1, b: 2 } },
      { email: 'fresh@example.com', firstName: 'Fresh', custom: { a: 1, b: 2 } },
    ]);
    expect(new Set(fill.filter((r) => r.externalId === fresh).map((r) => r.user!.id)).size).toBe(1);
    expect(fill[2]!.user).toMatchObject((await byExternalId(stored)).data!.user);
    expect(fill[4]!.user).toMatchObject((await byExternalId(fresh)).data!.user);

    const overwrite = await upsertOk(
      [
        { externalId: stored, email: 'three@example.com', custom: { a: 3 } },
        { externalId: stored, firstName: 'Four', custom: { c: 4 } },
      ],
      'OVERWRITE',
    );
    expect(overwrite.map((r) => r.created)).toEqual([false, false]);
    expect(overwrite.map((r) => r.user)).toMatchObject([
      { firstName: 'Stored', email: 'three@example.com', lastName: 'Two', custom: { plan: 'free', a: 3, b: 2 } },
      { firstName: 'Four', email: 'three@example.com', lastName: 'Two', custom: { plan: 'free', a: 3, b: 2, c: 4 } },
    ]);
    expect(overwrite[1]!.user).toMatchObject((await byExternalId(stored)).data!.user);
  });

  it('OVERWRITE replaces the given fields and leaves the others', async () => {
    const externalId = prefix('over');
    await upsertOk([
      { externalId, email: 'old@example.com', firstName: 'Old', lastName: 'Kept', timezone: 'Europe/Paris', custom: { plan: 'free', keep: 1 } },
    ]);
    const [result] = await upsertOk([{ externalId, email: 'new@example.com', firstName: 'New', language: 'fr-FR', custom: { plan: 'pro' } }], 'OVERWRITE');
    expect(result!.created).toBe(false);
    const expected = {
      email: 'new@example.com',
      firstName: 'New',
      language: 'fr-FR',
      lastName: 'Kept',
      timezone: 'Europe/Paris',
      custom: { plan: 'pro', keep: 1 },
    };
    expect(result!.user).toMatchObject(expected);
    expect((await byExternalId(externalId)).data!.user).toMatchObject(expected);
  });

  it('gives each invalid item its own error naming the field, and writes the valid items of the batch', async () => {
    const p = prefix('bad');
    const invalid: [UserInput, string][] = [
      [{ externalId: `${p}-email`, email: 'not-an-email' }, 'email'],
      [{ externalId: `${p}-tel`, telephone: '07911 123456' }, 'telephone'],
      [{ externalId: `${p}-tz`, timezone: 'Mars/Base' }, 'timezone'],
      [{ externalId: `${p}-country`, country: 'XX' }, 'country'],
      [{ externalId: `${p}-lang`, language: 'english!!' }, 'language'],
      [{ externalId: `${p}-photo`, photoURL: 'ftp://x' }, 'photoURL'],
      [{ externalId: '' }, 'externalId'],
    ];
    const validA: UserInput = { externalId: `${p}-okA`, email: 'ok-a@example.com' };
    const validB: UserInput = { externalId: `${p}-okB`, country: 'us' };
    const before = await countUsers();
    const res = await upsert([validA, ...invalid.map(([item]) => item), validB]);
    expect(res.errors).toBeUndefined();
    const results = res.data!.upsertUsers;
    expect(results).toHaveLength(invalid.length + 2);

    expect(results[0]).toMatchObject({ ok: true, created: true, externalId: validA.externalId });
    expect(results.at(-1)).toMatchObject({ ok: true, created: true, externalId: validB.externalId });
    invalid.forEach(([item, field], i) => {
      const r = results[i + 1]!;
      expect(r.ok, field).toBe(false);
      expect(r.created, field).toBe(false);
      expect(r.user, field).toBeNull();
      expect(r.externalId, field).toBe(item.externalId);
      expect(r.error?.code, field).toBe('INVALID_INPUT');
      expect(r.error?.issues.map((issue) => issue.field), field).toEqual([field]);
      expect(r.error?.message, field).toMatch(new RegExp(`^${field}: `));
    });

    // The valid ones were written, the invalid ones were not.
    expect((await byExternalId(validA.externalId)).data!.user).toMatchObject({ email: 'ok-a@example.com' });
    expect((await byExternalId(validB.externalId)).data!.user).toMatchObject({ country: 'US' });
    for (const [item] of invalid.filter(([item]) => item.externalId)) {
      expect((await byExternalId(item.externalId)).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
    expect(await countUsers()).toBe(before + 2);
  });

  describe('batch limit', () => {
    const batch = (p: string, n: number): UserInput[] => Array.from({ length: n }, (_, i) => ({ externalId: `${p}-${i}` }));

    it('refuses 101 users with BAD_USER_INPUT and writes nothing', async () => {
      const p = prefix('limit101');
      const before = await countUsers();
      const res = await upsert(batch(p, 101));
      expect(res.data ?? null).toBeNull();
      expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(res.errors?.[0]?.message).toMatch(/100/);
      expect(res.errors?.[0]?.extensions?.issues).toEqual([{ field: 'users', message: expect.stringMatching(/100/) }]);
      expect(await countUsers()).toBe(before);
      expect(await countUsers({ search: p })).toBe(0);
    });

    it('refuses an empty batch with BAD_USER_INPUT', async () => {
      const res = await upsert([]);
      expect(res.data ?? null).toBeNull();
      expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    });

    it('accepts exactly 100 users', async () => {
      const p = prefix('limit100');
      const results = await upsertOk(batch(p, 100));
      expect(results).toHaveLength(100);
      expect(results.every((r) => r.ok && r.created)).toBe(true);
      expect(results.map((r) => r.externalId)).toEqual(batch(p, 100).map((u) => u.externalId));
      expect(await countUsers({ search: p })).toBe(100);
    });
  });
});

describe('POST /users.upsert (Notifuse)', () => {
  it('upserts users, answering results in order; unknown keys become custom fields', async () => {
    const p = prefix('rest');
    const res = await rest(
      h.url,
      'POST',
      '/users.upsert',
      {
        users: [
          { id: `${p}-1`, email: 'rest1@example.com', firstName: 'Rest', plan: 'pro', company: { name: 'ACME' } },
          { id: `${p}-2`, telephone: '+44 7911 123456', country: 'gb' },
        ],
      },
      auth,
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      results: [
        { id: `${p}-1`, ok: true, created: true },
        { id: `${p}-2`, ok: true, created: true },
      ],
    });
    const first = (await byExternalId(`${p}-1`)).data!.user;
    expect(first).toMatchObject({ email: 'rest1@example.com', firstName: 'Rest', custom: { plan: 'pro', company: { name: 'ACME' } } });
    expect((await byExternalId(`${p}-2`)).data!.user).toMatchObject({ telephone: '+447911123456', country: 'GB', custom: {} });

    // Again, with a changed and a new field: missing fields are filled, the others kept.
    const again = await rest(h.url, 'POST', '/users.upsert', { users: [{ id: `${p}-1`, email: 'changed@example.com', lastName: 'Added', plan: 'free', seats: 2 }] }, auth);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ results: [{ id: `${p}-1`, ok: true, created: false }] });
    expect((await byExternalId(`${p}-1`)).data!.user).toMatchObject({
      id: first!.id,
      email: 'rest1@example.com',
      lastName: 'Added',
      custom: { plan: 'pro', company: { name: 'ACME' }, seats: 2 },
    });
  });

  it("stores the documentation's telephone in E.164 and returns it so where Notifuse returns the profile (a deliberate difference)", async () => {
    const res = await rest(h.url, 'POST', '/users.upsert', NOTIFUSE_UPSERT_DOC_USER, auth);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expectDocumented('POST', '/users.upsert', 200, res.body);
    expect(res.body.results).toEqual([{ id: 'notifuse-phone', ok: true, created: true }]);
    const hmac = userHash(h.project.widgetSecret, 'notifuse-phone');
    const front = await rest(h.url, 'GET', `/front/users.get?projectId=${h.project.projectId}&userId=notifuse-phone&userHmac=${hmac}`);
    expect(front.status, JSON.stringify(front.body)).toBe(200);
    expect(front.body.user).toMatchObject({ id: 'notifuse-phone', email: 'john@doe.com', telephone: '+447911123456' });
    // The international "00" prefix is the same number.
    const dialled = await rest(h.url, 'POST', '/users.upsert', { users: [{ id: 'notifuse-phone-00', telephone: '0044 7911 123456' }] }, auth);
    expect(dialled.body.results).toEqual([{ id: 'notifuse-phone-00', ok: true, created: true }]);
    expect((await byExternalId('notifuse-phone-00')).data!.user).toMatchObject({ telephone: '+447911123456' });
  });

  it('accepts a numeric id as its string', async () => {
    const id = 4200 + seq++;
    const res = await rest(h.url, 'POST', '/users.upsert', { users: [{ id, email: 'numeric@example.com' }] }, auth);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ results: [{ id: String(id), ok: true, created: true }] });
    expect((await byExternalId(String(id))).data!.user).toMatchObject({ externalId: String(id), email: 'numeric@example.com' });
  });

  it('answers an invalid item with its own error and writes the valid ones', async () => {
    const p = prefix('rest-bad');
    const res = await rest(
      h.url,
      'POST',
      '/users.upsert',
      { users: [{ id: `${p}-ok` }, { id: `${p}-bad`, email: 'nope' }, { id: `${p}-tz`, timezone: 'Mars/Base' }] },
      auth,
    );
    expect(res.status).toBe(200);
    expect(res.body.results).toHaveLength(3);
    expect(res.body.results[0]).toEqual({ id: `${p}-ok`, ok: true, created: true });
    expect(res.body.results[1]).toEqual({ id: `${p}-bad`, ok: false, error: expect.stringMatching(/^email: /) });
    expect(res.body.results[2]).toEqual({ id: `${p}-tz`, ok: false, error: expect.stringMatching(/^timezone: /) });
    expect((await byExternalId(`${p}-ok`)).data!.user.externalId).toBe(`${p}-ok`);
    expect((await byExternalId(`${p}-bad`)).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('refuses 101 users with 400 invalid_request and writes nothing', async () => {
    const p = prefix('rest-limit');
    const before = await countUsers();
    const users = Array.from({ length: 101 }, (_, i) => ({ id: `${p}-${i}`, email: `u${i}@example.com` }));
    const res = await rest(h.url, 'POST', '/users.upsert', { users }, auth);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_request', message: expect.stringMatching(/100/) });
    expect(await countUsers()).toBe(before);
  });

  it('refuses a body that is not JSON, or without users, with 400', async () => {
    const notJson = await rest(h.url, 'POST', '/users.upsert', '{"users": [', auth);
    expect(notJson.status).toBe(400);
    expect(notJson.body).toMatchObject({ error: 'invalid_request', message: expect.stringMatching(/JSON/) });

    for (const body of [{}, { users: 'x' }, { user: [{ id: 'a' }] }]) {
      const res = await rest(h.url, 'POST', '/users.upsert', body, auth);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body, JSON.stringify(body)).toMatchObject({ error: 'invalid_request', message: expect.stringMatching(/users/) });
    }
  });

  it('answers a user without id, of the wrong type or with a wrong-typed field with its own result naming the field, and upserts the others', async () => {
    const p = prefix('rest-type');
    const before = await countUsers();
    const res = await rest(h.url, 'POST', '/users.upsert', { users: [{ id: `${p}-ok` }, { id: `${p}-bad`, email: 123 }, { email: 'noid@example.com' }, 'nope', { id: true }] }, auth);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expectDocumented('POST', '/users.upsert', 200, res.body);
    expect(res.body.results).toEqual([
      { id: `${p}-ok`, ok: true, created: true },
      { id: `${p}-bad`, ok: false, error: 'email: must be a string' },
      { id: null, ok: false, error: 'id: is required' },
      { id: null, ok: false, error: 'user: must be an object' },
      { id: null, ok: false, error: 'id: must be a string' },
    ]);
    expect(JSON.stringify(res.body)).not.toMatch(/Variable|\$users|UserInput/);
    expect(await countUsers()).toBe(before + 1);
    // Nothing readable: the results, and nothing written.
    const none = await rest(h.url, 'POST', '/users.upsert', { users: [{ email: 'x@example.com' }] }, auth);
    expect(none.body).toEqual({ results: [{ id: null, ok: false, error: 'id: is required' }] });
    expect(await countUsers()).toBe(before + 1);
  });
});

describe('user(id | externalId)', () => {
  let id: string;
  let externalId: string;
  beforeAll(async () => {
    externalId = prefix('find');
    const [r] = await upsertOk([{ externalId, email: 'find@example.com' }]);
    id = r!.user!.id;
  });

  it('finds a user by id and by externalId', async () => {
    const a = await gql(h.url, UserById, { id }, auth);
    expect(a.errors).toBeUndefined();
    expect(a.data!.user).toMatchObject({ id, externalId, email: 'find@example.com' });
    const b = await byExternalId(externalId);
    expect(b.errors).toBeUndefined();
    expect(b.data!.user).toMatchObject({ id, externalId });
  });

  it('answers NOT_FOUND for unknown ids, externalIds and non-uuid ids', async () => {
    for (const res of [
      await gql(h.url, UserById, { id: '0190a5f0-0000-7000-8000-000000000000' }, auth),
      await gql(h.url, UserById, { id: 'not-a-uuid' }, auth),
      await gql(h.url, UserById, { id: externalId }, auth),
      await byExternalId('nobody-here'),
    ]) {
      expect(res.data ?? null).toBeNull();
      expect(res.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
  });

  it('answers BAD_USER_INPUT for both or neither argument', async () => {
    for (const vars of [{ id, externalId }, {}, { id: null, externalId: null }]) {
      const res = await gql(h.url, UserByBoth, vars, auth);
      expect(res.data ?? null, JSON.stringify(vars)).toBeNull();
      expect(res.errors?.[0]?.extensions?.code, JSON.stringify(vars)).toBe('BAD_USER_INPUT');
    }
  });

  it("never shows another project's user", async () => {
    const other = await h.newProject('Users other');
    const otherAuth = bearer(other.apiKey);
    const sharedExternalId = prefix('theirs');
    const [theirs] = await upsertOk([{ externalId: sharedExternalId, email: 'theirs@example.com' }], 'FILL_MISSING', otherAuth);
    expect(theirs!.created).toBe(true);
    // They see it...
    expect((await byExternalId(sharedExternalId, otherAuth)).data!.user.id).toBe(theirs!.user!.id);
    // ...we do not.
    const byId = await gql(h.url, UserById, { id: theirs!.user!.id }, auth);
    expect(byId.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(byId.data ?? null).toBeNull();
    const byExt = await byExternalId(sharedExternalId);
    expect(byExt.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(await countUsers({ externalIds: [sharedExternalId] })).toBe(0);
    expect(await countUsers({ search: 'theirs' })).toBe(0);
    expect(await countUsers({ email: 'theirs@example.com' })).toBe(0);

    // The same externalId in our project is a different user; theirs is untouched.
    const [ours] = await upsertOk([{ externalId: sharedExternalId, email: 'ours@example.com' }]);
    expect(ours!.created).toBe(true);
    expect(ours!.user!.id).not.toBe(theirs!.user!.id);
    expect((await byExternalId(sharedExternalId, otherAuth)).data!.user.email).toBe('theirs@example.com');
  });
});

describe('users connection', () => {
  const p = prefix('page');
  let created: { id: string; externalId: string }[] = [];
  const countries = ['GB', 'FR', 'DE'];
  beforeAll(async () => {
    // One by one, so creation order is unambiguous.
    for (let i = 0; i < 25; i++) {
      const [r] = await upsertOk([
        {
          externalId: `${p}-${String(i).padStart(2, '0')}`,
          email: `Page.User${i}@Example.com`,
          firstName: i === 7 ? 'Zebedee' : `Page${i}`,
          country: countries[i % 3]!.toLowerCase(),
          language: i % 2 ? 'fr' : 'en',
        },
      ]);
      created.push({ id: r!.user!.id, externalId: r!.externalId! });
    }
    // Updating users must not change their place in the list.
    await upsertOk([{ externalId: created[3]!.externalId, lastName: 'Moved' }, { externalId: created[0]!.externalId, timezone: 'Asia/Tokyo' }], 'OVERWRITE');
  });

  it('pages through all users with first/after in creation order, without gaps or duplicates', async () => {
    const filter = { search: p };
    const seen: { id: string; externalId: string }[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const conn = await usersPage(10, after, filter);
      expect(conn.totalCount).toBe(25);
      pages++;
      expect(conn.edges.length).toBe(pages < 3 ? 10 : 5);
      seen.push(...conn.edges.map((e) => e.node));
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor ?? null;
      expect(pages).toBeLessThan(5);
    }
    expect(pages).toBe(3);
    expect(new Set(seen.map((u) => u.id)).size).toBe(25);
    expect(seen).toEqual(created);
  });

  it('pages through the whole project without a filter', async () => {
    const total = await countUsers();
    const ids: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 100; page++) {
      const conn = await usersPage(10, after);
      ids.push(...conn.edges.map((e) => e.node.id));
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor ?? null;
    }
    expect(ids).toHaveLength(total);
    expect(new Set(ids).size).toBe(total);
    // Our 25 appear in creation order.
    const ours = new Set(created.map((u) => u.id));
    expect(ids.filter((id) => ours.has(id))).toEqual(created.map((u) => u.id));
  });

  it('filters by externalIds, email (case-insensitive), country, language and search', async () => {
    const list = async (filter: UserFilter) => {
      const res = await gql(h.url, UsersPage, { first: 100, filter }, auth);
      expect(res.errors, JSON.stringify(filter)).toBeUndefined();
      const users = res.data!.users;
      expect(users.totalCount, JSON.stringify(filter)).toBe(users.edges.length);
      return users.edges.map((e) => e.node.externalId);
    };
    const ext = (i: number) => created[i]!.externalId;
    const ours = (ids: string[]) => ids.filter((id) => id.startsWith(`${p}-`));

    expect(await list({ externalIds: [ext(2), ext(5), 'missing'] })).toEqual([ext(2), ext(5)]);
    expect(await list({ email: 'page.user4@example.COM' })).toEqual([ext(4)]);
    expect(await list({ email: 'page.user' })).toEqual([]); // exact, not substring
    expect(ours(await list({ country: 'fr' }))).toEqual(created.filter((_, i) => i % 3 === 1).map((u) => u.externalId));
    expect(ours(await list({ language: 'fr' }))).toEqual(created.filter((_, i) => i % 2 === 1).map((u) => u.externalId));
    expect(await list({ search: 'zebed' })).toEqual([ext(7)]);
    expect(await list({ search: `${p}-1` })).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19].map(ext));
    expect(await list({ search: 'PAGE.USER24@' })).toEqual([ext(24)]);
    expect(await list({ search: 'moved' })).toEqual([ext(3)]);
    // LIKE wildcards are plain characters.
    expect(await list({ search: '%' })).toEqual([]);
    expect(await list({ search: '_' })).toEqual([]);
    expect(await list({ search: p, country: 'de', language: 'en' })).toEqual(
      created.filter((_, i) => i % 3 === 2 && i % 2 === 0).map((u) => u.externalId),
    );
  });
});

describe('concurrency', () => {
  it('20 parallel FILL_MISSING upserts of one externalId make exactly one user', async () => {
    const externalId = prefix('race');
    const fields: UserInput[] = Array.from({ length: 20 }, (_, i) => ({
      externalId,
      ...(i % 4 === 0 ? { email: `race${i}@example.com` } : {}),
      ...(i % 4 === 1 ? { firstName: `Racer${i}` } : {}),
      ...(i % 4 === 2 ? { country: 'it' } : {}),
      ...(i % 4 === 3 ? { timezone: 'Europe/Rome' } : {}),
      custom: { [`k${i}`]: i },
    }));
    const before = await countUsers();
    const responses = await Promise.all(fields.map((item) => upsert([item])));
    for (const res of responses) {
      expect(res.errors).toBeUndefined();
      expect(res.data!.upsertUsers[0]!.ok).toBe(true);
    }
    const results = responses.map((res) => res.data!.upsertUsers[0]!);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.user!.id)).size).toBe(1);
    expect(await countUsers()).toBe(before + 1);
    expect(await countUsers({ externalIds: [externalId] })).toBe(1);

    // Every parallel call contributed: no custom key lost, every empty field filled.
    const user = (await byExternalId(externalId)).data!.user;
    expect(Object.keys(user.custom).sort()).toEqual(fields.map((_, i) => `k${i}`).sort());
    expect(user.email).toMatch(/^race\d+@example\.com$/);
    expect(user.firstName).toMatch(/^Racer\d+$/);
    expect(user.country).toBe('IT');
    expect(user.timezone).toBe('Europe/Rome');
  });

  it('overlapping batches written in different orders at once all succeed (no deadlock)', async () => {
    const p = prefix('overlap');
    const ids = Array.from({ length: 20 }, (_, i) => `${p}-${String(i).padStart(2, '0')}`);
    // Each call holds the same users in another order: forward, backward, rotated.
    const orders = Array.from({ length: 8 }, (_, k) => {
      const rotated = [...ids.slice(k * 3), ...ids.slice(0, k * 3)];
      return k % 2 ? rotated.reverse() : rotated;
    });
    const before = await countUsers();
    const responses = await Promise.all(
      orders.map((order, k) => upsert(order.map((externalId) => ({ externalId, custom: { [`call${k}`]: true } })))),
    );
    for (const res of responses) {
      expect(res.errors).toBeUndefined();
      expect(res.data!.upsertUsers.every((r) => r.ok)).toBe(true);
    }
    // Results stay in each call's input order.
    responses.forEach((res, k) => expect(res.data!.upsertUsers.map((r) => r.externalId)).toEqual(orders[k]));
    // Each user was created by exactly one call.
    for (const externalId of ids) {
      const created = responses.filter((res) => res.data!.upsertUsers.find((r) => r.externalId === externalId)!.created);
      expect(created, externalId).toHaveLength(1);
    }
    expect(await countUsers()).toBe(before + ids.length);
    const user = (await byExternalId(ids[0]!)).data!.user;
    expect(Object.keys(user.custom).sort()).toEqual(orders.map((_, k) => `call${k}`).sort());
  });

  it('overlapping batches that repeat users, existing or not, all succeed at once (no deadlock)', async () => {
    const p = prefix('overlap-repeat');
    const ids = Array.from({ length: 12 }, (_, i) => `${p}-${String(i).padStart(2, '0')}`);
    await upsertOk(ids.filter((_, i) => i % 2).map((externalId) => ({ externalId })));
    const orders = Array.from({ length: 8 }, (_, k) => {
      const rotated = [...ids.slice(k * 2), ...ids.slice(0, k * 2)];
      const order = k % 2 ? rotated.reverse() : rotated;
      return [...order, ...order.slice(0, 6)];
    });
    const responses = await Promise.all(
      orders.map((order, k) => upsert(order.map((externalId, i) => ({ externalId, custom: { [`call${k}-${i < ids.length ? 1 : 2}`]: true } })))),
    );
    for (const res of responses) {
      expect(res.errors).toBeUndefined();
      expect(res.data!.upsertUsers.every((r) => r.ok)).toBe(true);
    }
    for (const externalId of ids) {
      const created = responses.flatMap((res) => res.data!.upsertUsers.filter((r) => r.externalId === externalId && r.created));
      expect(created, externalId).toHaveLength(ids.indexOf(externalId) % 2 ? 0 : 1);
      const expected = orders.flatMap((order, k) => order.map((id, i) => (id === externalId ? `call${k}-${i < ids.length ? 1 : 2}` : null))).filter(Boolean);
      expect(Object.keys((await byExternalId(externalId)).data!.user.custom).sort(), externalId).toEqual(expected.sort());
    }
  });
});
