import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { readMigrations } from '../src/db/migrate.ts';
import { createTestDatabase, TEST_REDIS_URL } from './helpers/database.ts';
import { killAll, listeningPort, logLines, runTsx, spawnTsx, until, type Child } from './helpers/process.ts';

// Real child processes of the server and the CLI, as an operator runs them.
const MAIN = 'src/main.ts';
const CLI = 'src/cli/herald.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  await killAll();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function freshDatabase() {
  const database = await createTestDatabase();
  cleanups.push(() => database.drop());
  return database;
}

function tempDir() {
  const dir = mkdtempSync(path.join(tmpdir(), 'herald-process-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const PROJECT_QUERY = JSON.stringify({ query: '{ project { id name } }' });
async function projectWith(port: number, apiKey: string) {
  const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: PROJECT_QUERY,
  });
  return { status: response.status, body: (await response.json()) as { data?: { project: { id: string; name: string } } | null; errors?: unknown[] } };
}

/** True when nothing accepts TCP connections on the port any more. */
function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

/** Starts the server and waits for it to be fully started; returns the child and its port. */
async function startServer(env: Record<string, string>): Promise<{ child: Child; port: number }> {
  const child = spawnTsx(MAIN, [], { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env });
  const port = await child.waitFor(listeningPort, 45_000, 'the "Herald listening" log line');
  await child.waitFor(({ stdout }) => logLines(stdout).some((l) => l.msg === 'Herald started'), 45_000, '"Herald started"');
  return { child, port };
}

describe('configuration errors', () => {
  it('exits 1 with one "Invalid configuration" line per bad variable', async () => {
    const [port, two, redis] = await Promise.all([
      runTsx(MAIN, [], { PORT: 'abc' }),
      runTsx(MAIN, [], { PORT: 'abc', LOG_LEVEL: 'loud' }),
      runTsx(MAIN, [], { REDIS_URL: TEST_REDIS_URL }),
    ]);

    expect(port.code, port.stderr).toBe(1);
    const portLines = port.stderr.split('\n').filter((l) => l.startsWith('Invalid configuration: '));
    expect(portLines).toHaveLength(1);
    expect(portLines[0]).toMatch(/^Invalid configuration: PORT: .*"abc"/);

    expect(two.code, two.stderr).toBe(1);
    const twoLines = two.stderr.split('\n').filter((l) => l.startsWith('Invalid configuration: '));
    expect(twoLines).toHaveLength(2);
    expect(twoLines.filter((l) => l.startsWith('Invalid configuration: PORT: '))).toHaveLength(1);
    expect(twoLines.filter((l) => l.startsWith('Invalid configuration: LOG_LEVEL: '))).toHaveLength(1);
    expect(twoLines.find((l) => l.includes('LOG_LEVEL'))).toContain('"loud"');

    expect(redis.code, redis.stderr).toBe(1);
    expect(redis.stderr).toMatch(/^Invalid configuration: REDIS_URL: is set but DATABASE_URL is not/m);
    // A URL may hold a password: it is never echoed.
    expect(redis.stderr).not.toContain(TEST_REDIS_URL);
  });
});

describe('graceful shutdown on PostgreSQL and Redis', () => {
  it('on SIGTERM stops accepting, finishes the in-flight request, closes sockets and exits 0', async () => {
    const database = await freshDatabase();
    const { child, port } = await startServer({ DATABASE_URL: database.url, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: database.name, HERALD_ENCRYPTION_KEY: randomBytes(32).toString('base64'), SHUTDOWN_TIMEOUT_MS: '5000' });
    expect(logLines(child.stdout()).find((l) => l.msg === 'Herald started')).toMatchObject({ database: 'postgres', pubsub: 'redis' });

    // A request (undici keeps its connection alive afterwards, idle) and an open websocket.
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status).toBe(200);
    const socket = new WebSocket(`ws://127.0.0.1:${port}/graphql`, 'graphql-transport-ws');
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const socketClosed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));

    // An in-flight request: "100 Continue" proves the server has it; its body is not sent yet.
    const body = JSON.stringify({ query: '{ __typename }' });
    const request = http.request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/graphql',
      agent: false,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), expect: '100-continue' },
    });
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      request.once('response', (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.once('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      request.once('error', reject);
    });
    await new Promise<void>((resolve) => request.once('continue', () => resolve()));
    request.write(body.slice(0, 5));

    const started = Date.now();
    child.process.kill('SIGTERM');
    await child.waitFor(({ stdout }) => logLines(stdout).some((l) => l.msg === 'Shutting down' && l.signal === 'SIGTERM'), 5_000, '"Shutting down"');
    await until(() => refusesConnections(port), 5_000, 'the port to stop accepting connections');
    expect(child.exit()).toBeNull();

    request.end(body.slice(5));
    expect(await response).toEqual({ status: 200, body: JSON.stringify({ data: { __typename: 'Query' } }) });
    const exit = await Promise.race([child.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 8_000).unref())]);
    expect(exit, child.stdout() + child.stderr()).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await socketClosed).toBe(1001);
    expect(logLines(child.stdout()).filter((l) => (l.level as number) >= 40)).toEqual([]);
  });
});

// PGlite starts slowly (first start: initdb and every migration); two test files share 2 cores.
describe('embedded mode (PGlite)', { timeout: 90_000 }, () => {
  const dataDir = tempDir();
  const env = { HERALD_DATA_DIR: dataDir };
  let apiKey = '';

  it('prints the default project credentials once, and the key works on GraphQL and REST', async () => {
    const { child, port } = await startServer(env);
    // The credentials block follows the listening line.
    apiKey = await child.waitFor(({ stdout }) => /^\s+apiKey\s+(\S+)$/m.exec(stdout)?.[1], 10_000, 'the printed apiKey');
    const stdout = child.stdout();
    expect(stdout.match(/shown once/g)).toHaveLength(1);
    expect(stdout.match(/^\s+apiKey\s/gm)).toHaveLength(1);
    for (const field of ['projectId', 'keyId', 'keySecret', 'widgetSecret']) expect(stdout).toMatch(new RegExp(`^\\s+${field}\\s+\\S+$`, 'm'));
    expect(logLines(stdout).find((l) => l.msg === 'Herald started')).toMatchObject({ database: 'embedded', pubsub: 'in-process' });

    const project = await projectWith(port, apiKey);
    expect(project.body.errors).toBeUndefined();
    expect(project.body.data?.project.name).toBe('Default project');

    const upsert = await fetch(`http://127.0.0.1:${port}/users.upsert`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
      body: JSON.stringify({ users: [{ id: 'embedded-user', email: 'e@example.com' }] }),
    });
    expect(upsert.status).toBe(200);
    expect(await upsert.json()).toEqual({ results: [{ id: 'embedded-user', ok: true, created: true }] });

    // The CLI beside the running server is refused with a clear message naming the holder.
    const cli = await runTsx(CLI, ['project', 'create', '--name', 'X', '--json'], env);
    expect(cli.code, cli.stderr).toBe(1);
    expect(cli.stderr).toContain('is in use by another Herald process');
    expect(cli.stderr).toContain(`(pid ${child.pid})`);
    expect(cli.stdout).toBe('');

    expect(await child.stop('SIGTERM', 10_000)).toEqual({ code: 0, signal: null });
  });

  it('keeps its data across restarts and does not print credentials again', async () => {
    expect(apiKey).not.toBe('');
    const { child, port } = await startServer(env);
    expect(child.stdout()).not.toMatch(/apiKey|shown once/);
    const project = await projectWith(port, apiKey);
    expect(project.body.data?.project.name).toBe('Default project');
    expect(await child.stop('SIGTERM', 10_000)).toEqual({ code: 0, signal: null });
  });

  it('lets the CLI create a project once the server is stopped; its key works on the next start', async () => {
    const cli = await runTsx(CLI, ['project', 'create', '--name', 'From CLI', '--json'], env);
    expect(cli.code, cli.stderr).toBe(0);
    const created = JSON.parse(cli.stdout) as Record<string, string>;
    expect(Object.keys(created).sort()).toEqual(['apiKey', 'keyId', 'keySecret', 'projectId', 'widgetSecret']);
    expect(created.apiKey).toBe(`${created.keyId}.${created.keySecret}`);

    const { child, port } = await startServer(env);
    const project = await projectWith(port, created.apiKey!);
    expect(project.body.data?.project).toEqual({ id: created.projectId, name: 'From CLI' });
    // The default project's key still works too.
    expect((await projectWith(port, apiKey)).body.data?.project.name).toBe('Default project');
    expect(await child.stop('SIGTERM', 10_000)).toEqual({ code: 0, signal: null });
  });
});

describe('CLI on PostgreSQL', () => {
  it('project create --json applies the migrations and prints the five credentials', async () => {
    const database = await freshDatabase();
    const cli = await runTsx(CLI, ['project', 'create', '--name', 'Acme', '--json'], { DATABASE_URL: database.url });
    expect(cli.code, cli.stderr).toBe(0);
    const created = JSON.parse(cli.stdout) as Record<string, string>;
    expect(Object.keys(created).sort()).toEqual(['apiKey', 'keyId', 'keySecret', 'projectId', 'widgetSecret']);

    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const migrations = await client.query<{ migration_name: string }>('SELECT migration_name FROM "_prisma_migrations" ORDER BY migration_name');
      expect(migrations.rows.map((r) => r.migration_name)).toEqual(readMigrations().map((m) => m.name));
      const projects = await client.query<{ id: string; name: string }>('SELECT id, name FROM "Project"');
      expect(projects.rows).toEqual([{ id: created.projectId, name: 'Acme' }]);
    } finally {
      await client.end();
    }
  });

  it('migrate applies pending migrations, then reports the database up to date', async () => {
    const database = await freshDatabase();
    const first = await runTsx(CLI, ['migrate'], { DATABASE_URL: database.url });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe(`Applied: ${readMigrations().map((m) => m.name).join(', ')}\n`);
    const second = await runTsx(CLI, ['migrate'], { DATABASE_URL: database.url });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toBe('The database is up to date.\n');
  });

  it('project create without --name exits 2 with a message, before touching any database', async () => {
    const cli = await runTsx(CLI, ['project', 'create', '--json'], { DATABASE_URL: 'postgresql://root@127.0.0.1:1/nowhere' });
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain('--name NAME is required');
    expect(cli.stdout).toBe('');
  });
});
