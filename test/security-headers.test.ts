import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../src/config/env.ts';
import type { Herald } from '../src/main.ts';
import { startTestHerald, type TestHerald } from './helpers/herald.ts';

let t: TestHerald;
/** A second Herald on the same database, with CORS_ORIGINS set to a list. */
let listed: Herald;
let listedUrl: string;
beforeAll(async () => {
  t = await startTestHerald();
  ({ herald: listed, url: listedUrl } = await t.startSibling({ CORS_ORIGINS: 'https://app.example.com, https://admin.example.com:8443' }));
});
afterAll(async () => {
  await listed.stop();
  await t.stop();
});

const post = (url: string, path: string, headers: Record<string, string>) =>
  fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query: '{ __typename }' }) });
const preflight = (url: string, path: string, origin: string) =>
  fetch(`${url}${path}`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } });

describe('CORS with CORS_ORIGINS=* (the default)', () => {
  it('lets any origin call, never with credentials', async () => {
    const response = await post(t.url, '/graphql', { origin: 'https://evil.example' });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe('https://evil.example');
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    expect(response.headers.get('access-control-expose-headers')).toContain('x-request-id');
  });

  it('answers preflights on GraphQL and legacy paths without credentials', async () => {
    for (const path of ['/graphql', '/messages.send']) {
      const response = await preflight(t.url, path, 'https://evil.example');
      expect(response.status).toBe(204);
      expect(response.headers.get('access-control-allow-headers')).toBe('authorization, content-type');
      expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    }
  });
});

describe('CORS with a list of origins', () => {
  it('answers a listed origin with credentials and Vary: Origin', async () => {
    for (const origin of ['https://app.example.com', 'https://admin.example.com:8443']) {
      const response = await post(listedUrl, '/graphql', { origin });
      expect(response.headers.get('access-control-allow-origin')).toBe(origin);
      expect(response.headers.get('access-control-allow-credentials')).toBe('true');
      expect(response.headers.get('vary')).toMatch(/\bOrigin\b/);
    }
  });

  it('gives any other origin (and the "null" origin) no CORS headers at all', async () => {
    for (const origin of ['https://evil.example', 'null', 'https://app.example.com.evil.example']) {
      const response = await post(listedUrl, '/graphql', { origin });
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
      expect(response.headers.get('access-control-allow-credentials')).toBeNull();
      const pre = await preflight(listedUrl, '/graphql', origin);
      expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    }
  });

  it('refuses a CORS_ORIGINS entry that is not an origin', () => {
    for (const value of ['app.example.com', 'https://app.example.com/', 'ftp://x.example', 'https://a.example,/path']) {
      expect(() => parseConfig({ CORS_ORIGINS: value })).toThrow(ConfigError);
    }
    expect(parseConfig({ CORS_ORIGINS: ' * ' }).CORS_ORIGINS).toBe('*');
  });
});

describe('security headers', () => {
  it('are on every API answer: GraphQL, REST (errors too), health', async () => {
    const answers = [
      await post(t.url, '/graphql', {}),
      await post(t.url, '/users.upsert', {}),
      await fetch(`${t.url}/healthz`),
      await fetch(`${t.url}/openapi.json`),
    ];
    for (const response of answers) {
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('content-security-policy')).toBe("frame-ancestors 'none'");
    }
  });

  it('leave the widget its own policy', async () => {
    const response = await fetch(`${t.url}/widget/demo?projectId=x&userId=u&userHash=h`);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBeNull();
    expect(response.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
  });
});
