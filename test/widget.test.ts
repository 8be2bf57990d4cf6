import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSchema, createYoga } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useWidgetDemo, WIDGET_BUILD_DIR, WIDGET_PAGE_FILE } from '../src/widget/use-widget-demo.ts';
import { startTestHerald, type TestHerald } from './helpers/herald.ts';

let h: TestHerald;

beforeAll(async () => {
  h = await startTestHerald();
});
afterAll(async () => {
  await h?.stop();
});

describe('serving /widget/demo', () => {
  it('has a bundle built from the current widget sources', async () => {
    const built = await stat(join(WIDGET_BUILD_DIR, WIDGET_PAGE_FILE)).catch(() => null);
    expect(built, 'no widget bundle: run `npm run build:widget`').not.toBeNull();
    const folders = ['../src/widget/demo/', '../src/widget/inbox/'].map((f) => new URL(f, import.meta.url));
    const listed = await Promise.all(folders.map(async (folder) => (await readdir(folder)).map((f) => new URL(f, folder))));
    const sources = [...listed.flat(), new URL('../scripts/build-widget.ts', import.meta.url), new URL('../scripts/typed-documents.ts', import.meta.url)];
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
    // The page is an app page using the component: its element bundle, and its own script and style.
    expect(html).toContain('<script type="module" src="/widget/herald-inbox.js"></script>');
    expect(html).toContain('<herald-inbox id="inbox"');
    const script = /<script type="module" src="(\/widget\/assets\/demo-[A-Z0-9]+\.js)">/.exec(html)?.[1];
    const style = /<link rel="stylesheet" href="(\/widget\/assets\/demo-style-[A-Z0-9]+\.css)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    expect(style).toBeDefined();
    const js = await fetch(`${h.url}${script}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    // The page's own script only hands the address's credentials to the element.
    expect(await js.text()).toContain('user-hash');
    const css = await fetch(`${h.url}${style}`);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
  });

  it('refuses other methods, unknown and climbing asset names', async () => {
    expect((await fetch(`${h.url}/widget/demo`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${h.url}/widget/assets/demo-NOPE.js`)).status).toBe(404);
    expect((await fetch(`${h.url}/widget/herald-inbox-NOPE.js`)).status).toBe(404);
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
      for (const path of ['/widget/demo', '/widget/herald-inbox.js', '/widget/herald-inbox-react.js']) {
        const res = await yoga.fetch(`http://localhost${path}`);
        expect(res.status, path).toBe(503);
        expect(await res.text()).toContain('npm run build:widget');
      }
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

// The browser tests of the page's <herald-inbox> are in test/inbox-component.test.ts.
