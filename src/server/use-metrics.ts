import { createHash, timingSafeEqual } from 'node:crypto';
import { getOperationAST, type ExecutionArgs } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { RestRoute } from '../rest/route.ts';
import type { HeraldMetrics } from './metrics.ts';

export interface MetricsPluginOptions {
  metrics: HeraldMetrics;
  /** The legacy REST routes: a request to one is labelled with its pattern (`/notifications/:id`), not its path. */
  routes: RestRoute[];
  /** When set, GET /metrics needs `Authorization: Bearer <token>`. */
  token?: string | undefined;
  /** Default `/metrics`. */
  endpoint?: string;
}

/** What the REST bridge's in-process requests carry in their server context (src/rest/bridge.ts). */
interface BridgeMark {
  heraldRestBridge?: boolean;
  /** `POST /messages.send`: the route whose GraphQL operation this is. */
  heraldRoute?: string;
}

/** Paths with a fixed label; any other path that is no REST route is `unmatched` (scanners' 404s add no series). */
const FIXED_ROUTES = new Set(['/graphql', '/healthz', '/readyz', '/openapi.json']);
const PREFIX_ROUTES = ['/widget', '/graphiql', '/console'];

/**
 * Prometheus metrics for the HTTP surface, and GET /metrics itself:
 *
 * - `herald_http_request_duration_seconds{method,route,status}`: each HTTP request until its
 *   answer starts. The REST bridge's own in-process GraphQL requests are not HTTP requests and
 *   are not counted here (the client's request to the legacy route is); SSE answers are streams,
 *   counted by `herald_subscriptions` instead.
 * - `herald_graphql_operation_duration_seconds{operation,type,route,outcome}`: each operation's
 *   execution, HTTP and websocket alike (this is an envelop hook, and websocket operations run
 *   through yoga's envelop). `route` is `/graphql`, `ws`, or the legacy route (`POST
 *   /messages.send`) whose in-process request ran it. `outcome` is `error` when the result has
 *   errors.
 * - `herald_subscriptions{transport}`: subscriptions open now, decremented however they end.
 *
 * It comes first among the plugins: the REST bridge ends legacy requests in its own onRequest,
 * and this one must have seen them start.
 */
export function useMetrics({ metrics, routes, token, endpoint = '/metrics' }: MetricsPluginOptions): Plugin {
  const patterns = routes.map((route) => ({ label: route.path, pattern: routePattern(route.path) }));
  const routeLabel = (pathname: string): string => {
    if (FIXED_ROUTES.has(pathname) || pathname === endpoint) return pathname;
    const prefix = PREFIX_ROUTES.find((p) => pathname === p || pathname.startsWith(`${p}/`));
    if (prefix) return prefix;
    return patterns.find((p) => p.pattern.test(pathname))?.label ?? 'unmatched';
  };
  const expected = token === undefined ? undefined : digest(token);
  /** Keyed by the server context: a plugin may replace the Request object (setRequest) on the way. */
  const started = new WeakMap<object, { at: number; route: string }>();

  return {
    onRequest({ request, url, serverContext, endResponse }) {
      if ((serverContext as BridgeMark | undefined)?.heraldRestBridge) return;
      const route = routeLabel(url.pathname);
      if (serverContext) started.set(serverContext, { at: performance.now(), route });
      if (url.pathname !== endpoint) return;
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        endResponse(new Response('Method not allowed: GET /metrics\n', { status: 405, headers: { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' } }));
        return;
      }
      if (expected && !bearerMatches(request.headers.get('authorization'), expected)) {
        endResponse(
          new Response('Unauthorized: send Authorization: Bearer <METRICS_TOKEN>\n', {
            status: 401,
            headers: { 'www-authenticate': 'Bearer realm="metrics"', 'content-type': 'text/plain; charset=utf-8' },
          }),
        );
        return;
      }
      return metrics.scrape().then((text) => endResponse(new Response(request.method === 'HEAD' ? null : text, { status: 200, headers: { 'content-type': metrics.contentType, 'cache-control': 'no-store' } })));
    },
    onResponse({ request, response, serverContext }) {
      const start = serverContext ? started.get(serverContext) : undefined;
      if (!start) return;
      started.delete(serverContext);
      if (response.headers.get('content-type')?.startsWith('text/event-stream')) return;
      metrics.httpDuration.observe({ method: request.method, route: start.route, status: String(response.status) }, (performance.now() - start.at) / 1000);
    },
    onExecute({ args }) {
      const at = performance.now();
      const labels = operationLabels(metrics, args);
      return {
        onExecuteDone({ result }) {
          // An incremental (streamed) result is timed until its first part.
          const errors = isAsyncIterable(result) ? undefined : result.errors;
          metrics.operationDuration.observe({ ...labels, outcome: errors?.length ? 'error' : 'ok' }, (performance.now() - at) / 1000);
        },
      };
    },
    onSubscribe({ args }) {
      const at = performance.now();
      const labels = operationLabels(metrics, args);
      const transport = (args.contextValue as { transport?: string }).transport === 'ws' ? 'ws' : 'sse';
      return {
        onSubscribeResult({ result }) {
          // The time to set the subscription up (its first read), not its lifetime.
          const failed = !isAsyncIterable(result);
          metrics.operationDuration.observe({ ...labels, outcome: failed ? 'error' : 'ok' }, (performance.now() - at) / 1000);
          if (failed) return;
          metrics.subscriptions.inc({ transport });
          return { onEnd: () => metrics.subscriptions.dec({ transport }) };
        },
      };
    },
  };
}

function operationLabels(metrics: HeraldMetrics, args: ExecutionArgs): { operation: string; type: string; route: string } {
  const operation = getOperationAST(args.document, args.operationName);
  const context = args.contextValue as BridgeMark & { transport?: string };
  return {
    operation: metrics.operationLabel(operation?.name?.value),
    type: operation?.operation ?? 'unknown',
    route: context.heraldRoute ?? (context.transport === 'ws' ? 'ws' : '/graphql'),
  };
}

/** `/notifications/:id/render` → a RegExp matching one path segment per parameter, as the REST bridge does. */
function routePattern(path: string): RegExp {
  const source = path.replace(/[.]/g, '\\.').replace(/:([A-Za-z]+)/g, '[^/]+');
  return new RegExp(`^${source}/?$`);
}

export const digest = (value: string) => createHash('sha256').update(value).digest();

/** Compared as digests in constant time: neither the token's content nor its length shows in the timing. */
export function bearerMatches(header: string | null, expected: Buffer): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match !== null && timingSafeEqual(digest(match[1]!), expected);
}
