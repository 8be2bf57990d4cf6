import { existsSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSchema, createYoga } from 'graphql-yoga';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../src/generated/gql/index.ts';
import { userHash } from '../src/modules/projects/credentials.ts';
import { useWidgetDemo, WIDGET_BUILD_DIR, WIDGET_PAGE_FILE } from '../src/widget/use-widget-demo.ts';
import { bearer, gql, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor } from './helpers/http-server.ts';

/** Debian's chromium package; .ci/run installs it. npm cannot download a browser here. */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const hasChromium = existsSync(CHROMIUM);
const onCi = process.env.CI === 'true';

const WidgetTestUnread = graphql(`
  query WidgetTestUnread {
    unreadCount
    inbox(first: 10) {
      edges {
        node {
          id
          title
        }
      }
    }
  }
`);
const WidgetTestMarkRead = graphql(`
  mutation WidgetTestMarkRead($ids: [ID!]!) {
    markRead(ids: $ids) {
      unreadCount
    }
  }
`);

const WidgetTestNotification = graphql(`
  mutation WidgetTestNotification($input: NotificationInput!) {
    createNotification(input: $input) {
      id
    }
  }
`);

let h: TestHerald;

beforeAll(async () => {
  h = await startTestHerald();
  const created = await gql(
    h.url,
    WidgetTestNotification,
    { input: { key: 'bell', type: 'in-app', name: 'Bell', versions: [{ contents: [{ locale: 'en', title: 'Ping {{ n }}', body: 'Body {{ n }}' }] }] } },
    bearer(h.project.apiKey),
  );
  expect(created.errors).toBeUndefined();
});
afterAll(async () => {
  await h?.stop();
});

async function send(userId: string, n: number) {
  const res = await rest(h.url, 'POST', '/messages.send', { messages: [{ notificationId: 'bell', userId, data: { n } }] }, bearer(h.project.apiKey));
  expect(res.status).toBe(200);
  expect(res.body.results[0].ok).toBe(true);
}

const widgetHeaders = (userId: string) => ({
  'x-herald-project': h.project.projectId,
  'x-herald-user': userId,
  'x-herald-user-hash': userHash(h.project.widgetSecret, userId),
});

const widgetUrl = (userId: string, hash = userHash(h.project.widgetSecret, userId), base = h.url) =>
  `${base}/widget/demo?${new URLSearchParams({ projectId: h.project.projectId, userId, userHash: hash })}`;

/**
 * A TCP relay in front of Herald that can cut every connection and refuse new ones, like a
 * network outage between a browser and the server.
 */
async function startCuttableProxy(targetPort: number) {
  const open = new Set<Socket>();
  let down = false;
  const server = createServer((client) => {
    if (down) return void client.destroy();
    const upstream = connect(targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.on('close', () => open.delete(socket));
      socket.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    cut() {
      down = true;
      for (const socket of open) socket.destroy();
    },
    restore() {
      down = false;
    },
    close() {
      this.cut();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('serving /widget/demo', () => {
  it('has a bundle built from the current widget sources', async () => {
    const built = await stat(join(WIDGET_BUILD_DIR, WIDGET_PAGE_FILE)).catch(() => null);
    expect(built, 'no widget bundle: run `npm run build:widget`').not.toBeNull();
    const demo = new URL('../src/widget/demo/', import.meta.url);
    const sources = [...(await readdir(demo)).map((f) => new URL(f, demo)), new URL('../scripts/build-widget.ts', import.meta.url)];
    const newest = Math.max(...(await Promise.all(sources.map(async (f) => (await stat(f)).mtimeMs))));
    // Otherwise the browser tests below would pass or fail on yesterday's widget.
    expect(built!.mtimeMs, 'the widget bundle is older than its sources: run `npm run build:widget`').toBeGreaterThanOrEqual(newest);
  });

  it('serves the page and its hashed bundle with their types and cache headers', async () => {
    const page = await fetch(`${h.url}/widget/demo`);
    const html = await page.text();
    expect(page.status, html).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const script = /<script type="module" src="(\/widget\/assets\/widget-[A-Z0-9]+\.js)">/.exec(html)?.[1];
    const style = /<link rel="stylesheet" href="(\/widget\/assets\/widget-style-[A-Z0-9]+\.css)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    expect(style).toBeDefined();
    const js = await fetch(`${h.url}${script}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    // The build swaps graphql() for the generated documents: other modules' operations stay out.
    const bundle = await js.text();
    expect(bundle).toContain('WidgetInboxEvents');
    expect(bundle).not.toContain('FrontUsersGet');
    const css = await fetch(`${h.url}${style}`);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
  });

  it('refuses other methods, unknown and climbing asset names', async () => {
    expect((await fetch(`${h.url}/widget/demo`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${h.url}/widget/assets/widget-NOPE.js`)).status).toBe(404);
    expect((await fetch(`${h.url}/widget/assets/..%2F..%2F..%2Fpackage.json`)).status).toBe(404);
  });

  it('keeps GraphiQL on /graphql', async () => {
    const res = await fetch(`${h.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/graphiql/i);
  });

  it('answers 503 with the command to run when the bundle is missing', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'herald-widget-'));
    try {
      const yoga = createYoga({ schema: createSchema({ typeDefs: 'type Query { ok: Boolean }' }), plugins: [useWidgetDemo({ dir: empty })] });
      const res = await yoga.fetch('http://localhost/widget/demo');
      expect(res.status).toBe(503);
      expect(await res.text()).toContain('npm run build:widget');
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

if (!hasChromium && !onCi) console.warn(`test/widget.test.ts: no ${CHROMIUM}, skipping the browser tests (they fail instead when CI=true)`);

describe.skipIf(!hasChromium && !onCi)('the demo widget in headless Chromium', () => {
  let context: BrowserContext;
  let userDataDir: string;
  const problems: string[] = [];

  beforeAll(async () => {
    if (!hasChromium) {
      throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (apt-get install -y chromium; .ci/run does it). npm cannot download a browser here.`);
    }
    userDataDir = await mkdtemp(join(tmpdir(), 'herald-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await context?.close();
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  });

  async function openWidget(url: string, waitForLive = true): Promise<Page> {
    const page = await context.newPage();
    // A CSP refusal or an uncaught error shows up here, not as a failed assertion.
    page.on('pageerror', (error) => problems.push(`${url}: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`${url}: ${message.text()}`);
    });
    await page.goto(url);
    if (waitForLive) await page.locator('[data-testid="status"][data-state="live"][data-synced="true"]').waitFor({ timeout: 10_000 });
    return page;
  }

  /** Polls what the page shows until it is `want`; on timeout, says what it showed instead. */
  async function expectShown<T>(page: Page, what: string, read: () => T, want: T, timeout = 10_000): Promise<void> {
    const deadline = Date.now() + timeout;
    let got: T;
    for (;;) {
      got = await page.evaluate(read);
      if (JSON.stringify(got) === JSON.stringify(want)) return;
      if (Date.now() > deadline) throw new Error(`${what}: expected ${JSON.stringify(want)}, the page shows ${JSON.stringify(got)}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  const titles = (page: Page, want: string[]) =>
    expectShown(page, 'titles', () => [...document.querySelectorAll('[data-testid="item-title"]')].map((e) => e.textContent), want);
  const count = (page: Page, want: string) => expectShown(page, 'unread count', () => document.querySelector('[data-testid="unread-count"]')?.textContent, want);

  it("shows a REST send live, marks read, all read and archives, and shows nothing of it to another user", async () => {
    const alice = await openWidget(widgetUrl('widget-alice'));
    const bob = await openWidget(widgetUrl('widget-bob'));
    // A background tab gets no animation frames, and clicks wait for two of them (stability).
    await alice.bringToFront();
    await count(alice, '0');
    await alice.evaluate(() => Object.assign(window, { heraldSamePage: true }));

    await send('widget-alice', 1);
    await titles(alice, ['Ping 1']);
    await count(alice, '1');
    await send('widget-alice', 2);
    await send('widget-alice', 3);
    await titles(alice, ['Ping 3', 'Ping 2', 'Ping 1']);
    await count(alice, '3');
    // Live: the same document all along, no reload.
    expect(await alice.evaluate(() => (window as unknown as { heraldSamePage?: boolean }).heraldSamePage)).toBe(true);

    const rows = alice.getByTestId('inbox-item');
    await rows.filter({ hasText: 'Ping 2' }).getByTestId('mark-read').click();
    await count(alice, '2');
    await expectShown(alice, 'read flags', () => [...document.querySelectorAll<HTMLElement>('[data-testid="inbox-item"]')].map((e) => e.dataset.read), ['false', 'true', 'false']);

    await alice.getByTestId('mark-all-read').click();
    await count(alice, '0');
    await expectShown(alice, 'mark read buttons', () => document.querySelectorAll('[data-testid="mark-read"]:not([hidden])').length, 0);

    await rows.filter({ hasText: 'Ping 3' }).getByTestId('archive').click();
    await titles(alice, ['Ping 2', 'Ping 1']);
    await count(alice, '0');

    // Bob's page is live (his own send arrives) and never saw any of Alice's.
    await send('widget-bob', 4);
    await titles(bob, ['Ping 4']);
    await count(bob, '1');
    await titles(alice, ['Ping 2', 'Ping 1']);
    expect(problems).toEqual([]);
    await alice.close();
    await bob.close();
  });

  it('replays what happened while its socket was down, from the last cursor it saw', async () => {
    const proxy = await startCuttableProxy(h.port);
    try {
      const page = await openWidget(widgetUrl('widget-dana', undefined, proxy.url));
      await send('widget-dana', 10);
      await titles(page, ['Ping 10']);
      await count(page, '1');

      proxy.cut();
      await page.locator('[data-testid="status"][data-state="reconnecting"]').waitFor({ timeout: 10_000 });
      // While the widget cannot reach Herald: a new message, and the first one read elsewhere.
      await send('widget-dana', 11);
      const inbox = await pollFor(async () => {
        const res = await gql(h.url, WidgetTestUnread, {}, widgetHeaders('widget-dana'));
        return res.data?.inbox.edges.length === 2 ? res.data : null;
      }, 10_000, 'the second item');
      const first = inbox.inbox.edges.find((e) => e.node.title === 'Ping 10')!.node.id;
      expect((await gql(h.url, WidgetTestMarkRead, { ids: [first] }, widgetHeaders('widget-dana'))).data?.markRead.unreadCount).toBe(1);

      proxy.restore();
      // With a cursor to resume from, the widget takes no new snapshot: only the replay can bring these.
      await titles(page, ['Ping 11', 'Ping 10']);
      await count(page, '1');
      await expectShown(page, 'read flags', () => [...document.querySelectorAll<HTMLElement>('[data-testid="inbox-item"]')].map((e) => e.dataset.read), ['false', 'true']);
      await page.locator('[data-testid="status"][data-state="live"]').waitFor({ timeout: 10_000 });
      await page.close();
    } finally {
      await proxy.close();
    }
  });

  it('says so when the credentials are refused', async () => {
    const page = await openWidget(widgetUrl('widget-carol', userHash(h.project.widgetSecret, 'someone-else')), false);
    await page.locator('[data-testid="status"][data-state="forbidden"]').waitFor({ timeout: 10_000 });
    expect(await page.getByTestId('error').textContent()).toMatch(/refused/i);
    await page.close();
  });
});
