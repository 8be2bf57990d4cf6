/**
 * Recognises the errors that mean "the database cannot serve this request right now" as
 * opposed to a bug or bad input, so they can be answered 503 + Retry-After (retryable:
 * nothing was written) instead of 500.
 *
 * - `DATABASE_UNAVAILABLE`: PostgreSQL is unreachable, restarting, failing over, or cut the
 *   connection (57P01 on `pg_ctl restart -m fast`, ECONNREFUSED while it is down).
 * - `OVERLOADED`: PostgreSQL is up but this request could not get its share in time: no free
 *   connection within DATABASE_CONNECT_TIMEOUT_MS, a transaction or statement over its timeout,
 *   the server's own connection limit.
 *
 * Errors arrive in several wrappings (Prisma's known-request errors carrying the driver
 * adapter's error in `meta`, pg's own errors thrown through the adapter untouched, yoga's
 * GraphQLError around either), so the chain is walked.
 */
export type UnavailableCode = 'DATABASE_UNAVAILABLE' | 'OVERLOADED';

export interface Unavailability {
  code: UnavailableCode;
  /** Seconds a client should wait before retrying (the Retry-After header). */
  retryAfterSeconds: number;
  /** What happened, for the log and the client's message (never the SQL or a stack). */
  reason: string;
}

/** Retry-After for an outage: a restart or failover takes seconds. */
export const OUTAGE_RETRY_AFTER_SECONDS = 5;
/** Retry-After when overloaded: the pool frees connections within a second or so. */
export const OVERLOAD_RETRY_AFTER_SECONDS = 1;

// Prisma's codes: https://www.prisma.io/docs/orm/reference/error-reference
const PRISMA_OUTAGE = new Set(['P1001', 'P1002', 'P1008', 'P1017']);
// P2024: no connection from the pool in time; P2028: transaction not started (maxWait) or expired (timeout).
const PRISMA_OVERLOAD = new Set(['P2024', 'P2028']);
// The driver adapter's error kinds (@prisma/driver-adapter-utils).
const KIND_OUTAGE = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout']);
const KIND_OVERLOAD = new Set(['TooManyConnections']);
// SQLSTATE: class 08 (connection exception), 57P01 admin_shutdown, 57P02 crash_shutdown,
// 57P03 cannot_connect_now (starting up / shutting down); 53300 too_many_connections,
// 53400 configuration_limit_exceeded, 57014 query_canceled (statement_timeout), 55P03 lock_not_available.
const SQLSTATE_OUTAGE = /^(08[0-9A-Z]{3}|57P0[1-3])$/;
const SQLSTATE_OVERLOAD = /^(53300|53400|57014|55P03)$/;
// Socket-level errors of a database connection.
const ERRNO_OUTAGE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
// pg and pg-pool throw plain Errors for these (the adapter passes them through as they are).
const MESSAGE_OVERLOAD = /timeout exceeded when trying to connect|Unable to start a transaction in the given time|Transaction already closed/i;
const MESSAGE_OUTAGE =
  /Connection terminated|Query read timeout|Client has encountered a connection error|Can't reach database server|terminating connection due to administrator command|the database system is (starting up|shutting down|in recovery mode)|Connection terminated due to connection timeout/i;

const outage = (reason: string): Unavailability => ({ code: 'DATABASE_UNAVAILABLE', retryAfterSeconds: OUTAGE_RETRY_AFTER_SECONDS, reason });
const overload = (reason: string): Unavailability => ({ code: 'OVERLOADED', retryAfterSeconds: OVERLOAD_RETRY_AFTER_SECONDS, reason });

/** The unavailability an error means, or null when it is anything else (a bug, bad input...). */
export function databaseUnavailability(error: unknown): Unavailability | null {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length) {
    const e = queue.shift();
    if (typeof e !== 'object' || e === null || seen.has(e)) continue;
    seen.add(e);
    const found = classifyOne(e as Record<string, unknown>);
    if (found) return found;
    const { cause, originalError, meta } = e as { cause?: unknown; originalError?: unknown; meta?: { driverAdapterError?: unknown } };
    queue.push(originalError, cause, meta?.driverAdapterError);
    // AggregateError (e.g. a connect() that tried IPv4 and IPv6).
    if (Array.isArray((e as { errors?: unknown }).errors)) queue.push(...(e as { errors: unknown[] }).errors);
  }
  return null;
}

function classifyOne(e: Record<string, unknown>): Unavailability | null {
  // A GraphQL error raised on purpose (BAD_USER_INPUT...) is what it says, whatever its message
  // echoes; only what it wraps (originalError) is looked at.
  if ((e.extensions as { code?: unknown } | undefined)?.code !== undefined) return null;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const kind = typeof e.kind === 'string' ? e.kind : undefined;
  const message = typeof e.message === 'string' ? e.message : '';
  if (code && PRISMA_OUTAGE.has(code)) return outage('the database cannot be reached');
  if (code && PRISMA_OVERLOAD.has(code)) return overload(/timeout for this transaction|expired/i.test(message) ? 'a transaction took too long' : 'no database connection was free in time');
  if (kind && KIND_OUTAGE.has(kind)) return outage('the database cannot be reached');
  if (kind && KIND_OVERLOAD.has(kind)) return overload('the database has no connection left');
  // A PostgreSQL error: the adapter's { kind: 'postgres', code } or pg's own DatabaseError.
  const sqlState = kind === 'postgres' ? code : typeof e.severity === 'string' ? code : undefined;
  if (sqlState && SQLSTATE_OUTAGE.test(sqlState)) return outage('the database closed the connection (restart or failover)');
  if (sqlState && SQLSTATE_OVERLOAD.test(sqlState)) return overload(sqlState === '57014' ? 'a statement took too long' : 'the database is overloaded');
  if (code && ERRNO_OUTAGE.has(code) && typeof e.syscall === 'string') return outage('the database cannot be reached');
  if (MESSAGE_OVERLOAD.test(message)) return overload(/Transaction already closed/i.test(message) ? 'a transaction took too long' : 'no database connection was free in time');
  if (MESSAGE_OUTAGE.test(message)) return outage('the database cannot be reached');
  return null;
}
