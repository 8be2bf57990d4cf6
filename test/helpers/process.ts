import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root: children run from here so `--import tsx` and relative paths resolve. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Child {
  process: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** Resolves once the process has exited (never rejects). */
  exited: Promise<Exit>;
  /** null while running. */
  exit(): Exit | null;
  /** Polls stdout+stderr until `match` finds something; fails after timeoutMs or if the process exits first. */
  waitFor<T>(match: (output: { stdout: string; stderr: string }) => T | undefined | null | false, timeoutMs?: number, what?: string): Promise<T>;
  /** Sends a signal and waits for the exit, up to timeoutMs (then SIGKILL and fail). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<Exit>;
}

const running = new Set<Child>();

/**
 * Runs `node --import tsx [...nodeArgs] <file> ...args` from the repository root with a clean environment:
 * only PATH/HOME/TMPDIR/LANG of this process plus `env`, so the test runner's own variables
 * (NODE_ENV, DATABASE_URL...) never leak into the child's configuration.
 */
export function spawnTsx(file: string, args: string[] = [], env: Record<string, string> = {}, nodeArgs: string[] = []): Child {
  const base: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'NODE_EXTRA_CA_CERTS']) {
    const value = process.env[key];
    if (value !== undefined) base[key] = value;
  }
  const proc = spawn(process.execPath, ['--import', 'tsx', ...nodeArgs, file, ...args], {
    cwd: ROOT,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let exitInfo: Exit | null = null;
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<Exit>((resolve) => {
    // 'close' (not 'exit'): all output has been read by then.
    proc.once('close', (code, signal) => {
      exitInfo = { code, signal };
      running.delete(child);
      resolve(exitInfo);
    });
    proc.once('error', () => {
      exitInfo ??= { code: null, signal: null };
      running.delete(child);
      resolve(exitInfo);
    });
  });
  const describe = () => `\n--- stdout ---\n${out}\n--- stderr ---\n${err}`;
  const child: Child = {
    process: proc,
    pid: proc.pid!,
    stdout: () => out,
    stderr: () => err,
    exited,
    exit: () => exitInfo,
    async waitFor(match, timeoutMs = 20_000, what = 'output') {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = match({ stdout: out, stderr: err });
        if (found !== undefined && found !== null && found !== false) return found;
        if (exitInfo) throw new Error(`${file} exited (${JSON.stringify(exitInfo)}) before ${what}${describe()}`);
        if (Date.now() > deadline) throw new Error(`${file}: no ${what} within ${timeoutMs} ms${describe()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop(signal = 'SIGTERM', timeoutMs = 10_000) {
      if (exitInfo) return exitInfo;
      proc.kill(signal);
      const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
      const result = await Promise.race([exited, timer]);
      if (result === 'timeout') {
        proc.kill('SIGKILL');
        await exited;
        throw new Error(`${file} did not exit within ${timeoutMs} ms of ${signal}${describe()}`);
      }
      return result;
    },
  };
  running.add(child);
  return child;
}

/** Runs a command to completion (bounded) and returns its exit and output. */
export async function runTsx(file: string, args: string[] = [], env: Record<string, string> = {}, timeoutMs = 30_000) {
  const child = spawnTsx(file, args, env);
  const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
  const result = await Promise.race([child.exited, timer]);
  if (result === 'timeout') {
    child.process.kill('SIGKILL');
    await child.exited;
    throw new Error(`${file} ${args.join(' ')} did not finish within ${timeoutMs} ms\n${child.stdout()}\n${child.stderr()}`);
  }
  return { code: result.code, signal: result.signal, stdout: child.stdout(), stderr: child.stderr() };
}

/** SIGKILLs every child still running (for afterAll) and waits for them. */
export async function killAll(): Promise<void> {
  const children = [...running];
  for (const child of children) child.process.kill('SIGKILL');
  await Promise.all(children.map((child) => child.exited));
}

/** The JSON log lines (pino) of an output, skipping anything that is not JSON. */
export function logLines(output: string): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // A partial line still being written.
    }
  }
  return lines;
}

/** The port from Herald's "Herald listening on ..." log line, once it is there. */
export function listeningPort(output: { stdout: string }): number | undefined {
  const line = logLines(output.stdout).find((l) => typeof l.msg === 'string' && l.msg.startsWith('Herald listening'));
  return typeof line?.port === 'number' ? line.port : undefined;
}

/** Polls until `check` holds (bounded); fails with `what`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
