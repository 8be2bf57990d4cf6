import { GraphQLError, print, type GraphQLFormattedError } from 'graphql';
import type { Plugin, YogaServerInstance } from 'graphql-yoga';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { principalFromHeaders } from '../graphql/context.ts';
import { credentialsFromHeaders, type Principal } from '../modules/projects/auth.ts';
import { authRateLimiter } from '../modules/projects/rate-limit.ts';
import { databaseUnavailability } from '../db/unavailable.ts';
import { serviceUnavailable } from '../graphql/errors.ts';
import { readBodyLimited } from '../server/body.ts';
import { badText, findInputProblem } from '../server/input-hygiene.ts';
import { API_PROFILES, STATUS_BY_CODE, type LegacyError } from './apis.ts';
import { RestAnswer, RestInputError, type RestRequest, type RestResponse, type RestRoute } from './route.ts';

/** The server context of the bridge's own requests to /graphql (the body limit lets them through). */
export interface BridgeServerContext {
  heraldRestBridge: true;
  /** `POST /messages.send`: the route whose operation this is (the operation metrics' `route` label). */
  heraldRoute?: string;
  /** Who the bridge already authenticated: the GraphQL context takes it instead of checking the key again. */
  heraldPrincipal?: Principal;
  /** The original client's address (the in-process request has none), for the auth rate limits. */
  clientIp?: string;
}

interface CompiledRoute {
  route: RestRoute;
  pattern: RegExp;
  paramNames: string[];
  query: string;
}

function compile(route: RestRoute): CompiledRoute {
  const paramNames: string[] = [];
  const source = route.path.replace(/[.]/g, '\\.').replace(/:([A-Za-z]+)/g, (_m, name: string) => {
    paramNames.push(name);
    return '([^/]+)';
  });
  return { route, pattern: new RegExp(`^${source}/?$`), paramNames, query: print(route.operation) };
}

/**
 * Serves the legacy REST routes by executing their GraphQL operation in-process through the
 * same yoga instance (`yoga.fetch`): auth, validation, error masking and logging are the
 * GraphQL ones. Only the route's own API's credential headers are forwarded, so each legacy
 * path accepts exactly the auth style its clients use.
 */
export function useRestBridge(routes: RestRoute[], getYoga: () => YogaServerInstance<any, any>, maxBodyBytes: number, maxJsonDepth = 64): Plugin {
  const compiled = routes.map(compile);
  // Every route's pattern in one: most requests (GraphQL, health) are no route, and one test says
  // so instead of one per route.
  const anyRoute = new RegExp(compiled.map((c) => `(?:${c.pattern.source})`).join('|') || '(?!)');
  return {
    async onRequest({ request, url, endResponse, serverContext }) {
      if (!anyRoute.test(url.pathname)) return;
      const matches = compiled.filter((c) => c.pattern.test(url.pathname));
      if (matches.length === 0) return;
      const match = matches.find((c) => c.route.method === request.method);
      if (!match) {
        endResponse(Response.json({ error: 'method_not_allowed' }, { status: 405, headers: { allow: matches.map((c) => c.route.method).join(', ') } }));
        return;
      }
      try {
        const clientIp = authRateLimiter().clientIp((serverContext as { req?: IncomingMessage } | undefined)?.req, request.headers);
        endResponse(await handle(match, request, url, getYoga(), maxBodyBytes, maxJsonDepth, clientIp));
      } catch (error) {
        const requestId = request.headers.get('x-request-id') ?? randomUUID();
        // A route that reads the database itself (outside GraphQL) during an outage: 503, retryable.
        const unavailable = databaseUnavailability(error);
        if (unavailable) {
          const body = API_PROFILES[match.route.api].errorBody({ status: 503, code: unavailable.code, message: serviceUnavailable(unavailable).message, requestId });
          endResponse(Response.json(body, { status: 503, headers: { 'x-request-id': requestId, 'retry-after': String(unavailable.retryAfterSeconds) } }));
          return;
        }
        // A bug in a route's mapping: log it, answer the API's own 500 shape, never a stack trace.
        getYoga().logger.error(error);
        const body = API_PROFILES[match.route.api].errorBody({ status: 500, code: 'INTERNAL_SERVER_ERROR', message: 'Unexpected error.', requestId });
        endResponse(Response.json(body, { status: 500, headers: { 'x-request-id': requestId } }));
      }
    },
  };
}

async function handle(
  c: CompiledRoute,
  request: Request,
  url: URL,
  yoga: YogaServerInstance<any, any>,
  maxBodyBytes: number,
  maxJsonDepth: number,
  clientIp: string | undefined,
): Promise<Response> {
  const profile = API_PROFILES[c.route.api];
  const requestId = request.headers.get('x-request-id') ?? randomUUID();
  const fail = (error: Omit<LegacyError, 'requestId'>, headers: Record<string, string> = {}) =>
    Response.json(profile.errorBody({ ...error, requestId }), {
      status: error.status,
      // A 413 leaves the rest of the body unread: the connection cannot carry another request.
      headers: { ...headers, 'x-request-id': requestId, ...(error.status === 413 ? { connection: 'close' } : {}) },
    });
  const refuse = (refused: AuthRefusal) =>
    refused.retryAfter !== undefined
      ? fail({ status: 429, code: 'RATE_LIMITED', message: refused.message }, { 'retry-after': String(refused.retryAfter) })
      : fail({ status: 401, code: 'UNAUTHENTICATED', message: refused.message });

  // Credentials come first, on every route (a client without them learns nothing about its body):
  // header-borne ones before the body is even read; Notifuse's widget API may carry them in the body.
  const carriedInBody = profile.credentialsFromRequest !== undefined;
  let principal: Principal | undefined;
  if (!carriedInBody) {
    const outcome = await authenticateRoute(forwardedHeaders(profile, request, url, undefined, requestId), profile.credentialsHint, clientIp);
    if ('refused' in outcome) return refuse(outcome.refused);
    principal = outcome.principal;
  }

  const invalid = (field: string, message: string) =>
    fail({ status: 400, code: 'BAD_USER_INPUT', message: `${field}: ${message}`, issues: [{ field, message }] });
  const values = c.pattern.exec(url.pathname)!.slice(1);
  const params: Record<string, string> = {};
  for (const [i, name] of c.paramNames.entries()) {
    // decodeURIComponent throws a URIError on malformed escapes (`%E0%A4%A`): that was a 500.
    let value: string;
    try {
      value = decodeURIComponent(values[i]!);
    } catch {
      return invalid(name, 'is not valid percent-encoded UTF-8');
    }
    const problem = badText(value);
    if (problem) return invalid(name, problem);
    params[name] = value;
  }
  let body: unknown;
  let invalidJson = false;
  if (request.method !== 'GET' && request.method !== 'DELETE') {
    const bytes = await readBodyLimited(request, maxBodyBytes);
    if (bytes === null) {
      return fail({ status: 413, code: 'PAYLOAD_TOO_LARGE', message: `the request body is larger than ${maxBodyBytes} bytes` });
    }
    const text = new TextDecoder().decode(bytes);
    if (text.trim() !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        invalidJson = true;
      }
    }
  }
  const headers = forwardedHeaders(profile, request, url, body, requestId);
  if (carriedInBody) {
    const outcome = await authenticateRoute(headers, profile.credentialsHint, clientIp);
    if ('refused' in outcome) return refuse(outcome.refused);
    principal = outcome.principal;
  }
  if (invalidJson) return fail({ status: 400, code: 'BAD_USER_INPUT', message: 'the request body is not valid JSON' });
  // After the credentials, before mapping: the route's field names are the client's, and a body
  // nested 100,000 deep would overflow JSON.stringify below.
  if (body !== undefined) {
    const problem = findInputProblem(body, maxJsonDepth);
    if (problem) return invalid(problem.path || 'body', problem.message);
  }
  const restRequest: RestRequest = { params, query: url.searchParams, body, headers: request.headers, requestId };

  let variables: unknown;
  try {
    variables = c.route.variables(restRequest);
  } catch (error) {
    if (error instanceof RestInputError) {
      return fail({ status: 400, code: 'BAD_USER_INPUT', message: error.message, issues: error.issues ?? [{ field: error.field, message: error.message }] });
    }
    // The route can answer without running its operation (e.g. a Notifuse batch whose every item is invalid).
    if (error instanceof RestAnswer) return answerWith(error.response, requestId);
    throw error;
  }

  const bridgeContext: BridgeServerContext = { heraldRestBridge: true, heraldRoute: `${c.route.method} ${c.route.path}`, heraldPrincipal: principal!, ...(clientIp ? { clientIp } : {}) };
  const execute = async (vars: unknown) => {
    const response = await yoga.fetch(new URL('/graphql', url), { method: 'POST', headers, body: JSON.stringify({ query: c.query, variables: vars }) }, bridgeContext);
    return { status: response.status, result: (await response.json()) as { data?: unknown; errors?: GraphQLFormattedError[] } };
  };
  const { status: httpStatus, result } = await execute(variables);
  if (result.errors?.length) {
    const first = result.errors[0]!;
    const code = String(first.extensions?.code ?? (result.data ? 'INTERNAL_SERVER_ERROR' : 'BAD_USER_INPUT'));
    const status = STATUS_BY_CODE[code] ?? (httpStatus >= 400 ? httpStatus : 500);
    let issues = first.extensions?.issues as LegacyError['issues'];
    let message = first.message;
    // Issues named in the legacy body's terms (the GraphQL input may spell a field differently).
    if (issues && c.route.errorField) {
      issues = issues.map((i) => ({ ...i, field: i.field ? c.route.errorField!(i.field, restRequest) : i.field }));
      message = issues.map((i) => (i.field ? `${i.field}: ${i.message}` : i.message)).join('; ');
    }
    if (c.route.legacyIssue && (issues || status === 400)) {
      issues = (issues ?? [{ field: '', message }]).map((issue) => c.route.legacyIssue!(issue));
      message = issues.map((i) => (i.field ? `${i.field}: ${i.message}` : i.message)).join('; ');
    }
    // RATE_LIMITED (429) and the 503s (database outage, overload) say when to come back, as the
    // GraphQL answer does.
    const retryAfter = first.extensions?.retryAfter;
    return fail({ status, code: status === 400 ? 'BAD_USER_INPUT' : code, message, issues }, typeof retryAfter === 'number' ? { 'retry-after': String(retryAfter) } : {});
  }
  const answer = c.route.respond(result.data as never, restRequest);
  const next = c.route.nextPage?.(result.data as never, variables as never, restRequest) ?? null;
  if (next !== null) return streamPages(c, restRequest, answer, next, execute, yoga, { ...answer.headers, 'x-request-id': requestId });
  return answerWith(answer, requestId);
}

function answerWith(answer: RestResponse, requestId: string): Response {
  const answerHeaders = { ...answer.headers, 'x-request-id': requestId };
  if (answer.status === 204 || answer.body === undefined) return new Response(null, { status: answer.status, headers: answerHeaders });
  return Response.json(answer.body, { status: answer.status, headers: answerHeaders });
}

/** The headers the GraphQL request carries: the request id and this API's own credentials only. */
function forwardedHeaders(profile: (typeof API_PROFILES)[keyof typeof API_PROFILES], request: Request, url: URL, body: unknown, requestId: string): Headers {
  const headers = new Headers({ 'content-type': 'application/json', accept: 'application/graphql-response+json', 'x-request-id': requestId });
  for (const name of profile.credentialHeaders) {
    const value = request.headers.get(name);
    if (value !== null) headers.set(name, value);
  }
  for (const [name, value] of Object.entries(profile.credentialsFromRequest?.(url.searchParams, body) ?? {})) {
    if (value) headers.set(name, value);
  }
  // Only this API's credential style counts (e.g. a Neucron client's own Authorization token is not a Herald key).
  if (profile.credentialStyle === 'bearer' && !/^bearer\s/i.test(headers.get('authorization') ?? '')) headers.delete('authorization');
  if (profile.credentialStyle === 'basic' && !/^basic\s/i.test(headers.get('authorization') ?? '')) headers.delete('authorization');
  return headers;
}

interface AuthRefusal {
  message: string;
  /** Set when the refusal is a rate limit (429): seconds until the block ends. */
  retryAfter?: number;
}

/**
 * Every legacy operation needs a caller: the principal, or why there is none (401, or 429 when
 * too many authentications failed). Checked once here; the GraphQL context of the bridged request
 * reuses it (see BridgeServerContext).
 */
async function authenticateRoute(headers: Headers, hint: string, clientIp: string | undefined): Promise<{ principal: Principal } | { refused: AuthRefusal }> {
  const missing = { refused: { message: `Missing credentials: send ${hint}` } };
  if (credentialsFromHeaders(headers) === null) return missing;
  try {
    const principal = await principalFromHeaders(headers, clientIp);
    return principal ? { principal } : missing;
  } catch (error) {
    if (error instanceof GraphQLError && error.extensions.code === 'UNAUTHENTICATED') return { refused: { message: error.message } };
    if (error instanceof GraphQLError && error.extensions.code === 'RATE_LIMITED') {
      return { refused: { message: error.message, retryAfter: Number(error.extensions.retryAfter) } };
    }
    throw error;
  }
}

/**
 * Answers every page of a list route as one JSON array, fetching page after page while the client
 * reads, so memory holds one page at a time. The status is the first page's; a later page that
 * fails cannot change it any more, so the stream is aborted (the client sees a cut connection and
 * an unterminated array, never a short list that looks complete) and the error is logged.
 */
function streamPages(
  c: CompiledRoute,
  request: RestRequest,
  first: { status: number; body?: unknown },
  firstNext: unknown,
  execute: (vars: unknown) => Promise<{ result: { data?: unknown; errors?: GraphQLFormattedError[] } }>,
  yoga: YogaServerInstance<any, any>,
  headers: Record<string, string>,
): Response {
  const encoder = new TextEncoder();
  let next: unknown = firstNext;
  let written = 0;
  const chunk = (items: unknown[]) => {
    const text = items.map((item, i) => (written + i > 0 ? ',' : '') + JSON.stringify(item)).join('');
    written += items.length;
    return encoder.encode(text);
  };
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode('['));
      controller.enqueue(chunk(first.body as unknown[]));
    },
    async pull(controller) {
      if (next === null) {
        controller.enqueue(encoder.encode(']'));
        controller.close();
        return;
      }
      try {
        const { result } = await execute(next);
        if (result.errors?.length || !result.data) throw new Error(`page failed: ${result.errors?.[0]?.message ?? 'no data'}`);
        controller.enqueue(chunk(c.route.respond(result.data as never, request).body as unknown[]));
        next = c.route.nextPage!(result.data as never, next as never, request);
      } catch (error) {
        yoga.logger.error(error);
        controller.error(error);
      }
    },
  });
  return new Response(stream, { status: first.status, headers: { ...headers, 'content-type': 'application/json; charset=utf-8' } });
}
