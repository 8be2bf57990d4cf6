import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from './helpers/database.ts';
import { startTestHerald } from './helpers/herald.ts';
import { killAll, listeningPort, logLines, ROOT, runTsx, spawnTsx } from './helpers/process.ts';

// What an operator sees at start-up: a taken port, log formats, and GET /graphql by hand.

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  await killAll();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function database() {
  const db = await createTestDatabase();
  cleanups.push(() => db.drop());
  return db;
}

describe('a port already in use', () => {
  it('stops with one line naming the port and PORT, and exit code 1', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => holder.close(resolve)));
    const port = (holder.address() as net.AddressInfo).port;
    const db = await database();
    const run = await runTsx('src/main.ts', [], { DATABASE_URL: db.url, HOST: '127.0.0.1', PORT: String(port) }, 60_000);
    expect(run.code, run.stdout + run.stderr).toBe(1);
    expect(run.stderr).toBe(
      `Herald could not start: Port ${port} is already in use (127.0.0.1:${port}): stop the process using it, or set PORT to another port (PORT=0 picks a free one).\n`,
    );
    // No stack, no websocket "Internal error", nothing at error level in the log either.
    expect(run.stdout).not.toMatch(/\n\s+at |Internal error|EADDRINUSE/);
    expect(logLines(run.stdout).filter((l) => (l.level as number) >= 50)).toEqual([]);
  }, 90_000);
});

describe('LOG_FORMAT', { timeout: 90_000 }, () => {
  async function firstLines(env: Record<string, string>) {
    const db = await database();
    const child = spawnTsx('src/main.ts', [], { DATABASE_URL: db.url, HOST: '127.0.0.1', PORT: '0', ...env });
    await child.waitFor(({ stdout }) => /Herald started/.test(stdout), 60_000, '"Herald started"');
    await child.stop('SIGTERM');
    return child.stdout();
  }

  it('is JSON, one object per line, when stdout is not a terminal (auto)', async () => {
    const stdout = await firstLines({});
    const lines = stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
    expect(listeningPort({ stdout })).toBeGreaterThan(0);
  });

  it('is readable with LOG_FORMAT=pretty, without colours when not a terminal', async () => {
    const stdout = await firstLines({ LOG_FORMAT: 'pretty' });
    expect(stdout).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: Herald listening on http:\/\/127\.0\.0\.1:\d+\/graphql$/m);
    expect(stdout).toMatch(/^\s+database: "postgres"$/m);
    expect(stdout).not.toMatch(/^\{/m);
    expect(stdout).not.toContain('\u001b[');
  });

  it('falls back to JSON, saying so once, when pino-pretty is not installed (npm ci --omit=dev)', async () => {
    // A preload that makes pino-pretty unresolvable, as in a production install.
    const dir = mkdtempSync(path.join(tmpdir(), 'herald-no-pretty-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const preload = path.join(dir, 'no-pino-pretty.cjs');
    writeFileSync(
      preload,
      // Module._load, not _resolveFilename: tsx replaces the resolver but still loads through _load.
      `const Module = require('node:module');
const load = Module._load;
Module._load = function (request, ...rest) {
  if (request === 'pino-pretty') throw Object.assign(new Error("Cannot find module 'pino-pretty'"), { code: 'MODULE_NOT_FOUND' });
  return load.call(this, request, ...rest);
};
`,
    );
    const stdout = await firstLines({ LOG_FORMAT: 'pretty', NODE_OPTIONS: `--require ${preload}` });
    const lines = logLines(stdout);
    expect(lines.length).toBe(stdout.trim().split('\n').length);
    expect(lines.filter((l) => String(l.msg).includes('pino-pretty'))).toEqual([
      expect.objectContaining({ level: 40, msg: 'LOG_FORMAT=pretty needs the pino-pretty package, which is not installed: logging JSON' }),
    ]);
    expect(lines.some((l) => l.msg === 'Herald started')).toBe(true);
  });

  it('refuses an unknown format naming the variable', async () => {
    const run = await runTsx('src/main.ts', [], { LOG_FORMAT: 'xml' });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^Invalid configuration: LOG_FORMAT: .*"xml"/m);
  });

  // `script` gives the child a pseudo-terminal, as a person running `npm start` has.
  it.skipIf(!existsSync('/usr/bin/script'))('is pretty and coloured in a terminal (auto)', async () => {
    const db = await database();
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', DATABASE_URL: db.url, HOST: '127.0.0.1', PORT: '0' };
    const command = `${process.execPath} --import tsx src/main.ts`;
    const child = spawn('/usr/bin/script', ['-qefc', command, '/dev/null'], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    const closed = new Promise((resolve) => child.once('close', resolve));
    const deadline = Date.now() + 60_000;
    while (!/Herald started/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    // Ctrl-C through the terminal, as a person stops it.
    child.stdin.write('\u0003');
    await Promise.race([closed, new Promise((r) => setTimeout(r, 10_000))]);
    child.kill('SIGKILL');
    expect(out).toMatch(/Herald started/);
    expect(out).toContain('\u001b[');
    expect(out).not.toMatch(/^\{"level"/m);
  });
});

describe('GET /graphql without a query', { timeout: 60_000 }, () => {
  it('answers 400 saying how to call it, in production and outside it', async () => {
    for (const NODE_ENV of ['production', 'development']) {
      const h = await startTestHerald({ env: { NODE_ENV } });
      try {
        const json = await fetch(`${h.url}/graphql`, { headers: { accept: 'application/json' } });
        expect(json.status).toBe(400);
        const body = (await json.json()) as { errors: { message: string; extensions: { code: string } }[] };
        expect(body.errors[0]!.extensions.code).toBe('BAD_REQUEST');
        expect(body.errors[0]!.message).toContain('POST /graphql');
        expect(body.errors[0]!.message).toContain(NODE_ENV === 'production' ? 'off in production' : 'Accept: text/html');

        const browser = await fetch(`${h.url}/graphql`, { headers: { accept: 'text/html' } });
        if (NODE_ENV === 'production') {
          expect(browser.status).toBe(400);
          expect(browser.headers.get('content-type')).toBe('text/plain; charset=utf-8');
          expect(await browser.text()).toContain('NODE_ENV=production');
        } else {
          expect(browser.status).toBe(200);
          expect(browser.headers.get('content-type')).toMatch(/^text\/html/);
        }
        // A GET with a query is still GraphQL over HTTP.
        const get = await fetch(`${h.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, { headers: { accept: 'application/json' } });
        expect(await get.json()).toEqual({ data: { __typename: 'Query' } });
      } finally {
        await h.stop();
      }
    }
  });
});
