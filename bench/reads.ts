/**
 * Reads (issue 9): GraphQL `users(first: 20)` with the operator's API key and the end user's
 * `inbox(first: 20)` with widget credentials (X-Herald-Project/-User/-User-Hash, as the widget's
 * HTTP calls send them), req/s at c=8, beside bare yoga's `{ hello }` (baseline-yoga.mjs) in the
 * same run; Herald's own `{ __typename }` (operator key) shows what the HTTP + yoga stack costs
 * before any data access. The targets take turns in 1 s slices, --duration slices each after a
 * warm-up slice (the machine is shared: every target sees the same noise), and each one's server
 * CPU per request is read from /proc (far less sensitive to the others' load than req/s), and so is
 * that of the PostgreSQL backends of Herald's database (what a list read costs beside Herald). Herald
 * runs as the default server does (workers in the process), seeded with 1,000 users and 8 end users
 * with 50 delivered in-app items each (each client reads its own user's inbox).
 *
 *   npx tsx bench/reads.ts [--runs=3] [--duration=5] [--concurrency=8] [--only=users,inbox]
 *
 * --only: just these targets (users, inbox, typename, hello), e.g. under HERALD_NODE_FLAGS="--cpu-prof
 * --cpu-prof-dir=DIR" for a profile of one read path.
 */
import http from 'node:http';
import pg from 'pg';
import { userHash } from '../src/modules/projects/credentials.ts';
import { performance } from 'node:perf_hooks';
import { cpuMs, hammer, intFlag, loadavg, median, parseFlags, printResult, request, sleep, startHerald, startYoga, upsertUsers, type HeraldProc } from './kit.ts';

const USAGE = 'npx tsx bench/reads.ts [--runs=3] [--duration=5] [--concurrency=8] [--only=users,inbox,typename,hello]';
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

const TARGETS = ['users', 'inbox', 'typename', 'hello'] as const;
type Target = (typeof TARGETS)[number];
interface TargetFigures {
  perSecond: number;
  /** The server's CPU per request, ms. */
  cpuMs: number;
  /** PostgreSQL's CPU per request (the Herald database's backends), ms; 0 for yoga. */
  dbCpuMs: number;
  p99: number;
}

/**
 * Every target in turns of 1 s (after one warm-up turn each), so that each sees the same
 * machine; answers each one's req/s over its turns, its server's CPU per request and its p99.
 */
async function measure(
  calls: Record<Target, { pid: number; call: (client: number) => Promise<number | string>; db?: () => Promise<number[]> }>,
  failures: string[],
): Promise<Record<Target, TargetFigures>> {
  const targets = TARGETS.filter((t) => !ONLY || ONLY.includes(t));
  const sums = new Map(targets.map((t) => [t, { ok: 0, seconds: 0, cpu: 0, dbCpu: 0, p99s: [] as number[] }]));
  for (let turn = 0; turn <= DURATION_S; turn++) {
    for (const t of targets) {
      const backends = (await calls[t].db?.()) ?? [];
      const db0 = backendsCpuMs(backends);
      const cpu0 = cpuMs(calls[t].pid);
      const t0 = performance.now();
      const l = await hammer(C, 1, calls[t].call);
      if (turn === 0) continue;
      const sum = sums.get(t)!;
      sum.seconds += (performance.now() - t0) / 1000;
      sum.ok += l.ok;
      sum.cpu += cpuMs(calls[t].pid) - cpu0;
      sum.dbCpu += backendsCpuMs(backends) - db0;
      sum.p99s.push(l.p99);
      for (const failure of l.failures.slice(0, 3)) failures.push(`${t}: ${failure}`);
    }
  }
  const none: TargetFigures = { perSecond: Number.NaN, cpuMs: Number.NaN, dbCpuMs: Number.NaN, p99: Number.NaN };
  return Object.fromEntries(
    TARGETS.map((t) => {
      const sum = sums.get(t);
      return [t, sum ? { perSecond: sum.ok / sum.seconds, cpuMs: sum.cpu / sum.ok, dbCpuMs: sum.dbCpu / sum.ok, p99: median(sum.p99s) } : none];
    }),
  ) as Record<Target, TargetFigures>;
}

/**
 * CPU so far of these PostgreSQL backends, ms (a backend that ended meanwhile counts 0: the pool
 * keeps its connections under load, so that under-counts little). /proc/<pid>/stat is readable
 * for the postgres user's processes too.
 */
function backendsCpuMs(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      total += cpuMs(pid);
    } catch {
      // Gone.
    }
  }
  return total;
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

type RunFigures = Record<Target, TargetFigures> & { load: string };

async function run(index: number, failures: string[]): Promise<RunFigures> {
  const load0 = loadavg();
  const agent = new http.Agent({ keepAlive: true, maxSockets: C });
  const h = await startHerald(true);
  const yoga = await startYoga('reads-secret');
  // The Herald database's backends (its pool's connections), to read their CPU around each turn.
  const monitor = new pg.Client({ connectionString: h.info.databaseUrl });
  await monitor.connect();
  const backends = async () =>
    (await monitor.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()')).rows.map((r) => r.pid);
  try {
    const readers = await seed(h);
    const operator = { authorization: `Bearer ${h.info.apiKey}` };
    const inboxCalls = readers.map((user) =>
      graphql(agent, h.info.url, { 'x-herald-project': h.info.projectId, 'x-herald-user': user, 'x-herald-user-hash': userHash(h.info.widgetSecret, user) }, INBOX_QUERY, 'inbox'),
    );
    const f = await measure(
      {
        users: { pid: h.pid, db: backends, call: graphql(agent, h.info.url, operator, USERS_QUERY, 'users') },
        inbox: { pid: h.pid, db: backends, call: (client) => inboxCalls[client % READERS]!() },
        typename: { pid: h.pid, db: backends, call: graphql(agent, h.info.url, operator, TYPENAME_QUERY) },
        hello: { pid: yoga.pid, call: graphql(agent, yoga.url, {}, HELLO_QUERY) },
      },
      failures,
    );
    const figures = { ...f, load: `${load0} -> ${loadavg()}` };
    const show = (t: Target, label: string) =>
      `${label} ${f[t].perSecond.toFixed(0)} (${f[t].cpuMs.toFixed(2)} ms CPU${t === 'hello' ? '' : ` + ${f[t].dbCpuMs.toFixed(2)} ms PostgreSQL`}, p99 ${f[t].p99.toFixed(1)} ms)`;
    console.log(
      `run ${index}: load ${figures.load} | req/s at c=${C} (server CPU per request): ${show('users', 'users(first: 20)')}, ${show('inbox', 'inbox(first: 20)')}, ${show('typename', 'herald { __typename }')}, ${show('hello', 'yoga { hello }')} | ` +
        `ratios ${(f.users.perSecond / f.hello.perSecond).toFixed(2)} / ${(f.inbox.perSecond / f.hello.perSecond).toFixed(2)} / ${(f.typename.perSecond / f.hello.perSecond).toFixed(2)}`,
    );
    return figures;
  } finally {
    await monitor.end();
    agent.destroy();
    await yoga.stop();
    await h.stop();
  }
}

console.log(`reads: ${RUNS} runs, ${DURATION_S} turns of 1 s per target at c=${C}; load average ${loadavg()}`);
const failures: string[] = [];
const runs: RunFigures[] = [];
for (let i = 1; i <= RUNS; i++) runs.push(await run(i, failures));
const ratio = (k: Target) => median(runs.map((r) => r[k].perSecond / r.hello.perSecond));
const med = (k: Target) => median(runs.map((r) => r[k].perSecond));
const cpu = (k: Target) => median(runs.map((r) => r[k].cpuMs));
const dbCpu = (k: Target) => median(runs.map((r) => r[k].dbCpuMs));
console.log(`medians of ${RUNS} runs (ratio: median of the per-run ratios against yoga { hello }):`);
for (const k of ['users', 'inbox', 'typename'] as const) {
  console.log(`  ${k.padEnd(9)} ${med(k).toFixed(0).padStart(6)} req/s vs ${med('hello').toFixed(0)}  ratio ${ratio(k).toFixed(2)}; server CPU ${cpu(k).toFixed(2)} vs ${cpu('hello').toFixed(2)} ms per request, PostgreSQL ${dbCpu(k).toFixed(2)} ms${k === 'typename' ? '' : '   goal >= 0.5'}`);
}
for (const failure of failures) console.log(`  FAILURE ${failure}`);
printResult({
  stage: 'reads',
  runs: RUNS,
  ...Object.fromEntries(TARGETS.flatMap((t) => [[t, med(t)], [`${t}CpuMs`, cpu(t)], ...(t === 'hello' ? [] : [[`${t}DbCpuMs`, dbCpu(t)]])])),
  usersRatio: ratio('users'),
  inboxRatio: ratio('inbox'),
  typenameRatio: ratio('typename'),
  loads: runs.map((r) => r.load),
  failures: failures.length,
});
process.exit(failures.length ? 1 : 0);
