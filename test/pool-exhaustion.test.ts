import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgPool, prisma } from '../src/db/client.ts';
import { bearer, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { until } from './helpers/process.ts';

// More concurrent senders than connections: Herald queues them for a connection up to
// DATABASE_CONNECT_TIMEOUT_MS, then sheds with 503 + Retry-After (retryable); never a 500 and
// never a half-written send. Statements over DATABASE_STATEMENT_TIMEOUT_MS are shed the same way.

let h: TestHerald;
beforeAll(async () => {
  h = await startTestHerald({
    env: { DATABASE_POOL_SIZE: '10', DATABASE_CONNECT_TIMEOUT_MS: '1000', DATABASE_STATEMENT_TIMEOUT_MS: '2000', WORKERS_ENABLED: 'false' },
  });
  const created = await rest(h.url, 'POST', '/graphql', {
    query: 'mutation($input: NotificationInput!) { createNotification(input: $input) { id } }',
    variables: { input: { key: 'load', type: 'in-app', name: 'Load', versions: [{ contents: [{ locale: 'en', title: 'Hi', body: 'Hello {{ user.externalId }}' }] }] } },
  }, bearer(h.project.apiKey));
  expect(created.body.errors).toBeUndefined();
});
afterAll(async () => {
  await h?.stop();
});

let seq = 0;
function batch(size: number, tag: string) {
  return Array.from({ length: size }, () => {
    const n = ++seq;
    return { id: `${tag}-${n}`, notificationId: 'load', userId: `u${n % 40}` };
  });
}

async function storedIds(ids: string[]): Promise<Set<string>> {
  const rows = await prisma().message.findMany({ where: { projectId: h.project.projectId, externalId: { in: ids } }, select: { externalId: true } });
  return new Set(rows.map((r) => r.externalId!));
}

describe('pool exhaustion', () => {
  it('30 concurrent senders on a pool of 10: every answer is 200 or 503 + Retry-After, and matches the database', async () => {
    const rounds = 2;
    const answers: { status: number; retryAfter: string | null; body: any; ids: string[] }[] = [];
    await Promise.all(
      Array.from({ length: 30 }, async (_, sender) => {
        for (let round = 0; round < rounds; round++) {
          const messages = batch(50, `load${sender}`);
          const res = await rest(h.url, 'POST', '/messages.send', { messages }, bearer(h.project.apiKey));
          answers.push({ status: res.status, retryAfter: res.headers.get('retry-after'), body: res.body, ids: messages.map((m) => m.id) });
        }
      }),
    );
    const statuses = answers.reduce<Record<string, number>>((acc, a) => ({ ...acc, [a.status]: (acc[a.status] ?? 0) + 1 }), {});
    console.log(`30 senders x ${rounds} rounds x 50 messages, pool 10: answers by status ${JSON.stringify(statuses)}`);
    const bad = answers.filter((a) => a.status !== 200 && !(a.status === 503 && Number(a.retryAfter) > 0));
    expect(bad.map((a) => `${a.status} ${JSON.stringify(a.body).slice(0, 200)}`)).toEqual([]);
    for (const a of answers.filter((x) => x.status === 503)) expect(a.body).toMatchObject({ error: 'service_unavailable' });

    const accepted = answers.filter((a) => a.status === 200).flatMap((a) => a.ids.filter((_, i) => a.body.results[i].ok));
    const shed = answers.filter((a) => a.status === 503).flatMap((a) => a.ids);
    // Every 200 item is ok (the batch is valid) and stored; nothing of a shed batch is.
    expect(answers.filter((a) => a.status === 200).flatMap((a) => a.body.results.filter((r: { ok: boolean }) => !r.ok))).toEqual([]);
    const stored = await storedIds([...accepted, ...shed]);
    expect(accepted.filter((id) => !stored.has(id))).toEqual([]);
    expect(shed.filter((id) => stored.has(id))).toEqual([]);
  });

  it('with every connection held elsewhere: 503 OVERLOADED + Retry-After on GraphQL and REST, /readyz stays 200, then back to normal', async () => {
    // The shared pool accessor is the pool Prisma runs on.
    expect(pgPool()).toBe(h.herald.db.pool);
    // Ten transactions (this process's Prisma client is the server's) each hold a connection.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let holding = 0;
    const holders = Array.from({ length: h.config.DATABASE_POOL_SIZE }, () =>
      prisma().$transaction(
        async (tx) => {
          await tx.$queryRaw`SELECT 1`;
          holding++;
          await gate;
        },
        { maxWait: 20_000, timeout: 60_000 },
      ),
    );
    await until(() => holding === h.config.DATABASE_POOL_SIZE, 20_000, 'every connection to be held');
    try {
      const messages = batch(3, 'held');
      const graphql = await rest(
        h.url,
        'POST',
        '/graphql',
        { query: 'mutation($m: [SendMessageInput!]!) { sendMessages(messages: $m) { ok } }', variables: { m: messages } },
        bearer(h.project.apiKey),
      );
      expect(graphql.status).toBe(503);
      expect(graphql.headers.get('retry-after')).toBe('1');
      expect(graphql.body.errors[0]).toMatchObject({ extensions: { code: 'OVERLOADED', retryAfter: 1 } });
      expect(graphql.body.errors[0].message).toMatch(/^Service overloaded: .*Retry in 1 s\.$/);
      // The internal transport detail (http) is not part of the answer.
      expect(graphql.body.errors[0].extensions.http).toBeUndefined();

      const notifuse = await rest(h.url, 'POST', '/messages.send', { messages }, bearer(h.project.apiKey));
      expect(notifuse.status).toBe(503);
      expect(notifuse.headers.get('retry-after')).toBe('1');
      expect(notifuse.body).toEqual({ error: 'service_unavailable', message: expect.stringMatching(/^Service overloaded/) });

      const np6 = await rest(h.url, 'GET', '/notifications', undefined, { 'x-key': h.project.apiKey });
      expect(np6.status).toBe(503);
      expect(np6.headers.get('retry-after')).toBe('1');
      expect(np6.body).toMatchObject({ type: 'error', status: 503, code: 'OVERLOADED' });

      const neucron = await rest(h.url, 'POST', '/notif/send', { user_ids: ['u1'], title: 'Hi', body: 'Hello' }, {
        'x-neucron-app-id': h.project.projectId,
        'x-neucron-key-id': h.project.keyId,
        'x-neucron-key-secret': h.project.keySecret,
      });
      expect(neucron.status).toBe(503);
      expect(neucron.headers.get('retry-after')).toBe('1');
      expect(neucron.body).toMatchObject({ status_code: 503, error: expect.stringMatching(/^Service overloaded/) });

      const basic = `Basic ${Buffer.from(`${h.project.keyId}:${h.project.keySecret}`).toString('base64')}`;
      const department = await rest(h.url, 'POST', `/department/${crypto.randomUUID()}/user/default/notify`, { messageAttributes: { body: 'Hi' } }, { authorization: basic });
      expect(department.status).toBe(503);
      expect(department.headers.get('retry-after')).toBe('1');
      expect(department.body).toMatchObject({ status: 'FAILURE', errors: [{ errorCode: 'OVERLOADED' }] });

      // Busy is not broken: the instance stays in its load balancer's rotation.
      expect((await fetch(`${h.url}/readyz`)).status).toBe(200);
      release();
      await Promise.all(holders);
      expect((await storedIds(messages.map((m) => m.id))).size).toBe(0);
      const after = await rest(h.url, 'POST', '/messages.send', { messages }, bearer(h.project.apiKey));
      expect(after.status).toBe(200);
      expect(after.body.results.map((r: { ok: boolean }) => r.ok)).toEqual([true, true, true]);
    } finally {
      release();
      await Promise.allSettled(holders);
    }
  });

  it('a statement over DATABASE_STATEMENT_TIMEOUT_MS is cancelled: 503, and the send is not half-written', async () => {
    // Another session holds a lock that blocks inserts into Message (reads go on): the send
    // gets as far as its transaction's INSERT, waits, and is cancelled by statement_timeout.
    const locker = new pg.Client({ connectionString: h.config.DATABASE_URL });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE "Message" IN EXCLUSIVE MODE');
      const messages = batch(5, 'locked');
      const res = await rest(h.url, 'POST', '/messages.send', { messages }, bearer(h.project.apiKey));
      expect(res.status).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(res.body).toMatchObject({ error: 'service_unavailable' });
      await locker.query('ROLLBACK');
      expect((await storedIds(messages.map((m) => m.id))).size).toBe(0);
    } finally {
      await locker.end();
    }
  });
});
