/**
 * Latency from a REST send to the demo widget showing it, in headless Chromium.
 *
 *   npx tsx bench/widget-latency.ts
 *
 * Starts Herald in this process on a fresh PostgreSQL database (the test harness: real Redis and
 * the real delivery pipeline), opens /widget/demo for one user in Debian's Chromium
 * (/usr/bin/chromium), then sends one in-app message at a time with POST /messages.send. A
 * MutationObserver in the page stamps the moment each new item's row enters the DOM; the figure
 * is that stamp minus the moment the send's HTTP response arrived (and, for reference, minus the
 * moment the request started). Both stamps are wall-clock (performance.timeOrigin + now()) of
 * processes on this machine. Bounded in count and in time.
 * Knobs (optional): BENCH_SENDS (20), BENCH_WARMUP (2), BENCH_PAUSE_MS (100, between sends).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { graphql } from '../src/generated/gql/index.ts';
import { userHash } from '../src/modules/projects/credentials.ts';
import { bearer, gql, startTestHerald } from '../test/helpers/herald.ts';
import { intEnv, percentile } from './stats.ts';

const SENDS = intEnv('BENCH_SENDS', 20, 1, 500);
const WARMUP = intEnv('BENCH_WARMUP', 2, 0, 50);
const PAUSE_MS = intEnv('BENCH_PAUSE_MS', 100, 0, 10_000);
const ITEM_TIMEOUT_MS = 15_000;
const RUN_TIMEOUT_MS = 180_000;
const CHROMIUM = '/usr/bin/chromium';
/** The same flags as test/widget.test.ts. */
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const BenchNotification = graphql(`
  mutation BenchWidgetNotification($input: NotificationInput!) {
    createNotification(input: $input) {
      id
    }
  }
`);

const wallClock = () => performance.timeOrigin + performance.now();

/** Stamps each new row by its title, in the page's own clock, as it is inserted. */
function observeRows(): void {
  const seen: Record<string, number> = {};
  Object.assign(window, { heraldSeen: seen });
  const list = document.querySelector('[data-testid="inbox-list"]')!;
  new MutationObserver((records) => {
    const at = performance.timeOrigin + performance.now();
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (!(node instanceof HTMLElement) || node.dataset.testid !== 'inbox-item') continue;
        const title = node.querySelector('[data-testid="item-title"]')?.textContent;
        if (title && !(title in seen)) seen[title] = at;
      }
    }
  }).observe(list, { childList: true });
}

async function shownAt(page: Page, title: string): Promise<number> {
  const deadline = Date.now() + ITEM_TIMEOUT_MS;
  for (;;) {
    const at = await page.evaluate((t) => (window as unknown as { heraldSeen: Record<string, number> }).heraldSeen[t], title);
    if (at !== undefined) return at;
    if (Date.now() > deadline) throw new Error(`"${title}" did not appear within ${ITEM_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function main(): Promise<number> {
  const h = await startTestHerald();
  const userDataDir = await mkdtemp(join(tmpdir(), 'herald-bench-chromium-'));
  let context: BrowserContext | undefined;
  const runTimer = setTimeout(() => {
    console.error(`bench: still running after ${RUN_TIMEOUT_MS} ms, giving up`);
    process.exit(1);
  }, RUN_TIMEOUT_MS);
  try {
    const auth = bearer(h.project.apiKey);
    const created = await gql(
      h.url,
      BenchNotification,
      { input: { key: 'bell', type: 'in-app', name: 'Bell', versions: [{ contents: [{ locale: 'en', title: 'Ping {{ n }}', body: 'b' }] }] } },
      auth,
    );
    if (created.errors) throw new Error(`createNotification: ${JSON.stringify(created.errors)}`);

    context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    const page = await context.newPage();
    const userId = 'bench-user';
    await page.goto(`${h.url}/widget/demo?${new URLSearchParams({ projectId: h.project.projectId, userId, userHash: userHash(h.project.widgetSecret, userId) })}`);
    await page.locator('[data-testid="status"][data-state="live"][data-synced="true"]').waitFor({ timeout: 10_000 });
    await page.evaluate(observeRows);

    const fromResponse: number[] = [];
    const fromRequest: number[] = [];
    const headers = { 'content-type': 'application/json', ...auth };
    for (let n = 1; n <= WARMUP + SENDS; n++) {
      const requested = wallClock();
      const response = await fetch(`${h.url}/messages.send`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ messages: [{ notificationId: 'bell', userId, data: { n } }] }),
      });
      const answered = wallClock();
      const answer = (await response.json()) as { results?: { ok: boolean }[] };
      if (response.status !== 200 || !answer.results?.[0]?.ok) throw new Error(`send ${n}: HTTP ${response.status} ${JSON.stringify(answer)}`);
      const shown = await shownAt(page, `Ping ${n}`);
      if (n > WARMUP) {
        fromResponse.push(shown - answered);
        fromRequest.push(shown - requested);
      }
      if (PAUSE_MS) await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
    }

    const ms = (v: number) => `${v.toFixed(1)} ms`;
    const line = (label: string, values: number[]) => {
      const sorted = [...values].sort((a, b) => a - b);
      return `  ${label}  p50 ${ms(percentile(sorted, 50))}  p95 ${ms(percentile(sorted, 95))}  min ${ms(sorted[0]!)}  max ${ms(sorted.at(-1)!)}`;
    };
    console.log(`widget latency: ${SENDS} sends (+${WARMUP} warm-up), one at a time, ${PAUSE_MS} ms apart; Chromium ${context.browser()?.version() ?? ''}, ${cpus().length} CPUs`);
    console.log(line('REST response -> row in DOM', fromResponse));
    console.log(line('REST request  -> row in DOM', fromRequest));
    return 0;
  } finally {
    clearTimeout(runTimer);
    await context?.close();
    await rm(userDataDir, { recursive: true, force: true });
    await h.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
