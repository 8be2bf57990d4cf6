import { Queue, Worker, type ConnectionOptions } from 'bullmq';
import type { Logger } from 'pino';

/**
 * The job runner under delivery. Production: BullMQ over Redis (delayed jobs, stalled-job
 * recovery when a worker dies, per-queue concurrency and rate limits). Embedded mode: an
 * in-process runner with the same contract on one process. Jobs carry ids only; the rows in
 * PostgreSQL are the truth, and the reconciler re-enqueues whatever a crash or a lost Redis
 * dropped, so a job may run twice: handlers must be idempotent.
 */
export interface JobOptions {
  /** Runs of the handler before the job is given up (handler errors only). */
  attempts: number;
  /** First retry delay; doubles each time. */
  backoffMs: number;
}

export interface NewJob<T> {
  /** Adding a job whose id is already waiting is a no-op. */
  id: string;
  data: T;
  delayMs?: number;
  /**
   * BullMQ priority (1 = highest). Jobs without one are taken before every prioritized job: the
   * broadcast fan-out's deliveries carry one, so transactional sends overtake them. The
   * in-process queue ignores it.
   */
  priority?: number | undefined;
}

export interface ProcessOptions {
  concurrency: number;
  limiter?: { max: number; durationMs: number } | undefined;
}

export type JobHandler<T> = (data: T, attempt: number) => Promise<void>;

/** A snapshot of one queue, for /metrics. */
export interface QueueDepth {
  /** Due jobs no worker has taken yet. */
  waiting: number;
  /** Jobs waiting for their time (delayed sends, retry backoff). */
  delayed: number;
  /** Jobs a worker is running now. */
  active: number;
  /** Jobs the queue gave up on (their handler kept failing: infrastructure errors); BullMQ keeps them 24 h. */
  failed: number;
  /** When the oldest waiting job was added or became due (ms since the epoch); null: none waiting. */
  oldestWaitingSince: number | null;
}

export interface JobQueue {
  kind: 'bullmq' | 'in-process';
  add<T>(queue: string, jobs: NewJob<T>[], options: JobOptions): Promise<void>;
  process<T>(queue: string, handler: JobHandler<T>, options: ProcessOptions): void;
  /** How many jobs the queue holds, by state. Rejects (does not wait) while Redis is unreachable. */
  depth(queue: string): Promise<QueueDepth>;
  /** Stops taking jobs, waits for running ones (at most timeoutMs), closes connections. */
  close(timeoutMs?: number): Promise<void>;
}

/** How long add() waits for Redis before giving up (the jobs may still be added later). */
const ADD_TIMEOUT_MS = 2_000;

/** Rejects after ms; a late rejection of the promise itself is swallowed. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  promise.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function createBullQueue(redisUrl: string, logger: Logger, prefix = 'herald'): JobQueue {
  const connection: ConnectionOptions = { url: redisUrl, maxRetriesPerRequest: null } as ConnectionOptions;
  const queues = new Map<string, Queue>();
  const workers: Worker[] = [];
  const queueOf = (name: string) => {
    let queue = queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection, prefix });
      queue.on('error', (error) => logger.warn({ err: error, queue: name }, 'Queue connection error'));
      queues.set(name, queue);
    }
    return queue;
  };
  return {
    kind: 'bullmq',
    async add(name, jobs, options) {
      if (jobs.length === 0) return;
      const queue = queueOf(name);
      // While Redis is away, ioredis (maxRetriesPerRequest: null) holds commands until it is
      // back, and the caller (an accepting request) would wait as long as the outage. Fail fast
      // instead: the rows are durable and the reconciler enqueues them once Redis answers.
      const client = await within(queue.getBackend().client, ADD_TIMEOUT_MS, 'Redis did not answer');
      if (client.status !== 'ready') throw new Error(`Redis is not connected (${client.status}): jobs not added`);
      await within(
        queue.addBulk(
        jobs.map((job) => ({
          name,
          data: job.data,
          opts: {
            jobId: job.id,
            delay: Math.max(0, job.delayMs ?? 0),
            ...(job.priority ? { priority: job.priority } : {}),
            attempts: options.attempts,
            backoff: { type: 'exponential', delay: options.backoffMs },
            removeOnComplete: true,
            removeOnFail: { age: 24 * 3600 },
          },
        })),
        ),
        ADD_TIMEOUT_MS,
        'Redis did not answer',
      );
    },
    async depth(name) {
      const queue = queueOf(name);
      // As add(): commands sent while Redis is away would wait for it, and the scrape with them.
      const client = await within(queue.getBackend().client, ADD_TIMEOUT_MS, 'Redis did not answer');
      if (client.status !== 'ready') throw new Error(`Redis is not connected (${client.status})`);
      const [counts, [oldest]] = await Promise.all([
        queue.getJobCounts('wait', 'prioritized', 'delayed', 'active', 'failed'),
        // The wait list's oldest job (ascending order: oldest first).
        queue.getJobs(['wait'], 0, 0, true),
      ]);
      return {
        waiting: (counts.wait ?? 0) + (counts.prioritized ?? 0),
        delayed: counts.delayed ?? 0,
        active: counts.active ?? 0,
        failed: counts.failed ?? 0,
        oldestWaitingSince: oldest ? oldest.timestamp + (oldest.delay ?? 0) : null,
      };
    },
    process(name, handler, options) {
      const worker = new Worker(name, async (job) => handler(job.data as never, job.attemptsMade + 1), {
        connection,
        prefix,
        concurrency: options.concurrency,
        ...(options.limiter ? { limiter: { max: options.limiter.max, duration: options.limiter.durationMs } } : {}),
      });
      worker.on('error', (error) => logger.warn({ err: error, queue: name }, 'Worker connection error'));
      worker.on('failed', (job, error) => logger.warn({ err: error, queue: name, jobId: job?.id }, 'Job failed'));
      workers.push(worker);
    },
    async close(timeoutMs = 10_000) {
      // Workers finish their running jobs first. BullMQ's close waits for Redis forever when it
      // is unreachable, so it is bounded; past the limit the connections are dropped (the
      // jobs' messages keep their lease and the reconciler picks them up).
      const closing = Promise.allSettled([...workers.map((w) => w.close()), ...[...queues.values()].map((q) => q.close())]);
      const finished = await Promise.race([closing.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref())]);
      if (!finished) {
        logger.warn('Queue connections did not close in time (Redis unreachable?): dropping them');
        for (const closable of [...workers, ...queues.values()]) void closable.disconnect().catch(() => {});
      }
    },
  };
}

/** One process, no Redis: timers and a concurrency limit per queue. Lost on exit, by design: the reconciler re-enqueues from the database at the next start. */
export function createInProcessQueue(logger: Logger): JobQueue {
  // `since`/`dueAt`: when each job was added or becomes due, for depth().
  const handlers = new Map<string, { handler: JobHandler<unknown>; options: ProcessOptions; running: number; waiting: { start: () => void; since: number }[] }>();
  const pending = new Map<string, { timer: NodeJS.Timeout; queue: string; dueAt: number }>();
  const backlog = new Map<string, { queue: string; job: NewJob<unknown>; options: JobOptions; since: number }[]>();
  const inFlight = new Set<Promise<void>>();
  let closed = false;

  const run = (queue: string, job: NewJob<unknown>, options: JobOptions, attempt: number) => {
    const entry = handlers.get(queue);
    if (!entry) {
      // No worker in this process yet: keep the job until one registers.
      backlog.set(queue, [...(backlog.get(queue) ?? []), { queue, job, options, since: Date.now() }]);
      return;
    }
    const start = () => {
      entry.running++;
      const task = entry
        .handler(job.data, attempt)
        .catch((error: unknown) => {
          if (attempt < options.attempts && !closed) {
            logger.warn({ err: error, queue, jobId: job.id, attempt }, 'Job failed; retrying');
            schedule(queue, job, options, attempt + 1, options.backoffMs * 2 ** (attempt - 1));
          } else logger.error({ err: error, queue, jobId: job.id, attempt }, 'Job failed; giving up');
        })
        .finally(() => {
          entry.running--;
          inFlight.delete(task);
          entry.waiting.shift()?.start();
        });
      inFlight.add(task);
    };
    if (entry.running < entry.options.concurrency) start();
    else entry.waiting.push({ start, since: Date.now() });
  };

  const schedule = (queue: string, job: NewJob<unknown>, options: JobOptions, attempt: number, delayMs: number) => {
    const key = `${queue}/${job.id}/${attempt}`;
    if (pending.has(key) || closed) return;
    const timer = setTimeout(() => {
      pending.delete(key);
      if (!closed) run(queue, job, options, attempt);
    }, Math.max(0, delayMs));
    pending.set(key, { timer, queue, dueAt: Date.now() + Math.max(0, delayMs) });
  };

  return {
    kind: 'in-process',
    async add(queue, jobs, options) {
      for (const job of jobs) schedule(queue, job as NewJob<unknown>, options, 1, job.delayMs ?? 0);
    },
    process(queue, handler, options) {
      handlers.set(queue, { handler: handler as JobHandler<unknown>, options, running: 0, waiting: [] });
      for (const { job, options: jobOptions } of backlog.get(queue) ?? []) run(queue, job, jobOptions, 1);
      backlog.delete(queue);
    },
    async depth(queue) {
      const now = Date.now();
      const entry = handlers.get(queue);
      const since = [...(entry?.waiting ?? []).map((w) => w.since), ...(backlog.get(queue) ?? []).map((b) => b.since)];
      let delayed = 0;
      for (const p of pending.values()) {
        if (p.queue !== queue) continue;
        // A timer already due is waiting for the event loop, not for its time.
        if (p.dueAt > now) delayed++;
        else since.push(p.dueAt);
      }
      // Jobs given up on are logged and dropped: there is no failed set in one process.
      return { waiting: since.length, delayed, active: entry?.running ?? 0, failed: 0, oldestWaitingSince: since.length ? since.reduce((a, b) => Math.min(a, b)) : null };
    },
    async close() {
      // In-process jobs are awaited: they are this process's own work and end with it.
      closed = true;
      for (const { timer } of pending.values()) clearTimeout(timer);
      pending.clear();
      await Promise.allSettled([...inFlight]);
    },
  };
}
