import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/env.ts';
import { schema } from '../src/graphql/schema.ts';
import { operationCost } from '../src/server/use-query-limits.ts';
import { pollFor } from './helpers/http-server.ts';
import { bearer, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { rawSocket } from './helpers/realtime.ts';

let t: TestHerald;
beforeAll(async () => {
  t = await startTestHerald();
});
afterAll(async () => {
  await t.stop();
});

async function post(query: string, variables: Record<string, unknown> = {}, url = t.url) {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer(t.project.apiKey) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] };
  return { status: response.status, body, codes: (body.errors ?? []).map((e) => e.extensions?.code) };
}

const aliases = (n: number, field: string) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ')} }`;

describe('query limits (defaults)', () => {
  it('answers an ordinary query', async () => {
    const { status, body } = await post('{ messages(first: 100) { edges { node { id status } } } project { id } }');
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
  });

  it('refuses the query bomb of the audit (1,000 aliases of messages(first: 100)) with 400 before parsing it', async () => {
    const { status, codes } = await post(aliases(1000, 'messages(first: 100) { edges { node { id } } }'));
    expect(status).toBe(400);
    expect(codes).toEqual(['TOO_MANY_TOKENS']);
  });

  it('refuses more than GRAPHQL_MAX_ALIASES aliases (30)', async () => {
    expect((await post(aliases(30, 'project { id }'))).status).toBe(200);
    const { status, codes, body } = await post(aliases(31, 'project { id }'));
    expect(status).toBe(400);
    expect(codes).toContain('TOO_MANY_ALIASES');
    expect(body.errors![0]!.message).not.toMatch(/Syntax Error/);
  });

  it('refuses more than GRAPHQL_MAX_TOKENS tokens (10,000)', async () => {
    const { status, codes } = await post(`{ ${'__typename '.repeat(10_001)}}`);
    expect(status).toBe(400);
    expect(codes).toEqual(['TOO_MANY_TOKENS']);
    // Refused again: only documents that passed are remembered (and not lexed again).
    expect((await post(`{ ${'__typename '.repeat(10_001)}}`)).codes).toEqual(['TOO_MANY_TOKENS']);
  });

  it('leaves syntax errors to the parser, coded as before', async () => {
    for (const query of ['{ project { id }', '{ project \u0001 { id } }']) {
      expect((await post(query)).codes).toEqual(['GRAPHQL_PARSE_FAILED']);
    }
  });

  it('refuses operations deeper than GRAPHQL_MAX_DEPTH (12)', async () => {
    const nested = (n: number) => `{ ${'... on Query { '.repeat(n)}__typename ${'} '.repeat(n)}}`;
    expect((await post(nested(11))).status).toBe(200);
    const { status, codes } = await post(nested(13));
    expect(status).toBe(400);
    expect(codes).toContain('QUERY_TOO_DEEP');
  });

  it('refuses more than GRAPHQL_MAX_DIRECTIVES directives (20)', async () => {
    const { status, codes } = await post(`{ ${'project { id } '.repeat(1)}${Array.from({ length: 21 }, () => '__typename @include(if: true)').join(' ')} }`);
    expect(status).toBe(400);
    expect(codes).toContain('TOO_MANY_DIRECTIVES');
  });

  it('refuses a query whose connections multiply past GRAPHQL_MAX_COST (20,000)', async () => {
    // 20 pages of 200 messages × 5 fields each: about 20,000 fields read.
    const page = 'messages(first: 200) { edges { cursor node { id status channel createdAt } } }';
    const { status, codes, body } = await post(aliases(20, page));
    expect(status).toBe(400);
    expect(codes).toEqual(['QUERY_TOO_COMPLEX']);
    expect(body.errors![0]!.message).toMatch(/cost limit of 20000 exceeded, found \d+/);
    expect((await post(aliases(3, page))).status).toBe(200);
  });

  it('counts a page size given as a variable, and the default page size when none is given', async () => {
    const query = `query($n: Int) { ${Array.from({ length: 20 }, (_, i) => `a${i}: messages(first: $n) { edges { cursor node { id status channel createdAt } } }`).join(' ')} }`;
    expect((await post(query, { n: 200 })).codes).toEqual(['QUERY_TOO_COMPLEX']);
    expect((await post(query, { n: 2 })).status).toBe(200);
    // No `first`: counted as 50 per page.
    const cost = operationCost({ schema, document: parse('{ messages { edges { node { id } } } }') });
    expect(cost).toBe(1 + 50 * (1 + 1 * (1 + 1)));
  });

  it('costs each fragment once, however often it is spread (no exponential validation)', () => {
    const fragments = Array.from({ length: 30 }, (_, i) => `fragment F${i} on Query { a: __typename ...F${i + 1} b: __typename ...F${i + 1} }`).join('\n');
    const document = parse(`{ ...F0 }\n${fragments}\nfragment F30 on Query { project { id } }`);
    expect(operationCost({ schema, document })).toBeGreaterThan(0);
  });
});

describe('query limits over websockets', () => {
  it('refuses an over-limit operation on the socket with the same codes, and the socket stays usable', async () => {
    const ws = await rawSocket(t.url);
    await ws.init({ apiKey: t.project.apiKey });
    ws.subscribe('1', aliases(31, 'project { id }'));
    ws.subscribe('2', aliases(1000, 'messages(first: 100) { edges { node { id } } }'));
    ws.subscribe('3', aliases(20, 'messages(first: 200) { edges { cursor node { id status channel createdAt } } }'));
    ws.subscribe('4', '{ project { id } }');
    const codeOf = (id: string) => {
      const message = ws.messages.find((m) => m.id === id && (m.type === 'error' || m.type === 'next'));
      if (!message) return undefined;
      const errors = (message.type === 'error' ? message.payload : message.payload.errors) as { extensions?: { code?: string } }[] | undefined;
      return errors?.map((e) => e.extensions?.code).join(',') ?? 'ok';
    };
    await pollFor(() => ['1', '2', '3', '4'].every((id) => codeOf(id) !== undefined), 5_000, 'four answers');
    expect(codeOf('1')).toContain('TOO_MANY_ALIASES');
    expect(codeOf('2')).toBe('TOO_MANY_TOKENS');
    expect(codeOf('3')).toBe('QUERY_TOO_COMPLEX');
    expect(codeOf('4')).toBe('ok');
    ws.socket.close();
  });
});

describe('query limits from the configuration', () => {
  it('applies GRAPHQL_MAX_* as configured', async () => {
    const { herald: other, url } = await t.startSibling({
      GRAPHQL_MAX_TOKENS: '100',
      GRAPHQL_MAX_DEPTH: '4',
      GRAPHQL_MAX_ALIASES: '2',
      GRAPHQL_MAX_DIRECTIVES: '1',
      GRAPHQL_MAX_COST: '100',
    });
    try {
      expect((await post('{ messages(first: 10) { edges { node { id } } } }', {}, url)).status).toBe(200);
      // Passed (and remembered) by the default instance, still refused by this one's limits.
      expect((await post(`{ ${'__typename '.repeat(101)}}`)).status).toBe(200);
      expect((await post(`{ ${'__typename '.repeat(101)}}`, {}, url)).codes).toEqual(['TOO_MANY_TOKENS']);
      expect((await post('{ ... on Query { messages(first: 1) { edges { node { id } } } } }', {}, url)).codes).toContain('QUERY_TOO_DEEP');
      expect((await post(aliases(3, 'project { id }'), {}, url)).codes).toContain('TOO_MANY_ALIASES');
      expect((await post('{ a: __typename @include(if: true) b: __typename @skip(if: false) }', {}, url)).codes).toContain('TOO_MANY_DIRECTIVES');
      // 1 + 50 × (1 + 1): no `first`, counted as the default page of 50.
      expect((await post('{ messages { edges { cursor } } }', {}, url)).codes).toEqual(['QUERY_TOO_COMPLEX']);
    } finally {
      await other.stop();
    }
  });

  it('refuses limits out of range at start-up', () => {
    expect(() => parseConfig({ GRAPHQL_MAX_DEPTH: '1' })).toThrow(/GRAPHQL_MAX_DEPTH/);
    expect(() => parseConfig({ GRAPHQL_MAX_COST: 'lots' })).toThrow(/GRAPHQL_MAX_COST/);
  });
});
