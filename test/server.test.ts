import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import http from 'node:http';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../src/config/env.ts';
import { graphql } from '../src/generated/gql/index.ts';
import { startHerald, type Herald } from '../src/main.ts';
import type { LegacyApi } from '../src/rest/apis.ts';
import { defineRoute, objectBody, type RestRoute } from '../src/rest/route.ts';
import { restRoutes } from '../src/rest/routes.ts';
import { createLogger } from '../src/server/logger.ts';
import { ADMIN_DATABASE_URL } from './helpers/database.ts';
import { bearer, gql, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { until } from './helpers/process.ts';

// One lookup operation per legacy API (operation names are global to codegen).
const ServerNotifuseUser = graphql(`
  query ServerNotifuseUser($externalId: String!) {
    user(externalId: $externalId) {
      id
    }
  }
`);
const ServerNp6User = graphql(`
  query ServerNp6User($externalId: String!) {
    user(externalId: $externalId) {
      id
    }
  }
`);
const ServerNeucronUser = graphql(`
  query ServerNeucronUser($externalId: String!) {
    user(externalId: $externalId) {
      id
    }
  }
`);
const ServerDepartmentUser = graphql(`
  query ServerDepartmentUser($externalId: String!) {
    user(externalId: $externalId) {
      id
    }
  }
`);

const MAPPING_BUG = 'route mapping bug: secret-detail-7f3a';

/** For one API: GET /server/<api>/users/:externalId, POST .../users.lookup {externalId}, POST .../broken. */
function lookupRoutes(api: LegacyApi, operation: TypedDocumentNode<{ user: { id: string } }, { externalId: string }>): RestRoute[] {
  const respond = (data: { user: { id: string } }) => ({ status: 200, body: { id: data.user.id } });
  return [
    defineRoute({
      api,
      method: 'GET',
      path: `/server/${api}/users/:externalId`,
      summary: 'Test: one user',
      operation,
      variables: (request) => ({ externalId: request.params.externalId! }),
      respond,
    }),
    defineRoute({
      api,
      method: 'POST',
      path: `/server/${api}/users.lookup`,
      summary: 'Test: one user, id in the body',
      operation,
      variables: (request) => ({ externalId: String(objectBody(request.body).externalId) }),
      respond,
    }),
    defineRoute({
      api,
      method: 'POST',
      path: `/server/${api}/broken`,
      summary: 'Test: a route whose mapping throws',
      operation,
      variables: () => {
        throw new Error(MAPPING_BUG);
      },
      respond,
    }),
  ];
}

const APIS: { api: LegacyApi; operation: TypedDocumentNode<{ user: { id: string } }, { externalId: string }> }[] = [
  { api: 'notifuse', operation: ServerNotifuseUser },
  { api: 'np6', operation: ServerNp6User },
  { api: 'neucron', operation: ServerNeucronUser },
  { api: 'department', operation: ServerDepartmentUser },
];

const MAX_BODY_BYTES = 2048;

let h: TestHerald;
beforeAll(async () => {
  h = await startTestHerald({
    env: { MAX_BODY_BYTES: String(MAX_BODY_BYTES) },
    routes: [...restRoutes, ...APIS.flatMap(({ api, operation }) => lookupRoutes(api, operation))],
  });
});
afterAll(async () => {
  await h?.stop();
});

/** Each API's own credential headers for the test project's key. */
function credentials(api: LegacyApi): Record<string, string> {
  const { apiKey, keyId, keySecret, projectId } = h.project;
  switch (api) {
    case 'notifuse':
      return bearer(apiKey);
    case 'np6':
      return { 'x-key': apiKey };
    case 'neucron':
      return { 'x-neucron-app-id': projectId, 'x-neucron-key-id': keyId, 'x-neucron-key-secret': keySecret };
    case 'department':
      return { authorization: `Basic ${Buffer.from(`${keyId}:${keySecret}`).toString('base64')}` };
    case 'notifuse-front':
      // End-user credentials travel in the query or body, not in headers: not used by these tests.
      throw new Error('notifuse-front routes authenticate end users, not API keys');
  }
}

/** The error body each legacy API answers, for a status, Herald code, short code and message. */
function legacyError(api: LegacyApi, status: number, code: string, message: unknown, requestId: unknown = expect.any(String)) {
  switch (api) {
    case 'notifuse': {
      const short: Record<string, string> = {
        NOT_FOUND: 'not_found',
        UNAUTHENTICATED: 'unauthorized',
        BAD_USER_INPUT: 'invalid_request',
        PAYLOAD_TOO_LARGE: 'payload_too_large',
        INTERNAL_SERVER_ERROR: 'internal_error',
      };
      return { error: short[code], message };
    }
    case 'np6':
      return { type: 'error', status, code, message };
    case 'neucron':
      return { error: message, message, status_code: status };
    case 'department':
      return {
        status: 'FAILURE',
        requestUUID: requestId,
        notificationMessageUUID: null,
        errors: [{ errorCode: code === 'BAD_USER_INPUT' ? 'INVALID_REQUEST' : code, errorDescription: message, errorUID: null }],
        warnings: [],
      };
  }
}

/** Sends a body without Content-Length (chunked), as streaming clients do. */
function postChunked(path: string, chunks: string[], headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const request = http.request(`${h.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    // The server may answer (and close) before reading everything: that is not a client error.
    request.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error)));
    for (const chunk of chunks) request.write(chunk);
    request.end();
  });
}

describe('health, readiness and documents', () => {
  it('answers /healthz and /readyz with PostgreSQL and Redis up', async () => {
    expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${h.url}/readyz`)).status).toBe(200);
  });

  it('serves an OpenAPI 3.1 document of the legacy routes', async () => {
    const response = await fetch(`${h.url}/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const doc = (await response.json()) as {
      openapi: string;
      info: { title: string; version: string };
      paths: Record<string, Record<string, { operationId: string; security: unknown; responses: Record<string, unknown>; requestBody?: unknown }>>;
      components: { securitySchemes: Record<string, { type: string }> };
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    const upsert = doc.paths['/users.upsert']?.post;
    expect(upsert).toMatchObject({ security: [{ notifuse: [] }], requestBody: { required: true } });
    expect(Object.keys(upsert!.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '413']));
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['department', 'neucron', 'notifuse', 'notifuse-front', 'np6']);
    for (const scheme of Object.values(doc.components.securitySchemes)) expect(['http', 'apiKey']).toContain(scheme.type);
    // Express-style parameters become OpenAPI templates; operation ids are unique.
    expect(doc.paths['/server/np6/users/{externalId}']?.get).toMatchObject({
      parameters: [{ name: 'externalId', in: 'path', required: true }],
      security: [{ np6: [] }],
    });
    const ids = Object.values(doc.paths).flatMap((methods) => Object.values(methods).map((op) => op.operationId));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('serves GraphiQL on GET /graphql to browsers outside production', async () => {
    const response = await fetch(`${h.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toMatch(/graphiql/i);
    expect(html).toContain('Herald');
  });
});

describe('request bodies', () => {
  const bigGraphQL = JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(MAX_BODY_BYTES * 2) } });
  const bigUpsert = JSON.stringify({ users: [{ id: 'big', custom: 'x'.repeat(MAX_BODY_BYTES * 2) }] });

  it('accepts a body under MAX_BODY_BYTES', async () => {
    const res = await rest(h.url, 'POST', '/graphql', { query: '{ __typename }', variables: { pad: 'x'.repeat(MAX_BODY_BYTES / 2) } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: { __typename: 'Query' } });
  });

  it('accepts a REST body just under MAX_BODY_BYTES (its GraphQL request may be larger)', async () => {
    const users = [{ id: 'almost-big', note: '' }];
    const size = () => Buffer.byteLength(JSON.stringify({ users }));
    users[0]!.note = 'x'.repeat(MAX_BODY_BYTES - size() - 10);
    expect(size()).toBeLessThanOrEqual(MAX_BODY_BYTES);
    const res = await rest(h.url, 'POST', '/users.upsert', { users }, bearer(h.project.apiKey));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ results: [{ id: 'almost-big', ok: true, created: true }] });
  });

  it('refuses a larger body with 413 on /graphql', async () => {
    const res = await rest(h.url, 'POST', '/graphql', bigGraphQL, bearer(h.project.apiKey));
    expect(res.status).toBe(413);
    expect(res.body.errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('refuses a larger body with 413 on /users.upsert, in the Notifuse shape', async () => {
    const res = await rest(h.url, 'POST', '/users.upsert', bigUpsert, bearer(h.project.apiKey));
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ error: 'payload_too_large', message: expect.stringContaining(String(MAX_BODY_BYTES)) });
  });

  it('refuses a larger body sent without Content-Length (chunked) too', async () => {
    const half = Math.ceil(bigGraphQL.length / 2);
    const graphqlRes = await postChunked('/graphql', [bigGraphQL.slice(0, half), bigGraphQL.slice(half)]);
    expect(graphqlRes.status).toBe(413);
    expect(JSON.parse(graphqlRes.body).errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');

    const upsertRes = await postChunked('/users.upsert', [bigUpsert.slice(0, 100), bigUpsert.slice(100)], bearer(h.project.apiKey));
    expect(upsertRes.status).toBe(413);
    expect(JSON.parse(upsertRes.body)).toMatchObject({ error: 'payload_too_large' });

    // A small chunked body still works.
    const small = await postChunked('/graphql', ['{"query":', '"{ __typename }"}']);
    expect(small).toEqual({ status: 200, body: JSON.stringify({ data: { __typename: 'Query' } }) });
  });
});

describe('REST bridge', () => {
  let knownUserId: string;
  beforeAll(async () => {
    const res = await rest(h.url, 'POST', '/users.upsert', { users: [{ id: 'known-user' }] }, bearer(h.project.apiKey));
    expect(res.status).toBe(200);
    const found = await gql(h.url, ServerNotifuseUser, { externalId: 'known-user' }, bearer(h.project.apiKey));
    knownUserId = found.data!.user.id;
  });

  it('echoes X-Request-Id on REST answers, success and error alike, and makes one up otherwise', async () => {
    const ok = await rest(h.url, 'POST', '/users.upsert', { users: [{ id: 'rid-user' }] }, { ...bearer(h.project.apiKey), 'x-request-id': 'req-ok-1' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-request-id')).toBe('req-ok-1');

    const failed = await rest(h.url, 'POST', '/users.upsert', { users: [{ id: 'rid-user' }] }, { 'x-request-id': 'req-401-1' });
    expect(failed.status).toBe(401);
    expect(failed.headers.get('x-request-id')).toBe('req-401-1');

    const department = await rest(h.url, 'GET', '/server/department/users/nobody', undefined, { 'x-request-id': 'req-dep-1' });
    expect(department.headers.get('x-request-id')).toBe('req-dep-1');
    expect(department.body.requestUUID).toBe('req-dep-1');

    const generated = await rest(h.url, 'POST', '/users.upsert', { users: [{ id: 'rid-user' }] }, bearer(h.project.apiKey));
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  for (const { api } of APIS) {
    describe(`${api} routes`, () => {
      it('answer a known user', async () => {
        const res = await rest(h.url, 'GET', `/server/${api}/users/known-user`, undefined, credentials(api));
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ id: knownUserId });
        const posted = await rest(h.url, 'POST', `/server/${api}/users.lookup`, { externalId: 'known-user' }, credentials(api));
        expect(posted.body).toEqual({ id: knownUserId });
      });

      it('answer 404 for an unknown user, in the API shape', async () => {
        const res = await rest(h.url, 'GET', `/server/${api}/users/nobody`, undefined, { ...credentials(api), 'x-request-id': `req-${api}` });
        expect(res.status).toBe(404);
        expect(res.body).toEqual(legacyError(api, 404, 'NOT_FOUND', 'User "nobody" not found', `req-${api}`));
      });

      it('answer 401 without credentials, or with another API style, in the API shape', async () => {
        const none = await rest(h.url, 'GET', `/server/${api}/users/known-user`);
        expect(none.status).toBe(401);
        expect(none.body).toEqual(legacyError(api, 401, 'UNAUTHENTICATED', expect.any(String)));

        const other = api === 'np6' ? bearer(h.project.apiKey) : { 'x-key': h.project.apiKey };
        const wrongStyle = await rest(h.url, 'GET', `/server/${api}/users/known-user`, undefined, other);
        expect(wrongStyle.status).toBe(401);
      });

      it('answer 400 for a body that is not JSON, in the API shape', async () => {
        const res = await rest(h.url, 'POST', `/server/${api}/users.lookup`, '{"externalId": ', credentials(api));
        expect(res.status).toBe(400);
        expect(res.body).toEqual(legacyError(api, 400, 'BAD_USER_INPUT', 'the request body is not valid JSON'));
        const notObject = await rest(h.url, 'POST', `/server/${api}/users.lookup`, '[1]', credentials(api));
        expect(notObject.status).toBe(400);
        expect(notObject.body).toMatchObject(api === 'notifuse' ? { error: 'invalid_request', message: 'the request body must be a JSON object' } : {});
      });

      it('answer 500 without internals when the route mapping throws', async () => {
        const res = await rest(h.url, 'POST', `/server/${api}/broken`, { externalId: 'known-user' }, credentials(api));
        expect(res.status).toBe(500);
        expect(res.body).toEqual(legacyError(api, 500, 'INTERNAL_SERVER_ERROR', 'Unexpected error.'));
        const text = JSON.stringify(res.body);
        expect(text).not.toContain('secret-detail');
        expect(text).not.toMatch(/\n\s+at |\.ts:\d+/);
      });

      it('answer 405 with Allow for a wrong method on a known path', async () => {
        const res = await rest(h.url, 'PUT', `/server/${api}/users/known-user`, {}, credentials(api));
        expect(res.status).toBe(405);
        expect(res.headers.get('allow')).toBe('GET');
      });

      it('mask an unexpected resolver error as a 500 "Unexpected error."', async () => {
        // The query fails below the resolver, not as a Herald error. (A NUL byte did, until bad
        // bytes became a 400: see input-hygiene.test.ts.)
        const res = await withUserTableMissing(() => rest(h.url, 'GET', `/server/${api}/users/known-user`, undefined, credentials(api)));
        expect(res.status).toBe(500);
        expect(res.body).toEqual(legacyError(api, 500, 'INTERNAL_SERVER_ERROR', 'Unexpected error.'));
      });

      it('answer 400 naming the field for a NUL byte, in the API shape', async () => {
        const res = await rest(h.url, 'GET', `/server/${api}/users/bad%00id`, undefined, credentials(api));
        expect(res.status).toBe(400);
        expect(res.body).toMatchObject(legacyError(api, 400, 'BAD_USER_INPUT', expect.stringMatching(/^externalId: must not contain NUL/))!);
      });
    });
  }

  it('answers 405 with Allow: POST for GET /users.upsert', async () => {
    const res = await rest(h.url, 'GET', '/users.upsert', undefined, bearer(h.project.apiKey));
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(res.body).toEqual({ error: 'method_not_allowed' });
  });

  it('masks unexpected resolver errors on GraphQL too, without details', async () => {
    const res = await withUserTableMissing(() => gql(h.url, ServerNotifuseUser, { externalId: 'known-user' }, bearer(h.project.apiKey)));
    expect(res.data ?? null).toBeNull();
    expect(res.errors).toHaveLength(1);
    expect(res.errors![0]!.message).toBe('Unexpected error.');
    expect(JSON.stringify(res.errors)).not.toMatch(/prisma|relation|does not exist|stack/i);
  });
});

/** Runs a request while the user table is renamed away: a real fault below the resolvers. */
async function withUserTableMissing<T>(request: () => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: h.config.DATABASE_URL! });
  await client.connect();
  try {
    await client.query('ALTER TABLE "User" RENAME TO "User_hidden"');
    try {
      return await request();
    } finally {
      await client.query('ALTER TABLE "User_hidden" RENAME TO "User"');
    }
  } finally {
    await client.end();
  }
}

describe('connections', () => {
  it('survives PostgreSQL closing its connections, and reconnects', async () => {
    const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ terminated: boolean }>(
        'SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [new URL(h.config.DATABASE_URL!).pathname.slice(1)],
      );
      expect(rows.length).toBeGreaterThan(0);
    } finally {
      await admin.end();
    }
    // An unhandled 'error' of an idle connection would crash the process (and fail this file).
    await until(async () => (await fetch(`${h.url}/readyz`)).status === 200, 5_000, '/readyz to answer 200 again');
    await until(async () => (await gql(h.url, ServerNotifuseUser, { externalId: 'known-user' }, bearer(h.project.apiKey))).data?.user != null, 5_000, 'a query to succeed again');
  });
});

// These start a second Herald in this process. openDatabase() makes the newest database the
// process's one and its stop() clears it, so they run last: `h` serves no more requests after.
describe('other configurations (a second Herald in this process)', () => {
  const others: Herald[] = [];
  afterAll(async () => {
    for (const other of others) await other.stop();
  });
  async function startOther(env: Record<string, string>) {
    const config = parseConfig({
      NODE_ENV: 'test',
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: h.config.DATABASE_URL!,
      REDIS_URL: h.config.REDIS_URL!,
      LOG_LEVEL: 'silent',
      SHUTDOWN_TIMEOUT_MS: '2000',
      ...env,
    });
    const other = await startHerald(config, createLogger(config));
    others.push(other);
    return { url: `http://127.0.0.1:${other.port}`, herald: other };
  }

  it('answers /readyz 503 within a bounded time when Redis does not answer, and still stops', async () => {
    const consoleError = vi.spyOn(console, 'error');
    const { url, herald } = await startOther({ REDIS_URL: 'redis://127.0.0.1:1' });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const started = Date.now();
    const response = await fetch(`${url}/readyz`);
    expect(response.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(5_000);

    // SIGTERM while Redis is down must not hang the shutdown.
    others.splice(others.indexOf(herald), 1);
    const stopped = await Promise.race([
      herald.stop().then(() => 'stopped'),
      new Promise<string>((resolve) => setTimeout(() => resolve('still stopping after 5 s'), 5_000).unref()),
    ]);
    expect(stopped).toBe('stopped');
    // Connection errors go to the log, not to stderr as "[ioredis] Unhandled error event".
    expect(consoleError.mock.calls.flat().join(' ')).not.toContain('ioredis');
    consoleError.mockRestore();
  });

  it('does not serve GraphiQL in production', async () => {
    const { url } = await startOther({ NODE_ENV: 'production' });
    const response = await fetch(`${url}/graphql`, { headers: { accept: 'text/html' } });
    expect(response.headers.get('content-type') ?? '').not.toMatch(/text\/html/);
    expect(await response.text()).not.toMatch(/graphiql|<html/i);
    // The API itself is served.
    const api = await rest(url, 'POST', '/graphql', { query: '{ __typename }' });
    expect(api.body).toEqual({ data: { __typename: 'Query' } });
  });
});
