import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/env.ts';
import { prisma } from '../src/db/client.ts';
import { startHerald, type Herald } from '../src/main.ts';
import { createProject, type NewProjectCredentials } from '../src/modules/projects/service.ts';
import { createLogger } from '../src/server/logger.ts';
import { userHash } from '../src/modules/projects/credentials.ts';
import { bearer, rest } from './helpers/herald.ts';
import { pollFor } from './helpers/http-server.ts';

// The accept path speaks pg directly where there is a pool (PostgreSQL) and goes through Prisma on
// the embedded database: this runs the same send on the embedded one (PGlite, in-process queue).
let dir: string;
let herald: Herald;
let url: string;
let project: NewProjectCredentials;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'herald-embedded-send-'));
  const config = parseConfig({ NODE_ENV: 'test', PORT: '0', HOST: '127.0.0.1', HERALD_DATA_DIR: dir, LOG_LEVEL: 'silent', SHUTDOWN_TIMEOUT_MS: '2000' });
  herald = await startHerald(config, createLogger(config));
  url = `http://127.0.0.1:${herald.port}`;
  project = await createProject('Embedded send');
}, 120_000);
afterAll(async () => {
  await herald?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('messages.send on the embedded database', () => {
  it('accepts a batch, refuses a reused id, and delivers in-app', async () => {
    const auth = bearer(project.apiKey);
    const create = await rest(url, 'POST', '/graphql', {
      query: 'mutation($input: NotificationInput!) { createNotification(input: $input) { id } }',
      variables: { input: { key: 'emb', type: 'in-app', name: 'emb', versions: [{ contents: [{ locale: 'en', title: 'Hi {{ user.firstName }}', body: '{{ n }}' }] }] } },
    }, auth);
    expect(create.status).toBe(200);
    const messages = [1, 2].map((n) => ({ notificationId: 'emb', userId: `eu${n}`, userFirstName: `U${n}`, id: `emb-${n}`, data: { n } }));
    const first = await rest(url, 'POST', '/messages.send', { messages }, auth);
    expect(first.body).toEqual({ results: [{ id: 'emb-1', ok: true }, { id: 'emb-2', ok: true }] });
    const again = await rest(url, 'POST', '/messages.send', { messages: messages.slice(0, 1) }, auth);
    expect(again.body).toEqual({ results: [{ id: 'emb-1', ok: false, error: 'id/exists' }] });
    const rows = await pollFor(async () => {
      const found = await prisma().message.findMany({ where: { projectId: project.projectId }, orderBy: { externalId: 'asc' } });
      return found.length === 2 && found.every((m) => m.status === 'DELIVERED' && m.enqueuedAt) ? found : null;
    }, 20_000, 'both delivered');
    expect(rows.map((m) => (m.content as { title: string }).title)).toEqual(['Hi U1', 'Hi U2']);
    // The dates written as UTC text read back as the instants they were.
    for (const m of rows) expect(Math.abs(m.createdAt.getTime() - Date.now())).toBeLessThan(60_000);
  });
});

describe('the list reads on the embedded database', () => {
  // users(first:) and inbox(first:) read in SQL on the pool where there is one, through Prisma's raw query here;
  // on the users and items the send above created.
  it('pages users and the end user\'s inbox, with counts, dates and JSON as on PostgreSQL', async () => {
    const auth = bearer(project.apiKey);
    const users = await rest(url, 'POST', '/graphql', { query: '{ users(first: 1) { totalCount edges { node { externalId createdAt custom } } pageInfo { hasNextPage endCursor } } }' }, auth);
    expect(users.body.errors).toBeUndefined();
    const page = users.body.data.users;
    expect(page).toMatchObject({ totalCount: 2, edges: [{ node: { externalId: 'eu1', custom: {} } }], pageInfo: { hasNextPage: true } });
    expect(Math.abs(Date.parse(page.edges[0].node.createdAt) - Date.now())).toBeLessThan(60_000);
    const next = await rest(url, 'POST', '/graphql', { query: 'query($after: String) { users(first: 5, after: $after) { edges { node { externalId } } } }', variables: { after: page.pageInfo.endCursor } }, auth);
    expect(next.body.data.users.edges).toEqual([{ node: { externalId: 'eu2' } }]);

    const widget = { 'x-herald-project': project.projectId, 'x-herald-user': 'eu1', 'x-herald-user-hash': userHash(project.widgetSecret, 'eu1') };
    const inbox = await rest(url, 'POST', '/graphql', { query: '{ inbox(first: 5) { totalCount edges { node { title data readAt } } } inboxPage(limit: 5) { total items { title } } }' }, widget);
    expect(inbox.body.errors).toBeUndefined();
    expect(inbox.body.data).toEqual({ inbox: { totalCount: 1, edges: [{ node: { title: 'Hi U1', data: { n: 1 }, readAt: null } }] }, inboxPage: { total: 1, items: [{ title: 'Hi U1' }] } });
  });
});
