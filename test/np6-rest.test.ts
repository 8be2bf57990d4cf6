import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../src/generated/gql/index.ts';
import { pickLocale } from '../src/modules/notifications/render.ts';
import { bearer, gql, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';

const UpsertUsers = graphql(`
  mutation Np6TestUpsertUsers($users: [UserInput!]!) {
    upsertUsers(users: $users, mode: OVERWRITE) {
      ok
      user {
        id
        externalId
        email
      }
    }
  }
`);

let h: TestHerald;
const xKey = () => ({ 'x-key': h.project.apiKey });
const np6 = (method: string, path: string, body?: unknown) => rest(h.url, method, path, body, xKey());

const uuid = expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const stampOf = { creation: expect.any(String), modification: expect.any(String) };

/** NP6's example Notification body (seed: the duplication answer), placeholders filled in. */
function np6Notification(overrides: Record<string, unknown> = {}) {
  return {
    type: 'push-app',
    id: 0,
    name: 'Welcome',
    description: 'Sent after sign-up',
    stamp: { creation: '2019-08-24T14:15:22Z', modification: '2019-08-24T14:15:22Z' },
    active: true,
    settings: { urgent: true, category: 0, purpose: { type: 'marketing' }, expiration: { type: 'never' }, mp: {} },
    application: '2b22d485-f04e-492b-b364-e14f8506726a',
    task: { id: '497f6eca-6276-4993-bfeb-53cbbbba6f08', name: 'welcome task', description: 'on sign-up', scheduler: { type: 'immediate' } },
    versions: [
      {
        id: '497f6eca-6276-4993-bfeb-53cbbbba6f08',
        master: true,
        label: 'v1',
        stamp: { creation: '2019-08-24T14:15:22Z', modification: '2019-08-24T14:15:22Z' },
        scripting: { version: '1' },
        content: {
          type: 'localized',
          locales: {
            en: {
              title: 'Hello {{ firstName | default: "there" }}',
              body: 'Welcome, {{ data.plan | default: "free" }} user',
              icon: 'https://cdn.example.com/icon.png',
              email: { subject: 'Welcome', html: '<p>Hi {{ data.name }}</p><div>{{ data.name | raw }}</div>', text: 'Hi {{ data.name }}' },
              sms: { text: 'Hi {{ firstName }}' },
            },
            fr: { title: 'Bonjour {{ firstName }}', body: 'Bienvenue' },
            de: { title: 'Hallo {{ firstName }}', body: 'Willkommen' },
          },
        },
        redirection: { type: 'literal', value: 'app://home' },
        channel: { type: 'default' },
      },
    ],
    ...overrides,
  };
}

/** A version body in NP6's form, with content for the default language "en". */
const np6Version = (label: string, title: string) => ({
  label,
  content: { type: 'localized', locales: { en: { title, body: `${label} body` } } },
  redirection: { type: 'literal', value: `app://${label}` },
});

let alice: { id: string; email: string };
let bob: { id: string };

async function createNotification(overrides: Record<string, unknown> = {}) {
  const res = await np6('POST', '/notifications', np6Notification(overrides));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: number; versions: { id: string; master: boolean }[]; [k: string]: unknown };
}

beforeAll(async () => {
  h = await startTestHerald();
  const res = await gql(
    h.url,
    UpsertUsers,
    {
      users: [
        { externalId: 'alice-ext', email: 'Alice.Martin@Example.com', firstName: 'Alice', language: 'de' },
        { externalId: 'bob-ext', email: 'bob@example.com', firstName: 'Bob', language: 'es' },
      ],
    },
    xKey(),
  );
  expect(res.errors).toBeUndefined();
  const [a, b] = res.data!.upsertUsers;
  alice = { id: a!.user!.id, email: a!.user!.email! };
  bob = { id: b!.user!.id };
});
afterAll(async () => {
  await h?.stop();
});

describe('NP6 notifications: CRUD', () => {
  it('POST /notifications creates from NP6 example body (read-only id and stamp ignored) → 201 Notification', async () => {
    const created = await createNotification();
    expect(created).toMatchObject({
      type: 'push-app',
      key: null,
      name: 'Welcome',
      description: 'Sent after sign-up',
      stamp: stampOf,
      active: true,
      settings: { urgent: true, category: 0, purpose: { type: 'marketing' }, expiration: { type: 'never' }, mp: {} },
      application: '2b22d485-f04e-492b-b364-e14f8506726a',
      task: { id: '497f6eca-6276-4993-bfeb-53cbbbba6f08', name: 'welcome task', description: 'on sign-up', scheduler: { type: 'immediate' } },
      channels: ['IN_APP', 'MOBILE_PUSH'], // push-app: the in-app inbox and each device (the inbox only without a MOBILE_PUSH provider)
      defaultLanguage: 'en',
    });
    expect(created.id).toEqual(expect.any(Number));
    expect(created.id).not.toBe(0);
    expect(created.stamp).not.toEqual({ creation: '2019-08-24T14:15:22Z', modification: '2019-08-24T14:15:22Z' });
    expect(created.versions).toHaveLength(1);
    const [version] = created.versions as any[];
    expect(version).toMatchObject({
      id: uuid,
      master: true,
      label: 'v1',
      stamp: stampOf,
      scripting: { version: '1' },
      redirection: { type: 'literal', value: 'app://home' },
      channel: { type: 'default' },
      content: { type: 'localized' },
    });
    expect(version.id).not.toBe('497f6eca-6276-4993-bfeb-53cbbbba6f08');
    expect(Object.keys(version.content.locales).sort()).toEqual(['de', 'en', 'fr']);
    // The content is answered as it was written (no members added).
    expect(version.content.locales.fr).toEqual({ title: 'Bonjour {{ firstName }}', body: 'Bienvenue' });
    expect(version.content.locales.en.email).toEqual({ subject: 'Welcome', html: expect.stringContaining('| raw'), text: 'Hi {{ data.name }}' });
  });

  it('GET /notifications/:id answers the Notification; PUT /notifications/:id replaces it and round-trips the GET body', async () => {
    const created = await createNotification();
    const got = await np6('GET', `/notifications/${created.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(created);

    // A client PUTs back what it read, changed: the version ids are kept.
    const put = await np6('PUT', `/notifications/${created.id}`, { ...got.body, name: 'Welcome v2', settings: { ...got.body.settings, urgent: false } });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body).toMatchObject({ id: created.id, name: 'Welcome v2', settings: { urgent: false } });
    expect(put.body.versions.map((v: any) => v.id)).toEqual(created.versions.map((v) => v.id));

    // Herald's `contents` list is accepted too.
    const herald = await np6('PUT', `/notifications/${created.id}`, {
      type: 'push-app',
      name: 'Welcome v3',
      versions: [{ id: created.versions[0]!.id, contents: [{ locale: 'en', title: 'Hi' }] }],
    });
    expect(herald.status, JSON.stringify(herald.body)).toBe(200);
    expect(herald.body.versions).toHaveLength(1);
    expect(herald.body.versions[0]).toMatchObject({ id: created.versions[0]!.id, master: true, content: { type: 'localized', locales: { en: { title: 'Hi' } } } });
    expect((await np6('GET', `/notifications/${created.id}`)).body.name).toBe('Welcome v3');
  });

  it('DELETE /notifications/:id → 204 with no body, then 404', async () => {
    const created = await createNotification();
    const res = await np6('DELETE', `/notifications/${created.id}`);
    expect(res.status).toBe(204);
    expect(res.body).toBeUndefined();
    expect((await np6('GET', `/notifications/${created.id}`)).status).toBe(404);
  });

  it('GET /notifications answers a bare array, pages with limit/after and X-Next-Cursor, and filters', async () => {
    const other = await h.newProject('List project');
    const list = (query: string) => rest(h.url, 'GET', `/notifications${query}`, undefined, { 'x-key': other.apiKey });
    const post = (body: unknown) => rest(h.url, 'POST', '/notifications', body, { 'x-key': other.apiKey });
    for (const name of ['Alpha', 'Beta', 'Gamma']) expect((await post(np6Notification({ name }))).status).toBe(201);
    expect((await post(np6Notification({ name: 'Quiet one', active: false }))).status).toBe(201);
    expect((await post({ ...np6Notification({ name: 'Mail' }), type: 'email' })).status).toBe(201);

    const all = await list('');
    expect(all.status).toBe(200);
    expect(Array.isArray(all.body)).toBe(true);
    expect(all.body.map((n: any) => n.name)).toEqual(['Alpha', 'Beta', 'Gamma', 'Quiet one', 'Mail']);
    expect(all.headers.get('x-next-cursor')).toBeNull();
    expect(all.body[0]).toMatchObject({ type: 'push-app', stamp: stampOf, versions: [{ master: true, content: { type: 'localized' } }] });

    const first = await list('?limit=2');
    expect(first.body.map((n: any) => n.name)).toEqual(['Alpha', 'Beta']);
    const cursor = first.headers.get('x-next-cursor');
    expect(cursor).toEqual(expect.any(String));
    const second = await list(`?limit=2&after=${encodeURIComponent(cursor!)}`);
    expect(second.body.map((n: any) => n.name)).toEqual(['Gamma', 'Quiet one']);
    const third = await list(`?limit=2&after=${encodeURIComponent(second.headers.get('x-next-cursor')!)}`);
    expect(third.body.map((n: any) => n.name)).toEqual(['Mail']);
    expect(third.headers.get('x-next-cursor')).toBeNull();

    expect((await list('?active=false')).body.map((n: any) => n.name)).toEqual(['Quiet one']);
    expect((await list('?type=email')).body.map((n: any) => n.name)).toEqual(['Mail']);
    expect((await list('?search=AMM')).body.map((n: any) => n.name)).toEqual(['Gamma']);
    expect((await list('?limit=500')).body).toHaveLength(5); // clamped to 200 by GraphQL

    const badLimit = await list('?limit=lots');
    expect(badLimit.status).toBe(400);
    expect(badLimit.body.message).toMatch(/limit/);
    expect((await list('?active=maybe')).status).toBe(400);
  });

  it('POST /notifications/:id/duplication → 200, an inactive copy with new ids', async () => {
    const created = await createNotification({ key: 'dup-source' });
    const res = await np6('POST', `/notifications/${created.id}/duplication`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ type: 'push-app', name: 'Welcome', active: false, key: null, stamp: stampOf });
    expect(res.body.id).not.toBe(created.id);
    expect(res.body.versions).toHaveLength(1);
    expect(res.body.versions[0].id).not.toBe(created.versions[0]!.id);
    expect(res.body.versions[0]).toMatchObject({ master: true, content: (created.versions[0] as any).content });
  });

  it('POST /notifications/:id/activation and /deactivation → 204', async () => {
    const created = await createNotification({ active: false });
    const on = await np6('POST', `/notifications/${created.id}/activation`);
    expect(on.status).toBe(204);
    expect(on.body).toBeUndefined();
    expect((await np6('GET', `/notifications/${created.id}`)).body.active).toBe(true);
    const off = await np6('POST', `/notifications/${created.id}/deactivation`);
    expect(off.status).toBe(204);
    expect((await np6('GET', `/notifications/${created.id}`)).body.active).toBe(false);
  });
});

describe('NP6 notifications: versions (Herald extension)', () => {
  it('lists, creates, reads, updates, sets the master of and deletes versions', async () => {
    const created = await createNotification();
    const id = created.id;
    const masterId = created.versions[0]!.id;

    const added = await np6('POST', `/notifications/${id}/versions`, np6Version('b', 'Version B'));
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    expect(added.body).toMatchObject({
      id: uuid,
      master: false,
      label: 'b',
      stamp: stampOf,
      content: { type: 'localized', locales: { en: { title: 'Version B', body: 'b body' } } },
      redirection: { type: 'literal', value: 'app://b' },
    });
    const versionB = added.body.id as string;

    const listed = await np6('GET', `/notifications/${id}/versions`);
    expect(listed.status).toBe(200);
    expect(listed.body.map((v: any) => [v.id, v.master])).toEqual([
      [masterId, true],
      [versionB, false],
    ]);

    const one = await np6('GET', `/notifications/${id}/versions/${versionB}`);
    expect(one.status).toBe(200);
    expect(one.body).toEqual(added.body);

    // PUT takes what GET answered (id and stamp are read-only).
    const put = await np6('PUT', `/notifications/${id}/versions/${versionB}`, { ...one.body, label: 'b2' });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body).toMatchObject({ id: versionB, label: 'b2', master: false });

    const master = await np6('POST', `/notifications/${id}/versions/${versionB}/master`);
    expect(master.status).toBe(200);
    expect(master.body).toMatchObject({ id: versionB, master: true });
    const after = await np6('GET', `/notifications/${id}/versions`);
    expect(after.body.map((v: any) => v.master)).toEqual([false, true]);

    // The master cannot be deleted; another one can.
    const refused = await np6('DELETE', `/notifications/${id}/versions/${versionB}`);
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ type: 'error', status: 409, code: 'CONFLICT', message: expect.stringMatching(/master/) });
    const deleted = await np6('DELETE', `/notifications/${id}/versions/${masterId}`);
    expect(deleted.status).toBe(204);
    expect(deleted.body).toBeUndefined();
    expect((await np6('GET', `/notifications/${id}/versions/${masterId}`)).status).toBe(404);
    expect((await np6('GET', `/notifications/${id}/versions`)).body.map((v: any) => v.id)).toEqual([versionB]);
  });

  it('answers 404 for an unknown version, and for a version of another notification', async () => {
    const a = await createNotification();
    const b = await createNotification();
    const unknown = '0190f0f0-0000-7000-8000-000000000000';
    for (const path of [
      `/notifications/${a.id}/versions/${unknown}`,
      `/notifications/${a.id}/versions/${b.versions[0]!.id}`,
      `/notifications/${a.id}/versions/not-a-uuid`,
    ]) {
      const res = await np6('GET', path);
      expect(res.status, path).toBe(404);
      expect(res.body, path).toMatchObject({ type: 'error', status: 404, code: 'NOT_FOUND' });
    }
    expect((await np6('PUT', `/notifications/${a.id}/versions/${unknown}`, np6Version('x', 'X'))).status).toBe(404);
    expect((await np6('POST', `/notifications/${a.id}/versions/${unknown}/master`)).status).toBe(404);
    expect((await np6('POST', `/notifications/${a.id}/versions/${unknown}/render`, {})).status).toBe(404);
  });
});

describe('NP6 notifications: errors', () => {
  it("answers 404 in NP6's shape for an unknown id, and exactly the same for another project's id", async () => {
    const unknown = await np6('GET', '/notifications/999999');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ type: 'error', status: 404, code: 'NOT_FOUND', message: 'Notification "999999" not found' });
    expect(unknown.headers.get('x-request-id')).toEqual(expect.any(String));

    const other = await h.newProject('Foreign');
    const foreign = await rest(h.url, 'POST', '/notifications', np6Notification(), { 'x-key': other.apiKey });
    expect(foreign.status).toBe(201);
    const foreignId = foreign.body.id as number;
    const paths: [string, string, unknown?][] = [
      ['GET', `/notifications/${foreignId}`],
      ['PUT', `/notifications/${foreignId}`, np6Notification()],
      ['DELETE', `/notifications/${foreignId}`],
      ['POST', `/notifications/${foreignId}/duplication`],
      ['POST', `/notifications/${foreignId}/render`, {}],
      ['POST', `/notifications/${foreignId}/test`, {}],
      ['POST', `/notifications/${foreignId}/executions`, [{ recipient: { type: 'id', value: 'alice-ext' } }]],
      ['GET', `/notifications/${foreignId}/versions`],
    ];
    for (const [method, path, body] of paths) {
      const res = await np6(method, path, body);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body, `${method} ${path}`).toEqual({ type: 'error', status: 404, code: 'NOT_FOUND', message: `Notification "${foreignId}" not found` });
    }
    // ...and it is untouched.
    expect((await rest(h.url, 'GET', `/notifications/${foreignId}`, undefined, { 'x-key': other.apiKey })).body.name).toBe('Welcome');
  });

  it('answers 400 naming the field for an invalid type, a missing name or a non-int id', async () => {
    const badType = await np6('POST', '/notifications', np6Notification({ type: 'carrier-pigeon' }));
    expect(badType.status).toBe(400);
    expect(badType.body).toMatchObject({ type: 'error', status: 400, code: 'BAD_USER_INPUT', message: expect.stringMatching(/^type: must be one of/) });
    expect(badType.body.issues).toEqual([{ field: 'type', message: expect.any(String) }]);

    const { name: _name, ...nameless } = np6Notification();
    const noName = await np6('POST', '/notifications', nameless);
    expect(noName.status).toBe(400);
    expect(noName.body.message).toMatch(/^name: is required/);
    expect(noName.body.issues).toEqual([{ field: 'name', message: 'is required' }]);

    const blankName = await np6('POST', '/notifications', np6Notification({ name: '  ' }));
    expect(blankName.status).toBe(400);
    expect(blankName.body.message).toMatch(/^name: is required/);

    const badId = await np6('GET', '/notifications/abc');
    expect(badId.status).toBe(400);
    expect(badId.body.message).toMatch(/^id:/);

    const notObject = await np6('POST', '/notifications', [np6Notification()]);
    expect(notObject.status).toBe(400);
    expect(notObject.body.message).toMatch(/JSON object/);
  });

  it('answers 400 for a version without content for the default language', async () => {
    const body = np6Notification({
      defaultLanguage: 'en',
      versions: [{ master: true, content: { type: 'localized', locales: { fr: { title: 'Bonjour' } } } }],
    });
    const res = await np6('POST', '/notifications', body);
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/versions\[0\]\.content: must include content for the default language "en"/);

    const created = await createNotification();
    const added = await np6('POST', `/notifications/${created.id}/versions`, { content: { type: 'localized', locales: { de: { title: 'Hallo' } } } });
    expect(added.status).toBe(400);
    expect(added.body.message).toMatch(/default language "en"/);
  });

  it('answers 400 with line and column for a Liquid syntax error, and refuses {% include %} at save', async () => {
    const broken = await np6('POST', '/notifications', {
      ...np6Notification(),
      versions: [{ content: { type: 'localized', locales: { en: { title: 'ok', body: 'Hello\n  {{ firstName ' } } } }],
    });
    expect(broken.status).toBe(400);
    expect(broken.body.message).toMatch(/versions\[0\]\.content\.locales\.en\.body: template syntax error at line 2, column \d+/);

    const created = await createNotification();
    const include = await np6('POST', `/notifications/${created.id}/versions`, {
      content: { type: 'localized', locales: { en: { title: 'x', body: "{% include 'secrets' %}" } } },
    });
    expect(include.status).toBe(400);
    expect(include.body.message).toMatch(/^content\.locales\.en\.body: template syntax error at line 1, column \d+: .*include/);
    const render = await np6('PUT', `/notifications/${created.id}`, {
      ...np6Notification(),
      versions: [{ content: { type: 'localized', locales: { en: { body: "{% render 'x' %}" } } } }],
    });
    expect(render.status).toBe(400);
  });

  it('answers 409 when executing an inactive notification', async () => {
    const created = await createNotification({ active: false });
    const res = await np6('POST', `/notifications/${created.id}/executions`, [{ recipient: { type: 'id', value: 'alice-ext' } }]);
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ type: 'error', status: 409, code: 'CONFLICT', message: expect.stringMatching(/inactive/) });
    expect((await np6('POST', `/notifications/${created.id}/execution`, { recipient: { type: 'id', value: 'alice-ext' } })).status).toBe(409);
  });

  it('answers 401 for a bad X-Key, no credentials, or Bearer on an NP6 path', async () => {
    const created = await createNotification();
    const refused: Record<string, string>[] = [{ 'x-key': `${h.project.apiKey}x` }, { 'x-key': 'nonsense' }, {}, bearer(h.project.apiKey)];
    for (const headers of refused) {
      for (const [method, path] of [
        ['GET', '/notifications'],
        ['GET', `/notifications/${created.id}`],
      ] as const) {
        const res = await rest(h.url, method, path, undefined, headers);
        expect(res.status, `${JSON.stringify(headers)} ${path}`).toBe(401);
        expect(res.body).toMatchObject({ type: 'error', status: 401, code: 'UNAUTHENTICATED' });
      }
    }
  });
});

describe('NP6 notifications: renders', () => {
  let n: { id: number; versions: { id: string }[] };
  let versionB: string;
  beforeAll(async () => {
    n = await createNotification();
    const added = await np6('POST', `/notifications/${n.id}/versions`, np6Version('b', 'B for {{ firstName }}'));
    expect(added.status).toBe(201);
    versionB = added.body.id;
  });

  it('POST /render renders the master with no contact, echoing the stamp (NP6 render result)', async () => {
    const stamp = { time: 0, id: '497f6eca-6276-4993-bfeb-53cbbbba6f08', thread: '4e557e2e-a322-4083-8cda-d0357ed0cb0c', set: '6218c222-bd9f-4d43-9cbb-d1adfe7e63bd' };
    const res = await np6('POST', `/notifications/${n.id}/render`, { related: {}, data: { plan: 'pro', name: 'Zoe' }, stamp });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({
      type: 'success',
      meta: {
        notification: n.id,
        version: n.versions[0]!.id,
        application: '2b22d485-f04e-492b-b364-e14f8506726a',
        subscription: null,
        stamp,
        channel: 'default',
        redirection: 'app://home',
      },
      render: {
        title: 'Hello there',
        body: 'Welcome, pro user',
        icon: 'https://cdn.example.com/icon.png',
        thumbnail: null,
        image: null,
        locale: 'en',
        email: { subject: 'Welcome', html: '<p>Hi Zoe</p><div>Zoe</div>', text: 'Hi Zoe' },
        sms: { text: 'Hi ' },
        whatsapp: null,
      },
    });
    // No body at all: the same render with no data.
    expect((await np6('POST', `/notifications/${n.id}/render`)).body.render.title).toBe('Hello there');
  });

  it('HTML-escapes outputs in email.html unless `| raw`; text stays as is', async () => {
    const res = await np6('POST', `/notifications/${n.id}/render`, { data: { name: '<b>Zoe & co</b>' } });
    expect(res.body.render.email).toEqual({
      subject: 'Welcome',
      html: '<p>Hi &lt;b&gt;Zoe &amp; co&lt;/b&gt;</p><div><b>Zoe & co</b></div>',
      text: 'Hi <b>Zoe & co</b>',
    });
  });

  it('renders for a receiver given by Herald id, externalId, unicity (case-insensitive) or hash', async () => {
    const receivers = [{ id: alice.id }, { id: 'alice-ext' }, { unicity: alice.email.toUpperCase() }, { hash: sha256(alice.email.toLowerCase()) }];
    for (const receiver of receivers) {
      const res = await np6('POST', `/notifications/${n.id}/render`, { receiver, data: { name: 'A' } });
      expect(res.status, JSON.stringify(receiver)).toBe(200);
      expect(res.body.render, JSON.stringify(receiver)).toMatchObject({ title: 'Hallo Alice', locale: 'de' });
    }
    const unknown = await np6('POST', `/notifications/${n.id}/render`, { receiver: { id: 'nobody' } });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ type: 'error', status: 404, code: 'NOT_FOUND', message: 'Contact "nobody" not found' });
  });

  it('GET /render/contact/:contact and /render/contact?unicity=|hash= render the master for a contact', async () => {
    const base = `/notifications/${n.id}/render/contact`;
    const paths = [
      `${base}/${alice.id}`,
      `${base}/alice-ext`,
      `${base}?unicity=${encodeURIComponent(alice.email.toUpperCase())}`,
      `${base}?hash=${sha256(alice.email.toLowerCase())}`,
    ];
    for (const path of paths) {
      const res = await np6('GET', path);
      expect(res.status, path).toBe(200);
      expect(res.body, path).toMatchObject({
        type: 'success',
        meta: { notification: n.id, version: n.versions[0]!.id, subscription: null, stamp: { time: expect.any(Number), id: uuid, thread: uuid, set: uuid } },
        render: { title: 'Hallo Alice', body: 'Willkommen', locale: 'de' },
      });
    }
    for (const path of [`${base}/nobody`, `${base}?unicity=nobody@example.com`, `${base}?hash=${sha256('nobody@example.com')}`]) {
      const res = await np6('GET', path);
      expect(res.status, path).toBe(404);
      expect(res.body).toMatchObject({ type: 'error', code: 'NOT_FOUND' });
    }
    const neither = await np6('GET', base);
    expect(neither.status).toBe(400);
    expect(neither.body.message).toMatch(/unicity.*hash/);
  });

  it('renders a given version: POST /versions/:version/render and its three contact variants', async () => {
    const base = `/notifications/${n.id}/versions/${versionB}`;
    const post = await np6('POST', `${base}/render`, { receiver: { unicity: alice.email } });
    expect(post.status).toBe(200);
    expect(post.body).toMatchObject({ type: 'success', meta: { version: versionB, redirection: 'app://b', channel: null }, render: { title: 'B for Alice', locale: 'en' } });
    const noContact = await np6('POST', `${base}/render`, {});
    expect(noContact.body.render.title).toBe('B for ');
    for (const path of [`${base}/render/contact/${bob.id}`, `${base}/render/contact?unicity=BOB@example.com`, `${base}/render/contact?hash=${sha256('bob@example.com')}`]) {
      const res = await np6('GET', path);
      expect(res.status, path).toBe(200);
      expect(res.body, path).toMatchObject({ meta: { notification: n.id, version: versionB }, render: { title: 'B for Bob', body: 'b body' } });
    }
    expect((await np6('GET', `${base}/render/contact`)).status).toBe(400);
    expect((await np6('GET', `${base}/render/contact/nobody`)).status).toBe(404);
  });

  it('picks the locale: requested (fr-FR → fr), else the contact language, else the default language', async () => {
    const render = async (body: Record<string, unknown>) => (await np6('POST', `/notifications/${n.id}/render`, body)).body.render;
    expect(await render({ locale: 'fr-FR' })).toMatchObject({ locale: 'fr', title: 'Bonjour ', body: 'Bienvenue' });
    expect(await render({ locale: 'fr-FR', receiver: { id: 'alice-ext' } })).toMatchObject({ locale: 'fr', title: 'Bonjour Alice' });
    expect(await render({ receiver: { id: 'alice-ext' } })).toMatchObject({ locale: 'de', title: 'Hallo Alice' }); // alice: de
    expect(await render({ receiver: { id: 'bob-ext' } })).toMatchObject({ locale: 'en', title: 'Hello Bob' }); // bob: es, none → default
    expect(await render({ locale: 'it' })).toMatchObject({ locale: 'en' });
    const get = await np6('GET', `/notifications/${n.id}/render/contact/bob-ext?locale=fr_FR`);
    expect(get.body.render).toMatchObject({ locale: 'fr', title: 'Bonjour Bob' });
    // "First available" only happens when the default language has no content, which saving
    // never allows (400 above), so it is checked on the picker itself.
    expect(pickLocale(['de', 'it'], ['fr-FR', 'es', 'en'])).toBe('de');
  });
});

describe('NP6 notifications: tests', () => {
  it("POST /test renders the master for NP6's test body and records the test (inactive notifications too)", async () => {
    const n = await createNotification({ active: false });
    const body = {
      recipient: { type: 'unicity', value: alice.email },
      title: 'Test for {{ firstName }} ({{ data.plan }}, {{ tier }})',
      body: 'string',
      icon: 'https://cdn.example.com/test.png',
      thumbnail: 'https://cdn.example.com/thumb.png',
      image: 'https://cdn.example.com/image.png',
      data: { plan: 'gold' },
      variables: [{ tier: 'one' }, { tier: 'two' }],
      expiration: { type: 'relative', value: { hours: 1 } },
      redirection: { type: 'literal', value: 'app://test' },
      channel: { type: 'default' },
    };
    const res = await np6('POST', `/notifications/${n.id}/test`, body);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({
      type: 'success',
      id: uuid,
      status: 'SENT_TO_PIPELINE', // a test with a recipient is also sent to them (was RECORDED)
      meta: expect.objectContaining({ notification: n.id, version: n.versions[0]!.id }),
      fallback: { from: 'MOBILE_PUSH', to: ['IN_APP'], reason: expect.any(String) }, // push-app, sent to a recipient
      recipient: { type: 'footprint', id: alice.id, externalId: 'alice-ext', unicity: alice.email, hash: sha256(alice.email.toLowerCase()) },
      render: expect.objectContaining({
        title: 'Test for Alice (gold, two)',
        body: 'string',
        icon: 'https://cdn.example.com/test.png',
        thumbnail: 'https://cdn.example.com/thumb.png',
        image: 'https://cdn.example.com/image.png',
        locale: 'de',
      }),
    });

    const noRecipient = await np6('POST', `/notifications/${n.id}/test`, {});
    expect(noRecipient.status).toBe(200);
    expect(noRecipient.body).toMatchObject({ type: 'success', status: 'RECORDED', recipient: null, render: { title: 'Hello there', locale: 'en' } });

    const numeric = await np6('POST', `/notifications/${n.id}/test`, { recipient: { type: 'id', value: 4242 } });
    expect(numeric.status).toBe(404);
  });

  it('POST /versions/:version/test tests the given version', async () => {
    const n = await createNotification();
    const added = await np6('POST', `/notifications/${n.id}/versions`, np6Version('t', 'Tested {{ firstName }}'));
    const res = await np6('POST', `/notifications/${n.id}/versions/${added.body.id}/test`, { recipient: { type: 'id', value: 'bob-ext' } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({
      type: 'success',
      id: uuid,
      meta: { notification: n.id, version: added.body.id, redirection: 'app://t' },
      recipient: { type: 'footprint', id: bob.id, externalId: 'bob-ext' },
      render: { title: 'Tested Bob', locale: 'en' },
    });
  });
});

describe('NP6 notifications: executions', () => {
  /** NP6's example execution item (seed), placeholders filled in. */
  const item = (value: unknown) => ({
    recipient: { type: 'id', value },
    title: 'Hi {{ firstName }}',
    body: 'string',
    icon: 'string',
    thumbnail: 'string',
    image: 'string',
    data: {},
    variables: [{}],
    redirection: { type: 'string' },
    channel: { type: 'string' },
    stamp: { time: 0, id: '497f6eca-6276-4993-bfeb-53cbbbba6f08', thread: '4e557e2e-a322-4083-8cda-d0357ed0cb0c', set: '6218c222-bd9f-4d43-9cbb-d1adfe7e63bd' },
    urgent: true,
  });

  it('POST /executions takes an array and answers one result per item, in order', async () => {
    const n = await createNotification();
    const res = await np6('POST', `/notifications/${n.id}/executions`, [
      item('alice-ext'),
      item('nobody'),
      { recipient: { type: 'unicity', value: 'BOB@EXAMPLE.COM' } },
      { recipient: { value: { hash: sha256(alice.email.toLowerCase()) } } },
    ]);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const footprintAlice = { type: 'footprint', id: alice.id, externalId: 'alice-ext', unicity: alice.email, hash: sha256(alice.email.toLowerCase()) };
    const fallback = { from: 'MOBILE_PUSH', to: ['IN_APP'], reason: expect.any(String) };
    const generated = { time: expect.any(Number), id: uuid, thread: uuid, set: uuid };
    expect(res.body).toEqual([
      { type: 'success', id: uuid, recipient: footprintAlice, stamp: item('x').stamp, fallback },
      { type: 'failure', error: { code: 'contact/not-found', message: expect.any(String) } },
      { type: 'success', id: uuid, recipient: expect.objectContaining({ type: 'footprint', id: bob.id, unicity: 'bob@example.com' }), stamp: generated, fallback },
      { type: 'success', id: uuid, recipient: footprintAlice, stamp: generated, fallback },
    ]);
    // Herald's stamp: the execution id, its own thread, one set per call.
    expect(res.body[2].stamp).toMatchObject({ id: res.body[2].id, thread: res.body[2].id, set: res.body[3].stamp.set });
    expect(res.headers.get('x-herald-fallback')).toBe('push-app: MOBILE_PUSH -> IN_APP');

    const notArray = await np6('POST', `/notifications/${n.id}/executions`, item('alice-ext'));
    expect(notArray.status).toBe(400);
    expect(notArray.body.message).toMatch(/array/);
    const bad = await np6('POST', `/notifications/${n.id}/executions`, [{ title: 'no recipient' }]);
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/recipient/);
  });

  it('POST /execution takes one item: 200 with its result, 404 for an unknown contact', async () => {
    const n = await createNotification();
    const res = await np6('POST', `/notifications/${n.id}/execution`, item(alice.id));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({
      type: 'success',
      id: uuid,
      recipient: expect.objectContaining({ type: 'footprint', id: alice.id, externalId: 'alice-ext' }),
      stamp: item('x').stamp,
      fallback: { from: 'MOBILE_PUSH', to: ['IN_APP'], reason: expect.any(String) },
    });

    const unknown = await np6('POST', `/notifications/${n.id}/execution`, item('nobody'));
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ type: 'error', status: 404, code: 'NOT_FOUND', message: 'no contact matches the recipient' });
    expect(unknown.headers.get('x-request-id')).toEqual(expect.any(String));

    const array = await np6('POST', `/notifications/${n.id}/execution`, [item(alice.id)]);
    expect(array.status).toBe(400);
  });
});

describe('OpenAPI', () => {
  it('GET /openapi.json lists the NP6 paths with X-Key security', async () => {
    const res = await rest(h.url, 'GET', '/openapi.json');
    expect(res.status).toBe(200);
    const paths = res.body.paths as Record<string, Record<string, any>>;
    const expected: Record<string, string[]> = {
      '/notifications': ['get', 'post'],
      '/notifications/{id}': ['get', 'put', 'delete'],
      '/notifications/{id}/duplication': ['post'],
      '/notifications/{id}/activation': ['post'],
      '/notifications/{id}/deactivation': ['post'],
      '/notifications/{id}/versions': ['get', 'post'],
      '/notifications/{id}/versions/{version}': ['get', 'put', 'delete'],
      '/notifications/{id}/versions/{version}/master': ['post'],
      '/notifications/{id}/render': ['post'],
      '/notifications/{id}/render/contact/{contact}': ['get'],
      '/notifications/{id}/render/contact': ['get'],
      '/notifications/{id}/versions/{version}/render': ['post'],
      '/notifications/{id}/versions/{version}/render/contact/{contact}': ['get'],
      '/notifications/{id}/versions/{version}/render/contact': ['get'],
      '/notifications/{id}/test': ['post'],
      '/notifications/{id}/versions/{version}/test': ['post'],
      '/notifications/{id}/executions': ['post'],
      '/notifications/{id}/execution': ['post'],
    };
    for (const [path, methods] of Object.entries(expected)) {
      expect(Object.keys(paths[path] ?? {}).sort(), path).toEqual([...methods].sort());
      for (const method of methods) {
        expect(paths[path]![method].tags, `${method} ${path}`).toEqual(['np6']);
        expect(paths[path]![method].security, `${method} ${path}`).toEqual([{ np6: [] }]);
      }
    }
    expect(res.body.components.securitySchemes.np6).toEqual({ type: 'apiKey', in: 'header', name: 'X-Key' });
    expect(paths['/notifications']!.post.requestBody.content['application/json'].schema.required).toEqual(['type', 'name']);
    expect(paths['/notifications']!.post.responses['201']).toBeDefined();
    expect(paths['/notifications']!.get.parameters.map((p: any) => p.name)).toEqual(expect.arrayContaining(['limit', 'cursor', 'after', 'active', 'type', 'search']));
    expect(paths['/notifications']!.get.responses['200'].headers['X-Next-Cursor']).toBeDefined();
    expect(paths['/notifications/{id}/render/contact']!.get.parameters.map((p: any) => p.name)).toEqual(['id', 'unicity', 'hash', 'locale']);
    expect(paths['/notifications/{id}']!.delete.responses['204']).toBeDefined();
  });
});
