import type { Logger } from 'pino';
import type { Config } from '../config/env.ts';
import { PurgeLockedError, runPurge, type PurgeReport } from './purge.ts';

/** The first run comes this soon after start at most: a fleet restarted more often than
 * RETENTION_INTERVAL_MS (deploys) would otherwise never purge. */
const FIRST_RUN_MAX_DELAY_MS = 60_000;

/**
 * The periodic retention purge of a worker process (the server with its workers, or `herald
 * worker`). Every RETENTION_INTERVAL_MS; with several instances the advisory lock lets one of
 * them purge and the others skip that turn. Stopped by close(): the running purge ends after its
 * current statement.
 */
export class RetentionJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<PurgeReport | null> | undefined;
  private readonly abort = new AbortController();

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
  ) {}

  start(): void {
    const interval = this.config.RETENTION_INTERVAL_MS;
    if (interval === 0 || this.timer) return;
    this.timer = setTimeout(() => {
      void this.run();
      this.timer = setInterval(() => void this.run(), interval);
      this.timer.unref();
    }, Math.min(interval, FIRST_RUN_MAX_DELAY_MS));
    this.timer.unref();
  }

  /** One run now (none when one is running: that one is answered). Never throws; null when skipped or failed. */
  run(): Promise<PurgeReport | null> {
    this.running ??= this.runOnce().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async runOnce(): Promise<PurgeReport | null> {
    if (this.abort.signal.aborted) return null;
    try {
      const report = await runPurge(this.config, { signal: this.abort.signal, logger: this.logger });
      const purged = report.messages + report.executions + report.inboxEvents + report.inboxItems;
      if (purged > 0) this.logger.info({ retention: report }, 'Retention purge done');
      else this.logger.debug({ retention: report }, 'Retention purge: nothing to delete');
      return report;
    } catch (error) {
      if (error instanceof PurgeLockedError) {
        this.logger.debug('Retention purge skipped: another instance is purging');
      } else {
        // Retried at the next interval; whatever was deleted so far stays deleted (each batch commits).
        this.logger.warn({ err: error }, 'Retention purge failed; retrying at the next interval');
      }
      return null;
    }
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    clearInterval(this.timer);
    this.timer = undefined;
    this.abort.abort();
    await this.running;
  }
}
