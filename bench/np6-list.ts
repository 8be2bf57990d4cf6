/**
 * Benchmark of NP6's `GET /notifications` without `limit`: every notification of the project in
 * one answer, streamed page by page (50 per internal page).
 *
 *   npx tsx bench/np6-list.ts
 *
 * Starts Herald in this process on a fresh PostgreSQL database (the test harness: real Redis),
 * writes BENCH_NOTIFICATIONS notifications with one version each straight into the database,
 * then reads the whole list BENCH_READS times and prints the time, the size of the answer and
 * the process's peak RSS growth. Checks each answer holds every notification. Bounded in time.
 * Knobs (optional): BENCH_NOTIFICATIONS (2000), BENCH_READS (5).
 */
import { performance } from 'node:perf_hooks';
import { v7 as uuidv7 } from 'uuid';
import { prisma } from '../src/db/client.ts';
import { startTestHerald } from '../test/helpers/herald.ts';
import { intEnv } from './stats.ts';

const COUNT = intEnv('BENCH_NOTIFICATIONS', 2000, 1, 100_000);
const READS = intEnv('BENCH_READS', 5, 1, 100);
const RUN_TIMEOUT_MS = 300_000;

async function main(): Promise<number> {
  const h = await startTestHerald();
  const timer = setTimeout(() => {
    console.error(`bench: gave up after ${RUN_TIMEOUT_MS} ms`);
    process.exit(2);
  }, RUN_TIMEOUT_MS);
  try {
    const projectId = h.project.projectId;
    for (let start = 0; start < COUNT; start += 500) {
      const size = Math.min(500, COUNT - start);
      const created = await prisma().notification.createManyAndReturn({
        data: Array.from({ length: size }, (_, i) => ({
          projectId,
          type: 'push-app',
          channels: ['IN_APP' as const],
          name: `bench ${start + i}`,
          settings: { urgent: false, category: 0, purpose: { type: 'string' } },
          extra: { origin: 'bench' },
        })),
        select: { id: true },
      });
      await prisma().notificationVersion.createMany({
        data: created.map((n) => ({
          id: uuidv7(),
          projectId,
          notificationId: n.id,
          masterOf: n.id,
          content: { en: { title: 'Hello {{ firstName }}', body: 'A body of some length for the benchmark' } },
          np6Content: { type: 'push-app', title: 'Hello {{ firstName }}', body: 'A body of some length for the benchmark' },
        })),
      });
    }
    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const times: number[] = [];
    let bytes = 0;
    for (let r = 0; r < READS; r++) {
      const t0 = performance.now();
      const response = await fetch(`${h.url}/notifications`, { headers: { 'x-key': h.project.apiKey } });
      const text = await response.text();
      times.push(performance.now() - t0);
      bytes = text.length;
      const list = JSON.parse(text) as unknown[];
      if (response.status !== 200 || list.length !== COUNT) throw new Error(`read ${r}: status ${response.status}, ${list.length} of ${COUNT} notifications`);
    }
    clearInterval(sampler);
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)]!;
    console.log(
      JSON.stringify({
        notifications: COUNT,
        reads: READS,
        answerBytes: bytes,
        medianMs: Math.round(median),
        minMs: Math.round(times[0]!),
        maxMs: Math.round(times.at(-1)!),
        notificationsPerSecond: Math.round((COUNT / median) * 1000),
        peakRssGrowthMiB: Math.round(((peak - rssBefore) / 1024 / 1024) * 10) / 10,
      }),
    );
    return 0;
  } finally {
    clearTimeout(timer);
    await h.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
