import { parseArgs } from 'node:util';
import { ConfigError, parseConfig } from '../config/env.ts';
import { EmbeddedDatabaseLockedError, openDatabase } from '../db/client.ts';
import { migrate } from '../db/migrate.ts';
import { startWorkers } from '../delivery/runtime.ts';
import { createProject } from '../modules/projects/service.ts';
import { installProcessGuard, Readiness } from '../server/guard.ts';
import { createLogger } from '../server/logger.ts';

const USAGE = `Usage: npm run herald -- <command>

Commands:
  project create --name NAME [--json]   Create a project and its first API key (secrets printed once)
  migrate                               Apply pending database migrations
  worker                                Run delivery workers and the reconciler, no HTTP server
                                        (needs DATABASE_URL and REDIS_URL; SIGTERM stops it
                                        gracefully). Run API-only servers with WORKERS_ENABLED=false.

The CLI uses the same environment as the server (DATABASE_URL, HERALD_DATA_DIR...).
`;

async function run(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { name: { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
  });
  const command = positionals.join(' ');
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return values.help ? 0 : 2;
  }
  if (command === 'worker') return worker();
  if (command !== 'project create' && command !== 'migrate') {
    process.stderr.write(`Unknown command "${command}".\n\n${USAGE}`);
    return 2;
  }
  if (command === 'project create' && !values.name?.trim()) {
    process.stderr.write('project create: --name NAME is required\n');
    return 2;
  }
  const config = parseConfig();
  const db = await openDatabase(config);
  try {
    const applied = await migrate(db.sql);
    if (command === 'migrate') {
      process.stdout.write(applied.length ? `Applied: ${applied.join(', ')}\n` : 'The database is up to date.\n');
      return 0;
    }
    const created = await createProject(values.name!.trim());
    if (values.json) process.stdout.write(`${JSON.stringify(created)}\n`);
    else {
      process.stdout.write(
        `Created project ${created.projectId}. These secrets are shown once:\n` +
          Object.entries(created)
            .map(([k, v]) => `  ${k.padEnd(12)} ${v}`)
            .join('\n') +
          '\n',
      );
    }
    return 0;
  } finally {
    await db.close();
  }
}

/**
 * `herald worker`: runs until SIGTERM/SIGINT, then stops taking jobs, lets the running ones
 * finish (bounded by SHUTDOWN_TIMEOUT_MS), closes the queue, pub/sub and database, and exits 0.
 */
async function worker(): Promise<number> {
  // Checked before the configuration is parsed, so either one missing gets this message and exit 2.
  const missing = ['DATABASE_URL', 'REDIS_URL'].filter((key) => !process.env[key]);
  if (missing.length) {
    process.stderr.write(
      `worker: ${missing.join(' and ')} must be set. Separate workers share the PostgreSQL database and the Redis queue ` +
        'with the API servers (the embedded mode runs its workers inside the server).\n',
    );
    return 2;
  }
  const config = parseConfig();
  const logger = createLogger(config);
  const workers = await startWorkers(config, logger);
  // The server's crash policy (README "Crash policy"): a worker has no /readyz, but it drains and exits 1 the same way.
  installProcessGuard({ logger, readiness: new Readiness(), stop: () => workers.stop(), shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS });
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ signal }, 'Stopping the worker: finishing running jobs');
  // A second signal, or a stop that outlasts the grace period, ends the process at once.
  const force = (reason: string) => {
    logger.error({ reason }, 'Worker did not stop gracefully; exiting');
    process.exit(1);
  };
  process.once('SIGTERM', () => force('second SIGTERM'));
  process.once('SIGINT', () => force('second SIGINT'));
  const timer = setTimeout(() => force('shutdown timeout'), config.SHUTDOWN_TIMEOUT_MS + 5_000);
  timer.unref();
  await workers.stop();
  clearTimeout(timer);
  logger.info('Worker stopped');
  return 0;
}

try {
  process.exitCode = await run(process.argv.slice(2));
} catch (error) {
  if (error instanceof ConfigError) {
    for (const problem of error.problems) process.stderr.write(`Invalid configuration: ${problem}\n`);
  } else if (error instanceof EmbeddedDatabaseLockedError) {
    process.stderr.write(`${error.message}\n`);
  } else {
    process.stderr.write(`herald: ${(error as Error).message}\n`);
  }
  process.exitCode = 1;
}
