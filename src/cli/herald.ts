import { parseArgs } from 'node:util';
import { ConfigError, parseConfig } from '../config/env.ts';
import { EmbeddedDatabaseLockedError, openDatabase } from '../db/client.ts';
import { migrate } from '../db/migrate.ts';
import { startWorkers } from '../delivery/runtime.ts';
import { createProject } from '../modules/projects/service.ts';
import { PurgeLockedError, runPurge, type PurgeReport } from '../retention/purge.ts';
import { installProcessGuard, Readiness } from '../server/guard.ts';
import { createLogger } from '../server/logger.ts';

const USAGE = `Usage: npm run herald -- <command>

Commands:
  project create --name NAME [--json]   Create a project and its first API key (secrets printed once)
  migrate                               Apply pending database migrations
  worker                                Run delivery workers, the reconciler and the retention purge, no HTTP server
                                        (needs DATABASE_URL and REDIS_URL; SIGTERM stops it
                                        gracefully). Run API-only servers with WORKERS_ENABLED=false.
  purge [--project ID] [--batch-size N] [--json]
                                        Delete now what the projects' retention settings let go
                                        (what the workers do every RETENTION_INTERVAL_MS); exit 1
                                        when another purge holds the lock. SIGINT stops it between
                                        two batches.

The CLI uses the same environment as the server (DATABASE_URL, HERALD_DATA_DIR...).
`;

async function run(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
      project: { type: 'string' },
      'batch-size': { type: 'string' },
    },
  });
  const command = positionals.join(' ');
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return values.help ? 0 : 2;
  }
  if (command === 'worker') return worker();
  if (command === 'purge') return purgeCommand(values);
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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `herald purge`: one retention purge now, under the same lock as the workers' periodic one. */
async function purgeCommand(values: { project?: string | undefined; 'batch-size'?: string | undefined; json?: boolean | undefined }): Promise<number> {
  if (values.project !== undefined && !UUID.test(values.project)) {
    process.stderr.write(`purge: --project must be a project id (a UUID), got ${JSON.stringify(values.project)}\n`);
    return 2;
  }
  let batchSize: number | undefined;
  if (values['batch-size'] !== undefined) {
    batchSize = Number(values['batch-size']);
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 50_000) {
      process.stderr.write(`purge: --batch-size must be an integer from 1 to 50000, got ${JSON.stringify(values['batch-size'])}\n`);
      return 2;
    }
  }
  const config = parseConfig();
  const db = await openDatabase(config);
  // Ctrl-C ends the run after the running statement (every batch before it is committed).
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await migrate(db.sql);
    let report: PurgeReport;
    try {
      report = await runPurge(config, { projectId: values.project, batchSize, signal: abort.signal });
    } catch (error) {
      if (!(error instanceof PurgeLockedError)) throw error;
      process.stderr.write(`purge: ${error.message} Try again when it is done.\n`);
      return 1;
    }
    if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else {
      process.stdout.write(
        `${report.stopped ? 'Stopped early. ' : ''}Purged ${report.messages} messages (${report.messageEvents} status events), ` +
          `${report.executions} executions, ${report.inboxEvents} inbox events and ${report.inboxItems} archived inbox items ` +
          `in ${report.projects} project(s) with a retention setting: ${report.statements} statements, ` +
          `longest ${report.longestStatementMs.toFixed(1)} ms, ${(report.durationMs / 1000).toFixed(1)} s in all.\n`,
      );
    }
    return report.stopped ? 1 : 0;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await db.close();
  }
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
