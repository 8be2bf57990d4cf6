import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import { installProcessGuard } from '../src/server/guard.ts';
import { createTestDatabase, TEST_REDIS_URL } from './helpers/database.ts';
import { memoryLogger, removeQueueKeys, startTestHerald } from './helpers/herald.ts';
import { killAll, listeningPort, logLines, runTsx, spawnTsx, until } from './helpers/process.ts';
import { sseSubscription } from './helpers/realtime.ts';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  await killAll();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('process guard, in process', () => {
  it('an uncaught exception fails readiness before draining and exits 1; a rejection or a connection error does not', async () => {
    const h = await startTestHerald();
    cleanups.push(() => h.stop());
    const { logger, lines } = memoryLogger();
    // A stand-in for `process`, so the test runner's own handlers are untouched.
    const target = new EventEmitter() as unknown as NodeJS.Process;
    const exits: number[] = [];
    let readyzWhileDraining: number | undefined;
    const guard = installProcessGuard({
      logger,
      readiness: h.herald.readiness,
      shutdownTimeoutMs: 2_000,
      exit: (code) => exits.push(code),
      target,
      // The drain: /readyz must already fail, so the load balancer stops sending.
      stop: async () => {
        readyzWhileDraining = (await fetch(`${h.url}/readyz`)).status;
      },
    });
    cleanups.push(() => guard.uninstall());

    target.emit('unhandledRejection', new Error('nobody awaited this'), Promise.resolve());
    target.emit('uncaughtException', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', syscall: 'read' }));
    target.emit('uncaughtException', Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01', severity: 'FATAL' }));
    expect(exits).toEqual([]);
    expect((await fetch(`${h.url}/readyz`)).status).toBe(200);
    expect(lines.filter((l) => l.level === 50).map((l) => l.msg)).toEqual([
      'Unhandled promise rejection (the process keeps serving)',
      'Uncaught connection error: the connection is dropped and replaced (the process keeps serving)',
      'Uncaught connection error: the connection is dropped and replaced (the process keeps serving)',
    ]);

    target.emit('uncaughtException', new TypeError("Cannot read properties of undefined (reading 'id')"));
    await until(() => exits.length > 0, 10_000, 'the exit');
    expect(exits).toEqual([1]);
    expect(readyzWhileDraining).toBe(503);
    expect((await fetch(`${h.url}/readyz`)).status).toBe(503);
    const fatal = lines.find((l) => l.level === 60);
    expect(fatal).toMatchObject({ msg: 'Uncaught exception: the process state is unknown; draining and exiting 1', err: { type: 'TypeError' } });
  });
});

describe('process guard, real server process', { timeout: 120_000 }, () => {
  it('keeps serving through a stray rejection and a connection error; a bug drains (streams complete) and exits 1', async () => {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    cleanups.push(() => removeQueueKeys(TEST_REDIS_URL, database.name));
    const env = {
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: database.name,
      HERALD_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      SHUTDOWN_TIMEOUT_MS: '5000',
      LOG_LEVEL: 'info',
    };
    const created = await runTsx('src/cli/herald.ts', ['project', 'create', '--name', 'Guard', '--json'], env, 60_000);
    expect(created.code, created.stderr).toBe(0);
    const { apiKey } = JSON.parse(created.stdout.trim().split('\n').at(-1)!) as { apiKey: string };
    const child = spawnTsx('test/fixtures/guarded-server.ts', [], { PORT: '0', HOST: '127.0.0.1', ...env });
    const port = await child.waitFor(listeningPort, 60_000, 'the "Herald listening" log line');
    const base = `http://127.0.0.1:${port}`;
    await child.waitFor(({ stdout }) => logLines(stdout).some((l) => l.msg === 'Herald started'), 60_000, '"Herald started"');
    const logged = (msg: string) => child.waitFor(({ stdout }) => logLines(stdout).find((l) => l.msg === msg), 10_000, JSON.stringify(msg));

    child.process.kill('SIGHUP');
    expect(await logged('Unhandled promise rejection (the process keeps serving)')).toMatchObject({ err: { message: 'fixture: a rejection nobody awaits' } });
    child.process.kill('SIGWINCH');
    expect(await logged('Uncaught connection error: the connection is dropped and replaced (the process keeps serving)')).toMatchObject({ err: { code: 'ECONNRESET' } });
    expect(child.exit()).toBeNull();
    expect((await fetch(`${base}/readyz`)).status).toBe(200);

    // A subscriber connected when the bug strikes: drained with a `complete`, not cut.
    const stream = await sseSubscription(base, 'subscription { messageStatus { messageId status } }', {}, { authorization: `Bearer ${apiKey}` });
    expect(stream.response.status).toBe(200);
    child.process.kill('SIGUSR2');
    const exit = await child.exited;
    expect(exit.code, child.stderr()).toBe(1);
    const fatal = logLines(child.stdout()).find((l) => l.level === 60);
    expect(fatal).toMatchObject({ msg: 'Uncaught exception: the process state is unknown; draining and exiting 1', err: { type: 'TypeError', message: 'fixture: a bug thrown from a callback' } });
    await until(() => stream.events.some((e) => e.event === 'complete'), 5_000, 'the stream to complete');
  });
});
