/**
 * How fast Herald refuses the query bombs and bad inputs of the hardening audit.
 *
 *   npx tsx bench/query-bombs.ts
 *
 * Starts Herald in this process on a fresh PostgreSQL database (the test harness: real Redis),
 * seeds 200 messages so that list queries have rows to read, then sends each attack
 * BENCH_REPEAT times (default 20) while a side loop polls /healthz, and prints per attack the
 * status and code, the answer time (p50 / max), the process RSS after it, and /healthz p50 / max
 * during the whole run. Bounded in count and in time.
 */
import { performance } from 'node:perf_hooks';
import { bearer, startTestHerald } from '../test/helpers/herald.ts';
import { percentile } from './stats.ts';

const REPEAT = Number(process.env.BENCH_REPEAT ?? 20);
const aliases = (n: number, field: string) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ')} }`;
const deepJson = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;

const ATTACKS: { name: string; path: string; body: string }[] = [
  { name: '1,000 aliases of messages(first: 100)', path: '/graphql', body: JSON.stringify({ query: aliases(1000, 'messages(first: 100) { edges { node { id } } }') }) },
  { name: '4,000 aliases of messages(first: 100)', path: '/graphql', body: JSON.stringify({ query: aliases(4000, 'messages(first: 100) { edges { node { id } } }') }) },
  { name: '31 aliases of project { id }', path: '/graphql', body: JSON.stringify({ query: aliases(31, 'project { id }') }) },
  { name: '30 aliases of messages(first: 200) (cost)', path: '/graphql', body: JSON.stringify({ query: aliases(30, 'messages(first: 200) { edges { node { id status } } }') }) },
  { name: 'selection sets 100k deep', path: '/graphql', body: JSON.stringify({ query: `{ ${'a { '.repeat(100_000)}b${' }'.repeat(100_000)} }` }) },
  { name: 'inline fragments 20k deep', path: '/graphql', body: JSON.stringify({ query: `{ ${'... on Query { '.repeat(20_000)}__typename${' }'.repeat(20_000)} }` }) },
  { name: 'list literal 50k deep', path: '/graphql', body: JSON.stringify({ query: `{ user(externalId: ${'['.repeat(50_000)}${']'.repeat(50_000)}) { id } }` }) },
  { name: 'messages.send data 100k deep', path: '/messages.send', body: `{"messages":[{"notificationId":"n","userId":"u1","data":${deepJson(100_000)}}]}` },
  { name: 'users.upsert with a NUL', path: '/users.upsert', body: JSON.stringify({ users: [{ id: 'u1', email: 'a\u0000@example.com' }] }) },
  { name: 'ordinary messages(first: 100) query', path: '/graphql', body: JSON.stringify({ query: '{ messages(first: 100) { edges { node { id status } } } }' }) },
];

async function main() {
  const h = await startTestHerald();
  const headers = { 'content-type': 'application/json', ...bearer(h.project.apiKey) };
  try {
    // Rows for the list queries: 200 in-app messages.
    await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ query: 'mutation { createNotification(input: { key: "bench", name: "Bench", type: "in-app", active: true, defaultLanguage: "en", versions: [{ label: "v1", master: true, contents: [{ locale: "en", title: "Hi", body: "Hello" }] }] }) { id } }' }),
    });
    for (let i = 0; i < 4; i++) {
      await fetch(`${h.url}/messages.send`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ messages: Array.from({ length: 50 }, (_, j) => ({ notificationId: 'bench', userId: `u${i * 50 + j}` })) }),
      });
    }

    const health: number[] = [];
    let running = true;
    const poller = (async () => {
      while (running) {
        const start = performance.now();
        await fetch(`${h.url}/healthz`);
        health.push(performance.now() - start);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();

    console.log(`${'attack'.padEnd(44)} ${'answer'.padEnd(28)} ${'p50 ms'.padStart(8)} ${'max ms'.padStart(8)} ${'RSS MiB'.padStart(8)}`);
    for (const attack of ATTACKS) {
      const times: number[] = [];
      let answer = '';
      for (let i = 0; i < REPEAT; i++) {
        const start = performance.now();
        const response = await fetch(`${h.url}${attack.path}`, { method: 'POST', headers, body: attack.body, signal: AbortSignal.timeout(30_000) });
        const text = await response.text();
        times.push(performance.now() - start);
        const code = /"code":"([A-Z_]+)"/.exec(text)?.[1] ?? /"error":"([a-z_]+)"/.exec(text)?.[1] ?? 'ok';
        answer = `${response.status} ${code} (${text.length} B)`;
      }
      times.sort((a, b) => a - b);
      const rss = process.memoryUsage().rss / 2 ** 20;
      console.log(`${attack.name.padEnd(44)} ${answer.padEnd(28)} ${percentile(times, 50).toFixed(1).padStart(8)} ${times.at(-1)!.toFixed(1).padStart(8)} ${rss.toFixed(0).padStart(8)}`);
    }
    running = false;
    await poller;
    health.sort((a, b) => a - b);
    console.log(`/healthz during the run: p50 ${percentile(health, 50).toFixed(1)} ms, p99 ${percentile(health, 99).toFixed(1)} ms, max ${health.at(-1)!.toFixed(1)} ms (${health.length} polls)`);
  } finally {
    await h.stop();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
