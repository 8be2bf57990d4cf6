import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers/process.ts';

// The Dockerfile, built and run where a container runtime answers (elsewhere this file is
// skipped: CI machines without Docker test dist/ through test/build.test.ts).

const docker = (args: string[], timeout = 60_000) => spawnSync('docker', args, { cwd: ROOT, encoding: 'utf8', timeout });
const hasDocker = (() => {
  try {
    return docker(['info'], 10_000).status === 0;
  } catch {
    return false;
  }
})();
if (!hasDocker) console.warn('test/docker.test.ts: no container runtime answers `docker info`, skipping the image build');

const tag = `herald-test:${randomBytes(4).toString('hex')}`;
let container = '';
afterAll(() => {
  if (!hasDocker) return;
  if (container) docker(['rm', '-f', container]);
  docker(['rmi', '-f', tag]);
});

describe.skipIf(!hasDocker)('the Docker image', { timeout: 1_200_000 }, () => {
  it('builds, runs as a non-root user, becomes healthy and serves the API', async () => {
    const built = docker(['build', '-t', tag, '.'], 1_000_000);
    expect(built.status, built.stdout + built.stderr).toBe(0);
    const run = docker(['run', '-d', '-p', '127.0.0.1::4000', tag]);
    expect(run.status, run.stderr).toBe(0);
    container = run.stdout.trim();

    const deadline = Date.now() + 180_000;
    let health = '';
    while (Date.now() < deadline) {
      health = docker(['inspect', '--format', '{{.State.Health.Status}}', container]).stdout.trim();
      if (health === 'healthy' || health === 'unhealthy') break;
      await new Promise((r) => setTimeout(r, 2_000));
    }
    expect(health, docker(['logs', container]).stdout).toBe('healthy');
    expect(docker(['exec', container, 'id', '-u']).stdout.trim()).not.toBe('0');

    const port = /:(\d+)\s*$/.exec(docker(['port', container, '4000']).stdout.trim().split('\n')[0]!)?.[1];
    const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(await res.json()).toEqual({ data: { __typename: 'Query' } });
    // Production dependencies only: no test runner, no generators.
    const listing = docker(['exec', container, 'ls', 'node_modules']).stdout.split('\n');
    expect(listing).not.toContain('vitest');
    expect(listing).not.toContain('@graphql-codegen');
  });
});
