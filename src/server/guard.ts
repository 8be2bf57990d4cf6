import type { Logger } from 'pino';
import { databaseUnavailability } from '../db/unavailable.ts';

/** What /readyz reports besides the database and Redis round trips. */
export class Readiness {
  /** Why this process will never be ready again (it is draining), or null. */
  failed: string | null = null;

  fail(reason: string): void {
    this.failed ??= reason;
  }
}

export interface ProcessGuardOptions {
  logger: Logger;
  readiness: Readiness;
  /** Drains the process: stop accepting, let in-flight requests and deliveries finish, close. */
  stop(): Promise<void>;
  /** SHUTDOWN_TIMEOUT_MS: past it plus a margin, the process exits whether stop() finished or not. */
  shutdownTimeoutMs: number;
  /** process.exit, unless a test says otherwise. */
  exit?: (code: number) => void;
  /** The process to guard (tests pass an EventEmitter of their own). */
  target?: Pick<NodeJS.Process, 'on' | 'off'>;
}

export interface ProcessGuard {
  /** Fails readiness, drains, then exits with `code` (the first call wins; later ones are ignored). */
  shutdown(reason: string, code: number): void;
  /** Removes the listeners (tests). */
  uninstall(): void;
}

/**
 * The process-level crash policy (README "Crash policy"):
 *
 * - An `unhandledRejection` is logged and the process keeps serving. A rejected promise nobody
 *   awaited belongs to an operation that has already failed and been abandoned; a failed
 *   transaction rolls back, and nothing else is left half-done in memory.
 * - An `uncaughtException` that is a connection dying (a database or Redis socket reset, a
 *   PostgreSQL restart's 57P01 on a connection nobody held) is logged and the process keeps
 *   serving: the client libraries discard that connection and open another, so the state is
 *   known. It should not happen (the pools listen for these), but one missed listener must not
 *   take a fleet down.
 * - Any other `uncaughtException` leaves the state unknown (a callback threw half-way through
 *   whatever it was doing): readiness fails at once (/readyz 503, so load balancers stop
 *   sending), in-flight requests and deliveries get SHUTDOWN_TIMEOUT_MS to finish, and the
 *   process exits 1 so its supervisor (systemd, Kubernetes) starts a clean one. Nothing
 *   accepted is lost: accepted messages are in PostgreSQL and the reconciler re-dispatches them.
 */
export function installProcessGuard(options: ProcessGuardOptions): ProcessGuard {
  const { logger, readiness, stop, shutdownTimeoutMs } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const target = options.target ?? process;
  let stopping = false;
  // A bug during a SIGTERM drain still makes the exit code non-zero.
  let crashed = false;

  const shutdown = (reason: string, code: number) => {
    if (stopping) return;
    stopping = true;
    readiness.fail(reason);
    // A drain that hangs (a stuck socket, a stop() that throws late) must not keep a broken process alive.
    const deadline = setTimeout(() => {
      logger.error({ reason }, 'Shutdown did not finish in time: exiting');
      exit(code || 1);
    }, shutdownTimeoutMs + 5_000);
    stop().then(
      () => {
        clearTimeout(deadline);
        exit(crashed ? 1 : code);
      },
      (error: unknown) => {
        clearTimeout(deadline);
        logger.error({ err: error }, 'Shutdown failed');
        exit(code || 1);
      },
    );
  };

  const onRejection = (reason: unknown) => {
    logger.error({ err: reason }, 'Unhandled promise rejection (the process keeps serving)');
  };
  const onException = (error: unknown) => {
    if (isConnectionError(error)) {
      logger.error({ err: error }, 'Uncaught connection error: the connection is dropped and replaced (the process keeps serving)');
      return;
    }
    if (stopping) {
      crashed = true;
      logger.fatal({ err: error }, 'Uncaught exception while draining');
      return;
    }
    logger.fatal({ err: error }, 'Uncaught exception: the process state is unknown; draining and exiting 1');
    shutdown('uncaught exception', 1);
  };
  target.on('unhandledRejection', onRejection);
  target.on('uncaughtException', onException);
  return {
    shutdown,
    uninstall() {
      target.off('unhandledRejection', onRejection);
      target.off('uncaughtException', onException);
    },
  };
}

const NETWORK_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** A network error of a socket, or a database connection closing: the connection is gone, nothing else. */
function isConnectionError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, syscall } = error as { code?: unknown; syscall?: unknown };
  if (typeof syscall === 'string' && typeof code === 'string') return NETWORK_ERRORS.has(code);
  return databaseUnavailability(error)?.code === 'DATABASE_UNAVAILABLE';
}
