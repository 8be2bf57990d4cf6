import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import { ConfigError, parseConfig, type Config } from './config/env.ts';
import { openDatabase, type Database } from './db/client.ts';
import { migrate } from './db/migrate.ts';
import type { Delivery } from './delivery/delivery.ts';
import type { ChannelProvider } from './delivery/providers/types.ts';
import { createDeliveryRuntime } from './delivery/runtime.ts';
import { createProject } from './modules/projects/service.ts';
import { webSocketOptions } from './realtime/websocket.ts';
import type { HeraldPubSub } from './realtime/pubsub.ts';
import type { RestRoute } from './rest/route.ts';
import { createApp } from './server/app.ts';
import { listen } from './server/http.ts';
import { createLogger } from './server/logger.ts';

export interface Herald {
  port: number;
  db: Database;
  delivery: Delivery;
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
  const db = await openDatabase(config);
  const runtime = createDeliveryRuntime(config, logger, { providers: options.providers });
  const { pubsub, delivery } = runtime;
  try {
    if (config.MIGRATE_ON_START) {
      const applied = await migrate(db.sql);
      if (applied.length) logger.info({ applied }, 'Applied database migrations');
    }
    // The embedded mode has no other process to deliver: its workers always run here.
    if (config.WORKERS_ENABLED || !config.REDIS_URL) delivery.startWorkers();
    const yoga = createApp({ config, db, pubsub, delivery, logger, routes: options.routes });
    const server = await listen(yoga, pubsub.pubsub, logger, config.HOST, config.PORT, webSocketOptions(config));
    if (db.kind === 'embedded') await ensureDefaultProject(logger, server.port);
    logger.info({ database: db.kind, pubsub: pubsub.kind }, 'Herald started');
    return {
      port: server.port,
      db,
      delivery,
      pubsub: pubsub.pubsub,
      async stop() {
        await server.stop(config.SHUTDOWN_TIMEOUT_MS);
        await runtime.close();
        await db.close();
      },
    };
  } catch (error) {
    await runtime.close();
    await db.close();
    throw error;
  }
}

/**
 * A newcomer's first embedded start creates a project and prints its credentials once,
 * so the API can be called at once. Later starts find the project and print nothing.
 */
async function ensureDefaultProject(logger: Logger, port: number) {
  const { prisma } = await import('./db/client.ts');
  if ((await prisma().project.count()) > 0) return;
  const credentials = await createProject('Default project');
  logger.info({ projectId: credentials.projectId, keyId: credentials.keyId }, 'Created the default project');
  process.stdout.write(
    [
      '',
      'Herald created a default project. These secrets are shown once; keep them:',
      `  projectId     ${credentials.projectId}`,
      `  apiKey        ${credentials.apiKey}`,
      `  keyId         ${credentials.keyId}`,
      `  keySecret     ${credentials.keySecret}`,
      `  widgetSecret  ${credentials.widgetSecret}`,
      `Try: curl -s localhost:${port}/graphql -H 'Authorization: Bearer ${credentials.apiKey}' -H 'content-type: application/json' -d '{"query":"{ project { id name } }"}'`,
      '',
    ].join('\n') + '\n',
  );
}

async function main() {
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
    logger.fatal({ err: error }, `Herald could not start: ${(error as Error).message}`);
    process.exit(1);
  }
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'Shutting down');
    herald.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'Shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
