import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAll, listeningPort, ROOT, spawnTsx, type Child } from './helpers/process.ts';

// The README's quick start, read from README.md itself and run as a newcomer pastes it: bash and
// curl against a fresh embedded server (its own data directory, a free port).

interface Block {
  lang: string;
  text: string;
}

/** The fenced code blocks of one `## ` section of the README, in order. */
function sectionBlocks(markdown: string, title: string): Block[] {
  const start = markdown.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`README.md has no "## ${title}" section`);
  const next = markdown.indexOf('\n## ', start + 1);
  const section = markdown.slice(start, next < 0 ? undefined : next);
  return [...section.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, text: m[2]!.trimEnd() }));
}

/** A documented output as a pattern: `…` stands for any text (ids, secrets). */
function outputPattern(expected: string): RegExp {
  const escaped = expected
    .split('…')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*?');
  return new RegExp(`^${escaped}$`, 's');
}

function bash(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', script], { cwd: ROOT, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir() } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const blocks = sectionBlocks(readFileSync(path.join(ROOT, 'README.md'), 'utf8'), 'Quick start');
const dataDir = mkdtempSync(path.join(tmpdir(), 'herald-quickstart-'));
let server: Child;
let port: number;
let exportLines: string[];

beforeAll(async () => {
  // As `npm start` does (tsx), with a clean environment: the embedded mode, nothing else.
  server = spawnTsx('src/main.ts', [], { PORT: '0', HERALD_DATA_DIR: dataDir });
  port = await server.waitFor(listeningPort, 60_000, 'the listening line');
  await server.waitFor(({ stdout }) => stdout.includes('Demo widget of user u1'), 30_000, 'the first-run instructions');
  exportLines = server.stdout().split('\n').filter((line) => line.startsWith('export '));
}, 90_000);

afterAll(async () => {
  await server?.stop('SIGTERM', 10_000).catch(() => undefined);
  await killAll();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the README quick start', { timeout: 60_000 }, () => {
  it('starts with `npm start` and shows the export lines the server prints', () => {
    expect(blocks[0]).toEqual({ lang: 'sh', text: 'npm install && npm start' });
    const documented = blocks.find((b) => b.lang === 'text' && b.text.includes('export APIKEY='));
    expect(documented, 'the quick start shows the printed export lines').toBeDefined();
    const names = (lines: string[]) => lines.filter((l) => l.startsWith('export ')).map((l) => /^export (\w+)=/.exec(l)?.[1]);
    expect(names(exportLines)).toEqual(['APIKEY', 'PROJECT', 'WIDGET_SECRET', 'HASH']);
    expect(names(documented!.text.split('\n'))).toEqual(names(exportLines));
    // Each printed line is valid shell with a real value (no placeholder).
    for (const line of exportLines) expect(line).toMatch(/^export \w+='[A-Za-z0-9_.-]{20,}'$/);
  });

  it('runs every command as written, in order, and gets the documented answers', async () => {
    const commands = blocks.slice(1).flatMap((block, i, rest) => {
      if (block.lang !== 'sh') return [];
      const next = rest[i + 1];
      return [{ script: block.text, expected: next?.lang === 'text' ? next.text : undefined }];
    });
    expect(commands.length).toBeGreaterThanOrEqual(4);
    for (const { script, expected } of commands) {
      // The documented port is 4000; this server has a free one.
      const run = () => bash(['set -euo pipefail', ...exportLines, script.replaceAll('localhost:4000', `localhost:${port}`)].join('\n'));
      // A read (no mutation, no send) may run before the worker has delivered: it is retried,
      // as a person would look again. Anything that writes runs exactly once.
      const readOnly = !/mutation|messages\.send|users\.upsert/.test(script);
      let result = await run();
      for (let tries = 0; readOnly && expected && !outputPattern(expected).test(result.stdout.trim()) && tries < 40; tries++) {
        await new Promise((r) => setTimeout(r, 250));
        result = await run();
      }
      expect(result.code, `${script}\n${result.stderr}`).toBe(0);
      expect(result.stderr).toBe('');
      if (expected) expect(result.stdout.trim(), script).toMatch(outputPattern(expected));
    }
  });

  it("runs the README's other examples that use these variables, after the quick start", async () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const quickStart = new Set(blocks.map((b) => b.text));
    // Each sh block, with the text block right after it when there is one (its documented answer).
    const others = [...readme.matchAll(/^```sh\n([\s\S]*?)^```\n(?:\n```text\n([\s\S]*?)^```$)?/gm)]
      .map((m) => ({ text: m[1]!.trimEnd(), answer: m[2]?.trimEnd() }))
      .filter(({ text }) => !quickStart.has(text) && /\$(APIKEY|PROJECT|HASH|WIDGET_SECRET)\b/.test(text));
    expect(others.length).toBeGreaterThanOrEqual(3);
    for (const { text, answer } of others) {
      // A stream (curl -N) never ends by itself: it gets 3 s, and must have shown events by then.
      const streaming = /curl -N/.test(text);
      const script = text.replaceAll('localhost:4000', `localhost:${port}`).replace('curl -N', 'curl -N --max-time 3');
      const result = await bash(['set -euo pipefail', ...exportLines, script].join('\n'));
      if (streaming) {
        expect(result.code, text).toBe(28);
        expect(result.stdout, text).toContain('event: next');
      } else {
        expect(result.code, `${text}\n${result.stderr}`).toBe(0);
      }
      const refusal = /"errors"|"ok":false|"error":"/;
      // An example documented as refused (its answer shows the error) must be refused exactly so; any other must not fail.
      if (answer && refusal.test(answer)) expect(result.stdout.trim(), text).toMatch(outputPattern(answer));
      else expect(result.stdout, text).not.toMatch(refusal);
    }
  });

  it('prints a demo widget URL that serves the widget for u1', async () => {
    const url = /Demo widget of user u1[^:]*: (http:\/\/\S+)/.exec(server.stdout())?.[1];
    expect(url).toBeDefined();
    const page = await fetch(url!);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const hash = /^export HASH='(\w+)'$/m.exec(server.stdout())?.[1];
    expect(new URL(url!).searchParams.get('userHash')).toBe(hash);
  });

  it('prints the secrets once: a restart prints no export lines and keeps one welcome notification', async () => {
    expect(await server.stop('SIGTERM', 10_000)).toEqual({ code: 0, signal: null });
    const again = spawnTsx('src/main.ts', [], { PORT: '0', HERALD_DATA_DIR: dataDir });
    try {
      const againPort = await again.waitFor(listeningPort, 60_000, 'the listening line');
      await again.waitFor(({ stdout }) => stdout.includes('"Herald started"'), 30_000, '"Herald started"');
      expect(again.stdout()).not.toMatch(/^export /m);
      const apiKey = /^export APIKEY='([^']+)'$/m.exec(server.stdout())![1]!;
      const res = await fetch(`http://127.0.0.1:${againPort}/notifications`, { headers: { 'x-key': apiKey } });
      expect(res.status).toBe(200);
      const body = JSON.stringify(await res.json());
      expect(body.match(/"welcome"/g)).toHaveLength(1);
    } finally {
      await again.stop('SIGTERM', 10_000);
    }
  });
});
