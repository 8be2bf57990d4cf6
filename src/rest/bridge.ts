import { print, type GraphQLFormattedError } from 'graphql';
import type { Plugin, YogaServerInstance } from 'graphql-yoga';
import { randomUUID } from 'node:crypto';
import { databaseUnavailability } from '../db/unavailable.ts';
import { serviceUnavailable } from '../graphql/errors.ts';
import { readBodyLimited } from '../server/body.ts';
import { API_PROFILES, STATUS_BY_CODE, type LegacyError } from './apis.ts';
import { RestInputError, type RestRequest, type RestRoute } from './route.ts';

/** The server context of the bridge's own requests to /graphql (the body limit lets them through). */
export interface BridgeServerContext {
  heraldRestBridge: true;
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
export function useRestBridge(routes: RestRoute[], getYoga: () => YogaServerInstance<any, any>, maxBodyBytes: number): Plugin {
  const compiled = routes.map(compile);
  return {
    async onRequest({ request, url, endResponse }) {
      const matches = compiled.filter((c) => c.pattern.test(url.pathname));
      if (matches.length === 0) return;
      const match = matches.find((c) => c.route.method === request.method);
      if (!match) {
        endResponse(Response.json({ error: 'method_not_allowed' }, { status: 405, headers: { allow: matches.map((c) => c.route.method).join(', ') } }));
        return;
      }
      try {
        endResponse(await handle(match, request, url, getYoga(), maxBodyBytes));
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

async function handle(c: CompiledRoute, request: Request, url: URL, yoga: YogaServerInstance<any, any>, maxBodyBytes: number): Promise<Response> {
  const profile = API_PROFILES[c.route.api];
  const requestId = request.headers.get('x-request-id') ?? randomUUID();
  const fail = (error: Omit<LegacyError, 'requestId'>, headers: Record<string, string> = {}) =>
    Response.json(profile.errorBody({ ...error, requestId }), { status: error.status, headers: { ...headers, 'x-request-id': requestId } });

  const values = c.pattern.exec(url.pathname)!.slice(1);
  const params = Object.fromEntries(c.paramNames.map((name, i) => [name, decodeURIComponent(values[i]!)]));
  let body: unknown;
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
        return fail({ status: 400, code: 'BAD_USER_INPUT', message: 'the request body is not valid JSON' });
      }
    }
  }
  const restRequest: RestRequest = { params, query: url.searchParams, body, headers: request.headers, requestId };

  let variables: unknown;
  try {
    variables = c.route.variables(restRequest);
  } catch (error) {
    if (error instanceof RestInputError) {
      return fail({ status: 400, code: 'BAD_USER_INPUT', message: error.message, issues: [{ field: error.field, message: error.message }] });
    }
    throw error;
  }

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

  const bridgeContext: BridgeServerContext = { heraldRestBridge: true };
  const response = await yoga.fetch(
    new URL('/graphql', url),
    { method: 'POST', headers, body: JSON.stringify({ query: c.query, variables }) },
    bridgeContext,
  );
  const result = (await response.json()) as { data?: unknown; errors?: GraphQLFormattedError[] };
  if (result.errors?.length) {
    const first = result.errors[0]!;
    const code = String(first.extensions?.code ?? (result.data ? 'INTERNAL_SERVER_ERROR' : 'BAD_USER_INPUT'));
    const status = STATUS_BY_CODE[code] ?? (response.status >= 400 ? response.status : 500);
    const issues = first.extensions?.issues as LegacyError['issues'];
    // 503s (database outage, overload) carry GraphQL's Retry-After to the legacy client.
    const retryAfter = response.headers.get('retry-after');
    return fail({ status, code: status === 400 ? 'BAD_USER_INPUT' : code, message: first.message, issues }, status === 503 && retryAfter ? { 'retry-after': retryAfter } : {});
  }
  const answer = c.route.respond(result.data as never, restRequest);
  const answerHeaders = { ...answer.headers, 'x-request-id': requestId };
  if (answer.status === 204 || answer.body === undefined) return new Response(null, { status: answer.status, headers: answerHeaders });
  return Response.json(answer.body, { status: answer.status, headers: answerHeaders });
}
