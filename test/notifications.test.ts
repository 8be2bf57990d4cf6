import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { graphql } from '../src/generated/gql/index.ts';
import type { NotificationInput } from '../src/generated/gql/graphql.ts';
import { bearer, gql, startTestHerald, type TestHerald } from './helpers/herald.ts';

const Create = graphql(`
  mutation NotifCreate($input: NotificationInput!) {
    createNotification(input: $input) {
      id
      key
      type
      channels
      name
      active
      defaultLanguage
      settings {
        urgent
        category
      }
      versions {
        id
        master
        contents {
          locale
          title
        }
      }
    }
  }
`);
const Get = graphql(`
  query NotifGet($id: Int, $key: String) {
    notification(id: $id, key: $key) {
      id
      key
      name
      active
      versions {
        id
        master
        label
      }
      masterVersion {
        id
      }
    }
  }
`);
const List = graphql(`
  query NotifList($first: Int, $after: String, $filter: NotificationFilter) {
    notifications(first: $first, after: $after, filter: $filter) {
      totalCount
      edges {
        node {
          id
          name
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);
const Update = graphql(`
  mutation NotifUpdate($id: Int!, $input: NotificationInput!) {
    updateNotification(id: $id, input: $input) {
      id
      name
      type
      versions {
        id
        master
        label
      }
    }
  }
`);
const Delete = graphql(`
  mutation NotifDelete($id: Int!) {
    deleteNotification(id: $id)
  }
`);
const Duplicate = graphql(`
  mutation NotifDuplicate($id: Int!) {
    duplicateNotification(id: $id) {
      id
      key
      active
      name
      versions {
        id
        master
        contents {
          locale
          title
        }
      }
    }
  }
`);
const Activate = graphql(`
  mutation NotifActivate($id: Int!) {
    activateNotification(id: $id) {
      active
    }
  }
`);
const Deactivate = graphql(`
  mutation NotifDeactivate($id: Int!) {
    deactivateNotification(id: $id) {
      active
    }
  }
`);
const CreateVersion = graphql(`
  mutation NotifCreateVersion($notificationId: Int!, $input: NotificationVersionInput!) {
    createNotificationVersion(notificationId: $notificationId, input: $input) {
      id
      master
      label
    }
  }
`);
const UpdateVersion = graphql(`
  mutation NotifUpdateVersion($notificationId: Int!, $versionId: ID!, $input: NotificationVersionInput!) {
    updateNotificationVersion(notificationId: $notificationId, versionId: $versionId, input: $input) {
      id
      master
      label
    }
  }
`);
const DeleteVersion = graphql(`
  mutation NotifDeleteVersion($notificationId: Int!, $versionId: ID!) {
    deleteNotificationVersion(notificationId: $notificationId, versionId: $versionId)
  }
`);
const SetMaster = graphql(`
  mutation NotifSetMaster($notificationId: Int!, $versionId: ID!) {
    setMasterVersion(notificationId: $notificationId, versionId: $versionId) {
      id
      master
    }
  }
`);
const Render = graphql(`
  query NotifRender($id: Int!, $versionId: ID, $contact: ContactInput, $data: JSONObject, $locale: String) {
    renderNotification(id: $id, versionId: $versionId, contact: $contact, data: $data, locale: $locale) {
      type
      meta {
        notification
        version
      }
      render {
        locale
        title
        body
        email {
          subject
          html
        }
      }
      contact {
        id
        unicity
        hash
      }
    }
  }
`);
const Test = graphql(`
  mutation NotifTest($id: Int!, $versionId: ID, $input: NotificationTestInput) {
    testNotification(id: $id, versionId: $versionId, input: $input) {
      type
      id
      status
      render {
        title
        body
      }
      recipient {
        id
      }
    }
  }
`);
const Execute = graphql(`
  mutation NotifExecute($id: Int!, $executions: [ExecutionInput!]!) {
    executeNotification(id: $id, executions: $executions) {
      type
      id
      recipient {
        id
        hash
      }
      render {
        title
      }
      error {
        code
      }
    }
  }
`);
const Upsert = graphql(`
  mutation NotifUpsertUsers($users: [UserInput!]!) {
    upsertUsers(users: $users) {
      ok
      user {
        id
      }
    }
  }
`);

let h: TestHerald;
let auth: Record<string, string>;
let userId: string;

beforeAll(async () => {
  h = await startTestHerald();
  auth = bearer(h.project.apiKey);
  const res = await gql(
    h.url,
    Upsert,
    { users: [{ externalId: 'ada', email: 'Ada@Example.com', firstName: 'Ada', language: 'fr-FR', custom: { plan: 'pro' } }] },
    auth,
  );
  userId = res.data!.upsertUsers[0]!.user!.id;
});
afterAll(async () => {
  await h?.stop();
});

function input(overrides: Partial<NotificationInput> = {}): NotificationInput {
  return {
    type: 'in-app',
    name: 'Welcome',
    defaultLanguage: 'en',
    versions: [
      {
        label: 'v1',
        contents: [
          { locale: 'en', title: 'Hello {{ user.firstName | default: "there" }}', body: 'Plan: {{ plan }} / {{ data.n }}', email: { subject: 'Hi', html: '<p>{{ data.n }}</p><p>{{ data.n | raw }}</p>' } },
          { locale: 'fr', title: 'Bonjour {{ firstName }}', body: 'Salut' },
          { locale: 'de', title: 'Hallo', body: 'Hallo' },
        ],
      },
    ],
    ...overrides,
  };
}

async function create(overrides: Partial<NotificationInput> = {}) {
  const res = await gql(h.url, Create, { input: input(overrides) }, auth);
  expect(res.errors).toBeUndefined();
  return res.data!.createNotification;
}

const CreateOpen = graphql(`
  mutation NotifCreateOpen($input: NotificationInput!) {
    createNotification(input: $input) {
      id
      extra
      settings {
        urgent
        extra
      }
      task {
        name
        extra
      }
      versions {
        content
        contents {
          locale
          title
          thumbnail
        }
        extra
      }
    }
  }
`);

describe('NP6 content and open objects from GraphQL', () => {
  it('takes NP6 content of any type (kept as written) and extra members beside the known ones', async () => {
    const res = await gql(
      h.url,
      CreateOpen,
      {
        input: {
          type: 'push-app',
          name: 'Open',
          extra: { origin: 'np6' },
          settings: { urgent: true, extra: { quietHours: 1 } },
          task: { name: 't', extra: { owner: 'crm' } },
          versions: [{ content: { type: 'push-app', title: 'Hi', thumbnail: 'https://t', sound: 'chime' }, extra: { ab: 1 } }],
        },
      },
      auth,
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!.createNotification).toMatchObject({
      extra: { origin: 'np6' },
      settings: { urgent: true, extra: { quietHours: 1 } },
      task: { name: 't', extra: { owner: 'crm' } },
      versions: [{ content: { type: 'push-app', title: 'Hi', thumbnail: 'https://t', sound: 'chime' }, contents: [{ locale: 'en', title: 'Hi', thumbnail: 'https://t' }], extra: { ab: 1 } }],
    });
  });

  it('refuses a known member inside extra, both content and contents, and neither', async () => {
    const cases: [Partial<NotificationInput>, RegExp][] = [
      [{ extra: { name: 'x' } }, /^extra\.name: is a known member/],
      [{ versions: [{ content: { title: 'a' }, contents: [{ locale: 'en' }] }] }, /versions\.0\.content: give either content or contents/],
      [{ versions: [{ label: 'empty' }] }, /versions\.0\.content: is required/],
    ];
    for (const [overrides, message] of cases) {
      const res = await gql(h.url, Create, { input: input(overrides) }, auth);
      expect(res.errors?.[0]?.extensions?.code, JSON.stringify(overrides)).toBe('BAD_USER_INPUT');
      expect(res.errors?.[0]?.message, JSON.stringify(overrides)).toMatch(message);
    }
  });
});

describe('catalog CRUD', () => {
  it('creates a notification with its master version and reads it by id and key', async () => {
    const n = await create({ key: 'welcome', settings: { urgent: true, category: 3 } });
    expect(n).toMatchObject({ key: 'welcome', type: 'in-app', channels: ['IN_APP'], active: true, settings: { urgent: true, category: 3 } });
    expect(n.versions).toHaveLength(1);
    expect(n.versions[0]!.master).toBe(true);
    const byKey = await gql(h.url, Get, { key: 'welcome' }, auth);
    expect(byKey.data?.notification.id).toBe(n.id);
    expect(byKey.data?.notification.masterVersion?.id).toBe(n.versions[0]!.id);
    const dup = await gql(h.url, Create, { input: input({ key: 'welcome' }) }, auth);
    expect(dup.errors?.[0]?.extensions?.code).toBe('CONFLICT');
  });

  it('refuses bad input with messages naming the field', async () => {
    const cases: [Partial<NotificationInput>, RegExp][] = [
      [{ type: 'carrier-pigeon' }, /type/],
      [{ name: '  ' }, /name/],
      [{ defaultLanguage: 'es' }, /versions\.0\.contents: must include content for the default language "es"/],
      [{ versions: [{ contents: [{ locale: 'en', title: 'Hi {{ name' }] }] }, /versions\.0\.contents\.0\.title: template syntax error at line 1, column 4/],
      [{ versions: [{ contents: [{ locale: 'en', body: "{% include 'secrets' %}" }] }] }, /versions\.0\.contents\.0\.body: .*include/],
      [{ versions: [{ contents: [{ locale: 'en', title: '{{ x | nosuchfilter }}' }] }] }, /nosuchfilter/],
      [{ versions: [{ master: true, contents: [{ locale: 'en' }] }, { master: true, contents: [{ locale: 'en' }] }] }, /exactly one version/],
      [{ key: '123' }, /key/],
    ];
    const before = (await gql(h.url, List, {}, auth)).data!.notifications.totalCount;
    for (const [overrides, message] of cases) {
      const res = await gql(h.url, Create, { input: input(overrides) }, auth);
      expect(res.errors?.[0]?.extensions?.code, JSON.stringify(overrides)).toBe('BAD_USER_INPUT');
      expect(res.errors?.[0]?.message, JSON.stringify(overrides)).toMatch(message);
    }
    expect((await gql(h.url, List, {}, auth)).data!.notifications.totalCount).toBe(before);
  });

  it('lists with cursor pagination and filters', async () => {
    for (let i = 0; i < 5; i++) await create({ name: `Page ${i}`, active: i % 2 === 0 });
    const seen: number[] = [];
    let after: string | null | undefined;
    do {
      const page = (await gql(h.url, List, { first: 2, after }, auth)).data!.notifications;
      seen.push(...page.edges.map((e) => e.node.id));
      after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
    } while (after);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    const search = await gql(h.url, List, { filter: { search: 'page 3' } }, auth);
    expect(search.data!.notifications.edges.map((e) => e.node.name)).toEqual(['Page 3']);
    const inactive = await gql(h.url, List, { filter: { active: false, search: 'Page' } }, auth);
    expect(inactive.data!.notifications.edges.map((e) => e.node.name).sort()).toEqual(['Page 1', 'Page 3']);
  });

  it('updates (PUT), replacing versions when given, and deletes', async () => {
    const n = await create();
    const keep = n.versions[0]!.id;
    const updated = await gql(
      h.url,
      Update,
      { id: n.id, input: input({ name: 'Renamed', versions: [{ id: keep, label: 'kept', contents: [{ locale: 'en', title: 'A' }] }, { label: 'new', master: true, contents: [{ locale: 'en', title: 'B' }] }] }) },
      auth,
    );
    expect(updated.errors).toBeUndefined();
    const versions = updated.data!.updateNotification.versions;
    expect(updated.data!.updateNotification.name).toBe('Renamed');
    expect(versions.map((v) => [v.label, v.master])).toEqual([
      ['kept', false],
      ['new', true],
    ]);
    expect(versions[0]!.id).toBe(keep);
    expect((await gql(h.url, Delete, { id: n.id }, auth)).data?.deleteNotification).toBe(n.id);
    expect((await gql(h.url, Get, { id: n.id }, auth)).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await gql(h.url, Delete, { id: n.id }, auth)).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('duplicates with new ids, inactive and without key; activates and deactivates', async () => {
    const n = await create({ key: 'to-copy' });
    const copy = (await gql(h.url, Duplicate, { id: n.id }, auth)).data!.duplicateNotification;
    expect(copy.id).not.toBe(n.id);
    expect(copy).toMatchObject({ key: null, active: false, name: 'Welcome' });
    expect(copy.versions[0]!.id).not.toBe(n.versions[0]!.id);
    expect(copy.versions[0]).toMatchObject({ master: true, contents: n.versions[0]!.contents });
    expect((await gql(h.url, Activate, { id: copy.id }, auth)).data?.activateNotification.active).toBe(true);
    expect((await gql(h.url, Deactivate, { id: copy.id }, auth)).data?.deactivateNotification.active).toBe(false);
  });
});

describe('versions and the master', () => {
  it('creates, updates, refuses deleting the master, deletes others, sets master', async () => {
    const n = await create();
    const master = n.versions[0]!.id;
    const v2 = (await gql(h.url, CreateVersion, { notificationId: n.id, input: { label: 'v2', contents: [{ locale: 'en', title: 'Two' }] } }, auth)).data!
      .createNotificationVersion;
    expect(v2.master).toBe(false);
    const noDefault = await gql(h.url, CreateVersion, { notificationId: n.id, input: { contents: [{ locale: 'fr', title: 'Deux' }] } }, auth);
    expect(noDefault.errors?.[0]?.message).toMatch(/default language "en"/);
    const renamed = await gql(h.url, UpdateVersion, { notificationId: n.id, versionId: v2.id, input: { label: 'v2b', contents: [{ locale: 'en', title: 'Two' }] } }, auth);
    expect(renamed.data?.updateNotificationVersion.label).toBe('v2b');
    const delMaster = await gql(h.url, DeleteVersion, { notificationId: n.id, versionId: master }, auth);
    expect(delMaster.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    expect(delMaster.errors?.[0]?.message).toMatch(/master/);
    expect((await gql(h.url, SetMaster, { notificationId: n.id, versionId: v2.id }, auth)).data?.setMasterVersion.master).toBe(true);
    expect((await gql(h.url, DeleteVersion, { notificationId: n.id, versionId: master }, auth)).data?.deleteNotificationVersion).toBe(master);
    const after = (await gql(h.url, Get, { id: n.id }, auth)).data!.notification;
    expect(after.versions.map((v) => [v.id, v.master])).toEqual([[v2.id, true]]);
    const unknown = await gql(h.url, SetMaster, { notificationId: n.id, versionId: '00000000-0000-4000-8000-000000000000' }, auth);
    expect(unknown.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('keeps exactly one master under 20 concurrent set-master calls', async () => {
    const n = await create();
    const ids = [n.versions[0]!.id];
    for (let i = 0; i < 9; i++) {
      ids.push((await gql(h.url, CreateVersion, { notificationId: n.id, input: { contents: [{ locale: 'en', title: `${i}` }] } }, auth)).data!.createNotificationVersion.id);
    }
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => gql(h.url, SetMaster, { notificationId: n.id, versionId: ids[i % ids.length]! }, auth)),
    );
    expect(results.filter((r) => r.errors)).toEqual([]);
    const after = (await gql(h.url, Get, { id: n.id }, auth)).data!.notification;
    expect(after.versions.filter((v) => v.master)).toHaveLength(1);
  });

  it('enforces the single master in the database itself', async () => {
    const n = await create();
    const other = (await gql(h.url, CreateVersion, { notificationId: n.id, input: { contents: [{ locale: 'en', title: 'x' }] } }, auth)).data!.createNotificationVersion;
    const client = new pg.Client({ connectionString: h.config.DATABASE_URL });
    await client.connect();
    try {
      await expect(client.query('UPDATE "NotificationVersion" SET "masterOf" = $1 WHERE id = $2', [n.id, other.id])).rejects.toThrow(/unique/i);
      await expect(client.query('UPDATE "NotificationVersion" SET "masterOf" = $1 WHERE id = $2', [n.id + 1000, other.id])).rejects.toThrow(/check/i);
    } finally {
      await client.end();
    }
  });
});

describe('rendering', () => {
  it('renders with the requested locale, else the user language, else the default, else the first', async () => {
    const n = await create();
    const render = async (vars: { locale?: string; contact?: { id: string } }) =>
      (await gql(h.url, Render, { id: n.id, ...vars, data: { n: '<b>7</b>' } }, auth)).data!.renderNotification.render;
    expect((await render({ locale: 'de-AT' })).locale).toBe('de');
    expect(await render({ contact: { id: 'ada' } })).toMatchObject({ locale: 'fr', title: 'Bonjour Ada' });
    expect(await render({})).toMatchObject({ locale: 'en', title: 'Hello there', body: 'Plan:  / <b>7</b>' });
    const noDefault = await create({
      defaultLanguage: 'en',
      versions: [{ contents: [{ locale: 'en', title: 'E' }] }],
    });
    expect((await gql(h.url, Render, { id: noDefault.id, locale: 'ja' }, auth)).data!.renderNotification.render.locale).toBe('en');
  });

  it('escapes HTML in email bodies unless the template says raw, and fills user fields', async () => {
    const n = await create();
    const res = await gql(h.url, Render, { id: n.id, contact: { id: userId }, locale: 'en', data: { n: '<b>7</b>' } }, auth);
    expect(res.data!.renderNotification.render).toMatchObject({
      title: 'Hello Ada',
      body: 'Plan: pro / <b>7</b>',
      email: { subject: 'Hi', html: '<p>&lt;b&gt;7&lt;/b&gt;</p><p><b>7</b></p>' },
    });
  });

  it('finds the contact by id, externalId, unicity (email, any case) and hash', async () => {
    const n = await create();
    const hash = createHash('sha256').update('ada@example.com').digest('hex');
    for (const contact of [{ id: userId }, { id: 'ada' }, { unicity: 'ADA@example.COM' }, { hash }, { hash: hash.toUpperCase() }]) {
      const res = await gql(h.url, Render, { id: n.id, contact }, auth);
      expect(res.errors, JSON.stringify(contact)).toBeUndefined();
      expect(res.data!.renderNotification.contact).toEqual({ id: userId, unicity: 'Ada@Example.com', hash });
    }
    for (const contact of [{ id: 'nobody' }, { unicity: 'no@one.com' }, { hash: 'f'.repeat(64) }]) {
      const res = await gql(h.url, Render, { id: n.id, contact }, auth);
      expect(res.errors?.[0]?.extensions?.code, JSON.stringify(contact)).toBe('NOT_FOUND');
    }
    const both = await gql(h.url, Render, { id: n.id, contact: { id: 'ada', hash } }, auth);
    expect(both.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('tests and executions', () => {
  it('tests the master or a given version, inactive or not, and records the test', async () => {
    const n = await create({ active: false });
    const res = await gql(h.url, Test, { id: n.id, input: { recipient: { type: 'id', value: 'ada' }, data: { n: 1 }, title: 'Override {{ firstName }}' } }, auth);
    expect(res.errors).toBeUndefined();
    expect(res.data!.testNotification).toMatchObject({ type: 'success', status: 'SENT_TO_PIPELINE', render: { title: 'Override Ada' }, recipient: { id: userId } });
    const client = new pg.Client({ connectionString: h.config.DATABASE_URL });
    await client.connect();
    const rows = await client.query('SELECT kind, "userId", status FROM "Execution" WHERE id = $1', [res.data!.testNotification.id]);
    await client.end();
    expect(rows.rows).toEqual([{ kind: 'TEST', userId, status: 'SENT_TO_PIPELINE' }]);
  });

  it('executes an active notification per recipient and refuses an inactive one', async () => {
    const n = await create();
    const res = await gql(
      h.url,
      Execute,
      {
        id: n.id,
        executions: [
          { recipient: { type: 'id', value: 'ada' }, data: { n: 2 }, urgent: true, stamp: { time: 1700000000000, id: '497f6eca-6276-4993-bfeb-53cbbbba6f08' } },
          { recipient: { type: 'unicity', value: 'nobody@example.com' } },
          { recipient: { value: { hash: createHash('sha256').update('ada@example.com').digest('hex') } } },
        ],
      },
      auth,
    );
    expect(res.errors).toBeUndefined();
    const [a, b, c] = res.data!.executeNotification;
    expect(a).toMatchObject({ type: 'success', recipient: { id: userId }, render: { title: 'Bonjour Ada' } }); // Ada's language is fr-FR
    expect(b).toMatchObject({ type: 'failure', error: { code: 'contact/not-found' } });
    expect(c).toMatchObject({ type: 'success', recipient: { id: userId } });
    await gql(h.url, Deactivate, { id: n.id }, auth);
    const inactive = await gql(h.url, Execute, { id: n.id, executions: [{ recipient: { value: 'ada' } }] }, auth);
    expect(inactive.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    const tooMany = await gql(h.url, Execute, { id: n.id, executions: Array.from({ length: 501 }, () => ({ recipient: { value: 'ada' } })) }, auth);
    expect(tooMany.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('tenant isolation', () => {
  it("answers another project's notifications and versions like unknown ones", async () => {
    const mine = await create({ key: 'isolated' });
    const other = await h.newProject();
    const theirs = bearer(other.apiKey);
    expect((await gql(h.url, Get, { id: mine.id }, theirs)).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await gql(h.url, Get, { key: 'isolated' }, theirs)).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await gql(h.url, Delete, { id: mine.id }, theirs)).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await gql(h.url, SetMaster, { notificationId: mine.id, versionId: mine.versions[0]!.id }, theirs)).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await gql(h.url, Render, { id: mine.id }, theirs)).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await gql(h.url, List, {}, theirs)).data!.notifications.totalCount).toBe(0);
    // The same key is free in another project.
    const again = await gql(h.url, Create, { input: input({ key: 'isolated' }) }, theirs);
    expect(again.errors).toBeUndefined();
    // ...and another project's user is not a contact here.
    const theirsUser = await gql(h.url, Upsert, { users: [{ externalId: 'bob', email: 'bob@example.com' }] }, theirs);
    expect(theirsUser.data!.upsertUsers[0]!.ok).toBe(true);
    expect((await gql(h.url, Render, { id: mine.id, contact: { id: 'bob' } }, auth)).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});
