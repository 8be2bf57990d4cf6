import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../src/db/client.ts';
import { ROOT } from './helpers/process.ts';
import { bearer, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor } from './helpers/http-server.ts';

// The README's workflow examples, pasted as written into bash (curl), against a real server: the
// three notifications are created, their sends accepted, the digest's live item shown, the run
// listed and canceled.

let h: TestHerald;
const section = readFileSync(`${ROOT}README.md`, 'utf8').split('## Workflows\n')[1]!.split('\n## ')[0]!;
const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);

beforeAll(async () => {
  h = await startTestHerald();
  // The quick start's user u1.
  await rest(h.url, 'POST', '/graphql', { query: 'mutation { upsertUsers(users: [{ externalId: "u1", email: "ada@example.com", firstName: "Ada" }]) { ok } }' }, bearer(h.project.apiKey));
});
afterAll(async () => {
  await h?.stop();
});

/** Runs a block in bash (async: the server answering curl is this process). One line per curl answer. */
async function run(block: string): Promise<string[]> {
  const script = block.replaceAll('localhost:4000', `127.0.0.1:${h.port}`);
  const { stdout } = await promisify(execFile)('bash', ['-e', '-c', script.replace(/\n(curl )/g, '\necho\n$1')], { env: { ...process.env, APIKEY: h.project.apiKey }, encoding: 'utf8' });
  return stdout.split('\n').filter((l) => l.trim());
}

describe('README workflow examples', () => {
  it('has the three examples', () => expect(blocks.length).toBe(3));

  it('digest of comments: created, two sends join one digest', async () => {
    const out = await run(blocks[0]!);
    for (const line of out) expect(line).not.toMatch(/"errors"|"ok":false/);
    const digest = await pollFor(() => prisma().workflowDigest.findFirst({ where: { key: 'Q3 plan', count: 2 } }), 15_000, 'digest of 2');
    expect(digest.openKey).toBe('Q3 plan');
    // Shown live while the digest is open: one item, with the count so far.
    const item = await pollFor(() => prisma().inboxItem.findFirst({ where: { title: '2 new comments on Q3 plan' } }), 15_000, 'live item at 2');
    expect(item.body).toBe('Bob: Looks good\nEve: +1\n');
    expect(await prisma().inboxItem.count({ where: { notificationId: digest.notificationId } })).toBe(1);
  });

  it('in-app then email if unread: the run is listed waiting at the delay, then canceled', async () => {
    const out = await run(blocks[1]!);
    for (const line of out) expect(line).not.toMatch(/"errors"|"ok":false/);
    expect(out.at(-1)).toBe('{"data":{"cancelWorkflowRuns":1}}');
    const r = await prisma().workflowRun.findFirstOrThrow({ where: { transactionId: 'invoice-1042' }, include: { stepStates: true } });
    expect(r.status).toBe('CANCELED');
  });

  it('weekday window: accepted, waits or delivers by New York time', async () => {
    const out = await run(blocks[2]!);
    for (const line of out) expect(line).not.toMatch(/"errors"|"ok":false/);
    const r = await pollFor(() => prisma().workflowRun.findFirst({ where: { transactionId: 'report-w49' }, include: { stepStates: true } }).then((x) => (x?.stepStates.length ? x : null)), 15_000, 'run');
    expect(['WAITING', 'COMPLETED', 'RUNNING']).toContain(r.status);
    const user = await prisma().user.findFirstOrThrow({ where: { externalId: 'u1', projectId: h.project.projectId } });
    expect(user.timezone).toBe('America/New_York');
  });
});
