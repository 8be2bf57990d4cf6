import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findInputProblem } from '../src/server/input-hygiene.ts';
import { pollFor } from './helpers/http-server.ts';
import { bearer, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { rawSocket } from './helpers/realtime.ts';

let t: TestHerald;
beforeAll(async () => {
  t = await startTestHerald();
});
afterAll(async () => {
  await t.stop();
});

const NUL = '\u0000';
const LONE = '\ud800';
/** A JSON text nesting `{"a": …}` n deep around `leaf` (JSON.stringify itself would overflow). */
const deepJson = (n: number, leaf = '1') => `${'{"a":'.repeat(n)}${leaf}${'}'.repeat(n)}`;

async function graphql(query: string, variables: Record<string, unknown> | string = {}) {
  const response = await fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer(t.project.apiKey) },
    body: typeof variables === 'string' ? `{"query":${JSON.stringify(query)},"variables":${variables}}` : JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: any; errors?: { message: string; extensions?: { code?: string; issues?: { field: string }[] } }[] };
  return { status: response.status, body, error: body.errors?.[0] };
}

async function userCount(): Promise<number> {
  const { body } = await graphql('{ users(first: 200) { edges { node { id } } } }');
  return body.data.users.edges.length;
}

const UPSERT = 'mutation($users: [UserInput!]!) { upsertUsers(users: $users) { ok error { message } } }';
const SEND = 'mutation($messages: [SendMessageInput!]!) { sendMessages(messages: $messages) { ok error } }';

describe('bad bytes', () => {
  it('refuses NUL and lone surrogates in users.upsert with a Notifuse 400 naming the field, writing nothing', async () => {
    const before = await userCount();
    const auth = bearer(t.project.apiKey);
    const nul = await rest(t.url, 'POST', '/users.upsert', { users: [{ id: 'ok-1' }, { id: 'u2', email: `a${NUL}@example.com` }] }, auth);
    expect(nul.status).toBe(400);
    expect(nul.body).toMatchObject({ error: 'invalid_request' });
    expect(nul.body.message).toContain('users.1.email');
    const lone = await rest(t.url, 'POST', '/users.upsert', { users: [{ id: 'u3', firstName: `Ada${LONE}` }] }, auth);
    expect(lone.status).toBe(400);
    expect(lone.body.message).toMatch(/users\.0\.firstName.*surrogate/);
    const key = await rest(t.url, 'POST', '/users.upsert', { users: [{ id: 'u4', [`plan${NUL}`]: 'pro' }] }, auth);
    expect(key.status).toBe(400);
    expect(key.body.message).toContain('users.0.plan\uFFFD');
    expect(await userCount()).toBe(before);
  });

  it('refuses NUL in messages.send data', async () => {
    const res = await rest(t.url, 'POST', '/messages.send', { messages: [{ notificationId: 'n', userId: 'u1', data: { note: `x${NUL}y` } }] }, bearer(t.project.apiKey));
    expect(res.status).toBe(400);
    expect(res.body.message).toContain('messages.0.data.note');
  });

  it('refuses NUL and lone surrogates in GraphQL variables with BAD_USER_INPUT naming the variable path', async () => {
    const before = await userCount();
    const nul = await graphql(UPSERT, { users: [{ externalId: 'g1', email: `a${NUL}@example.com` }] });
    expect(nul.status).toBe(400);
    expect(nul.error?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(nul.error?.extensions?.issues).toEqual([{ field: 'users.0.email', message: expect.stringMatching(/NUL/) }]);
    const lone = await graphql(UPSERT, { users: [{ externalId: `g2${LONE}` }] });
    expect(lone.status).toBe(400);
    expect(lone.error?.extensions?.issues?.[0]?.field).toBe('users.0.externalId');
    expect(await userCount()).toBe(before);
  });

  it('refuses a NUL escape in a GraphQL string literal, naming the argument', async () => {
    const res = await graphql('mutation { upsertUsers(users: [{ externalId: "g3", email: "a\\u0000@example.com" }]) { ok } }');
    expect(res.status).toBe(400);
    expect(res.error?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(res.error?.extensions?.issues?.[0]?.field).toBe('users.0.email');
  });
});

describe('deep values', () => {
  it.each([5_000, 100_000])('refuses messages.send data nested %i deep with a 400 naming the field', async (depth) => {
    const body = `{"messages":[{"notificationId":"n","userId":"u1","data":${deepJson(depth)}}]}`;
    const res = await rest(t.url, 'POST', '/messages.send', body, bearer(t.project.apiKey));
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
    expect(res.body.message).toMatch(/^messages\.0\.data(\.a)+: nests deeper than 64 levels/);
  });

  it.each([5_000, 100_000])('refuses a GraphQL JSON variable nested %i deep', async (depth) => {
    const res = await graphql(SEND, `{"messages":[{"notificationId":"n","userId":"u1","data":${deepJson(depth)}}]}`);
    expect(res.status).toBe(400);
    expect(res.error?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(res.error?.extensions?.issues?.[0]?.field).toMatch(/^messages\.0\.data(\.a)+$/);
  });

  it('accepts data nested within MAX_JSON_DEPTH', async () => {
    const res = await graphql(SEND, `{"messages":[{"notificationId":"unknown-notification","userId":"u1","data":${deepJson(40)}}]}`);
    expect(res.status).toBe(200);
    expect(res.body.data.sendMessages[0].ok).toBe(false);
  });

  it.each([
    ['selection sets 100k deep', `{ ${'a { '.repeat(100_000)}b${' }'.repeat(100_000)} }`],
    ['inline fragments 20k deep', `{ ${'... on Query { '.repeat(20_000)}__typename${' }'.repeat(20_000)} }`],
    ['list literals 50k deep', `{ user(externalId: ${'['.repeat(50_000)}${']'.repeat(50_000)}) { id } }`],
  ])('refuses %s with QUERY_TOO_DEEP (not a stack overflow)', async (_name, query) => {
    const res = await graphql(query);
    expect(res.status).toBe(400);
    expect(res.error?.extensions?.code).toBe('QUERY_TOO_DEEP');
  });
});

describe('over websockets', () => {
  it('refuses bad bytes and deep values in variables the same way', async () => {
    const ws = await rawSocket(t.url);
    await ws.init({ apiKey: t.project.apiKey });
    // The deep part is spliced into the message text, as a hostile client would write it.
    ws.socket.send(
      JSON.stringify({ type: 'subscribe', id: 'deep', payload: { query: SEND, variables: { messages: [{ notificationId: 'n', userId: 'u1', data: '@DEEP@' }] } } }).replace('"@DEEP@"', deepJson(5_000)),
    );
    ws.subscribe('nul', UPSERT, { users: [{ externalId: 'ws1', email: `a${NUL}@example.com` }] });
    const issues = (id: string) => {
      const message = ws.messages.find((m) => m.id === id && m.type === 'next');
      return message?.payload.errors?.[0]?.extensions;
    };
    await pollFor(() => issues('deep') && issues('nul'), 5_000, 'both answers');
    expect(issues('deep')).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ field: expect.stringMatching(/^messages\.0\.data(\.a)+$/) }] });
    expect(issues('nul')).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ field: 'users.0.email' }] });
    ws.socket.close();
  });
});

describe('REST paths', () => {
  it('refuses malformed percent-encoding in a path parameter with a 400 in the NP6 shape', async () => {
    const res = await rest(t.url, 'GET', '/notifications/%E0%A4%A', undefined, { 'x-key': t.project.apiKey });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ type: 'error', status: 400, code: 'BAD_USER_INPUT' });
    expect(res.body.message).toMatch(/^id: /);
  });

  it('refuses a NUL in a path parameter', async () => {
    const res = await rest(t.url, 'GET', '/notifications/1%00', undefined, { 'x-key': t.project.apiKey });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/^id: .*NUL/);
  });
});

describe('findInputProblem', () => {
  it('walks iteratively (no overflow at any depth) and names the first problem', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(findInputProblem(deep, 64)?.message).toBe('nests deeper than 64 levels');
    expect(findInputProblem({ a: [1, { b: `x${NUL}` }] }, 64, ['v'])).toEqual({ path: 'v.a.1.b', message: expect.stringMatching(/NUL/) });
    expect(findInputProblem({ ok: '\ud83d\ude00 emoji pairs are fine', low: 'x' }, 64)).toBeNull();
    expect(findInputProblem({ low: '\ude00' }, 64)?.path).toBe('low');
  });
});
