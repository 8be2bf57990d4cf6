import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Herald } from '../src/main.ts';
import { pollFor } from './helpers/http-server.ts';
import { bearer, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { rawSocket, widgetAuth } from './helpers/realtime.ts';

let t: TestHerald;
const others: Herald[] = [];
/** Another Herald on this file's database, e.g. in production. */
async function start(env: Record<string, string>): Promise<string> {
  const { herald, url } = await t.startSibling(env);
  others.push(herald);
  return url;
}

let production: string;
beforeAll(async () => {
  t = await startTestHerald();
  production = await start({ NODE_ENV: 'production' });
});
afterAll(async () => {
  for (const other of others) await other.stop();
  await t.stop();
});

async function post(url: string, query: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query }) });
  const body = (await response.json()) as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };
  return { status: response.status, body, error: body.errors?.[0] };
}

const SCHEMA = '{ __schema { queryType { name } } }';
const TYPE = '{ __type(name: "Query") { name } }';
/** Hidden inside a fragment: found all the same. */
const FRAGMENT = 'query { ...F } fragment F on Query { __schema { types { name } } }';
const TYPO = '{ projet { id } }';

describe('INTROSPECTION=auto in production', () => {
  it('refuses introspection to callers without credentials and to end users', async () => {
    const endUser = widgetAuth(t.project.projectId, t.project.widgetSecret, 'intro-user').headers;
    for (const headers of [{}, endUser]) {
      for (const query of [SCHEMA, TYPE, FRAGMENT]) {
        const { status, error, body } = await post(production, query, headers);
        expect(status).toBe(403);
        expect(error?.extensions?.code).toBe('INTROSPECTION_DISABLED');
        expect(body.data ?? null).toBeNull();
      }
    }
  });

  it('still answers __typename to anyone', async () => {
    expect((await post(production, '{ __typename }')).body).toEqual({ data: { __typename: 'Query' } });
  });

  it('answers introspection to API keys', async () => {
    const { status, body } = await post(production, SCHEMA, bearer(t.project.apiKey));
    expect(status).toBe(200);
    expect(body.data.__schema.queryType.name).toBe('Query');
  });

  it('hides "Did you mean" suggestions from callers without (valid) credentials, not from API keys', async () => {
    const anonymous = await post(production, TYPO);
    expect(anonymous.error?.message).toBe('Cannot query field "projet" on type "Query".');
    const wrongKey = await post(production, TYPO, bearer(`${t.project.keyId}.not-the-secret`));
    expect(wrongKey.error?.message).not.toMatch(/Did you mean/);
    const operator = await post(production, TYPO, bearer(t.project.apiKey));
    expect(operator.error?.message).toMatch(/Did you mean "project"\?/);
    // The validation result is cached per document: the stripped copy must not leak into it.
    expect((await post(production, TYPO)).error?.message).not.toMatch(/Did you mean/);
  });

  it('hides the suggestions of variable errors too, over HTTP and websockets', async () => {
    const query = 'query($s: [MessageStatus!]) { messages(filter: { status: $s }) { edges { cursor } } }';
    const variables = { s: ['QUEUD'] };
    const anonymous = await fetch(`${production}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
    const anonymousErrors = JSON.stringify(((await anonymous.json()) as { errors: unknown[] }).errors);
    // The error names the enum, never the value given (nor what it resembles).
    expect(anonymousErrors).toMatch(/MessageStatus/);
    expect(anonymousErrors).not.toMatch(/QUEUD|Did you mean/);
    const endUser = await rawSocket(production);
    await endUser.init(widgetAuth(t.project.projectId, t.project.widgetSecret, 'intro-user').params);
    endUser.subscribe('enum', query, variables);
    const answer = await pollFor(() => endUser.messages.find((m) => m.id === 'enum' && (m.type === 'next' || m.type === 'error')), 5_000, 'an answer');
    const message = JSON.stringify(answer.payload);
    expect(message).toMatch(/MessageStatus/);
    expect(message).not.toMatch(/QUEUD|Did you mean/);
    endUser.socket.close();
  });

  it('applies the same policy on websockets', async () => {
    const endUser = await rawSocket(production);
    await endUser.init(widgetAuth(t.project.projectId, t.project.widgetSecret, 'intro-user').params);
    const operator = await rawSocket(production);
    await operator.init({ apiKey: t.project.apiKey });
    for (const ws of [endUser, operator]) {
      ws.subscribe('schema', SCHEMA);
      ws.subscribe('typo', TYPO);
    }
    const answer = (ws: typeof endUser, id: string) => ws.messages.find((m) => m.id === id && (m.type === 'next' || m.type === 'error'));
    await pollFor(() => [endUser, operator].every((ws) => answer(ws, 'schema') && answer(ws, 'typo')), 5_000, 'answers');
    expect(answer(endUser, 'schema')!.payload.errors[0].extensions.code).toBe('INTROSPECTION_DISABLED');
    expect(answer(endUser, 'typo')!.payload[0].message).not.toMatch(/Did you mean/);
    expect(answer(operator, 'schema')!.payload.data.__schema.queryType.name).toBe('Query');
    expect(answer(operator, 'typo')!.payload[0].message).toMatch(/Did you mean "project"\?/);
    endUser.socket.close();
    operator.socket.close();
  });
});

describe('other settings', () => {
  it('answers everyone outside production (auto) and with INTROSPECTION=on', async () => {
    const on = await start({ NODE_ENV: 'production', INTROSPECTION: 'on' });
    for (const url of [t.url, on]) {
      expect((await post(url, SCHEMA)).body.data.__schema.queryType.name).toBe('Query');
      expect((await post(url, TYPO)).error?.message).toMatch(/Did you mean/);
    }
  });

  it('refuses even API keys with INTROSPECTION=off', async () => {
    const off = await start({ INTROSPECTION: 'off' });
    const { status, error } = await post(off, SCHEMA, bearer(t.project.apiKey));
    expect(status).toBe(403);
    expect(error?.extensions?.code).toBe('INTROSPECTION_DISABLED');
    expect((await post(off, TYPO, bearer(t.project.apiKey))).error?.message).not.toMatch(/Did you mean/);
  });
});
