import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNotification } from '../src/modules/notifications/service.ts';
import { userHash } from '../src/modules/projects/credentials.ts';
import { WELCOME_NOTIFICATION } from '../src/main.ts';
import { startTestHerald, type TestHerald } from './helpers/herald.ts';
import { killAll, runTsx, spawnTsx } from './helpers/process.ts';

// The scripts under examples/, run as a reader runs them (child processes, the quick start's
// variables) against a real server, with the quick start's `welcome` notification.

let h: TestHerald;
let env: Record<string, string>;

beforeAll(async () => {
  h = await startTestHerald();
  await createNotification(h.project.projectId, WELCOME_NOTIFICATION);
  env = {
    HERALD_URL: h.url,
    APIKEY: h.project.apiKey,
    PROJECT: h.project.projectId,
    WIDGET_SECRET: h.project.widgetSecret,
    HASH: userHash(h.project.widgetSecret, 'u1'),
  };
});
afterAll(async () => {
  await killAll();
  await h?.stop();
});

async function graphql(query: string, variables: Record<string, unknown> = {}) {
  const res = await fetch(`${h.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${h.project.apiKey}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: any; errors?: unknown[] };
  expect(body.errors).toBeUndefined();
  return body.data;
}

describe('examples/', { timeout: 90_000 }, () => {
  it('operator-send delivers welcome to u1; widget-subscribe (graphql-ws, since) and sse-client see it live', async () => {
    const widget = spawnTsx('examples/widget-subscribe.ts', ['--events=1'], env);
    await widget.waitFor(({ stdout }) => stdout.includes('subscribed since 0'), 30_000, 'the subscription');
    expect(widget.stdout()).toContain('unread: 0; latest: (none)');

    const send = await runTsx('examples/operator-send.ts', [], env, 60_000);
    expect(send.code, send.stdout + send.stderr).toBe(0);
    const id = /^accepted: IN_APP (\S+)$/m.exec(send.stdout)?.[1];
    expect(id, send.stdout).toBeDefined();
    expect(send.stdout).toContain(`${id}: DELIVERED`);

    expect(await widget.exited).toEqual({ code: 0, signal: null });
    expect(widget.stdout()).toMatch(/^#1 CREATED Welcome, Ada! \(unread: 1\)$/m);
    expect(widget.stderr()).toBe('');

    // SSE from "0" replays the history first.
    const sse = await runTsx('examples/sse-client.ts', ['--events=1'], env, 30_000);
    expect(sse.code, sse.stderr).toBe(0);
    expect(sse.stdout.trim()).toBe('#1 CREATED Welcome, Ada! (unread: 1)');

    // A widget opened now reads the list, then subscribes from the latest cursor: no replay of #1.
    const later = spawnTsx('examples/widget-subscribe.ts', ['--events=1'], env);
    await later.waitFor(({ stdout }) => stdout.includes('subscribed since 1'), 30_000, 'the second subscription');
    expect(later.stdout()).toContain('unread: 1; latest: Welcome, Ada!');
    expect((await runTsx('examples/operator-send.ts', [], env, 60_000)).code).toBe(0);
    expect(await later.exited).toEqual({ code: 0, signal: null });
    expect(later.stdout()).not.toMatch(/^#1 /m);
    expect(later.stdout()).toMatch(/^#2 CREATED Welcome, Ada! \(unread: 2\)$/m);
  });

  it('the examples say which variable is missing', async () => {
    const run = await runTsx('examples/operator-send.ts', [], { HERALD_URL: h.url }, 30_000);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('APIKEY is not set');
  });

  it('verify-signature accepts what Herald signs (the status webhook) and refuses the rest', async () => {
    const { project } = await graphql('{ project { signingSecret } }');
    const receiver = spawnTsx('examples/verify-signature.ts', ['--port=0'], { SIGNING_SECRET: project.signingSecret });
    const port = Number(await receiver.waitFor(({ stdout }) => /listening on port (\d+)/.exec(stdout)?.[1], 30_000, 'the receiver'));
    const url = `http://127.0.0.1:${port}/herald`;
    await graphql('mutation($url: String) { updateProject(input: { statusWebhookUrl: $url }) { statusWebhookUrl } }', { url });

    const send = await runTsx('examples/operator-send.ts', [], env, 60_000);
    expect(send.code, send.stderr).toBe(0);
    const id = /^accepted: IN_APP (\S+)$/m.exec(send.stdout)![1]!;
    await receiver.waitFor(({ stdout }) => stdout.includes(`verified /herald: ${id} DELIVERED`), 30_000, 'the verified status webhook');

    // Unsigned, tampered with, and too old: 401 each.
    const body = JSON.stringify({ messageId: id, status: 'DELIVERED' });
    const t = Math.floor(Date.now() / 1000);
    const { createHmac } = await import('node:crypto');
    const signature = (at: number, text: string) => `t=${at},v1=${createHmac('sha256', project.signingSecret).update(`${at}.${text}`).digest('hex')}`;
    const post = (headers: Record<string, string>, text = body) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: text });
    expect((await post({})).status).toBe(401);
    expect((await post({ 'x-herald-signature': signature(t, body) }, body.replace('DELIVERED', 'FAILED'))).status).toBe(401);
    expect((await post({ 'x-herald-signature': signature(t - 600, body) })).status).toBe(401);
    expect((await post({ 'x-herald-signature': signature(t, body) })).status).toBe(204);
    await graphql('mutation { updateProject(input: { statusWebhookUrl: null }) { statusWebhookUrl } }');
    await receiver.stop('SIGTERM');
  });
});
