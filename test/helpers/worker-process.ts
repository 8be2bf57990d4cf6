import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { logLines, spawnTsx, type Child } from './process.ts';

/** A TCP port nothing listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** One PING over a raw socket: true when a Redis answers PONG on the port. */
function redisAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

export interface PrivateRedis {
  url: string;
  port: number;
  /** Kills the server (SIGKILL by default: everything in it is lost, as it has no persistence). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts a fresh, empty server on the same port. */
  start(): Promise<void>;
}

/**
 * A redis-server of the test's own on a free port, without persistence, so a test can stop and
 * restart it (never the shared one the other tests use). stop() it in afterAll.
 */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let proc: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const start = async () => {
    if (proc) throw new Error('redis-server is already running');
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], {
      stdio: 'ignore',
    });
    proc = child;
    exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + 10_000;
    while (!(await redisAnswers(port))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`redis-server did not start on port ${port}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop(signal = 'SIGKILL') {
      const child = proc;
      if (!child) return;
      proc = undefined;
      child.kill(signal);
      await exited;
    },
    start,
  };
}

/**
 * `herald worker` as a child process (node --import tsx src/cli/herald.ts worker), started and
 * waited for until it logs "Herald worker started". Stop it with child.stop() or kill it.
 */
// Worker tests deliver to receivers on 127.0.0.1: private addresses allowed explicitly (see helpers/herald.ts).
export async function startWorkerProcess(env: Record<string, string>, timeoutMs = 30_000): Promise<Child> {
  const child = spawnTsx('src/cli/herald.ts', ['worker'], { LOG_LEVEL: 'info', OUTBOUND_ALLOW_PRIVATE: 'true', ...env });
  await child.waitFor(({ stdout }) => logLines(stdout).some((l) => l.msg === 'Herald worker started'), timeoutMs, 'the "Herald worker started" log line');
  return child;
}
