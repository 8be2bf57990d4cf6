import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRAPHIQL_ASSETS_PACKAGE, GRAPHIQL_ASSETS_PATH, GRAPHIQL_ASSETS_VERSION } from '../src/server/graphiql.ts';
import { startTestHerald, type TestHerald } from './helpers/herald.ts';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const onCi = process.env.CI === 'true';
const hasAssets = (() => {
  try {
    createRequire(import.meta.url).resolve(`${GRAPHIQL_ASSETS_PACKAGE}/package.json`);
    return true;
  } catch {
    return false;
  }
})();
if (!hasAssets && !onCi) console.warn(`test/graphiql.test.ts: ${GRAPHIQL_ASSETS_PACKAGE} is not installed, skipping (CI fails instead)`);
if (!hasChromium && !onCi) console.warn(`test/graphiql.test.ts: no ${CHROMIUM}, skipping the browser test (CI fails instead)`);

let h: TestHerald;
beforeAll(async () => {
  h = await startTestHerald();
});
afterAll(async () => {
  await h?.stop();
});

describe.skipIf(!hasAssets && !onCi)('GraphiQL served from this server', () => {
  it('pins the installed version of the assets package in its URLs', () => {
    const installed = createRequire(import.meta.url)(`${GRAPHIQL_ASSETS_PACKAGE}/package.json`) as { version: string };
    expect(installed.version).toBe(GRAPHIQL_ASSETS_VERSION);
  });

  it('links only to local assets, each served with its type and cached for good', async () => {
    const page = await fetch(`${h.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<title>Herald</title>');
    const links = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThanOrEqual(5);
    expect(links.filter((link) => !link.startsWith(GRAPHIQL_ASSETS_PATH))).toEqual([]);
    expect(html).not.toMatch(/unpkg|https?:\/\//);
    for (const link of [...links, `${GRAPHIQL_ASSETS_PATH}editor.worker.js`, `${GRAPHIQL_ASSETS_PATH}json.worker.js`, `${GRAPHIQL_ASSETS_PATH}graphql.worker.js`]) {
      const asset = await fetch(`${h.url}${link}`);
      expect(asset.status, link).toBe(200);
      expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(asset.headers.get('content-type'), link).toMatch(/^(text\/javascript|text\/css|image\/)/);
      expect((await asset.arrayBuffer()).byteLength, link).toBeGreaterThan(100);
    }
  });

  it('answers 404 for unknown assets and other versions, 405 for other methods', async () => {
    expect((await fetch(`${h.url}${GRAPHIQL_ASSETS_PATH}nope.js`)).status).toBe(404);
    expect((await fetch(`${h.url}${GRAPHIQL_ASSETS_PATH}constructor`)).status).toBe(404);
    expect((await fetch(`${h.url}/graphiql/0.0.1/yoga-graphiql.js`)).status).toBe(404);
    expect((await fetch(`${h.url}${GRAPHIQL_ASSETS_PATH}graphiql.css`, { method: 'POST' })).status).toBe(405);
  });

  describe.skipIf(!hasChromium && !onCi)('in headless Chromium with no network but this server', () => {
    let context: BrowserContext;
    let userDataDir: string;

    beforeAll(async () => {
      if (!hasChromium) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (.ci/run does it)`);
      userDataDir = await mkdtemp(join(tmpdir(), 'herald-graphiql-'));
      context = await chromium.launchPersistentContext(userDataDir, {
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          // Every address but 127.0.0.1 (Herald) goes through a proxy that refuses connections: offline.
          '--proxy-server=http://127.0.0.1:9',
          '--proxy-bypass-list=127.0.0.1',
        ],
      });
    });
    afterAll(async () => {
      await context?.close();
      if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
    });

    it('renders the editor and runs a query', async () => {
      const elsewhere: string[] = [];
      const problems: string[] = [];
      const origin = new URL(h.url).origin;
      // Belt and braces: anything not for Herald is refused here too, and recorded.
      await context.route('**/*', (route) => {
        const url = route.request().url();
        if (url.startsWith(origin) || url.startsWith('blob:') || url.startsWith('data:')) return route.continue();
        elsewhere.push(url);
        return route.abort('internetdisconnected');
      });
      const page = await context.newPage();
      page.on('pageerror', (error) => problems.push(error.message));
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(message.text());
      });
      await page.goto(`${h.url}/graphql`);
      const editor = page.locator('.graphiql-query-editor .monaco-editor');
      await editor.waitFor({ timeout: 30_000 });
      // Focus and keys rather than clicks: a click waits for the element to be "stable", which a
      // loaded machine's animations can delay past any timeout.
      await editor.locator('textarea').first().focus();
      await page.keyboard.press('ControlOrMeta+A');
      // The editor closes the brace itself.
      await page.keyboard.insertText('{ __typename ');
      await page.keyboard.press('ControlOrMeta+Enter');
      await page.locator('.graphiql-response').getByText('"Query"').waitFor({ timeout: 15_000 });
      const screenshot = join(userDataDir, 'graphiql.png');
      await page.screenshot({ path: screenshot });
      expect((await stat(screenshot)).size).toBeGreaterThan(10_000);
      expect(elsewhere).toEqual([]);
      expect(problems).toEqual([]);
    }, 60_000);
  });
});
