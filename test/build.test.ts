import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listeningPort, ROOT } from './helpers/process.ts';

// `npm run build` compiles to dist/ (the generation half already ran in postinstall, and running
// it here would rewrite src/generated under the other test files): what production runs with
// `node dist/main.js`, without tsx and without the dev dependencies.

const DIST = path.join(ROOT, 'dist');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

/** The package a bare specifier names: `@scope/name/sub` → `@scope/name`. */
const packageOf = (specifier: string) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');

beforeAll(() => {
  const built = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/build-dist.ts'], { cwd: ROOT, encoding: 'utf8', timeout: 240_000 });
  expect(built.status, built.stdout + built.stderr).toBe(0);
}, 250_000);

describe('npm run build', () => {
  it('is what `npm start` runs, after a check that needs no tsx', () => {
    expect(pkg.scripts.build).toBe('npm run generate && tsx scripts/build-dist.ts');
    expect(pkg.scripts.start).toBe('node --import ./dist/telemetry/preload.js dist/main.js');
    expect(pkg.scripts.prestart).toBe('node scripts/ensure-built.mjs');
    // Just built: the check is quiet and starts nothing.
    const check = spawnSync(process.execPath, ['scripts/ensure-built.mjs'], { cwd: ROOT, encoding: 'utf8' });
    expect({ status: check.status, stdout: check.stdout, stderr: check.stderr }).toEqual({ status: 0, stdout: '', stderr: '' });
  });

  it('leaves no .ts specifier and imports only production dependencies', () => {
    const js = filesUnder(DIST).filter(
      (f) => f.endsWith('.js') && !f.includes(`${path.sep}generated${path.sep}widget${path.sep}`) && !f.includes(`${path.sep}generated${path.sep}console${path.sep}`),
    );
    expect(js.length).toBeGreaterThan(50);
    const bare = new Set<string>();
    for (const file of js) {
      const source = readFileSync(file, 'utf8');
      for (const m of source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
        const specifier = (m[1] ?? m[2])!;
        expect(specifier, `${file} imports ${specifier}`).not.toMatch(/\.ts$/);
        if (!specifier.startsWith('.')) bare.add(specifier);
      }
    }
    const builtins = new Set(builtinModules);
    const missing = [...bare]
      .filter((s) => !s.startsWith('node:') && !builtins.has(s))
      .map(packageOf)
      .filter((name) => !(name in pkg.dependencies));
    // pino-pretty is optional (loaded with require, JSON logs without it).
    expect(missing).toEqual([]);
  });

  it('copies the demo widget beside the code', () => {
    expect(statSync(path.join(DIST, 'generated/widget/demo.html')).isFile()).toBe(true);
  });

  it('copies the operator console beside the code', () => {
    expect(statSync(path.join(DIST, 'generated/console/index.html')).isFile()).toBe(true);
  });
});

describe('node dist/main.js', { timeout: 120_000 }, () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'herald-dist-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('starts in embedded mode, runs the first-run send and stops on SIGTERM', async () => {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), PORT: '0', HOST: '127.0.0.1', HERALD_DATA_DIR: dataDir };
    const child = spawn(process.execPath, ['dist/main.js'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    try {
      const deadline = Date.now() + 90_000;
      while (!stdout.includes('"Herald started"') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
      expect(stdout, stderr).toContain('"Herald started"');
      const port = listeningPort({ stdout })!;
      const apiKey = /^export APIKEY='([^']+)'$/m.exec(stdout)![1]!;
      const res = await fetch(`http://127.0.0.1:${port}/messages.send`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
        body: JSON.stringify({ messages: [{ notificationId: 'welcome', userId: 'u1' }] }),
      });
      expect(await res.json()).toMatchObject({ results: [{ ok: true }] });
      expect((await fetch(`http://127.0.0.1:${port}/widget/demo`)).status).toBe(200);
      // The console and its bundle, from dist/ (a fresh embedded server, as `npm start` runs it).
      const consolePage = await fetch(`http://127.0.0.1:${port}/console`);
      expect(consolePage.status).toBe(200);
      const consoleScript = /src="(\/console\/assets\/console-[A-Z0-9]+\.js)"/.exec(await consolePage.text())?.[1];
      expect((await fetch(`http://127.0.0.1:${port}${consoleScript}`)).headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(stderr).toBe('');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
