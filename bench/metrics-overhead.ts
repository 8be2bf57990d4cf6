/**
 * What the metrics plugin costs per request and what a scrape costs: the same tiny GraphQL
 * query through yoga.fetch (no socket, no database) with and without useMetrics, in
 * alternating rounds so machine load hits both alike; then /metrics scrapes.
 *
 *   npx tsx bench/metrics-overhead.ts --requests=2000 --rounds=5
 */
import { createSchema, createYoga } from 'graphql-yoga';
import { HeraldMetrics } from '../src/server/metrics.ts';
import { useMetrics } from '../src/server/use-metrics.ts';
import { cpus, loadavg } from 'node:os';

const arg = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const requests = arg('requests', 2000);
const rounds = arg('rounds', 5);

const schema = createSchema({ typeDefs: 'type Query { hello: String! }', resolvers: { Query: { hello: () => 'world' } } });
const metrics = new HeraldMetrics();
const plain = createYoga({ schema, logging: false });
const measured = createYoga({ schema, logging: false, plugins: [useMetrics({ metrics, routes: [] })] });
const body = JSON.stringify({ query: 'query Bench { hello }' });

async function run(yoga: typeof plain, n: number): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const response = await yoga.fetch('http://bench/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    await response.text();
  }
  return ((performance.now() - start) * 1000) / n;
}

await run(plain, 200);
await run(measured, 200);
const without: number[] = [];
const withMetrics: number[] = [];
for (let r = 0; r < rounds; r++) {
  without.push(await run(plain, requests));
  withMetrics.push(await run(measured, requests));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${cpus().length} cores`);
console.log(`per request, median of ${rounds} rounds of ${requests}: without metrics ${median(without).toFixed(1)} µs, with ${median(withMetrics).toFixed(1)} µs (+${(median(withMetrics) - median(without)).toFixed(1)} µs)`);

const scrapes: number[] = [];
for (let i = 0; i < 200; i++) {
  const start = performance.now();
  await (await measured.fetch('http://bench/metrics')).text();
  scrapes.push(performance.now() - start);
}
scrapes.sort((a, b) => a - b);
console.log(`scrape (default metrics + histograms, no queue): p50 ${scrapes[100]!.toFixed(2)} ms, p99 ${scrapes[198]!.toFixed(2)} ms`);
