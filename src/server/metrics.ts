import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Channel, MessageStatus } from '../generated/prisma/client.ts';
import type { DeliveryObserver } from '../delivery/delivery.ts';
import type { JobQueue } from '../delivery/queue.ts';
import { bearerMatches, digest } from './use-metrics.ts';

/** Latency buckets in seconds: a fast in-app send is milliseconds, a slow SMTP answer seconds. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Operation names come from clients: past this many distinct ones, further names are counted as
 * `other`, so a client inventing names cannot grow the series (and this process's memory) without end.
 */
export const MAX_OPERATION_NAMES = 200;

/** How long a scrape waits for the queue counts (Redis) before answering without them. */
export const QUEUE_SCRAPE_TIMEOUT_MS = 1_000;

/** What the pool gauges read: pg.Pool's own counters. */
export interface PoolCounts {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}

/**
 * One process's Prometheus metrics, in a registry of its own (tests run several Heralds in one
 * process). Counters and histograms are updated where things happen (the delivery pipeline via
 * DeliveryObserver, requests and operations via use-metrics.ts); gauges that only make sense
 * as a snapshot (queue depths, the pool, websockets) are read when /metrics is scraped, so an
 * idle process does no metrics work between scrapes.
 */
export class HeraldMetrics implements DeliveryObserver {
  readonly registry = new Registry();

  readonly httpDuration = new Histogram({
    name: 'herald_http_request_duration_seconds',
    help: 'HTTP requests, until the answer starts (SSE streams are not included: see herald_subscriptions). route: the legacy REST route pattern, /graphql, or the fixed path; unmatched for anything else.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly operationDuration = new Histogram({
    name: 'herald_graphql_operation_duration_seconds',
    help: 'GraphQL operations, execution only (parse and validation are in the HTTP latency). route: /graphql, ws, or the legacy REST route that ran the operation in-process.',
    labelNames: ['operation', 'type', 'route', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly subscriptions = new Gauge({
    name: 'herald_subscriptions',
    help: 'GraphQL subscriptions open now, by transport (ws or sse).',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });

  readonly accepted = new Counter({
    name: 'herald_messages_accepted_total',
    help: 'Messages accepted (committed) by this process, by channel and first status (QUEUED, SCHEDULED, SKIPPED).',
    labelNames: ['channel', 'status'] as const,
    registers: [this.registry],
  });

  readonly deliveries = new Counter({
    name: 'herald_deliveries_total',
    help: "Delivery outcomes recorded by this process (its workers, and the delivery receipts it received): SENT, DELIVERED, READ, BOUNCED, FAILED, SKIPPED, by channel and provider.",
    labelNames: ['channel', 'status', 'provider'] as const,
    registers: [this.registry],
  });

  readonly retries = new Counter({
    name: 'herald_delivery_retries_total',
    help: 'Failed attempts put back in the queue for a retry (transient provider errors), by channel and the provider that failed.',
    labelNames: ['channel', 'provider'] as const,
    registers: [this.registry],
  });

  readonly deadLetters = new Counter({
    name: 'herald_dead_letters_total',
    help: 'Messages that reached FAILED (dead letters, see retryMessage and retryFailed), by channel.',
    labelNames: ['channel'] as const,
    registers: [this.registry],
  });

  readonly queueJobs = new Gauge({
    name: 'herald_queue_jobs',
    help: 'Jobs in each queue, by state (waiting, delayed, active, failed), read at scrape time. One job carries up to DELIVERY_BATCH_SIZE messages.',
    labelNames: ['queue', 'state'] as const,
    registers: [this.registry],
  });

  readonly queueAge = new Gauge({
    name: 'herald_queue_oldest_waiting_seconds',
    help: 'Age of the oldest job waiting for a worker in each queue (0: none waiting), read at scrape time.',
    labelNames: ['queue'] as const,
    registers: [this.registry],
  });

  readonly queueUp = new Gauge({
    name: 'herald_queue_metrics_up',
    help: `1 when the last scrape read every queue count, 0 when the queue (Redis) did not answer within ${QUEUE_SCRAPE_TIMEOUT_MS} ms (the queue gauges are then absent).`,
    registers: [this.registry],
  });

  readonly poolConnections = new Gauge({
    name: 'herald_db_pool_connections',
    help: 'PostgreSQL connections of this process, by state (busy, idle). Absent on the embedded database.',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });

  readonly poolWaiting = new Gauge({
    name: 'herald_db_pool_waiting_requests',
    help: 'Queries waiting for a free PostgreSQL connection. Absent on the embedded database.',
    registers: [this.registry],
  });

  readonly webSockets = new Gauge({
    name: 'herald_websocket_connections',
    help: 'Open websocket connections (graphql-ws).',
    registers: [this.registry],
  });

  readonly #operationNames = new Set<string>();
  #queue: { queue: JobQueue; names: string[] } | undefined;
  #pool: (() => PoolCounts | undefined) | undefined;
  #webSockets: (() => number) | undefined;

  constructor() {
    // Node's own: CPU, memory, heap, GC, handles and the event-loop lag (a perf_hooks histogram,
    // sampled by libuv, read at scrape time).
    collectDefaultMetrics({ register: this.registry });
  }

  /** The queue whose depth a scrape reads, and its queue names. */
  watchQueue(queue: JobQueue, names: string[]): void {
    this.#queue = { queue, names };
  }

  watchPool(read: () => PoolCounts | undefined): void {
    this.#pool = read;
  }

  /** A function answering how many websockets are open now (the realtime server's count). */
  watchWebSockets(count: () => number): void {
    this.#webSockets = count;
  }

  /** The label of an operation name: itself, or `other` once MAX_OPERATION_NAMES are tracked. */
  operationLabel(name: string | undefined): string {
    if (!name) return 'anonymous';
    if (this.#operationNames.has(name)) return name;
    if (this.#operationNames.size >= MAX_OPERATION_NAMES) return 'other';
    this.#operationNames.add(name);
    return name;
  }

  messageAccepted(channel: Channel, status: MessageStatus): void {
    this.accepted.inc({ channel, status });
  }

  deliveryRecorded(channel: Channel, status: MessageStatus, provider: string | null): void {
    if (status === 'QUEUED') {
      this.retries.inc({ channel, provider: provider ?? 'none' });
      return;
    }
    this.deliveries.inc({ channel, status, provider: provider ?? 'none' });
    if (status === 'FAILED') this.deadLetters.inc({ channel });
  }

  /** Reads the snapshot gauges, then answers the whole registry in the Prometheus text format. */
  async scrape(): Promise<string> {
    const pool = this.#pool?.();
    if (pool) {
      this.poolConnections.set({ state: 'busy' }, pool.totalCount - pool.idleCount);
      this.poolConnections.set({ state: 'idle' }, pool.idleCount);
      this.poolWaiting.set(pool.waitingCount);
    }
    if (this.#webSockets) this.webSockets.set(this.#webSockets());
    await this.#readQueues();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  async #readQueues(): Promise<void> {
    if (!this.#queue) return;
    const { queue, names } = this.#queue;
    this.queueJobs.reset();
    this.queueAge.reset();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), QUEUE_SCRAPE_TIMEOUT_MS);
    });
    const reading = Promise.all(names.map(async (name) => [name, await queue.depth(name)] as const));
    // A queue that fails or does not answer in time (Redis down) must not hang or fail the
    // scrape: the rest of the metrics are still worth having, and queue_metrics_up says why
    // the queue gauges are missing.
    const depths = await Promise.race([reading.catch(() => null), timeout]).finally(() => clearTimeout(timer));
    if (!depths) {
      reading.catch(() => {});
      this.queueUp.set(0);
      return;
    }
    const now = Date.now();
    for (const [name, depth] of depths) {
      this.queueJobs.set({ queue: name, state: 'waiting' }, depth.waiting);
      this.queueJobs.set({ queue: name, state: 'delayed' }, depth.delayed);
      this.queueJobs.set({ queue: name, state: 'active' }, depth.active);
      this.queueJobs.set({ queue: name, state: 'failed' }, depth.failed);
      this.queueAge.set({ queue: name }, depth.oldestWaitingSince === null ? 0 : Math.max(0, now - depth.oldestWaitingSince) / 1000);
    }
    this.queueUp.set(1);
  }
}

/**
 * GET /metrics on a port of its own, for `herald worker` (which has no HTTP server): the same
 * text and the same token rule as the server's /metrics; anything else is a 404.
 */
export async function serveMetrics(
  metrics: HeraldMetrics,
  options: { host: string; port: number; token?: string | undefined; logger: Pick<Logger, 'info' | 'warn'> },
): Promise<{ port: number; close(): Promise<void> }> {
  const expected = options.token === undefined ? undefined : digest(options.token);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const text = (status: number, body: string, headers: Record<string, string> = {}) =>
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers }).end(body);
    if (path !== '/metrics') return text(404, 'Not found: this port serves GET /metrics only\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(405, 'Method not allowed: GET /metrics\n', { allow: 'GET, HEAD' });
    if (expected && !bearerMatches(req.headers.authorization ?? null, expected)) {
      return text(401, 'Unauthorized: send Authorization: Bearer <METRICS_TOKEN>\n', { 'www-authenticate': 'Bearer realm="metrics"' });
    }
    metrics.scrape().then(
      (body) => res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : body),
      (error: unknown) => {
        options.logger.warn({ err: error }, 'Could not collect the metrics');
        text(500, 'Could not collect the metrics\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  options.logger.info({ port }, `Worker metrics on http://${options.host === '0.0.0.0' ? 'localhost' : options.host}:${port}/metrics`);
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
