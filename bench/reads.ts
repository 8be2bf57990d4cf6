/**
 * Reads (issue 9): GraphQL `users(first: 20)` with the operator's API key and the end user's
 * `inbox(first: 20)` with widget credentials (X-Herald-Project/-User/-User-Hash, as the widget's
 * HTTP calls send them), req/s at c=8, beside bare yoga's `{ hello }` (baseline-yoga.mjs) in the
 * same run; Herald's own `{ __typename }` (operator key) shows what the HTTP + yoga stack costs
 * before any data access. Each target in turn for --duration seconds after a 1 s warm-up; Herald
 * runs as the default server does (workers in the process), seeded with 1,000 users and 8 end users
 * with 50 delivered in-app items each (each client reads its own user's inbox).
 *
 *   npx tsx bench/reads.ts [--runs=3] [--duration=5] [--concurrency=8] [--only=users,inbox]
 *
 * --only: just these Herald targets (no baseline, no ratio), e.g. under HERALD_NODE_FLAGS="--cpu-prof
 * --cpu-prof-dir=DIR" for a profile of one read path.
 */
import http from 'node:http';
import pg from 'pg';
import { userHash } from '../src/modules/projects/credentials.ts';
import { hammer, intFlag, loadavg, median, parseFlags, printResult, request, sleep, startHerald, startYoga, upsertUsers, type HeraldProc, type LoadFigures } from './kit.ts';

const USAGE = 'npx tsx bench/reads.ts [--runs=3] [--duration=5] [--concurrency=8] [--only=users,inbox,typename]';
const flags = parseFlags(['runs', 'duration', 'concurrency', 'only'], USAGE);
const ONLY = flags.get('only')?.split(',');
const RUNS = intFlag(flags, 'runs', 3, 1, 9);
const DURATION_S = intFlag(flags, 'duration', 5, 1, 60);
const C = intFlag(flags, 'concurrency', 8, 1, 64);
const READERS = 8;
const ITEMS = 50;

const USERS_QUERY = JSON.stringify({ query: '{ users(first: 20) { edges { cursor node { id externalId email firstName lastName createdAt } } pageInfo { hasNextPage endCursor } } }' });
const INBOX_QUERY = JSON.stringify({ query: '{ inbox(first: 20) { edges { cursor node { id title body readAt seenAt createdAt } } pageInfo { hasNextPage endCursor } } }' });
const TYPENAME_QUERY = JSON.stringify({ query: '{ __typename }' });
const HELLO_QUERY = JSON.stringify({ query: '{ hello }' });

/** A GraphQL POST that must answer 200 with data and no errors (and, for lists, 20 edges). */
function graphql(agent: http.Agent, url: string, headers: Record<string, string>, body: string, edges?: 'users' | 'inbox') {
  return async (): Promise<number | string> => {
    const answer = await request(agent, `${url}/graphql`, { 'content-type': 'application/json', ...headers }, body);
    if (answer.status !== 200) return `HTTP ${answer.status} ${answer.body.slice(0, 200)}`;
    const parsed = JSON.parse(answer.body) as { data?: Record<string, { edges?: unknown[] }>; errors?: unknown[] };
    if (parsed.errors) return JSON.stringify(parsed.errors).slice(0, 200);
    if (edges && parsed.data?.[edges]?.edges?.length !== 20) return `${edges}: ${parsed.data?.[edges]?.edges?.length} edges`;
    return 1;
  };
}

const SKIPPED: LoadFigures = { perSecond: Number.NaN, ok: 0, p50: Number.NaN, p99: Number.NaN, failures: [] };
async function measure(what: string, call: (client: number) => Promise<number | string>, failures: string[]): Promise<LoadFigures> {
  if (ONLY && !ONLY.some((target) => what.includes(target))) return SKIPPED;
  await hammer(C, 1, call);
  const figures = await hammer(C, DURATION_S, call);
  for (const failure of figures.failures.slice(0, 3)) failures.push(`${what}: ${failure}`);
  return figures;
}

async function seed(h: HeraldProc): Promise<string[]> {
  await upsertUsers(h, Array.from({ length: 1000 }, (_, i) => `reads-${i}`), (id) => ({ email: `${id}@example.com`, firstName: 'Read', lastName: id }));
  const readers = Array.from({ length: READERS }, (_, i) => `reads-${i}`);
  for (let round = 0; round < ITEMS; round++) {
    const answer = (await h.post('/messages.send', { messages: readers.map((userId) => ({ notificationId: 'bench', userId, data: { count: round } })) })) as { results: { ok: boolean }[] };
    if (!answer.results.every((r) => r.ok)) throw new Error(`seed send refused: ${JSON.stringify(answer.results.find((r) => !r.ok))}`);
  }
  const db = new pg.Client({ connectionString: h.info.databaseUrl });
  await db.connect();
  try {
    for (let i = 0; ; i++) {
      const { rows } = await db.query('SELECT count(*)::int AS n FROM "InboxItem"');
      if (rows[0].n >= READERS * ITEMS) break;
      if (i > 1200) throw new Error(`only ${rows[0].n}/${READERS * ITEMS} inbox items after 60 s`);
      await sleep(50);
    }
  } finally {
    await db.end();
  }
  return readers;
}

interface RunFigures {
  users: number;
  inbox: number;
  typename: number;
  hello: number;
  p99: Record<string, number>;
  load: string;
}

async function run(index: number, failures: string[]): Promise<RunFigures> {
  const load0 = loadavg();
  const agent = new http.Agent({ keepAlive: true, maxSockets: C });
  const h = await startHerald(true);
  try {
    const readers = await seed(h);
    const yoga = await startYoga('reads-secret');
    let hello: LoadFigures;
    try {
      hello = await measure('yoga { hello }', graphql(agent, yoga.url, {}, HELLO_QUERY), failures);
    } finally {
      await yoga.stop();
    }
    const operator = { authorization: `Bearer ${h.info.apiKey}` };
    const typename = await measure('herald typename', graphql(agent, h.info.url, operator, TYPENAME_QUERY), failures);
    const users = await measure('herald users(first: 20)', graphql(agent, h.info.url, operator, USERS_QUERY, 'users'), failures);
    const widgets = readers.map((user) => ({ 'x-herald-project': h.info.projectId, 'x-herald-user': user, 'x-herald-user-hash': userHash(h.info.widgetSecret, user) }));
    const inboxCalls = widgets.map((headers) => graphql(agent, h.info.url, headers, INBOX_QUERY, 'inbox'));
    const inbox = await measure('herald inbox(first: 20)', (client) => inboxCalls[client % READERS]!(), failures);
    const figures = { users: users.perSecond, inbox: inbox.perSecond, typename: typename.perSecond, hello: hello.perSecond, p99: { users: users.p99, inbox: inbox.p99, typename: typename.p99, hello: hello.p99 }, load: `${load0} -> ${loadavg()}` };
    console.log(
      `run ${index}: load ${figures.load} | req/s at c=${C}: users(first: 20) ${users.perSecond.toFixed(0)} (p99 ${users.p99.toFixed(1)} ms), inbox(first: 20) ${inbox.perSecond.toFixed(0)} (p99 ${inbox.p99.toFixed(1)} ms), ` +
        `herald { __typename } ${typename.perSecond.toFixed(0)}, yoga { hello } ${hello.perSecond.toFixed(0)} (p99 ${hello.p99.toFixed(1)} ms) | ratios ${(users.perSecond / hello.perSecond).toFixed(2)} / ${(inbox.perSecond / hello.perSecond).toFixed(2)} / ${(typename.perSecond / hello.perSecond).toFixed(2)}`,
    );
    return figures;
  } finally {
    agent.destroy();
    await h.stop();
  }
}

console.log(`reads: ${RUNS} runs, ${DURATION_S} s per target at c=${C}; load average ${loadavg()}`);
const failures: string[] = [];
const runs: RunFigures[] = [];
for (let i = 1; i <= RUNS; i++) runs.push(await run(i, failures));
const ratio = (k: 'users' | 'inbox' | 'typename') => median(runs.map((r) => r[k] / r.hello));
const med = (k: 'users' | 'inbox' | 'typename' | 'hello') => median(runs.map((r) => r[k]));
console.log(`medians of ${RUNS} runs (ratio: median of the per-run ratios against yoga { hello }):`);
for (const k of ['users', 'inbox', 'typename'] as const) console.log(`  ${k.padEnd(9)} ${med(k).toFixed(0).padStart(6)} req/s vs ${med('hello').toFixed(0)}  ratio ${ratio(k).toFixed(2)}${k === 'typename' ? '' : '   goal >= 0.5'}`);
for (const failure of failures) console.log(`  FAILURE ${failure}`);
printResult({ stage: 'reads', runs: RUNS, users: med('users'), inbox: med('inbox'), typename: med('typename'), hello: med('hello'), usersRatio: ratio('users'), inboxRatio: ratio('inbox'), typenameRatio: ratio('typename'), loads: runs.map((r) => r.load), failures: failures.length });
process.exit(failures.length ? 1 : 0);
