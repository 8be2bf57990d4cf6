import type { YogaInitialContext } from 'graphql-yoga';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { authenticateLimited, credentialsFromHeaders, type Principal } from '../modules/projects/auth.ts';
import { authRateLimiter, nodeHeaders } from '../modules/projects/rate-limit.ts';
import type { Delivery } from '../delivery/delivery.ts';
import type { HeraldPubSub } from '../realtime/pubsub.ts';
import { unauthenticated } from './errors.ts';

export interface Context {
  /** null: no credentials were presented (fields that need them answer UNAUTHENTICATED). */
  principal: Principal | null;
  /** Echoed as X-Request-Id and stored with what the request creates. */
  requestId: string;
  pubsub: HeraldPubSub;
  delivery: Delivery;
}

/** Process-wide services handed to resolvers (the Prisma client is imported, not passed). */
export interface Services {
  pubsub: HeraldPubSub;
  delivery: Delivery;
}

/** What graphql-ws hands to yoga for a websocket operation (see realtime/websocket.ts). */
export interface SocketInitialContext {
  transport?: 'ws';
  connectionParams?: Record<string, unknown> | undefined;
  /** Node's request (HTTP server context; websocket operations pass the upgrade request). */
  req?: IncomingMessage;
  /** Set by the REST bridge for its in-process requests: the original client's address. */
  clientIp?: string;
  /** Found once in connection_init; the socket closes when it stops being valid. */
  principal?: Principal | undefined;
}

/**
 * Builds the context for HTTP and websocket operations alike. Credentials that are present
 * but wrong fail the whole operation (a typo in a key must not silently turn a call anonymous).
 */
export function contextFactory(services: Services) {
  return async (initial: YogaInitialContext & SocketInitialContext): Promise<Context> => {
    const headers =
      initial.transport === 'ws' ? headersFromConnectionParams(initial.connectionParams ?? {}) : initial.request.headers;
    const requestId = sanitizeRequestId(headers.get('x-request-id')) ?? randomUUID();
    // A websocket's operations reuse the principal of its connection_init (one lookup per socket,
    // not per operation), unless it is an end user not created yet: they may exist by now.
    const reuse = initial.transport === 'ws' && initial.principal && !(initial.principal.kind === 'endUser' && initial.principal.userId === null);
    // The REST bridge authenticated its request already (only in-process callers set this server context).
    const checked = reuse ? initial.principal! : (initial as { heraldPrincipal?: Principal }).heraldPrincipal;
    if (checked) return { principal: checked, requestId, ...services };
    const clientIp = initial.clientIp ?? authRateLimiter().clientIp(initial.req, initial.transport === 'ws' ? nodeHeaders(initial.req) : initial.request.headers);
    return { principal: await principalFromHeaders(headers, clientIp), requestId, ...services };
  };
}

/**
 * null when no credentials are presented; throws UNAUTHENTICATED when they are wrong, and
 * RATE_LIMITED when too many failed from this client IP or for these credentials.
 */
export async function principalFromHeaders(headers: Headers, clientIp?: string): Promise<Principal | null> {
  const presented = credentialsFromHeaders(headers);
  if (presented === null) return null;
  const principal = await authenticateLimited(presented, clientIp);
  if (!principal) throw invalidCredentials();
  return principal;
}

export function invalidCredentials() {
  const error = unauthenticated('Invalid credentials');
  // Yoga uses this status when the error ends the request before execution.
  (error.extensions as Record<string, unknown>).http = { status: 401 };
  return error;
}

/**
 * graphql-ws clients put credentials in the `connection_init` payload. Any key there is
 * read like a header of the same name (`authorization`, `x-key`, `x-neucron-*`), plus
 * `apiKey` as a shorthand for a Bearer key.
 */
export function headersFromConnectionParams(params: Record<string, unknown>): Headers {
  const headers = new Headers();
  for (const [key, value] of Object.entries(params)) {
    if (typeof value === 'string' && /^[a-z0-9-]+$/i.test(key)) headers.set(key, value);
  }
  // Widgets: { projectId, userId, userHash, tenant? } (userId is the externalId), or { userToken } (a signed JWT).
  for (const [param, header] of [['projectId', 'x-herald-project'], ['userId', 'x-herald-user'], ['userHash', 'x-herald-user-hash'], ['tenant', 'x-herald-tenant'], ['userToken', 'x-herald-user-token']] as const) {
    if (typeof params[param] === 'string') headers.set(header, params[param]);
  }
  const apiKey = params.apiKey;
  if (typeof apiKey === 'string' && !headers.has('authorization')) headers.set('authorization', `Bearer ${apiKey}`);
  return headers;
}

function sanitizeRequestId(value: string | null): string | undefined {
  return value && /^[\w.:-]{1,128}$/.test(value) ? value : undefined;
}
