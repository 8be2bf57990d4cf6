import type { Logger } from 'pino';
import { flushTraces, tracingEnabled } from '../telemetry/spans.ts';
import type { Config } from '../config/env.ts';
import { openDatabase, pgPool, type Database } from '../db/client.ts';
import { migrate } from '../db/migrate.ts';
import { openPubSub, type PubSubHandle } from '../realtime/pubsub.ts';
import { HeraldMetrics, serveMetrics } from '../server/metrics.ts';
import { CALLBACK_QUEUE, CHANNEL_QUEUES, Delivery, queueName, type DeliveryObserver } from './delivery.ts';
import { outboundPolicyFromConfig, setOutboundPolicy } from './providers/outbound.ts';
import type { ChannelProvider } from './providers/types.ts';
import { createBullQueue, createInProcessQueue, type JobQueue } from './queue.ts';
import { SecretBox } from './secrets.ts';
import { RetentionJob } from '../retention/job.ts';
import { WorkflowEngine } from '../modules/workflows/engine.ts';
import { BroadcastFanout } from '../modules/broadcasts/fanout.ts';

/** The delivery side of a process: pub/sub, the job queue and the pipeline on top of them. */
export interface DeliveryRuntime {
  pubsub: PubSubHandle;
  queue: JobQueue;
  delivery: Delivery;
  /** Workflow runs: their queue worker and sweep start with the delivery workers. */
  workflows: WorkflowEngine;
  /** The periodic retention purge; started with the workers (a worker process's job). */
  retention: RetentionJob;
  /** Starts the queue workers (deliveries and broadcast fan-out), the reconcilers and the retention purge. */
  startWorkers(): void;
  /** Stops the purge and the reconciler, waits for running jobs, closes the queue and pub/sub (not the database). */
  close(): Promise<void>;
}

/**
 * The one construction of the pipeline, shared by the server (main.ts) and `herald worker`:
 * BullMQ when REDIS_URL is set, else the in-process queue. Workers are not started here.
 */
export function createDeliveryRuntime(
  config: Config,
  logger: Logger,
  options: { providers?: ChannelProvider[] | undefined; observer?: DeliveryObserver | undefined } = {},
): DeliveryRuntime {
  if (config.DATABASE_URL && !config.HERALD_ENCRYPTION_KEY) {
    // Each instance would generate its own key and could not read the provider secrets the others stored.
    logger.warn('HERALD_ENCRYPTION_KEY is not set: provider secrets are encrypted with a key generated in HERALD_DATA_DIR; instances sharing this database must share one key');
  }
  // Every outbound request of this process (workers, configure-time checks) follows it.
  const outbound = outboundPolicyFromConfig(config);
  setOutboundPolicy(outbound);
  if (outbound.allowPrivate) logger.info('Outbound requests may reach private and loopback addresses (OUTBOUND_ALLOW_PRIVATE; refused by default with DATABASE_URL or in production)');
  const pubsub = openPubSub(config.REDIS_URL, logger, config.QUEUE_PREFIX, { maxBufferedEvents: config.SUBSCRIPTION_MAX_BUFFERED_EVENTS });
  const queue = config.REDIS_URL ? createBullQueue(config.REDIS_URL, logger, config.QUEUE_PREFIX) : createInProcessQueue(logger);
  const delivery = new Delivery({ config, queue, pubsub: pubsub.pubsub, logger, secrets: SecretBox.fromConfig(config), providers: options.providers, observer: options.observer });
  const retention = new RetentionJob(config, logger);
  const workflows = new WorkflowEngine({ config, queue, delivery, pubsub: pubsub.pubsub, logger });
  delivery.workflows = workflows;
  const fanout = new BroadcastFanout({ config, delivery, pubsub: pubsub.pubsub, logger });
  return {
    pubsub,
    queue,
    delivery,
    workflows,
    retention,
    startWorkers() {
      delivery.startWorkers();
      workflows.start();
      fanout.start();
      retention.start();
    },
    async close() {
      await retention.close();
      await workflows.close();
      await fanout.close();
      await delivery.close();
      await queue.close(config.SHUTDOWN_TIMEOUT_MS);
      await pubsub.close();
    },
  };
}

export interface Workers {
  db: Database;
  delivery: Delivery;
  /** The port of the worker's /metrics (WORKER_METRICS_PORT), when it serves one. */
  metricsPort?: number | undefined;
  /** Graceful: no new jobs, in-flight ones finish, then queue, pub/sub and database close. */
  stop(): Promise<void>;
}

/**
 * A worker-only process (`herald worker`): database (+ migrations when MIGRATE_ON_START),
 * the delivery runtime, the queue workers, the reconciler and the retention purge; no HTTP server.
 */
export async function startWorkers(config: Config, logger: Logger, options: { providers?: ChannelProvider[] } = {}): Promise<Workers> {
  const db = await openDatabase(config, { logger });
  const metrics = config.METRICS_ENABLED && config.WORKER_METRICS_PORT !== undefined ? new HeraldMetrics() : undefined;
  const runtime = createDeliveryRuntime(config, logger, { ...options, observer: metrics });
  let endpoint: Awaited<ReturnType<typeof serveMetrics>> | undefined;
  try {
    if (config.MIGRATE_ON_START) {
      const applied = await migrate(db.sql);
      if (applied.length) logger.info({ applied }, 'Applied database migrations');
    }
    if (metrics) {
      metrics.watchQueue(runtime.queue, [...CHANNEL_QUEUES.map(queueName), CALLBACK_QUEUE]);
      metrics.watchPool(pgPool);
      endpoint = await serveMetrics(metrics, { host: config.HOST, port: config.WORKER_METRICS_PORT!, token: config.METRICS_TOKEN, logger });
    }
    runtime.startWorkers();
  } catch (error) {
    await endpoint?.close();
    await runtime.close();
    await db.close();
    throw error;
  }
  logger.info({ database: db.kind, queue: runtime.queue.kind, concurrency: config.DELIVERY_CONCURRENCY, tracing: tracingEnabled() }, 'Herald worker started');
  return {
    db,
    delivery: runtime.delivery,
    metricsPort: endpoint?.port,
    async stop() {
      await endpoint?.close();
      await runtime.close();
      await db.close();
      await flushTraces();
    },
  };
}
