import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSchema, createYoga } from 'graphql-yoga';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_BUILD_DIR, CONSOLE_PAGE_FILE, useConsole } from '../src/console/use-console.ts';
import { graphql } from '../src/generated/gql/index.ts';
import { userHash } from '../src/modules/projects/credentials.ts';
import { bearer, gql, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor, startHttpServer } from './helpers/http-server.ts';

/** Debian's chromium package; .ci/run installs it. npm cannot download a browser here. */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const hasChromium = existsSync(CHROMIUM);
const onCi = process.env.CI === 'true';
const ARTIFACTS = new URL('./artifacts/', import.meta.url);

const ConsoleTestNotification = graphql(`
  mutation ConsoleTestNotification($input: NotificationInput!) {
    createNotification(input: $input) {
      id
      masterVersion {
        id
      }
    }
  }
`);
const ConsoleTestProvider = graphql(`
  mutation ConsoleTestProvider($input: ProviderInput!) {
    configureProvider(input: $input) {
      id
    }
  }
`);
const ConsoleTestUsers = graphql(`
  mutation ConsoleTestUsers($users: [UserInput!]!) {
    upsertUsers(users: $users) {
      ok
      user {
        id
      }
    }
  }
`);
const ConsoleTestMessage = graphql(`
  query ConsoleTestMessage($id: ID!) {
    message(id: $id) {
      status
      attempts
      events {
        status
      }
    }
  }
`);
const ConsoleTestVersion = graphql(`
  query ConsoleTestVersion($id: Int!) {
    notification(id: $id) {
      masterVersion {
        contents {
          locale
          title
          body
        }
      }
    }
  }
`);
const ConsoleTestProject = graphql(`
  query ConsoleTestProject {
    project {
      id
    }
  }
`);

const ConsoleTestRuns = graphql(`
  query ConsoleTestRuns($transactionId: String!) {
    workflowRuns(first: 5, filter: { transactionId: $transactionId }) {
      edges {
        node {
          id
          status
        }
      }
    }
  }
`);
const ConsoleTestTopic = graphql(`
  mutation ConsoleTestTopic($key: String!, $userIds: [String!]!) {
    createTopic(key: $key) {
      id
    }
    addTopicSubscribers(key: $key, userIds: $userIds) {
      count
    }
  }
`);
const ConsoleTestSubscribers = graphql(`
  query ConsoleTestSubscribers($key: String!) {
    topic(key: $key) {
      subscriberCount
    }
  }
`);
const ConsoleTestSendToTopic = graphql(`
  mutation ConsoleTestSendToTopic($key: String!, $transactionId: String!) {
    sendToTopic(key: $key, notificationId: "bell", transactionId: $transactionId, data: { n: 0 }) {
      id
    }
  }
`);
const ConsoleTestBroadcast = graphql(`
  query ConsoleTestBroadcast($id: ID!) {
    broadcast(id: $id) {
      status
      processed
    }
  }
`);

let h: TestHerald;
let hook: Awaited<ReturnType<typeof startHttpServer>>;
/** What the webhook receiver answers: 500 makes a message fail (one attempt, see DELIVERY_MAX_ATTEMPTS). */
let hookStatus = 200;
let bellId: number;
let adaId: string;

beforeAll(async () => {
  // One attempt per message: a 500 is a dead letter at once instead of after the backoff.
  // Broadcasts fan out 5 users at a time with a pause, so the page has progress to follow and time to cancel.
  h = await startTestHerald({ env: { DELIVERY_MAX_ATTEMPTS: '1', BROADCAST_CHUNK_SIZE: '5', BROADCAST_CHUNK_DELAY_MS: '250' } });
  hook = await startHttpServer(() => ({ status: hookStatus, body: { ok: hookStatus < 300 } }));
  const auth = bearer(h.project.apiKey);
  const bell = await gql(
    h.url,
    ConsoleTestNotification,
    {
      input: {
        key: 'bell',
        type: 'in-app',
        name: 'Bell',
        versions: [
          {
            contents: [
              { locale: 'en', title: 'Hello {{ firstName }}', body: 'Body {{ n }}' },
              { locale: 'fr', title: 'Bonjour {{ firstName }}', body: 'Corps {{ n }}' },
            ],
          },
        ],
      },
    },
    auth,
  );
  expect(bell.errors).toBeUndefined();
  bellId = bell.data!.createNotification.id;
  const hooked = await gql(h.url, ConsoleTestNotification, { input: { key: 'hooked', type: 'webhook', name: 'Hooked', versions: [{ contents: [{ locale: 'en', title: 'Hook {{ n }}' }] }] } }, auth);
  expect(hooked.errors).toBeUndefined();
  const provider = await gql(h.url, ConsoleTestProvider, { input: { channel: 'WEBHOOK', kind: 'webhook', name: 'receiver', settings: { url: `${hook.url}/hook` } } }, auth);
  expect(provider.errors).toBeUndefined();
  const users = await gql(h.url, ConsoleTestUsers, { users: [{ externalId: 'ada', firstName: 'Ada', language: 'en' }] }, auth);
  adaId = users.data!.upsertUsers[0]!.user!.id;
});
afterAll(async () => {
  await hook?.close();
  await h?.stop();
});

async function send(notificationId: string, userId: string, n: number): Promise<string> {
  const res = await rest(h.url, 'POST', '/messages.send', { messages: [{ notificationId, userId, data: { n } }] }, bearer(h.project.apiKey));
  expect(res.status).toBe(200);
  expect(res.body.results[0].ok).toBe(true);
  const listed = await pollFor(async () => {
    const found = await gql(h.url, graphqlMessagesOf, { externalId: userId }, bearer(h.project.apiKey));
    return found.data?.messages.edges.at(-1)?.node.id;
  }, 10_000, 'the message id');
  return listed;
}
const graphqlMessagesOf = graphql(`
  query ConsoleTestMessagesOf($externalId: String!) {
    messages(last: 1, filter: { user: { externalId: $externalId } }) {
      edges {
        node {
          id
        }
      }
    }
  }
`);

const ConsoleTestDraft = graphql(`
  query ConsoleTestDraft($id: Int!, $draft: [LocaleContentInput!], $contact: ContactInput) {
    renderNotification(id: $id, draft: $draft, contact: $contact) {
      render {
        locale
        title
        body
      }
    }
  }
`);
const ConsoleTestUserInbox = graphql(`
  query ConsoleTestUserInbox($externalId: String!, $first: Int) {
    user(externalId: $externalId) {
      unreadCount
      inbox(first: $first) {
        id
        title
      }
    }
  }
`);
const ConsoleTestViewerInbox = graphql(`
  query ConsoleTestViewerInbox {
    viewer {
      inbox {
        id
      }
    }
  }
`);

describe('what the console needs from the API', () => {
  it('renderNotification(draft) renders unsaved content, checked like a save', async () => {
    const auth = bearer(h.project.apiKey);
    const ok = await gql(h.url, ConsoleTestDraft, { id: bellId, contact: { id: 'ada' }, draft: [{ locale: 'en', title: 'Draft {{ firstName }}', body: 'b' }] }, auth);
    expect(ok.errors).toBeUndefined();
    expect(ok.data!.renderNotification.render).toEqual({ locale: 'en', title: 'Draft Ada', body: 'b' });
    const broken = await gql(h.url, ConsoleTestDraft, { id: bellId, draft: [{ locale: 'en', title: 'fine', body: 'one\n{% if x %}never closed' }] }, auth);
    expect(broken.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const issues = broken.errors![0]!.extensions!.issues as { field: string; message: string }[];
    expect(issues).toHaveLength(1);
    expect(issues[0]!.field).toBe('draft.0.body');
    expect(issues[0]!.message).toMatch(/line 2, column 1/);
    for (const draft of [[], [{ locale: 'not a locale!', title: 'x' }], [{ locale: 'en', title: 'x'.repeat(1001) }], Array.from({ length: 51 }, () => ({ locale: 'en' }))]) {
      const refused = await gql(h.url, ConsoleTestDraft, { id: bellId, draft }, auth);
      expect(refused.errors?.[0]?.extensions?.code, JSON.stringify(draft).slice(0, 80)).toBe('BAD_USER_INPUT');
      expect(refused.errors![0]!.message).toMatch(/^draft/);
    }
    // Another project's notification is unknown, draft or not.
    const other = await h.newProject();
    expect((await gql(h.url, ConsoleTestDraft, { id: bellId, draft: [{ locale: 'en', title: 'x' }] }, bearer(other.apiKey))).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    // Nothing was saved.
    const stored = await gql(h.url, ConsoleTestVersion, { id: bellId }, auth);
    expect(stored.data!.notification.masterVersion!.contents.map((c) => c.title)).toEqual(['Hello {{ firstName }}', 'Bonjour {{ firstName }}']);
  });

  it("User.inbox and User.unreadCount show a user's inbox to operators only", async () => {
    const auth = bearer(h.project.apiKey);
    const before = await gql(h.url, ConsoleTestUserInbox, { externalId: 'inbox-reader' }, auth);
    expect(before.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    await send('bell', 'inbox-reader', 7);
    const read = await pollFor(async () => {
      const res = await gql(h.url, ConsoleTestUserInbox, { externalId: 'inbox-reader' }, auth);
      return res.data?.user.inbox.length === 1 ? res.data.user : null;
    }, 10_000, 'the inbox item');
    expect(read.unreadCount).toBe(1);
    expect(read.inbox[0]!.title).toBe('Hello ');
    for (const first of [0, 101]) {
      expect((await gql(h.url, ConsoleTestUserInbox, { externalId: 'inbox-reader', first }, auth)).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
    const widget = { 'x-herald-project': h.project.projectId, 'x-herald-user': 'inbox-reader', 'x-herald-user-hash': userHash(h.project.widgetSecret, 'inbox-reader') };
    expect((await gql(h.url, ConsoleTestViewerInbox, {}, widget)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});

describe('serving /console', () => {
  it('has a bundle built from the current console sources', async () => {
    const built = await stat(join(CONSOLE_BUILD_DIR, CONSOLE_PAGE_FILE)).catch(() => null);
    expect(built, 'no console bundle: run `npm run build:console`').not.toBeNull();
    const sources: URL[] = [new URL('../scripts/build-console.ts', import.meta.url), new URL('../scripts/typed-documents.ts', import.meta.url)];
    for (const dir of ['../src/console/app/', '../src/console/app/pages/']) {
      const folder = new URL(dir, import.meta.url);
      for (const entry of await readdir(folder, { withFileTypes: true })) if (entry.isFile()) sources.push(new URL(entry.name, folder));
    }
    const newest = Math.max(...(await Promise.all(sources.map(async (f) => (await stat(f)).mtimeMs))));
    // Otherwise the browser tests below would pass or fail on yesterday's console.
    expect(built!.mtimeMs, 'the console bundle is older than its sources: run `npm run build:console`').toBeGreaterThanOrEqual(newest);
  });

  it('serves the page and its hashed bundles with their types, cache headers and a strict CSP', async () => {
    const nonces = new Set<string>();
    for (const path of ['/console', '/console/']) {
      const page = await fetch(`${h.url}${path}`);
      const html = await page.text();
      expect(page.status, html).toBe(200);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(page.headers.get('cache-control')).toBe('no-store');
      expect(page.headers.get('x-frame-options')).toBe('DENY');
      const csp = page.headers.get('content-security-policy')!;
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe');
      // A fresh style nonce per answer, the same in the CSP and in the page.
      const nonce = /'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)?.[1];
      expect(nonce).toBeDefined();
      expect(html).toContain(`<meta name="herald-style-nonce" content="${nonce}" />`);
      nonces.add(nonce!);
    }
    expect(nonces.size).toBe(2);
    const html = await (await fetch(`${h.url}/console`)).text();
    const script = /<script type="module" src="(\/console\/assets\/console-[A-Z0-9]+\.js)">/.exec(html)?.[1];
    const style = /<link rel="stylesheet" href="(\/console\/assets\/console-style-[A-Z0-9]+\.css)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    expect(style).toBeDefined();
    const js = await fetch(`${h.url}${script}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    // The build swaps graphql() for the generated documents: the widget's and the tests' stay out.
    const bundle = await js.text();
    expect(bundle).toContain('ConsoleMessageStatus');
    expect(bundle).not.toContain('WidgetInboxEvents');
    expect(bundle).not.toContain('ConsoleTestNotification');
    const css = await fetch(`${h.url}${style}`);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
  });

  it('refuses other methods, unknown and climbing asset names, and answers 503 without a build', async () => {
    expect((await fetch(`${h.url}/console`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${h.url}/console/assets/console-NOPE.js`)).status).toBe(404);
    expect((await fetch(`${h.url}/console/assets/..%2F..%2F..%2Fpackage.json`)).status).toBe(404);
    const empty = await mkdtemp(join(tmpdir(), 'herald-console-'));
    try {
      const yoga = createYoga({ schema: createSchema({ typeDefs: 'type Query { ok: Boolean }' }), plugins: [useConsole({ dir: empty })] });
      const res = await yoga.fetch('http://localhost/console');
      expect(res.status).toBe(503);
      expect(await res.text()).toContain('npm run build:console');
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

if (!hasChromium && !onCi) console.warn(`test/console.test.ts: no ${CHROMIUM}, skipping the browser tests (they fail instead when CI=true)`);

// Each flow is a few seconds on a quiet machine; the bound leaves room for a loaded CI runner.
describe.skipIf(!hasChromium && !onCi)('the console in headless Chromium', { timeout: 60_000 }, () => {
  let context: BrowserContext;
  let userDataDir: string;
  let page: Page;
  const problems: string[] = [];
  const axeSource = readFile(new URL('../node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');
  const axeReport: Record<string, string[]> = {};

  beforeAll(async () => {
    if (!hasChromium) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (apt-get install -y chromium).`);
    userDataDir = await mkdtemp(join(tmpdir(), 'herald-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    page = await context.newPage();
    // A CSP refusal or an uncaught error shows up here, not as a failed assertion.
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      // The wrong key of the first test is answered 401, which Chromium logs as a failed resource.
      if (message.type() === 'error' && !/status of 401/.test(message.text())) problems.push(`console: ${message.text()}`);
    });
  });
  afterEach(async (ctx) => {
    if (ctx.task.result?.state !== 'fail' || !page) return;
    await mkdir(ARTIFACTS, { recursive: true });
    const name = ctx.task.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60);
    await page.screenshot({ path: new URL(`console-${name}.png`, ARTIFACTS).pathname, fullPage: true }).catch(() => {});
  });
  afterAll(async () => {
    await context?.close();
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
    console.log(`axe (serious or critical violations per page): ${JSON.stringify(axeReport)}`);
  });

  /** axe-core in the page (evaluated over CDP, so the page's CSP is unchanged): no serious or critical violation. */
  async function axe(name: string): Promise<void> {
    await page.evaluate(await axeSource);
    const violations = await page.evaluate(async () => {
      const result = await (window as unknown as { axe: { run(context: Document, options: object): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe.run(document, {
        resultTypes: ['violations'],
      });
      return result.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
    });
    if (problems.length) console.log('DEBUG problems', problems);
    const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    axeReport[name] = violations.map((v) => `${v.id} (${v.impact})`);
    expect(bad, `${name}: ${JSON.stringify(bad)}`).toEqual([]);
  }

  /** The bell's stored English content: what the editor's saves wrote (or did not). */
  const stored = async () => (await gql(h.url, ConsoleTestVersion, { id: bellId }, bearer(h.project.apiKey))).data!.notification.masterVersion!.contents.find((c) => c.locale === 'en')!;

  async function nav(testId: string, heading: string) {
    await page.getByTestId(`nav-${testId}`).click();
    await page.getByRole('heading', { level: 1, name: heading }).waitFor({ timeout: 10_000 });
  }

  it('signs in with an API key kept in session storage, never in the address', async () => {
    await page.goto(`${h.url}/console`);
    await page.getByRole('heading', { name: 'Herald console' }).waitFor();
    await axe('sign in');
    const key = page.getByLabel('API key');
    // Focus starts in the key field: keyboard only from here.
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('apikey');
    await page.keyboard.type(`${h.project.apiKey.split('.')[0]}.wrong`);
    await page.keyboard.press('Enter');
    await page.getByTestId('signin-error').filter({ hasText: /refused/ }).waitFor();
    await key.fill(h.project.apiKey);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Activity' }).waitFor({ timeout: 10_000 });
    await page.locator('[data-testid="live-state"][data-state="live"]').waitFor({ timeout: 10_000 });
    expect(await page.evaluate(() => sessionStorage.getItem('herald.console.apiKey'))).toBe(h.project.apiKey);
    expect(page.url()).not.toContain(h.project.apiKey.split('.')[1]);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    // A reload keeps the tab's session.
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Activity' }).waitFor({ timeout: 10_000 });
    await page.locator('[data-testid="live-state"][data-state="live"]').waitFor({ timeout: 10_000 });
    // Keyboard: the page heading has the focus. Clicking the banner's name (not focusable) moves
    // the sequential focus starting point there: Shift+Tab reaches the skip link, which returns
    // to the heading; Tab walks sign out, then the navigation, and Enter opens a page.
    expect(await page.evaluate(() => document.activeElement?.tagName)).toBe('H1');
    const focused = () => page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? document.activeElement?.textContent);
    await page.locator('header .brand').click();
    await page.keyboard.press('Shift+Tab');
    expect(await focused()).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await focused()).toBe('Activity');
    await page.locator('header .brand').click();
    for (const want of ['sign-out', 'nav-activity', 'nav-dead-letters']) {
      await page.keyboard.press('Tab');
      expect(await focused()).toBe(want);
    }
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Dead letters' }).waitFor();
    await expect.poll(focused).toBe('Dead letters');
    await page.getByTestId('nav-activity').click();
    await page.getByRole('heading', { level: 1, name: 'Activity' }).waitFor();
    await page.locator('[data-testid="live-state"][data-state="live"]').waitFor({ timeout: 10_000 });
    expect(problems).toEqual([]);
  });

  it('shows a message sent through the API live in Activity, and its timeline', async () => {
    // On Activity and live whatever the test before left on screen.
    await nav('activity', 'Activity');
    await page.locator('[data-testid="live-state"][data-state="live"]').waitFor({ timeout: 10_000 });
    await page.evaluate(() => Object.assign(window, { heraldSamePage: true }));
    const id = await send('bell', 'ada', 1);
    const row = page.locator(`[data-testid="message-row"][data-id="${id}"]`);
    await row.waitFor({ timeout: 10_000 });
    await page.locator(`[data-testid="message-row"][data-id="${id}"][data-status="DELIVERED"]`).waitFor({ timeout: 10_000 });
    // Live: the same document all along, no reload.
    expect(await page.evaluate(() => (window as unknown as { heraldSamePage?: boolean }).heraldSamePage)).toBe(true);
    await axe('activity');

    // Keyboard: the row's link opens the timeline, which takes the focus.
    await row.getByRole('link', { name: /Timeline of message/ }).focus();
    await page.keyboard.press('Enter');
    const timeline = page.getByTestId('timeline');
    await timeline.waitFor();
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('timeline-heading');
    expect(await timeline.getByTestId('timeline-id').textContent()).toBe(id);
    await expect
      .poll(async () => timeline.getByTestId('timeline-event').evaluateAll((items) => items.map((i) => (i as HTMLElement).dataset.status)))
      .toEqual(['QUEUED', 'SENDING', 'DELIVERED']);
    expect(await timeline.getByTestId('provider-answer').textContent()).toContain('in-app');
    await axe('activity timeline');

    // The user filter narrows the list (by externalId) and keeps it live.
    await page.getByTestId('filter-user').fill('nobody-yet');
    await page.getByTestId('filter-user').press('Enter');
    await page.getByTestId('error').filter({ hasText: 'NOT_FOUND' }).waitFor();
    await page.getByTestId('filter-user').fill('ada');
    await page.getByTestId('filter-user').press('Enter');
    await expect.poll(() => page.getByTestId('message-row').count()).toBe(1);
    const second = await send('bell', 'ada', 2);
    await page.locator(`[data-testid="message-row"][data-id="${second}"]`).waitFor({ timeout: 10_000 });
    await send('bell', 'someone-else', 3);
    await expect.poll(() => page.getByTestId('message-row').count()).toBe(2);
    expect(problems).toEqual([]);
  });

  it('lists a dead letter as it fails and retries it', async () => {
    await nav('dead-letters', 'Dead letters');
    await page.getByTestId('dead-letters-empty').waitFor({ timeout: 10_000 });
    hookStatus = 500;
    const id = await send('hooked', 'ada', 4);
    await pollFor(async () => (await gql(h.url, ConsoleTestMessage, { id }, bearer(h.project.apiKey))).data?.message.status === 'FAILED', 10_000, 'FAILED');
    const row = page.locator(`[data-testid="message-row"][data-id="${id}"]`);
    await page.locator(`[data-testid="message-row"][data-id="${id}"][data-status="FAILED"]`).waitFor({ timeout: 10_000 });
    expect(await row.textContent()).toContain('500');
    await axe('dead letters');

    hookStatus = 200;
    await row.getByTestId('retry-one').click();
    await pollFor(async () => (await gql(h.url, ConsoleTestMessage, { id }, bearer(h.project.apiKey))).data?.message.status === 'SENT', 10_000, 'SENT after the retry');
    await page.locator(`[data-testid="message-row"][data-id="${id}"][data-status="SENT"]`).waitFor({ timeout: 10_000 });
    expect(hook.received.filter((r) => r.url === '/hook')).toHaveLength(2);

    // Retry all: two more dead letters, one click.
    hookStatus = 500;
    const more = [await send('hooked', 'ada', 5), await send('hooked', 'ada', 6)];
    for (const m of more) await page.locator(`[data-testid="message-row"][data-id="${m}"][data-status="FAILED"]`).waitFor({ timeout: 10_000 });
    hookStatus = 200;
    await page.getByTestId('retry-all').click();
    await page.getByTestId('retry-result').filter({ hasText: '2 messages queued again' }).waitFor();
    for (const m of more) await pollFor(async () => (await gql(h.url, ConsoleTestMessage, { id: m }, bearer(h.project.apiKey))).data?.message.status === 'SENT', 10_000, 'SENT');
    expect(problems).toEqual([]);
  });

  it('edits a template with a live preview rendered by Herald for a chosen user and locale, unsaved', async () => {
    await nav('notifications', 'Notifications');
    await page.getByRole('link', { name: 'Bell' }).click();
    await page.getByRole('heading', { level: 1, name: 'Notification: Bell' }).waitFor();
    const title = page.getByTestId('editor-title-input');
    await title.waitFor({ timeout: 10_000 });
    const preview = page.getByTestId('preview-title');
    await expect.poll(() => preview.textContent(), { timeout: 10_000 }).toBe('Hello ');

    // For a chosen user, then in a chosen locale.
    await page.getByTestId('preview-user').fill('ada');
    await page.getByTestId('preview-user').press('Tab');
    await expect.poll(() => preview.textContent(), { timeout: 10_000 }).toBe('Hello Ada');
    await page.getByTestId('preview-locale').fill('fr');
    await page.getByTestId('preview-locale').press('Tab');
    await expect.poll(() => preview.textContent(), { timeout: 10_000 }).toBe('Bonjour Ada');
    await page.getByTestId('preview-locale').fill('');
    await page.getByTestId('preview-locale').press('Tab');
    await expect.poll(() => preview.textContent(), { timeout: 10_000 }).toBe('Hello Ada');

    // Typing changes the preview, unsaved.
    await title.click();
    await page.keyboard.press('Control+A');
    await page.keyboard.type('Welcome {{ firstName | upcase }}!');
    await expect.poll(() => preview.textContent(), { timeout: 10_000 }).toBe('Welcome ADA!');
    expect((await stored()).title).toBe('Hello {{ firstName }}');
    await axe('notification editor');
    expect(problems).toEqual([]);
  });

  it('refuses a syntax error at its line, in the preview and on save, and saves the template once fixed', async () => {
    const preview = page.getByTestId('preview-title');
    await expect.poll(() => preview.textContent(), { timeout: 10_000 }).toBe('Welcome ADA!');

    // A syntax error on the body's second line: shown at line 2, in the list and in the editor.
    const body = page.getByTestId('editor-body-input');
    await body.click();
    await page.keyboard.press('Control+A');
    await page.keyboard.type('First line\n{% if firstName %}never closed');
    await page.getByTestId('template-error').filter({ hasText: /Body \(en\), line 2, column 1/ }).waitFor({ timeout: 10_000 });
    await page.locator('[data-testid="editor-body"][data-error-line="2"]').waitFor();
    await page.locator('[data-testid="editor-body"] .cm-lintRange-error').waitFor();
    const marked = await page.locator('[data-testid="editor-body"] .cm-line').nth(1).locator('.cm-lintRange-error').count();
    expect(marked).toBeGreaterThan(0);
    // Save is refused by Herald too: nothing written.
    await page.getByTestId('save-version').click();
    await page.getByTestId('template-error').filter({ hasText: /line 2/ }).waitFor();
    await expect.poll(async () => (await stored()).body).toBe('Body {{ n }}');
    await axe('notification editor with an error');

    // Fixed: the error goes, the save is written.
    await body.click();
    await page.keyboard.press('Control+A');
    await page.keyboard.type('First line\n{% if firstName %}Hi {{ firstName }}{% endif %}');
    await expect.poll(() => page.getByTestId('preview-body').textContent(), { timeout: 10_000 }).toBe('First line\nHi Ada');
    expect(await page.getByTestId('template-error').count()).toBe(0);
    await page.getByTestId('save-version').click();
    await expect.poll(async () => (await stored()).title, { timeout: 10_000 }).toBe('Welcome {{ firstName | upcase }}!');
    expect((await stored()).body).toBe('First line\n{% if firstName %}Hi {{ firstName }}{% endif %}');
    expect(problems).toEqual([]);
  });

  it('shows a user with their inbox, and the providers page', async () => {
    // The page reads the inbox once when it opens: wait until both of ada's items are delivered.
    await pollFor(async () => {
      const r = await rest(h.url, 'POST', '/graphql', { query: '{ user(externalId: "ada") { unreadCount } }' }, bearer(h.project.apiKey));
      return r.body?.data?.user?.unreadCount === 2;
    }, 30_000, "ada's two inbox items");
    await nav('users', 'Users');
    await page.getByRole('link', { name: 'ada' }).click();
    await page.getByRole('heading', { level: 1, name: 'User: ada' }).waitFor();
    await expect.poll(() => page.getByTestId('user-unread').textContent()).toBe('(2 unread)');
    expect(await page.getByTestId('user-inbox').textContent()).toContain('Hello Ada');
    expect(await page.getByTestId('user-profile').textContent()).toContain(adaId);
    await axe('user');
    await nav('providers', 'Providers');
    await page.getByTestId('provider-row').filter({ hasText: 'receiver' }).waitFor();
    await axe('providers');
    expect(problems).toEqual([]);
  });

  it("follows a workflow run's steps live, and cancels runs by transactionId in two steps", async () => {
    const auth = bearer(h.project.apiKey);
    // Two triggers fill the digest (maxEvents 2): the first run waits in it, the second's join closes it.
    const digest = await gql(
      h.url,
      ConsoleTestNotification,
      {
        input: {
          key: 'digest',
          type: 'in-app',
          name: 'Digest',
          workflow: [{ kind: 'DIGEST', key: 'daily', windowSeconds: 3600, maxEvents: 2 }, { kind: 'CHANNEL', channel: 'IN_APP' }],
          versions: [{ contents: [{ locale: 'en', title: '{{ digest.count }} news' }] }],
        },
      },
      auth,
    );
    expect(digest.errors).toBeUndefined();
    const trigger = async (id: string) => {
      const res = await rest(h.url, 'POST', '/messages.send', { messages: [{ id, notificationId: 'digest', userId: 'grace', data: { n: id } }] }, auth);
      expect(res.body.results[0].ok).toBe(true);
      return pollFor(async () => (await gql(h.url, ConsoleTestRuns, { transactionId: id }, auth)).data?.workflowRuns.edges[0]?.node, 10_000, `the run of ${id}`);
    };
    const run = await trigger('wf-1');
    await pollFor(async () => (await gql(h.url, ConsoleTestRuns, { transactionId: 'wf-1' }, auth)).data?.workflowRuns.edges[0]?.node.status === 'WAITING', 10_000, 'the run to wait in its digest');

    await nav('workflows', 'Workflow runs');
    await page.locator(`[data-testid="run-row"][data-id="${run.id}"][data-status="WAITING"]`).waitFor({ timeout: 10_000 });
    await page.getByTestId('run-filter-transaction').fill('wf-1');
    await page.getByTestId('run-filter-apply').click();
    await expect.poll(() => page.getByTestId('run-row').count()).toBe(1);
    await axe('workflow runs');

    await page.locator(`[data-testid="run-row"][data-id="${run.id}"]`).getByRole('link', { name: /^Run / }).click();
    await page.getByRole('heading', { level: 1, name: /^Workflow run/ }).waitFor();
    const step = (index: number) => page.locator(`[data-testid="step-row"][data-index="${index}"]`);
    await page.locator('[data-testid="step-row"][data-index="0"][data-status="WAITING"]').waitFor({ timeout: 10_000 });
    expect(await step(0).getByTestId('step-digest').textContent()).toBe('1 event, open');
    expect(await step(0).textContent()).toContain('opened digest');
    expect(await step(1).getAttribute('data-status')).toBe('PENDING');
    await axe('workflow run');

    // The second trigger closes the digest: the open page follows over the subscription, no reload.
    await page.evaluate(() => Object.assign(window, { heraldSameRunPage: true }));
    await trigger('wf-2');
    await page.locator('[data-testid="run-facts"][data-status="COMPLETED"]').waitFor({ timeout: 10_000 });
    await page.locator('[data-testid="step-row"][data-index="1"][data-status="DONE"]').waitFor({ timeout: 10_000 });
    expect(await step(0).getAttribute('data-status')).toBe('DONE');
    expect(await step(0).getByTestId('step-digest').textContent()).toBe('2 events, closed');
    expect(await step(1).getByTestId('step-message').textContent()).toMatch(/^IN_APP /);
    expect(Number(await page.getByTestId('run-live').getAttribute('data-events'))).toBeGreaterThan(0);
    expect(await page.evaluate(() => (window as unknown as { heraldSameRunPage?: boolean }).heraldSameRunPage)).toBe(true);
    // The run's notification shows its workflow, read-only.
    await page.getByTestId('run-facts').getByRole('link', { name: String(digest.data!.createNotification.id), exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Notification: Digest' }).waitFor();
    expect(await page.getByTestId('notification-workflow').locator('li').allTextContents()).toEqual(['DIGEST: key daily, window 3600 s, at most 2 events', 'CHANNEL: IN_APP']);

    // A third trigger opens a new digest; cancel its run by transactionId from the list, confirming.
    const waiting = await trigger('wf-3');
    await pollFor(async () => (await gql(h.url, ConsoleTestRuns, { transactionId: 'wf-3' }, auth)).data?.workflowRuns.edges[0]?.node.status === 'WAITING', 10_000, 'the third run to wait');
    await nav('workflows', 'Workflow runs');
    await page.locator(`[data-testid="run-row"][data-id="${waiting.id}"][data-status="WAITING"]`).waitFor({ timeout: 10_000 });
    await page.getByTestId('cancel-transaction').fill('wf-3');
    await page.getByTestId('cancel-runs').click();
    // The first step only asks.
    await page.getByTestId('confirm-cancel-runs').waitFor();
    expect((await gql(h.url, ConsoleTestRuns, { transactionId: 'wf-3' }, auth)).data!.workflowRuns.edges[0]!.node.status).toBe('WAITING');
    await page.getByTestId('confirm-cancel-runs').click();
    await page.getByTestId('cancel-runs-result').filter({ hasText: '1 unfinished run of wf-3 canceled' }).waitFor();
    await page.locator(`[data-testid="run-row"][data-id="${waiting.id}"][data-status="CANCELED"]`).waitFor({ timeout: 10_000 });
    expect((await gql(h.url, ConsoleTestRuns, { transactionId: 'wf-3' }, auth)).data!.workflowRuns.edges[0]!.node.status).toBe('CANCELED');
    expect(problems).toEqual([]);
  });

  it("shows topics and a topic's subscribers, subscribes and unsubscribes, and follows a broadcast's progress live until canceled", async () => {
    const auth = bearer(h.project.apiKey);
    const fans = Array.from({ length: 100 }, (_, i) => `fan-${String(i).padStart(3, '0')}`);
    expect((await gql(h.url, ConsoleTestUsers, { users: fans.map((externalId) => ({ externalId })) }, auth)).errors).toBeUndefined();
    const topic = await gql(h.url, ConsoleTestTopic, { key: 'fans', userIds: fans }, auth);
    expect(topic.data?.addTopicSubscribers.count).toBe(100);
    const subscribers = async () => (await gql(h.url, ConsoleTestSubscribers, { key: 'fans' }, auth)).data!.topic.subscriberCount;

    await nav('audiences', 'Topics & broadcasts');
    const row = page.locator('[data-testid="topic-row"][data-key="fans"]');
    await row.waitFor({ timeout: 10_000 });
    expect(await row.getByTestId('topic-count').textContent()).toBe('100');
    await axe('topics and broadcasts');

    await row.getByRole('link', { name: 'fans' }).click();
    await page.getByRole('heading', { level: 1, name: 'Topic: fans' }).waitFor();
    await expect.poll(() => page.getByTestId('subscriber-total').textContent()).toBe('(100)');
    const shown = () => page.getByTestId('subscriber-row').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.id));
    await expect.poll(shown).toEqual(fans.slice(0, 20));
    await page.getByTestId('subscribers-next').click();
    await expect.poll(shown).toEqual(fans.slice(20, 40));
    await page.getByRole('button', { name: 'Previous page' }).click();
    await expect.poll(shown).toEqual(fans.slice(0, 20));

    // Subscribe by externalId, then unsubscribe from the row.
    await page.getByTestId('subscriber-ids').fill('ada, fan-000');
    await page.getByTestId('subscribe').click();
    await page.getByTestId('subscribers-status').filter({ hasText: '1 subscribed (1 already were)' }).waitFor();
    await expect.poll(() => page.getByTestId('subscriber-total').textContent()).toBe('(101)');
    expect(await subscribers()).toBe(101);
    // ada is older than the fans: first in Herald id order.
    await page.getByRole('button', { name: 'Unsubscribe ada' }).click();
    await page.getByTestId('subscribers-status').filter({ hasText: '1 unsubscribed' }).waitFor();
    await expect.poll(() => page.getByTestId('subscriber-total').textContent()).toBe('(100)');
    expect(await subscribers()).toBe(100);
    // An unknown id refuses the call, naming it; nothing is written.
    await page.getByTestId('subscriber-ids').fill('nobody-here');
    await page.getByTestId('subscribe').click();
    await page.getByTestId('error').filter({ hasText: 'nobody-here' }).waitFor();
    expect(await subscribers()).toBe(100);
    await axe('topic');

    // A broadcast to the topic: 20 chunks of 5 with a pause, followed live on the page.
    const sent = await gql(h.url, ConsoleTestSendToTopic, { key: 'fans', transactionId: 'fans-1' }, auth);
    expect(sent.errors).toBeUndefined();
    const id = sent.data!.sendToTopic.id;
    await page.evaluate(() => Object.assign(window, { heraldSameTopicPage: true }));
    await page.getByTestId('broadcasts-refresh').click();
    const broadcast = page.locator(`[data-testid="broadcast-row"][data-id="${id}"]`);
    await broadcast.waitFor({ timeout: 10_000 });
    const first = Number(await broadcast.getAttribute('data-processed'));
    await expect.poll(async () => Number(await broadcast.getAttribute('data-processed')), { timeout: 10_000 }).toBeGreaterThan(first);
    expect(await broadcast.getByTestId('broadcast-progress').textContent()).toMatch(/^\d+ \/ 100$/);
    expect(await page.evaluate(() => (window as unknown as { heraldSameTopicPage?: boolean }).heraldSameTopicPage)).toBe(true);

    await broadcast.getByTestId('cancel-broadcast').click();
    await broadcast.getByTestId('confirm-cancel-broadcast').click();
    await page.locator(`[data-testid="broadcast-row"][data-id="${id}"][data-status="CANCELED"]`).waitFor({ timeout: 10_000 });
    const stopped = (await gql(h.url, ConsoleTestBroadcast, { id }, auth)).data!.broadcast;
    expect(stopped.status).toBe('CANCELED');
    expect(stopped.processed).toBeLessThan(100);
    expect(problems).toEqual([]);
  });

  it('creates a key, shows it once, and revokes it', async () => {
    await nav('keys', 'Keys');
    await page.getByLabel('Name').fill('ci-key');
    await page.getByLabel('Name').press('Enter');
    const secret = await page.getByTestId('created-secret').inputValue();
    // The new key has the focus, ready to copy.
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('created-secret');
    expect(secret).toMatch(/^[^.]+\.[^.]+$/);
    expect((await gql(h.url, ConsoleTestProject, {}, bearer(secret))).data?.project.id).toBe(h.project.projectId);
    await axe('keys');
    const keyId = secret.split('.')[0]!;
    const row = page.locator(`[data-testid="key-row"][data-id="${keyId}"]`);
    await row.getByTestId('revoke-key').click();
    await row.getByTestId('confirm-revoke').click();
    await page.locator(`[data-testid="key-row"][data-id="${keyId}"][data-active="false"]`).waitFor();
    const refused = await gql(h.url, ConsoleTestProject, {}, bearer(secret));
    expect(refused.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    // The console's own key still works.
    await page.locator('[data-testid="live-state"][data-state="live"]').waitFor();
    expect(problems).toEqual([]);
  });
});
