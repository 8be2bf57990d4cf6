import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { graphql } from '../src/generated/gql/index.ts';
import { prisma } from '../src/db/client.ts';
import { cachedKey } from '../src/modules/projects/key-cache.ts';
import { openPubSub } from '../src/realtime/pubsub.ts';
import { bearer, gql, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor } from './helpers/http-server.ts';

const ProjectQuery = graphql(`
  query AuthProject {
    project {
      id
      name
    }
  }
`);

const CreateKey = graphql(`
  mutation AuthCreateKey($name: String!) {
    createApiKey(name: $name) {
      apiKey
      keySecret
      key {
        id
        name
        active
      }
    }
  }
`);

const RevokeKey = graphql(`
  mutation AuthRevokeKey($id: ID!) {
    revokeApiKey(id: $id) {
      id
      active
      revokedAt
    }
  }
`);

const ListKeys = graphql(`
  query AuthListKeys($includeRevoked: Boolean) {
    project {
      apiKeys(includeRevoked: $includeRevoked) {
        id
        active
      }
    }
  }
`);

let h: TestHerald;
beforeAll(async () => {
  h = await startTestHerald();
});
afterAll(async () => {
  await h?.stop();
});

const basic = (user: string, pass: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` });

describe('the four credential styles on GraphQL', () => {
  it('accepts Bearer, X-Key, Neucron headers and HTTP Basic for the same key', async () => {
    const { apiKey, keyId, keySecret, projectId } = h.project;
    const styles: Record<string, Record<string, string>> = {
      bearer: bearer(apiKey),
      xKey: { 'x-key': apiKey },
      neucron: { 'x-neucron-app-id': projectId, 'x-neucron-key-id': keyId, 'x-neucron-key-secret': keySecret },
      // Neucron clients send a token of their own too: the X-Neucron-* headers decide.
      neucronWithOwnToken: {
        authorization: 'some-neucron-jwt',
        'x-neucron-app-id': projectId,
        'x-neucron-key-id': keyId,
        'x-neucron-key-secret': keySecret,
      },
      basic: basic(keyId, keySecret),
    };
    for (const [style, headers] of Object.entries(styles)) {
      const res = await gql(h.url, ProjectQuery, {}, headers);
      expect(res.errors, style).toBeUndefined();
      expect(res.data?.project.id, style).toBe(projectId);
    }
  });

  it('answers UNAUTHENTICATED without credentials, and 401 for wrong ones in every style', async () => {
    const none = await gql(h.url, ProjectQuery, {});
    expect(none.data).toBeNull();
    expect(none.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

    const { apiKey, keyId, keySecret, projectId } = h.project;
    const other = await h.newProject();
    const wrong: Record<string, Record<string, string>> = {
      bearerWrongSecret: bearer(`${keyId}.wrong`),
      bearerUnknownKey: bearer(`hk_00000000000000000000.${keySecret}`),
      bearerMalformed: bearer('not-a-key'),
      xKeyWrong: { 'x-key': `${apiKey}x` },
      neucronWrongApp: { 'x-neucron-app-id': other.projectId, 'x-neucron-key-id': keyId, 'x-neucron-key-secret': keySecret },
      neucronMissingSecret: { 'x-neucron-app-id': projectId, 'x-neucron-key-id': keyId },
      basicWrong: basic(keyId, 'nope'),
      unknownScheme: { authorization: `Token ${apiKey}` },
    };
    for (const [style, headers] of Object.entries(wrong)) {
      const res = await gql(h.url, ProjectQuery, {}, headers);
      expect(res.status, style).toBe(401);
      expect(res.errors?.[0]?.extensions?.code, style).toBe('UNAUTHENTICATED');
      expect(res.data ?? null, style).toBeNull();
    }
  });

  it('keeps projects apart: a key only ever sees its own project', async () => {
    const other = await h.newProject('Second');
    const res = await gql(h.url, ProjectQuery, {}, bearer(other.apiKey));
    expect(res.data?.project).toEqual({ id: other.projectId, name: 'Second' });
  });
});

describe('API keys', () => {
  it('creates, lists and revokes keys; a revoked key stops working at once', async () => {
    const created = await gql(h.url, CreateKey, { name: 'ci' }, bearer(h.project.apiKey));
    expect(created.errors).toBeUndefined();
    const newKey = created.data!.createApiKey;
    expect(newKey.key).toMatchObject({ name: 'ci', active: true });
    expect(newKey.apiKey).toBe(`${newKey.key.id}.${newKey.keySecret}`);

    expect((await gql(h.url, ProjectQuery, {}, bearer(newKey.apiKey))).data?.project.id).toBe(h.project.projectId);
    const listed = await gql(h.url, ListKeys, {}, bearer(h.project.apiKey));
    expect(listed.data!.project.apiKeys.map((k) => k.id)).toContain(newKey.key.id);

    const revoked = await gql(h.url, RevokeKey, { id: newKey.key.id }, bearer(h.project.apiKey));
    expect(revoked.data?.revokeApiKey).toMatchObject({ id: newKey.key.id, active: false });
    expect(revoked.data?.revokeApiKey.revokedAt).toEqual(expect.any(String));

    const after = await gql(h.url, ProjectQuery, {}, bearer(newKey.apiKey));
    expect(after.status).toBe(401);
    expect(after.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const restAfter = await rest(h.url, 'POST', '/users.upsert', { users: [{ id: 'x' }] }, bearer(newKey.apiKey));
    expect(restAfter.status).toBe(401);

    const active = await gql(h.url, ListKeys, {}, bearer(h.project.apiKey));
    expect(active.data!.project.apiKeys.map((k) => k.id)).not.toContain(newKey.key.id);
    const all = await gql(h.url, ListKeys, { includeRevoked: true }, bearer(h.project.apiKey));
    expect(all.data!.project.apiKeys.find((k) => k.id === newKey.key.id)?.active).toBe(false);
  });

  it('refuses a wrong secret for a key id verified moments ago (the key cache compares secrets too)', async () => {
    const created = (await gql(h.url, CreateKey, { name: 'cached' }, bearer(h.project.apiKey))).data!.createApiKey;
    expect((await gql(h.url, ProjectQuery, {}, bearer(created.apiKey))).status).toBe(200);
    expect(cachedKey(created.key.id, created.keySecret)).toEqual({ projectId: h.project.projectId });
    const wrong = await gql(h.url, ProjectQuery, {}, bearer(`${created.key.id}.${created.keySecret.slice(0, -2)}xx`));
    expect(wrong.status).toBe(401);
    // Neucron names the project: the cached key is still only its own project's.
    const other = await h.newProject('Neucron other');
    const crossed = await gql(h.url, ProjectQuery, {}, { 'x-neucron-app-id': other.projectId, 'x-neucron-key-id': created.key.id, 'x-neucron-key-secret': created.keySecret });
    expect(crossed.status).toBe(401);
  });

  it('forgets a cached key when another instance announces its revocation', async () => {
    const created = (await gql(h.url, CreateKey, { name: 'elsewhere' }, bearer(h.project.apiKey))).data!.createApiKey;
    expect((await gql(h.url, ProjectQuery, {}, bearer(created.apiKey))).status).toBe(200);
    expect(cachedKey(created.key.id, created.keySecret)).not.toBeNull();
    // Another instance: its own Redis connections, the same channels (under its QUEUE_PREFIX). The database row is revoked
    // as that instance would, without this process's revokeApiKey (which forgets locally first).
    const elsewhere = openPubSub(h.config.REDIS_URL, undefined, h.config.QUEUE_PREFIX);
    try {
      const at = new Date();
      await prisma().apiKey.update({ where: { id: created.key.id }, data: { revokedAt: at } });
      elsewhere.pubsub.publish('apiKeyRevoked', { projectId: h.project.projectId, keyId: created.key.id, at: at.toISOString() });
      await pollFor(() => cachedKey(created.key.id, created.keySecret) === null, 5_000, 'the cache to forget the key');
      expect((await gql(h.url, ProjectQuery, {}, bearer(created.apiKey))).status).toBe(401);
    } finally {
      await elsewhere.close();
    }
  });

  it("treats another project's key id as unknown", async () => {
    const other = await h.newProject();
    const res = await gql(h.url, RevokeKey, { id: other.keyId }, bearer(h.project.apiKey));
    expect(res.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    // ...and the other project's key still works.
    expect((await gql(h.url, ProjectQuery, {}, bearer(other.apiKey))).data?.project.id).toBe(other.projectId);
  });

  it('validates the key name', async () => {
    const res = await gql(h.url, CreateKey, { name: '   ' }, bearer(h.project.apiKey));
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0]?.message).toMatch(/name/);
  });
});

describe('REST routes accept only their own API style', () => {
  it('users.upsert (Notifuse) takes Bearer and refuses X-Key, Basic or nothing with 401', async () => {
    const body = { users: [{ id: 'style-user' }] };
    expect((await rest(h.url, 'POST', '/users.upsert', body, bearer(h.project.apiKey))).status).toBe(200);
    const refused: Record<string, string>[] = [{ 'x-key': h.project.apiKey }, basic(h.project.keyId, h.project.keySecret), {}];
    for (const headers of refused) {
      const res = await rest(h.url, 'POST', '/users.upsert', body, headers);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ error: 'unauthorized' });
    }
  });
});

describe('graphql-ws', () => {
  const wsUrl = () => `${h.url.replace('http', 'ws')}/graphql`;
  const run = (client: Client) =>
    new Promise<unknown>((resolve, reject) => {
      let value: unknown;
      client.subscribe({ query: '{ project { id } }' }, { next: (v) => (value = v), error: reject, complete: () => resolve(value) });
    });
  const closeCode = (params: Record<string, unknown>) =>
    new Promise<number>((resolve) => {
      const client = createClient({
        url: wsUrl(),
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        lazy: false,
        connectionParams: params,
        on: { closed: (event) => resolve((event as { code: number }).code) },
        onNonLazyError: () => {},
      });
      void client;
    });

  it('runs operations for a socket authenticated in connection_init', async () => {
    const client = createClient({ url: wsUrl(), webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${h.project.apiKey}` } });
    try {
      expect(await run(client)).toEqual({ data: { project: { id: h.project.projectId } } });
    } finally {
      await client.dispose();
    }
  });

  it('closes with 4403 when connection_init has wrong or no credentials', async () => {
    expect(await closeCode({ authorization: `Bearer ${h.project.keyId}.wrong` })).toBe(4403);
    expect(await closeCode({})).toBe(4403);
  });

  it('closes an open socket when its key is revoked', async () => {
    const created = await gql(h.url, CreateKey, { name: 'socket' }, bearer(h.project.apiKey));
    const key = created.data!.createApiKey;
    const closed = new Promise<number>((resolve) => {
      const client = createClient({
        url: wsUrl(),
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        lazy: false,
        connectionParams: { apiKey: key.apiKey },
        on: {
          connected: () => void gql(h.url, RevokeKey, { id: key.key.id }, bearer(h.project.apiKey)),
          closed: (event) => resolve((event as { code: number }).code),
        },
        onNonLazyError: () => {},
      });
      void client;
    });
    expect(await closed).toBe(4403);
  });
});
