import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { build } from 'esbuild';
import { createClient } from 'graphql-ws';
import { SignJWT } from 'jose';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { graphql } from '../src/generated/gql/index.ts';
import { userHash } from '../src/modules/projects/credentials.ts';
import type { Herald } from '../src/main.ts';
import { WIDGET_BUILD_DIR } from '../src/widget/use-widget-demo.ts';
import { bearer, gql, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor } from './helpers/http-server.ts';
import { freePort } from './helpers/worker-process.ts';

/** Debian's chromium package; .ci/run installs it. npm cannot download a browser here. */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const hasChromium = existsSync(CHROMIUM);
const onCi = process.env.CI === 'true';
const ARTIFACTS = new URL('./artifacts/', import.meta.url);

const InboxCompNotification = graphql(`
  mutation InboxCompNotification($input: NotificationInput!) {
    createNotification(input: $input) {
      id
    }
  }
`);
const InboxCompSend = graphql(`
  mutation InboxCompSend($messages: [SendMessageInput!]!) {
    sendMessages(messages: $messages) {
      ok
      error
    }
  }
`);
const InboxCompList = graphql(`
  query InboxCompList {
    inboxCursor
    unreadCount
    inbox(first: 50) {
      edges {
        node {
          id
          title
        }
      }
    }
  }
`);
const InboxCompMarkRead = graphql(`
  mutation InboxCompMarkRead($ids: [ID!]!) {
    markRead(ids: $ids) {
      unreadCount
    }
  }
`);

let h: TestHerald;
/** Instances that must outlive the tests (see the restart test); stopped before Herald. */
const siblings: Herald[] = [];

beforeAll(async () => {
  // Refused-credential cases below must not rate-limit the browser's own address.
  h = await startTestHerald({ env: { AUTH_RATE_LIMIT_IP_FAILURES: '100000', AUTH_RATE_LIMIT_KEY_FAILURES: '100000' } });
  for (const [key, category] of [
    ['ping', 1],
    ['bill', 2],
  ] as const) {
    const created = await gql(
      h.url,
      InboxCompNotification,
      { input: { key, type: 'in-app', name: key, settings: { category }, versions: [{ contents: [{ locale: 'en', title: `${key === 'ping' ? 'Ping' : 'Invoice'} {{ n }}`, body: 'Body {{ n }}' }] }] } },
      bearer(h.project.apiKey),
    );
    expect(created.errors).toBeUndefined();
  }
});
afterAll(async () => {
  for (const sibling of siblings) await sibling.stop();
  await h?.stop();
});

async function send(userId: string, n: number, options: { key?: string; actions?: unknown[] } = {}) {
  const res = await gql(
    h.url,
    InboxCompSend,
    { messages: [{ notificationId: options.key ?? 'ping', userId, data: { n }, ...(options.actions ? { widgetSettingsOverride: { actions: options.actions } } : {}) }] },
    bearer(h.project.apiKey),
  );
  expect(res.data?.sendMessages[0], JSON.stringify(res)).toMatchObject({ ok: true });
}

const hashHeaders = (userId: string) => ({
  'x-herald-project': h.project.projectId,
  'x-herald-user': userId,
  'x-herald-user-hash': userHash(h.project.widgetSecret, userId),
});

async function token(sub: string, options: { expiresIn?: number; secret?: string; projectId?: string; iat?: number } = {}) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ projectId: options.projectId ?? h.project.projectId })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt(options.iat ?? now)
    .setExpirationTime(now + (options.expiresIn ?? 600))
    .sign(new TextEncoder().encode(options.secret ?? h.project.widgetSecret));
}

/** Waits for a user's inbox to hold `n` items (the in-app delivery is asynchronous). */
const itemsOf = (userId: string, n: number) =>
  pollFor(async () => {
    const res = await gql(h.url, InboxCompList, {}, hashHeaders(userId));
    return res.data && res.data.inbox.edges.length === n ? res.data : null;
  }, 10_000, `${n} items for ${userId}`);

describe('serving the component', () => {
  it('serves both bundles with their type, an ETag, CORS for any origin, and only the inbox documents', async () => {
    const js = await fetch(`${h.url}/widget/herald-inbox.js`);
    const text = await js.text();
    expect(js.status, text).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('access-control-allow-origin')).toBe('*');
    expect(text).toContain('HeraldInboxEvents');
    // The build swaps graphql() for the generated documents: other modules' operations stay out.
    expect(text).not.toContain('FrontUsersGet');
    const etag = js.headers.get('etag')!;
    expect(etag).toMatch(/^".+"$/);
    expect((await fetch(`${h.url}/widget/herald-inbox.js`, { headers: { 'if-none-match': etag } })).status).toBe(304);

    const react = await (await fetch(`${h.url}/widget/herald-inbox-react.js`)).text();
    // The wrapper loads the element from its sibling file and React from the host app.
    expect(react).toMatch(/from\s*"react"/);
    expect(react).toContain('./herald-inbox.js');
    expect(react).not.toContain('HeraldInboxEvents');
    expect((await fetch(`${h.url}/widget/herald-inbox.js`, { method: 'POST' })).status).toBe(405);

    const sizes = JSON.parse(await readFile(join(WIDGET_BUILD_DIR, 'sizes.json'), 'utf8')) as Record<string, { bytes: number; gzip: number }>;
    expect(sizes['herald-inbox.js']!.bytes).toBe(Buffer.byteLength(text));
    console.log(`bundle sizes: ${JSON.stringify(sizes)}`);
  });
});

describe('signed widget tokens', () => {
  const cursor = (headers: Record<string, string>) => gql(h.url, InboxCompList, {}, headers);

  it('accepts a valid token over HTTP, with or without the matching project and user headers', async () => {
    await send('jwt-http', 1);
    await itemsOf('jwt-http', 1);
    const valid = await token('jwt-http');
    const res = await cursor({ 'x-herald-user-token': valid });
    expect(res.errors).toBeUndefined();
    expect(res.data!.inbox.edges.map((e) => e.node.title)).toEqual(['Ping 1']);
    expect((await cursor({ 'x-herald-user-token': valid, 'x-herald-project': h.project.projectId, 'x-herald-user': 'jwt-http' })).errors).toBeUndefined();
  });

  it("mints a token with the README's shell snippet that the README's curl then uses", async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    const block = /```sh\n(TOKEN=\$\(node -e[\s\S]*?)```/.exec(readme)?.[1];
    expect(block, 'the token snippet in the README').toBeDefined();
    // Not spawnSync: curl calls the Herald running in this very process.
    const run = await promisify(execFile)('bash', ['-c', block!.replaceAll('localhost:4000', `127.0.0.1:${h.port}`)], {
      env: { PATH: process.env.PATH, PROJECT: h.project.projectId, WIDGET_SECRET: h.project.widgetSecret },
      encoding: 'utf8',
    });
    expect(JSON.parse(run.stdout), run.stderr).toEqual({ data: { unreadCount: 0, inboxCursor: '0' } });
  });

  it('refuses expired, forged, unsigned, too long-lived and mismatched tokens with 401 UNAUTHENTICATED', async () => {
    const other = await h.newProject('jwt other');
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'jwt-http', projectId: h.project.projectId, exp: Math.floor(Date.now() / 1000) + 60 })).toString('base64url')}.`;
    const cases: [string, Record<string, string>][] = [
      ['expired', { 'x-herald-user-token': await token('jwt-http', { expiresIn: -60 }) }],
      ['forged (another secret)', { 'x-herald-user-token': await token('jwt-http', { secret: 'not-the-widget-secret' }) }],
      ["another project's secret", { 'x-herald-user-token': await token('jwt-http', { secret: other.widgetSecret }) }],
      ['alg none', { 'x-herald-user-token': unsigned }],
      ['lifetime over 24 h', { 'x-herald-user-token': await token('jwt-http', { expiresIn: 25 * 3600 }) }],
      ['iat to exp over 24 h', { 'x-herald-user-token': await token('jwt-http', { iat: Math.floor(Date.now() / 1000) - 24 * 3600, expiresIn: 3600 }) }],
      ['project header mismatch', { 'x-herald-user-token': await token('jwt-http'), 'x-herald-project': other.projectId }],
      ['user header mismatch', { 'x-herald-user-token': await token('jwt-http'), 'x-herald-user': 'someone-else' }],
      ['token and hash together', { 'x-herald-user-token': await token('jwt-http'), ...hashHeaders('jwt-http') }],
      ['garbage', { 'x-herald-user-token': 'not.a.jwt' }],
    ];
    for (const [what, headers] of cases) {
      const res = await cursor(headers);
      expect(res.status, what).toBe(401);
      expect(res.errors?.[0]?.extensions?.code, what).toBe('UNAUTHENTICATED');
      expect(res.data ?? null, what).toBeNull();
    }
  });

  it('refuses an expired token on graphql-ws with 4403, and closes a socket when its token expires', async () => {
    const url = `${h.url.replace('http', 'ws')}/graphql`;
    const closed = (userToken: string, onConnected?: () => void) =>
      new Promise<{ code: number; at: number }>((resolve) => {
        const client = createClient({
          url,
          webSocketImpl: WebSocket,
          retryAttempts: 0,
          lazy: false,
          connectionParams: { userToken },
          on: { connected: () => onConnected?.(), closed: (event) => resolve({ code: (event as { code: number }).code, at: Date.now() }) },
          onNonLazyError: () => {},
        });
        void client;
      });
    expect((await closed(await token('jwt-ws', { expiresIn: -30 }))).code).toBe(4403);
    // jose compares exp in whole seconds: this one is valid for 1 to 2 s from now.
    const exp = (Math.floor(Date.now() / 1000) + 2) * 1000;
    const short = await new SignJWT({ projectId: h.project.projectId }).setProtectedHeader({ alg: 'HS256' }).setSubject('jwt-ws').setExpirationTime(exp / 1000).sign(new TextEncoder().encode(h.project.widgetSecret));
    let connected = false;
    const end = await closed(short, () => (connected = true));
    expect(connected).toBe(true);
    expect(end.code).toBe(4403);
    expect(end.at).toBeGreaterThanOrEqual(exp - 50);
    expect(end.at).toBeLessThan(exp + 3_000);
  });

  it('ends an SSE subscription opened with a token when the token expires: UNAUTHENTICATED, then complete', async () => {
    const exp = Math.floor(Date.now() / 1000) + 2;
    const short = await new SignJWT({ projectId: h.project.projectId }).setProtectedHeader({ alg: 'HS256' }).setSubject('jwt-sse').setExpirationTime(exp).sign(new TextEncoder().encode(h.project.widgetSecret));
    const res = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'x-herald-user-token': short },
      body: JSON.stringify({ query: 'subscription { inbox { cursor } }' }),
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    const ended = Date.now();
    expect(text).toContain('UNAUTHENTICATED');
    expect(text).toContain('token expired');
    expect(text).toMatch(/event: complete/);
    expect(ended).toBeGreaterThanOrEqual(exp * 1000 - 50);
    expect(ended).toBeLessThan(exp * 1000 + 3_000);
  });
});

if (!hasChromium && !onCi) console.warn(`test/inbox-component.test.ts: no ${CHROMIUM}, skipping the browser tests (they fail instead when CI=true)`);

describe.skipIf(!hasChromium && !onCi)('<herald-inbox> in headless Chromium', () => {
  let context: BrowserContext;
  let userDataDir: string;
  const problems: string[] = [];

  beforeAll(async () => {
    if (!hasChromium) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (apt-get install -y chromium). npm cannot download a browser here.`);
    userDataDir = await mkdtemp(join(tmpdir(), 'herald-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1100, height: 800 }, locale: 'en-US' });
  });
  afterAll(async () => {
    await context?.close();
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  });

  const demoUrl = (params: Record<string, string>, base = h.url) => `${base}/widget/demo?${new URLSearchParams({ projectId: h.project.projectId, ...params })}`;
  const hashUrl = (userId: string, base = h.url, extra: Record<string, string> = {}) => demoUrl({ userId, userHash: userHash(h.project.widgetSecret, userId), ...extra }, base);

  async function open(url: string, state: string | null = 'live'): Promise<Page> {
    const page = await context.newPage();
    // A CSP refusal or an uncaught error shows up here, not as a failed assertion.
    page.on('pageerror', (error) => problems.push(`${url}: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' && !/Failed to load resource|WebSocket connection/.test(message.text())) problems.push(`${url}: ${message.text()}`);
    });
    await page.goto(url);
    if (state) await page.locator(`herald-inbox[data-state="${state}"]`).waitFor({ timeout: 10_000 });
    return page;
  }

  /** Runs a browser test; on failure, screenshots of its pages go to test/artifacts/. */
  async function withPages(name: string, body: (pages: Page[]) => Promise<void>): Promise<void> {
    const pages: Page[] = [];
    try {
      await body(pages);
      expect(problems).toEqual([]);
    } catch (error) {
      if (problems.length > 0) console.error(`page problems: ${problems.join('\n')}`);
      await mkdir(ARTIFACTS, { recursive: true });
      for (const [i, page] of pages.entries()) await page.screenshot({ path: new URL(`${name}-${i}.png`, ARTIFACTS).pathname, fullPage: true }).catch(() => {});
      throw error;
    } finally {
      for (const page of pages) await page.close().catch(() => {});
    }
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
  const shadow = () => document.querySelector('herald-inbox')!.shadowRoot!;
  const titles = (page: Page, want: string[]) =>
    expectShown(page, 'titles', () => [...document.querySelector('herald-inbox')!.shadowRoot!.querySelectorAll('[data-testid="item-title"]')].map((e) => e.textContent!.replace(/^Unread: /, '')), want);
  const count = (page: Page, want: string) => expectShown(page, 'unread badge', () => document.querySelector('herald-inbox')!.shadowRoot!.querySelector('[data-testid="unread-count"]')!.textContent, want);
  const readFlags = (page: Page, want: string[]) =>
    expectShown(page, 'read flags', () => [...document.querySelector('herald-inbox')!.shadowRoot!.querySelectorAll<HTMLElement>('[data-testid="inbox-item"]')].map((e) => e.dataset.read!), want);
  const stateText = (page: Page) => page.evaluate(() => document.querySelector('herald-inbox')!.shadowRoot!.querySelector('[data-testid="state"]')!.textContent);
  const activeTestId = (page: Page) => page.evaluate(() => (document.querySelector('herald-inbox')!.shadowRoot!.activeElement as HTMLElement | null)?.dataset.testid ?? null);

  it('shows arrivals live, reflects a read from a second tab, and does tabs, actions and archive', async () => {
    await withPages('live', async (pages) => {
      const first = await open(hashUrl('ui-alice'));
      const second = await open(hashUrl('ui-alice'));
      pages.push(first, second);
      await first.bringToFront();
      await first.getByTestId('bell').click();
      expect(await stateText(first)).toBe('No notifications yet');
      await first.evaluate(() => {
        Object.assign(window, { samePage: true, actions: [] as unknown[] });
        document.querySelector('herald-inbox')!.addEventListener('herald-action', (e) => (window as unknown as { actions: unknown[] }).actions.push((e as CustomEvent).detail.action));
      });

      await send('ui-alice', 1);
      await titles(first, ['Ping 1']);
      await count(first, '1');
      await send('ui-alice', 2, { key: 'bill', actions: [{ id: 'pay', label: 'Pay now' }] });
      await titles(first, ['Invoice 2', 'Ping 1']);
      await count(first, '2');
      await titles(second, ['Invoice 2', 'Ping 1']);
      expect(await first.evaluate(() => (window as unknown as { samePage?: boolean }).samePage)).toBe(true);

      // Marked read in the second tab: the first follows, count and row.
      await second.bringToFront();
      await second.getByTestId('bell').click();
      await second.getByTestId('inbox-item').filter({ hasText: 'Ping 1' }).getByTestId('mark-read').click();
      await count(second, '1');
      await first.bringToFront();
      await count(first, '1');
      await readFlags(first, ['false', 'true']);

      // The category tab lists only its category.
      await first.getByTestId('tab-c:2').click();
      await titles(first, ['Invoice 2']);
      // An action button: performAction marks it read, and the host gets the action.
      await first.getByTestId('action').click();
      await count(first, '');
      await expectShown(first, 'performed actions', () => (window as unknown as { actions: unknown[] }).actions, [{ id: 'pay', label: 'Pay now' }]);
      await first.getByTestId('tab-all').click();
      await readFlags(first, ['true', 'true']);

      // Unread again, then mark all read.
      await first.getByTestId('inbox-item').filter({ hasText: 'Ping 1' }).getByTestId('mark-unread').click();
      await count(first, '1');
      await first.getByTestId('mark-all-read').click();
      await count(first, '');
      await count(second, '');

      // Archive: out of All, into Archived.
      await first.getByTestId('inbox-item').filter({ hasText: 'Invoice 2' }).getByTestId('archive').click();
      await titles(first, ['Ping 1']);
      await first.getByTestId('tab-archived').click();
      await titles(first, ['Invoice 2']);
      await titles(second, ['Ping 1']);
      // Opening the popover marked what it showed as seen.
      const seen = await pollFor(async () => {
        const res = await gql(h.url, graphql(`query InboxCompSeen { inbox(first: 5, filter: { archived: true }) { edges { node { seenAt } } } }`), {}, hashHeaders('ui-alice'));
        return res.data?.inbox.edges[0]?.node.seenAt ? true : null;
      }, 5_000, 'seenAt');
      expect(seen).toBe(true);

      // Deleted elsewhere (another device, through the API): gone from each tab's list, live.
      const listed = await gql(h.url, graphql(`query InboxCompIds($archived: Boolean) { inbox(first: 5, filter: { archived: $archived }) { edges { node { id title } } } }`), { archived: false }, hashHeaders('ui-alice'));
      const archived = await gql(h.url, graphql(`query InboxCompIds($archived: Boolean) { inbox(first: 5, filter: { archived: $archived }) { edges { node { id title } } } }`), { archived: true }, hashHeaders('ui-alice'));
      const remove = graphql(`mutation InboxCompDelete($ids: [ID!]!) { deleteItems(ids: $ids) { deletedIds } }`);
      expect((await gql(h.url, remove, { ids: [listed.data!.inbox.edges[0]!.node.id] }, hashHeaders('ui-alice'))).errors).toBeUndefined();
      await titles(second, []);
      expect((await gql(h.url, remove, { ids: [archived.data!.inbox.edges[0]!.node.id] }, hashHeaders('ui-alice'))).errors).toBeUndefined();
      await titles(first, []);
      expect(await first.evaluate(() => (window as unknown as { samePage?: boolean }).samePage)).toBe(true);
    });
  });

  it('works from the keyboard alone: Tab to the bell, Enter, arrows, a trapped Tab, Escape', async () => {
    await send('ui-kb', 1);
    await send('ui-kb', 2);
    await itemsOf('ui-kb', 2);
    await withPages('keyboard', async (pages) => {
      const page = await open(hashUrl('ui-kb'));
      pages.push(page);
      await page.bringToFront();
      await count(page, '2');
      let tabs = 0;
      while ((await activeTestId(page)) !== 'bell') {
        await page.keyboard.press('Tab');
        if (++tabs > 15) throw new Error('Tab never reached the bell');
      }
      expect(await page.getByTestId('bell').getAttribute('aria-expanded')).toBe('false');
      await page.keyboard.press('Enter');
      expect(await page.getByTestId('bell').getAttribute('aria-expanded')).toBe('true');
      expect(await activeTestId(page)).toBe('tab-all');
      await page.keyboard.press('ArrowRight');
      expect(await activeTestId(page)).toBe('tab-c:1');
      await titles(page, ['Ping 2', 'Ping 1']);
      // Relative times in the page's locale, then in the one the attribute names.
      const times = () => page.evaluate(() => [...document.querySelector('herald-inbox')!.shadowRoot!.querySelectorAll('time')].map((t) => t.textContent!.split(' · ')[0]));
      expect((await times()).every((t) => /^(now|\d+ seconds? ago|\d+ minutes? ago|1 minute ago)$/.test(t!)), String(await times())).toBe(true);
      await page.evaluate(() => document.querySelector('herald-inbox')!.setAttribute('locale', 'fr'));
      expect((await times()).every((t) => /^(maintenant|il y a \d+ (secondes?|minutes?))$/.test(t!)), String(await times())).toBe(true);
      await page.keyboard.press('ArrowLeft');
      expect(await activeTestId(page)).toBe('tab-all');
      await page.keyboard.press('Tab'); // the feed (a scrollable region)
      expect(await activeTestId(page)).toBe('feed');
      await page.keyboard.press('Tab'); // the first row's "Mark as read"
      expect(await activeTestId(page)).toBe('mark-read');
      await page.keyboard.press('Enter');
      await count(page, '1');
      await readFlags(page, ['true', 'false']);
      // Focus stays on the re-rendered row's button.
      expect(await activeTestId(page)).toBe('mark-unread');
      // Tab cycles inside the popover: it never reaches the page behind it.
      for (let i = 0; i < 12; i++) {
        await page.keyboard.press('Tab');
        expect(await page.evaluate(() => document.activeElement?.tagName)).toBe('HERALD-INBOX');
        expect(await page.evaluate(() => document.querySelector('herald-inbox')!.shadowRoot!.querySelector('[data-testid="panel"]')!.contains(document.querySelector('herald-inbox')!.shadowRoot!.activeElement))).toBe(true);
      }
      await page.keyboard.press('Shift+Tab');
      expect(await page.evaluate(() => document.querySelector('herald-inbox')!.shadowRoot!.querySelector('[data-testid="panel"]')!.contains(document.querySelector('herald-inbox')!.shadowRoot!.activeElement))).toBe(true);
      await page.keyboard.press('Escape');
      expect(await page.getByTestId('bell').getAttribute('aria-expanded')).toBe('false');
      expect(await page.getByTestId('panel').isHidden()).toBe(true);
      expect(await activeTestId(page)).toBe('bell');
    });
  });

  it('deletes an item with the opt-in Delete button: gone in every tab of the user, focus on the next row', async () => {
    for (let n = 1; n <= 3; n++) await send('ui-delete', n);
    await itemsOf('ui-delete', 3);
    await withPages('delete', async (pages) => {
      const deleting = await open(hashUrl('ui-delete', h.url, { deletable: '' }));
      const plain = await open(hashUrl('ui-delete'));
      pages.push(deleting, plain);
      await plain.bringToFront();
      await plain.getByTestId('bell').click();
      await titles(plain, ['Ping 3', 'Ping 2', 'Ping 1']);
      // Without the attribute there is no Delete button.
      expect(await plain.getByTestId('delete').count()).toBe(0);
      await deleting.bringToFront();
      await deleting.getByTestId('bell').click();
      await titles(deleting, ['Ping 3', 'Ping 2', 'Ping 1']);
      // From the keyboard: the focused row's Delete, Enter; the next row's Delete takes the focus.
      const middle = deleting.getByTestId('inbox-item').filter({ hasText: 'Ping 2' });
      const next = await deleting.getByTestId('inbox-item').filter({ hasText: 'Ping 1' }).getAttribute('data-id');
      await middle.getByTestId('delete').focus();
      await deleting.keyboard.press('Enter');
      await titles(deleting, ['Ping 3', 'Ping 1']);
      await expect.poll(() => deleting.evaluate(() => {
        const active = document.querySelector('herald-inbox')!.shadowRoot!.activeElement as HTMLElement | null;
        return [active?.dataset.testid, active?.closest<HTMLElement>('[data-id]')?.dataset.id];
      })).toEqual(['delete', next]);
      await count(deleting, '2');
      await plain.bringToFront();
      await titles(plain, ['Ping 3', 'Ping 1']);
      await count(plain, '2');
      const left = await gql(h.url, graphql(`query InboxCompLeft { inbox(first: 5) { edges { node { title } } } }`), {}, hashHeaders('ui-delete'));
      expect(left.data!.inbox.edges.map((e) => e.node.title)).toEqual(['Ping 3', 'Ping 1']);
    });
  });

  it('loads older pages as the feed scrolls, without duplicates', async () => {
    for (let n = 1; n <= 12; n++) await send('ui-scroll', n);
    await itemsOf('ui-scroll', 12);
    await withPages('scroll', async (pages) => {
      const page = await open(hashUrl('ui-scroll', h.url, { pageSize: '5' }));
      pages.push(page);
      await page.bringToFront();
      await page.getByTestId('bell').click();
      const want = Array.from({ length: 12 }, (_, i) => `Ping ${12 - i}`);
      const deadline = Date.now() + 10_000;
      for (;;) {
        const shown = await page.evaluate(() => [...document.querySelector('herald-inbox')!.shadowRoot!.querySelectorAll('[data-testid="item-title"]')].map((e) => e.textContent!.replace(/^Unread: /, '')));
        expect(new Set(shown).size).toBe(shown.length);
        if (shown.length === 12) {
          expect(shown).toEqual(want);
          break;
        }
        if (Date.now() > deadline) throw new Error(`the feed shows ${shown.length} items`);
        await page.evaluate(() => {
          const feed = document.querySelector('herald-inbox')!.shadowRoot!.querySelector('[data-testid="feed"]')!;
          feed.scrollTop = feed.scrollHeight;
        });
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    });
  });

  it('signs in with a JWT, says "expired" (not "no notifications") for an expired one, and takes a fresh token', async () => {
    await send('ui-jwt', 1);
    await itemsOf('ui-jwt', 1);
    await withPages('jwt', async (pages) => {
      const page = await open(demoUrl({ token: await token('ui-jwt') }));
      pages.push(page);
      await page.bringToFront();
      await page.getByTestId('bell').click();
      await titles(page, ['Ping 1']);
      await count(page, '1');

      const expired = await open(demoUrl({ token: await token('ui-jwt', { expiresIn: -60 }) }), 'expired');
      pages.push(expired);
      await expired.bringToFront();
      await expired.getByTestId('bell').click();
      expect(await stateText(expired)).toMatch(/session expired/i);
      await count(expired, '');
      expect(await expired.getByTestId('inbox-item').count()).toBe(0);
      // The host hands a fresh token: the element starts over with it.
      const fresh = await token('ui-jwt');
      await expired.evaluate((t) => document.querySelector('herald-inbox')!.setAttribute('token', t), fresh);
      await expired.locator('herald-inbox[data-state="live"]').waitFor({ timeout: 10_000 });
      await titles(expired, ['Ping 1']);

      const forged = await open(demoUrl({ token: await token('ui-jwt', { secret: 'forged' }) }), 'refused');
      pages.push(forged);
      await forged.bringToFront();
      await forged.getByTestId('bell').click();
      expect(await stateText(forged)).toMatch(/refused/i);
      await count(forged, '');
    });
  });

  it('shows the refusal, not an empty inbox, for a wrong hash, and no count before the list has loaded', async () => {
    await withPages('refused', async (pages) => {
      const page = await open(demoUrl({ userId: 'ui-carol', userHash: userHash(h.project.widgetSecret, 'someone-else') }), 'refused');
      pages.push(page);
      await page.bringToFront();
      await page.getByTestId('bell').click();
      expect(await stateText(page)).toBe('Notifications are unavailable: Herald refused these credentials.');
      expect(await page.getByTestId('bell').getAttribute('aria-label')).toBe('Notifications, unavailable');
      await count(page, '');

      // Loading: the first page held back by the network shows "Loading…", and no "Live" state.
      const slow = await context.newPage();
      pages.push(slow);
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      await slow.route('**/graphql', async (route) => {
        if (route.request().postData()?.includes('HeraldInboxPage')) await held;
        await route.continue();
      });
      await slow.goto(hashUrl('ui-alice'));
      await slow.locator('herald-inbox[data-state="loading"]').waitFor({ timeout: 10_000 });
      await slow.bringToFront();
      await slow.getByTestId('bell').click();
      expect(await stateText(slow)).toBe('Loading notifications…');
      expect(await slow.getByTestId('feed').getAttribute('aria-busy')).toBe('true');
      await count(slow, '');
      release();
      await slow.locator('herald-inbox[data-state="live"]').waitFor({ timeout: 10_000 });
    });
  });

  it('has no serious or critical axe-core violations, open and closed, light and dark', async () => {
    await send('ui-axe', 1);
    await send('ui-axe', 2, { key: 'bill', actions: [{ id: 'pay', label: 'Pay now' }, { id: 'later', label: 'Later', style: 'secondary' }] });
    const items = await itemsOf('ui-axe', 2);
    await gql(h.url, InboxCompMarkRead, { ids: [items.inbox.edges[1]!.node.id] }, hashHeaders('ui-axe'));
    const axeSource = await readFile(new URL('../node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');
    await withPages('axe', async (pages) => {
      const page = await open(hashUrl('ui-axe'));
      pages.push(page);
      await page.bringToFront();
      // The demo's CSP allows only its own scripts: axe goes in through the devtools protocol.
      await page.evaluate(axeSource);
      // The audits measure the settled UI: mid-way through the popover's 120 ms fade-in, axe would
      // measure the contrast of half-transparent text (the component honours reduced motion).
      await page.emulateMedia({ reducedMotion: 'reduce' });
      const audit = () =>
        page.evaluate(async () => {
          const axe = (window as unknown as { axe: { run: (context: unknown, options: unknown) => Promise<{ violations: { id: string; impact: string; nodes: { target: unknown }[] }[]; passes: unknown[] }> } }).axe;
          const result = await axe.run({ include: [['herald-inbox']] }, { resultTypes: ['violations'] });
          return { violations: result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, targets: v.nodes.map((n) => n.target) })), passes: result.passes.length };
        });
      const results: Record<string, unknown> = {};
      results.closedLight = await audit();
      await page.getByTestId('bell').click();
      await titles(page, ['Invoice 2', 'Ping 1']);
      results.openLight = await audit();
      await page.evaluate(() => document.querySelector('herald-inbox')!.setAttribute('theme', 'dark'));
      results.openDark = await audit();
      await page.getByTestId('tab-archived').click();
      await expectShown(page, 'empty state', () => document.querySelector('herald-inbox')!.shadowRoot!.querySelector('[data-testid="state"]')!.textContent, 'Nothing archived');
      results.emptyDark = await audit();
      console.log(`axe results: ${JSON.stringify(results)}`);
      for (const [where, result] of Object.entries(results)) {
        const bad = (result as { violations: { impact: string }[] }).violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
        expect(bad, where).toEqual([]);
      }
    });
  });

  it('renders through the React wrapper, with props as attributes and events as callbacks', async () => {
    // A React app as a host builds it: React bundled in, the wrapper (and through it the element) from Herald.
    const app = await build({
      stdin: {
        contents: `
          import * as React from 'react';
          import { createRoot } from 'react-dom/client';
          window.__react = React;
          const { HeraldInbox } = await import(window.heraldUrl + '/widget/herald-inbox-react.js');
          function App() {
            const [count, setCount] = React.useState(null);
            return React.createElement('div', null,
              React.createElement('span', { id: 'count' }, count === null ? 'none' : String(count)),
              React.createElement(HeraldInbox, { ...window.heraldProps, theme: 'dark', deletable: true, categories: [{ value: '1', label: 'Pings' }], onUnreadCountChange: setCount }));
          }
          createRoot(document.getElementById('root')).render(React.createElement(App));`,
        resolveDir: new URL('..', import.meta.url).pathname,
        loader: 'js',
      },
      bundle: true,
      format: 'esm',
      target: 'es2022',
      write: false,
      define: { 'process.env.NODE_ENV': '"production"' },
      logLevel: 'silent',
    });
    // The wrapper imports bare `react`: the import map hands it the app's own copy.
    const reactShim = 'export const { createElement, forwardRef, useEffect, useImperativeHandle, useRef } = window.__react;';
    // The host app is another origin (its own server): the bundles load over CORS, as on a customer's site.
    const html = `<!doctype html><html lang="en"><head><title>React host</title>
      <script type="importmap">{"imports":{"react":"/react-shim.js"}}</script>
      <script>window.heraldUrl = ${JSON.stringify(h.url)}; window.heraldProps = ${JSON.stringify({ projectId: h.project.projectId, userId: 'ui-react', userHash: userHash(h.project.widgetSecret, 'ui-react') })};</script>
      </head><body><div id="root"></div><script type="module" src="/app.js"></script></body></html>`;
    const files: Record<string, [string, string]> = {
      '/': ['text/html', html],
      '/app.js': ['text/javascript', app.outputFiles[0]!.text],
      '/react-shim.js': ['text/javascript', reactShim],
    };
    const hostApp = createServer((req, res) => {
      const file = files[req.url ?? ''];
      res.writeHead(file ? 200 : 404, { 'content-type': file?.[0] ?? 'text/plain' }).end(file?.[1] ?? 'not found');
    });
    await new Promise<void>((resolve) => hostApp.listen(0, '127.0.0.1', resolve));
    await withPages('react', async (pages) => {
      const page = await context.newPage();
      pages.push(page);
      page.on('pageerror', (error) => problems.push(`react page: ${error.message}`));
      page.on('console', (message) => {
        // (the browser's own /favicon.ico 404 aside)
        if (message.type() === 'error' && !message.text().includes('404')) problems.push(`react page: ${message.text()}`);
      });
      await page.goto(`http://127.0.0.1:${(hostApp.address() as AddressInfo).port}/`);
      await page.locator('herald-inbox[data-state="live"]').waitFor({ timeout: 10_000 });
      const host = page.locator('herald-inbox');
      expect(await host.getAttribute('theme')).toBe('dark');
      expect(await host.getAttribute('categories')).toBe('1:Pings');
      expect(await host.getAttribute('deletable')).toBe('');
      expect(await host.getAttribute('project-id')).toBe(h.project.projectId);
      await expectShown(page, 'count from the callback', () => document.getElementById('count')!.textContent, '0');
      await send('ui-react', 1);
      await expectShown(page, 'count from the callback', () => document.getElementById('count')!.textContent, '1');
      await page.bringToFront();
      await page.getByTestId('bell').click();
      expect(await page.getByTestId('tab-c:1').textContent()).toBe('Pings');
      await titles(page, ['Ping 1']);
    }).finally(() => {
      // Chromium keeps its connections alive: close them, or close() waits for their timeout.
      hostApp.closeAllConnections();
      return new Promise((resolve) => hostApp.close(resolve));
    });
  }, 60_000);
  it('catches up after the server restarts on the same port: nothing missing, nothing twice', async () => {
    const port = await freePort();
    let side: { herald: Herald; url: string } = await h.startSibling({ PORT: String(port) });
    // In-process instances share one Prisma client, the last opened: stopping that one would close
    // it for this file's Herald too. A keeper opened after it stays open while `side` restarts.
    const keeper = await h.startSibling();
    try {
      await withPages('restart', async (pages) => {
        const page = await open(hashUrl('ui-restart', side.url));
        pages.push(page);
        await page.bringToFront();
        await page.getByTestId('bell').click();
        await send('ui-restart', 1);
        await titles(page, ['Ping 1']);

        await side.herald.stop();
        await page.locator('herald-inbox[data-state="reconnecting"]').waitFor({ timeout: 10_000 });
        expect(await page.getByTestId('offline').isVisible()).toBe(true);
        // While it is down: two new items, and the first one read elsewhere.
        await send('ui-restart', 2);
        await send('ui-restart', 3);
        const inbox = await itemsOf('ui-restart', 3);
        const firstId = inbox.inbox.edges.find((e) => e.node.title === 'Ping 1')!.node.id;
        expect((await gql(h.url, InboxCompMarkRead, { ids: [firstId] }, hashHeaders('ui-restart'))).data?.markRead.unreadCount).toBe(2);
        await titles(page, ['Ping 1']);

        side = await h.startSibling({ PORT: String(port) });
        await page.locator('herald-inbox[data-state="live"]').waitFor({ timeout: 15_000 });
        await titles(page, ['Ping 3', 'Ping 2', 'Ping 1']);
        await count(page, '2');
        await readFlags(page, ['false', 'false', 'true']);
        expect(await page.getByTestId('offline').isHidden()).toBe(true);
        await send('ui-restart', 4);
        await titles(page, ['Ping 4', 'Ping 3', 'Ping 2', 'Ping 1']);
        await count(page, '3');
      });
    } finally {
      const last = await h.startSibling();
      await side.herald.stop().catch(() => {});
      await keeper.herald.stop().catch(() => {});
      siblings.push(last.herald);
    }
  });

});
