import type { GraphQLError } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import type { Unavailability } from '../db/unavailable.ts';

/**
 * The error codes a client can act on. Anything thrown that is not one of these is masked
 * by yoga ("Unexpected error.") and logged with its stack; REST maps each code to a status.
 */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** A websocket already runs WS_MAX_SUBSCRIPTIONS subscriptions; the socket stays open. */
  TOO_MANY_SUBSCRIPTIONS: 'TOO_MANY_SUBSCRIPTIONS',
  /** A subscriber fell too far behind its events: resubscribe with `since` (a websocket is closed with 1013). */
  SLOW_CONSUMER: 'SLOW_CONSUMER',
  /** Too many failed authentications from this address or for this key: retry after `extensions.retryAfter` seconds (HTTP 429, Retry-After). */
  RATE_LIMITED: 'RATE_LIMITED',
  /** The database is unreachable or restarting (HTTP 503, Retry-After): retry later. */
  DATABASE_UNAVAILABLE: 'DATABASE_UNAVAILABLE',
  /** No database connection or time was free for this request in time (HTTP 503, Retry-After): retry. */
  OVERLOADED: 'OVERLOADED',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface InputIssue {
  /** Dotted path of the offending field, e.g. "users.3.email". */
  field: string;
  message: string;
}

export function unauthenticated(message = 'Missing or invalid credentials') {
  return createGraphQLError(message, { extensions: { code: ErrorCode.UNAUTHENTICATED } });
}

export function forbidden(message = 'Not allowed') {
  return createGraphQLError(message, { extensions: { code: ErrorCode.FORBIDDEN } });
}

export function notFound(what: string, id: string | number) {
  return createGraphQLError(`${what} ${JSON.stringify(String(id))} not found`, {
    extensions: { code: ErrorCode.NOT_FOUND, resource: what, id: String(id) },
  });
}

/** 429 with Retry-After (yoga applies extensions.http when the error ends the request). */
export function rateLimited(retryAfterSeconds: number, message = 'Too many requests') {
  return createGraphQLError(`${message}; retry after ${retryAfterSeconds} s`, {
    extensions: { code: ErrorCode.RATE_LIMITED, retryAfter: retryAfterSeconds, http: { status: 429, headers: { 'retry-after': String(retryAfterSeconds) } } },
  });
}

export function conflict(message: string) {
  return createGraphQLError(message, { extensions: { code: ErrorCode.CONFLICT } });
}

/** Invalid input: the message names the fields; `issues` lists each one for programs. */
export function badInput(issues: InputIssue[] | string) {
  const list = typeof issues === 'string' ? [{ field: '', message: issues }] : issues;
  const message = list.map((issue) => (issue.field ? `${issue.field}: ${issue.message}` : issue.message)).join('; ');
  return createGraphQLError(message, { extensions: { code: ErrorCode.BAD_USER_INPUT, issues: list } });
}

/** Converts Standard Schema (zod) issues into our issue list. */
export function issuesFrom(
  issues: ReadonlyArray<{ message: string; path?: ReadonlyArray<PropertyKey | { key: PropertyKey }> | undefined }>,
  prefix: (string | number)[] = [],
): InputIssue[] {
  return issues.map((issue) => ({
    field: [...prefix, ...(issue.path ?? []).map((p) => (typeof p === 'object' ? String(p.key) : String(p)))].join('.'),
    message: issue.message,
  }));
}

/**
 * A request the database cannot serve right now (see db/unavailable.ts): HTTP 503 with
 * Retry-After, through yoga's `extensions.http` (stripped from the answer). Keeps the field's
 * path and location when it replaces a resolver's error.
 */
export function serviceUnavailable(unavailable: Unavailability, at?: GraphQLError) {
  const message =
    unavailable.code === ErrorCode.DATABASE_UNAVAILABLE
      ? `Service unavailable: ${unavailable.reason}. Retry in ${unavailable.retryAfterSeconds} s.`
      : `Service overloaded: ${unavailable.reason}. Retry in ${unavailable.retryAfterSeconds} s.`;
  return createGraphQLError(message, {
    ...(at ? { nodes: at.nodes, source: at.source, positions: at.positions, path: at.path } : {}),
    extensions: {
      code: unavailable.code,
      retryAfter: unavailable.retryAfterSeconds,
      http: { status: 503, headers: { 'retry-after': String(unavailable.retryAfterSeconds) } },
    },
  });
}
