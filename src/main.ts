import { pathToFileURL } from 'node:url';
import { closeApnsSessions } from './delivery/providers/apns.ts';
import type { Logger } from 'pino';
import { ConfigError, parseConfig, type Config } from './config/env.ts';
import { openDatabase, pgPool, type Database } from './db/client.ts';
import { migrate } from './db/migrate.ts';
import { CHANNEL_QUEUES, CALLBACK_QUEUE, queueName, type Delivery } from './delivery/delivery.ts';
import type { ChannelProvider } from './delivery/providers/types.ts';
import { createDeliveryRuntime } from './delivery/runtime.ts';
import { createAuthRateLimiter, setAuthRateLimiter } from './modules/projects/rate-limit.ts';
import { createNotification } from './modules/notifications/service.ts';
import { userHash } from './modules/projects/credentials.ts';
import { watchKeyRevocations } from './modules/projects/key-cache.ts';
import { createProject } from './modules/projects/service.ts';
import { createReplayStore } from './modules/receipts/replay.ts';
import { webSocketOptions } from './realtime/websocket.ts';
import type { HeraldPubSub } from './realtime/pubsub.ts';
import type { RestRoute } from './rest/route.ts';
import { createApp } from './server/app.ts';
import { installProcessGuard, Readiness } from './server/guard.ts';
import { listen, ListenError } from './server/http.ts';
import { HeraldMetrics } from './server/metrics.ts';
import { createLogger } from './server/logger.ts';
import { flushTraces, tracingEnabled } from './telemetry/spans.ts';

export interface Herald {
  port: number;
  db: Database;
  delivery: Delivery;
  /** /readyz fails for good once this is failed (shutdown, or the crash guard draining). */
  readiness: Readiness;
  /** This process's pub/sub (its subscriber counts tell tests which streams are open). */
  pubsub: HeraldPubSub;
  stop(): Promise<void>;
}

/**
 * The one wiring point: database (+ migrations), pub/sub, the app, the HTTP and websocket
 * server. Returns a handle whose stop() shuts everything down in reverse order.
 */
export async function startHerald(
  config: Config,
  logger: Logger = createLogger(config),
  options: { routes?: RestRoute[]; providers?: ChannelProvider[] } = {},
): Promise<Herald> {
  const db = await openDatabase(config, { logger });
  const metrics = config.METRICS_ENABLED ? new HeraldMetrics() : undefined;
  const runtime = createDeliveryRuntime(config, logger, { providers: options.providers, observer: metrics });
  const { pubsub, delivery } = runtime;
  metrics?.watchQueue(runtime.queue, [...CHANNEL_QUEUES.map(queueName), CALLBACK_QUEUE]);
  metrics?.watchPool(pgPool);
  if (metrics && !config.METRICS_TOKEN && config.NODE_ENV === 'production') {
    logger.info('/metrics is readable by anyone who reaches this port: set METRICS_TOKEN, or block /metrics at the proxy');
  }
  if ((config.OTEL_EXPORTER_OTLP_ENDPOINT || config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) && !tracingEnabled()) {
    logger.warn('OTEL_EXPORTER_OTLP_ENDPOINT is set but tracing is off: start Herald with `node --import ./dist/telemetry/preload.js dist/main.js` (npm start does)');
  }
  const authLimiter = createAuthRateLimiter(config, logger);
  // Provider callbacks already accepted (delivery receipts), shared by the instances through Redis.
  const replay = createReplayStore(config.REDIS_URL, config.QUEUE_PREFIX, logger);
  setAuthRateLimiter(authLimiter);
  let stopWatchingKeys = async () => {};
  try {
    // Counting in Redis from the first request when it is there; never held up by it.
    await Promise.race([authLimiter.ready(), new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
    if (config.MIGRATE_ON_START) {
      const applied = await migrate(db.sql);
      if (applied.length) logger.info({ applied }, 'Applied database migrations');
    }
    // The embedded mode has no other process to deliver: its workers always run here.
    if (config.WORKERS_ENABLED || !config.REDIS_URL) runtime.startWorkers();
    // Verified API keys are cached for seconds; a revocation on any instance must reach this one's cache.
    stopWatchingKeys = watchKeyRevocations(pubsub.pubsub);
    const readiness = new Readiness();
    const yoga = createApp({ config, db, pubsub, delivery, logger, routes: options.routes, readiness, metrics, replay });
    const server = await listen(yoga, pubsub.pubsub, logger, config.HOST, config.PORT, webSocketOptions(config));
    metrics?.watchWebSockets(server.openWebSockets);
    if (db.kind === 'embedded') await ensureDefaultProject(logger, config.HOST, server.port);
    logger.info({ database: db.kind, pubsub: pubsub.kind, tracing: tracingEnabled() }, 'Herald started');
    return {
      port: server.port,
      db,
      delivery,
      readiness,
      pubsub: pubsub.pubsub,
      async stop() {
        readiness.fail('shutting down');
        await server.stop(config.SHUTDOWN_TIMEOUT_MS);
        await stopWatchingKeys();
        await authLimiter.close();
        await replay.close();
        await runtime.close();
        // Open HTTP/2 connections to APNs (unref'd, but a stopped Herald should hold none).
        closeApnsSessions();
        await db.close();
        await flushTraces();
      },
    };
  } catch (error) {
    await stopWatchingKeys();
    await authLimiter.close();
    await replay.close();
    await runtime.close();
    await db.close();
    throw error;
  }
}

/** The in-app notification the first embedded start creates, so the README's first send works. */
export const WELCOME_NOTIFICATION = {
  key: 'welcome',
  type: 'in-app',
  name: 'Welcome',
  description: 'Created by the first embedded start for the README quick start; edit or delete it freely.',
  versions: [
    {
      contents: [
        {
          locale: 'en',
          // Liquid: the user's profile and the message's data (e.g. {"plan":"pro"}) fill the greeting.
          title: 'Welcome{% if user.firstName %}, {{ user.firstName }}{% endif %}!',
          body: 'Hello {{ user.firstName | default: "there" }}, you are on the {{ plan | default: "free" }} plan.',
        },
      ],
    },
  ],
};

/** The end user whose hash the first start prints: the README's examples all use u1. */
const DEMO_USER = 'u1';

/**
 * A newcomer's first embedded start creates a project with a ready `welcome` notification and
 * prints its credentials once, as `export` lines for the README's examples and a demo widget
 * URL, so the quick start can be pasted as written. Later starts find the project and print
 * nothing.
 */
async function ensureDefaultProject(logger: Logger, host: string, port: number) {
  const { prisma } = await import('./db/client.ts');
  if ((await prisma().project.count()) > 0) return;
  const credentials = await createProject('Default project');
  try {
    await createNotification(credentials.projectId, WELCOME_NOTIFICATION);
  } catch (error) {
    // Otherwise the next start would find a project without its notification and print nothing.
    await prisma().project.delete({ where: { id: credentials.projectId } });
    throw error;
  }
  logger.info({ projectId: credentials.projectId, keyId: credentials.keyId }, 'Created the default project');
  const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  const base = `http://${shown}:${port}`;
  const hash = userHash(credentials.widgetSecret, DEMO_USER);
  const widget = `${base}/widget/demo?${new URLSearchParams({ projectId: credentials.projectId, userId: DEMO_USER, userHash: hash })}`;
  process.stdout.write(
    [
      '',
      'Herald created a default project and an in-app notification "welcome". These secrets are shown once; keep them:',
      `  projectId     ${credentials.projectId}`,
      `  apiKey        ${credentials.apiKey}`,
      `  keyId         ${credentials.keyId}`,
      `  keySecret     ${credentials.keySecret}`,
      `  widgetSecret  ${credentials.widgetSecret}`,
      '',
      "For the README's examples, paste these lines into another terminal:",
      `export APIKEY='${credentials.apiKey}'`,
      `export PROJECT='${credentials.projectId}'`,
      `export WIDGET_SECRET='${credentials.widgetSecret}'`,
      `export HASH='${hash}'`,
      '',
      `Demo widget of user ${DEMO_USER} (open it, then send "welcome" to ${DEMO_USER}): ${widget}`,
      `Try: curl -s ${base.replace('http://', '')}/graphql -H "Authorization: Bearer $APIKEY" -H 'content-type: application/json' -d '{"query":"{ project { id name } }"}'`,
      '',
    ].join('\n') + '\n',
  );
}

/** Runs the server as `npm start` does: configuration, start-up, signals and the crash guard. */
export async function main() {
  let config: Config;
  try {
    config = parseConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const problem of error.problems) process.stderr.write(`Invalid configuration: ${problem}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config);
  let herald: Herald;
  try {
    herald = await startHerald(config, logger);
  } catch (error) {
    // A set-up mistake (the port): one line saying what to change, no stack.
    if (error instanceof ListenError) {
      process.stderr.write(`Herald could not start: ${error.message}\n`);
      process.exit(1);
    }
    logger.fatal({ err: error }, `Herald could not start: ${(error as Error).message}`);
    process.exit(1);
  }
  // One bug must not take the process down silently, nor leave it serving in an unknown state.
  const guard = installProcessGuard({ logger, readiness: herald.readiness, stop: () => herald.stop(), shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS });
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'Shutting down');
    guard.shutdown(signal, 0);
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
