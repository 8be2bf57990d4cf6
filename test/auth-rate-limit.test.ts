import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/env.ts';
import { userHash } from '../src/modules/projects/credentials.ts';
import { createAuthRateLimiter } from '../src/modules/projects/rate-limit.ts';
import { removeQueueKeys, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { TEST_REDIS_URL } from './helpers/database.ts';
import { pino } from 'pino';

/** Limits small enough to cross in a test; TRUST_PROXY_HOPS=1 lets each test be its own client IP. */
const LIMITS = { AUTH_RATE_LIMIT_IP_FAILURES: '5', AUTH_RATE_LIMIT_KEY_FAILURES: '3', AUTH_RATE_LIMIT_WINDOW_S: '60', AUTH_RATE_LIMIT_BLOCK_S: '120', TRUST_PROXY_HOPS: '1' };
const PROJECT_QUERY = JSON.stringify({ query: '{ project { id } }' });

let ipSeq = 0;
const newIp = () => `203.0.113.${++ipSeq}`;

async function graphqlAs(h: TestHerald, ip: string, headers: Record<string, string>) {
  const response = await fetch(`${h.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': ip, ...headers }, body: PROJECT_QUERY });
  const body = (await response.json()) as { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] };
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body };
}
const wrongKey = () => ({ authorization: `Bearer hk_${randomBytes(10).toString('hex')}.${randomBytes(32).toString('base64url')}` });

function suite(name: string, env: Record<string, string>) {
  describe(name, () => {
    let h: TestHerald;
    beforeAll(async () => {
      h = await startTestHerald({ env: { ...LIMITS, ...env } });
    });
    afterAll(async () => {
      await h?.stop();
    });

    it('answers 429 + Retry-After (RATE_LIMITED) to an IP past its failures, even with a valid key; other IPs are unaffected', async () => {
      const ip = newIp();
      for (let i = 0; i < 5; i++) expect((await graphqlAs(h, ip, wrongKey())).status).toBe(401);
      const limited = await graphqlAs(h, ip, wrongKey());
      expect(limited.status).toBe(429);
      expect(Number(limited.retryAfter)).toBeGreaterThan(60);
      expect(Number(limited.retryAfter)).toBeLessThanOrEqual(120);
      expect(limited.body.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: Number(limited.retryAfter) });
      expect(limited.body.errors?.[0]?.extensions).not.toHaveProperty('http');
      // Blocked before any lookup: the right key from that address waits too.
      expect((await graphqlAs(h, ip, { authorization: `Bearer ${h.project.apiKey}` })).status).toBe(429);
      expect((await graphqlAs(h, newIp(), { authorization: `Bearer ${h.project.apiKey}` })).status).toBe(200);
    });

    it('limits wrong secrets per key id across IPs, without locking the key out', async () => {
      const other = await h.newProject('Key limit');
      const wrong = { authorization: `Bearer ${other.keyId}.${randomBytes(32).toString('base64url')}` };
      for (let i = 0; i < 3; i++) expect((await graphqlAs(h, newIp(), wrong)).status).toBe(401);
      const limited = await graphqlAs(h, newIp(), wrong);
      expect(limited.status).toBe(429);
      expect(limited.body.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
      expect(Number(limited.retryAfter)).toBeGreaterThan(0);
      // The owner's correct secret still works while wrong ones are refused.
      const owner = await graphqlAs(h, newIp(), { authorization: `Bearer ${other.apiKey}` });
      expect(owner.status).toBe(200);
      expect((await graphqlAs(h, newIp(), wrong)).status).toBe(429);
    });

    it('limits wrong widget hashes per project and user', async () => {
      const widget = (hash: string) => ({ 'x-herald-project': h.project.projectId, 'x-herald-user': 'w-1', 'x-herald-user-hash': hash });
      for (let i = 0; i < 3; i++) expect((await graphqlAs(h, newIp(), widget('00'.repeat(32)))).status).toBe(401);
      expect((await graphqlAs(h, newIp(), widget('11'.repeat(32)))).status).toBe(429);
      // The user's real hash still opens the inbox.
      const real = await fetch(`${h.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': newIp(), ...widget(userHash(h.project.widgetSecret, 'w-1')) },
        body: JSON.stringify({ query: '{ unreadCount }' }),
      });
      expect(real.status).toBe(200);
    });

    it('answers REST routes in their own shape: 429, Retry-After, the API error body', async () => {
      const ip = newIp();
      for (let i = 0; i < 5; i++) expect((await rest(h.url, 'POST', '/messages.send', { messages: [] }, { ...wrongKey(), 'x-forwarded-for': ip })).status).toBe(401);
      const notifuse = await rest(h.url, 'POST', '/messages.send', { messages: [] }, { ...wrongKey(), 'x-forwarded-for': ip });
      expect(notifuse.status).toBe(429);
      expect(notifuse.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(notifuse.body).toMatchObject({ error: 'rate_limited', message: expect.stringMatching(/Too many failed authentications/) });
      const np6 = await rest(h.url, 'GET', '/notifications', undefined, { 'x-key': `${h.project.apiKey}`, 'x-forwarded-for': ip });
      expect(np6.status).toBe(429);
      expect(np6.body).toMatchObject({ type: 'error', status: 429, code: 'RATE_LIMITED' });
      expect(np6.headers.get('retry-after')).toMatch(/^\d+$/);
    });
  });
}

suite('auth rate limits, Redis-backed (REDIS_URL set)', {});
suite('auth rate limits, in memory (no Redis)', { REDIS_URL: '' });

describe('Redis-backed counters are shared by instances', () => {
  const prefix = `ratelimit_${randomBytes(4).toString('hex')}`;
  afterAll(() => removeQueueKeys(TEST_REDIS_URL, prefix));

  it('failures counted by one instance block on another', async () => {
    const config = parseConfig({ DATABASE_URL: 'postgresql://unused@127.0.0.1/x', REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, ...LIMITS });
    const logger = pino({ level: 'silent' });
    const [one, two] = [createAuthRateLimiter(config, logger), createAuthRateLimiter(config, logger)];
    try {
      await Promise.all([one.ready(), two.ready()]);
      const ip = '198.51.100.7';
      // Read as not blocked (and remembered so for a moment): the failures it counts below forget that.
      await expect(two.check(ip)).resolves.toBeUndefined();
      for (let i = 0; i < 5; i++) await (i % 2 ? one : two).fail(ip, null);
      await expect(one.fail(ip, null)).rejects.toMatchObject({ extensions: { code: 'RATE_LIMITED' } });
      await expect(two.check(ip)).rejects.toMatchObject({ extensions: { code: 'RATE_LIMITED' } });
      await expect(two.check('198.51.100.8')).resolves.toBeUndefined();
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });
});
