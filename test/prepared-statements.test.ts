import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgPool } from '../src/db/client.ts';
import { userHash } from '../src/modules/projects/credentials.ts';
import { bearer, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor } from './helpers/http-server.ts';

/**
 * The hot reads run as named prepared statements (DATABASE_PREPARED_STATEMENTS, default on): each
 * connection plans them once. They select named columns, never `*`, so a column added by a newer
 * instance's migration (a rolling deploy) does not break the statements older instances prepared.
 */
let h: TestHerald;

const widget = (externalId: string) => ({ 'x-herald-project': h.project.projectId, 'x-herald-user': externalId, 'x-herald-user-hash': userHash(h.project.widgetSecret, externalId) });
const USERS = '{ users(first: 20) { totalCount edges { node { externalId email } } } }';
const INBOX = '{ inbox(first: 20) { totalCount edges { node { title } } } unreadCount }';

async function graphql(query: string, headers: Record<string, string>, url = h.url) {
  const res = await rest(url, 'POST', '/graphql', { query }, headers);
  expect(res.status).toBe(200);
  expect(res.body.errors).toBeUndefined();
  return res.body.data;
}

/** The prepared statements of every connection of the pool (all of them checked out at once, so each is a different one). */
async function preparedOnPool(): Promise<string[]> {
  const pool = pgPool()!;
  const clients = await Promise.all(Array.from({ length: pool.options.max ?? 10 }, () => pool.connect()));
  try {
    const lists = await Promise.all(clients.map((c) => c.query<{ statement: string }>(`SELECT statement FROM pg_prepared_statements WHERE name LIKE 'h%'`)));
    return lists.flatMap((l) => l.rows.map((r) => r.statement));
  } finally {
    for (const c of clients) c.release();
  }
}

beforeAll(async () => {
  h = await startTestHerald();
  await graphql('mutation { upsertUsers(users: [{ externalId: "p1", email: "p1@example.com" }, { externalId: "p2" }]) { user { id } } }', bearer(h.project.apiKey));
  await graphql(
    'mutation { createNotification(input: { key: "bell", type: "in-app", name: "Bell", versions: [{ contents: [{ locale: "en", title: "Hello" }] }] }) { id } }',
    bearer(h.project.apiKey),
  );
  const sent = await rest(h.url, 'POST', '/messages.send', { messages: [{ notificationId: 'bell', userId: 'p1' }] }, bearer(h.project.apiKey));
  expect(sent.body.results[0].ok).toBe(true);
  await pollFor(async () => (await graphql(INBOX, widget('p1'))).unreadCount === 1, 10_000, 'the inbox item');
});
afterAll(async () => {
  await h?.stop();
});

describe('prepared statements', () => {
  it('the list reads, the send lookup and the delivery statements are prepared on the connections', async () => {
    for (let i = 0; i < 3; i++) {
      await graphql(USERS, bearer(h.project.apiKey));
      await graphql(INBOX, widget('p1'));
    }
    const statements = (await preparedOnPool()).join('\n');
    expect(statements).toContain('FROM "User" WHERE');
    expect(statements).toContain('FROM "InboxItem" WHERE');
    expect(statements).toContain('AS stamp');
    expect(statements).toContain('WITH claimable AS');
    // Named columns, not `*`.
    expect(statements).not.toMatch(/SELECT \* FROM "(User|InboxItem)"/);
  });

  it('keeps answering after another instance adds columns (a rolling deploy), with the same answers', async () => {
    const users = await graphql(USERS, bearer(h.project.apiKey));
    const inbox = await graphql(INBOX, widget('p1'));
    const pool = pgPool()!;
    const size = pool.options.max ?? 10;
    // Twice as many reads at once as the pool has connections (each takes two: page and count), a
    // few rounds: the connections run, and so prepare, both lists.
    const everywhere = async () => {
      for (let round = 0; round < 3; round++) {
        const answers = await Promise.all(Array.from({ length: 2 * size }, (_, i) => (i % 2 ? graphql(INBOX, widget('p1')) : graphql(USERS, bearer(h.project.apiKey)))));
        answers.forEach((answer, i) => expect(answer).toEqual(i % 2 ? inbox : users));
      }
    };
    await everywhere();
    const prepared = await preparedOnPool();
    // (Which connection serves which read is the pool's choice: most of them, not always all.)
    expect(prepared.filter((s) => s.startsWith('SELECT') && s.includes('FROM "User" WHERE') && !s.includes('count(')).length).toBeGreaterThanOrEqual(size / 2);
    await pool.query('ALTER TABLE "User" ADD COLUMN "futureField" text');
    await pool.query('ALTER TABLE "InboxItem" ADD COLUMN "futureField" text');
    await pool.query('ALTER TABLE "Message" ADD COLUMN "futureField" text');
    try {
      // Every connection again, each with the statements it prepared before the change.
      await everywhere();
      // And the send → claim → delivery path, whose claim is prepared too.
      const sent = await rest(h.url, 'POST', '/messages.send', { messages: [{ notificationId: 'bell', userId: 'p1' }] }, bearer(h.project.apiKey));
      expect(sent.body.results[0].ok).toBe(true);
      await pollFor(async () => (await graphql(INBOX, widget('p1'))).unreadCount === 2, 10_000, 'the second item');
    } finally {
      await pool.query('ALTER TABLE "User" DROP COLUMN "futureField"');
      await pool.query('ALTER TABLE "InboxItem" DROP COLUMN "futureField"');
      await pool.query('ALTER TABLE "Message" DROP COLUMN "futureField"');
    }
  });

  it('prepares nothing with DATABASE_PREPARED_STATEMENTS=false (a pooler in transaction mode)', async () => {
    const sibling = await h.startSibling({ DATABASE_PREPARED_STATEMENTS: 'false' });
    try {
      // A filter no earlier read used: its text is new to every connection.
      const data = await graphql('{ users(first: 5, filter: { country: "FR" }) { totalCount } }', bearer(h.project.apiKey), sibling.url);
      expect(data.users.totalCount).toBe(0);
      expect((await preparedOnPool()).filter((s) => s.includes('country ='))).toEqual([]);
    } finally {
      await sibling.herald.stop();
    }
  });
});
