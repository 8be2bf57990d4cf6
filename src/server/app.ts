import { GraphQLError } from 'graphql';
import { createYoga, maskError, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { Config } from '../config/env.ts';
import type { Database } from '../db/client.ts';
import type { Delivery } from '../delivery/delivery.ts';
import { contextFactory, type Context } from '../graphql/context.ts';
import { databaseUnavailability } from '../db/unavailable.ts';
import { ErrorCode, serviceUnavailable } from '../graphql/errors.ts';
import { schema } from '../graphql/schema.ts';
import type { PubSubHandle } from '../realtime/pubsub.ts';
import { useLiveStreams } from '../realtime/use-live-streams.ts';
import { useRestBridge, type BridgeServerContext } from '../rest/bridge.ts';
import { useOpenApi } from '../rest/openapi.ts';
import type { RestRoute } from '../rest/route.ts';
import { restRoutes } from '../rest/routes.ts';
import { useWidgetDemo } from '../widget/use-widget-demo.ts';
import { memoryReplayStore, type ReplayStore } from '../modules/receipts/replay.ts';
import { useProviderReceipts } from '../modules/receipts/rest.ts';
import { useConsole } from '../console/use-console.ts';
import { tracingEnabled } from '../telemetry/spans.ts';
import { useExecuteSpans } from '../telemetry/use-execute-spans.ts';
import { readBodyLimited } from './body.ts';
import { renderLocalGraphiQL, useGraphiQLAssets, useGraphQLGetHelp } from './graphiql.ts';
import { useInputHygiene } from './use-input-hygiene.ts';
import { useIntrospectionPolicy } from './use-introspection-policy.ts';
import type { HeraldMetrics } from './metrics.ts';
import { useMetrics } from './use-metrics.ts';
import { useQueryLimits } from './use-query-limits.ts';
import { corsOptions, useSecurityHeaders } from './use-security-headers.ts';
import type { Readiness } from './guard.ts';
import { useVariableErrors } from './use-variable-errors.ts';

export const VERSION = '0.1.0';

export interface AppDeps {
  config: Config;
  db: Database;
  pubsub: PubSubHandle;
  delivery: Delivery;
  logger: Logger;
  /** The legacy route table; tests pass their own. */
  routes?: RestRoute[];
  /** Failed by the process guard while it drains: /readyz answers 503 from then on. */
  readiness?: Readiness;
  /** Prometheus metrics (METRICS_ENABLED): GET /metrics and the request/operation histograms. */
  metrics?: HeraldMetrics | undefined;
  /** Remembers accepted provider callbacks (delivery receipts); in memory when not given. */
  replay?: ReplayStore;
}

export type HeraldYoga = YogaServerInstance<Record<string, unknown>, Context>;

/**
 * The whole HTTP surface as one fetch handler: GraphQL at /graphql, the legacy REST routes
 * (executed through this same instance), /openapi.json, /healthz and /readyz. It needs no
 * socket, so tests can call `yoga.fetch` directly.
 */
export function createApp({ config, db, pubsub, delivery, logger, routes = restRoutes, readiness, metrics, replay = memoryReplayStore() }: AppDeps): HeraldYoga {
  // During an outage every request fails the same way: one warning per interval with a count, not a stack each.
  const unavailableLog = throttledUnavailableLog(logger);
  const yoga: HeraldYoga = createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: config.NODE_ENV !== 'production' ? { title: 'Herald' } : false,
    // Its assets come from this server (src/server/graphiql.ts): no CDN, so it works offline.
    renderGraphiQL: renderLocalGraphiQL(logger),
    landingPage: false,
    // useBodyLimit (below) bounds every body by MAX_BODY_BYTES, far under yoga's own 25 MB limit,
    // which streamed each request's body through a TransformStream (a stream pipeline and an
    // AbortController per request: 5% of a `{ __typename }`'s CPU) to check a bound never reached.
    maxRequestBodySize: false,
    cors: corsOptions(config.CORS_ORIGINS),
    healthCheckEndpoint: '/healthz',
    // Unexpected errors reach clients as "Unexpected error." and the log with their stack; a
    // database that cannot serve the request (outage, exhausted pool) is a 503 + Retry-After.
    maskedErrors: {
      isDev: false,
      maskError: (error, message, isDev) => {
        const unavailable = databaseUnavailability(error);
        if (unavailable) return serviceUnavailable(unavailable, error instanceof GraphQLError ? error : undefined);
        return maskError(error, message, isDev);
      },
    },
    logging: {
      debug: (...args) => logger.debug(args.length > 1 ? args : args[0]),
      info: (...args) => logger.info(args.length > 1 ? args : args[0]),
      warn: (...args) => logger.warn(args.length > 1 ? args : args[0]),
      error: (...args) => (unavailableLog(args[0]) ? undefined : logger.error(args.length > 1 ? args : args[0])),
    },
    context: contextFactory({ pubsub: pubsub.pubsub, delivery }),
    plugins: [
      // First: it times every request, including those the REST bridge answers in its onRequest.
      ...(metrics ? [useMetrics({ metrics, routes, token: config.METRICS_TOKEN })] : []),
      // Providers' delivery receipts (/providers/{kind}/webhook/{id}): they read the raw body themselves (signatures cover its bytes).
      useProviderReceipts({
        delivery,
        logger,
        replay,
        maxBodyBytes: config.MAX_BODY_BYTES,
        toleranceSeconds: config.RECEIPTS_TIMESTAMP_TOLERANCE_S,
        untimedReplaySeconds: config.RECEIPTS_REPLAY_TTL_S,
      }),
      // Before the body limit: legacy routes answer 413 (and every other error) in their API's shape.
      useRestBridge(routes, () => yoga, config.MAX_BODY_BYTES, config.MAX_JSON_DEPTH),
      useBodyLimit(config.MAX_BODY_BYTES),
      useReadiness('/readyz', async () => {
        // Failed for good (the crash guard is draining the process): never ready again.
        if (readiness?.failed) throw new Error(`not ready: ${readiness.failed}`);
        // Bounded: a Redis that does not answer must fail the check, not hang it.
        await withTimeout(Promise.all([db.ping(), pubsub.ping()]), 2000);
      }),
      useOpenApi(routes, VERSION),
      useWidgetDemo(),
      useConsole(),
      ...(config.NODE_ENV !== 'production' ? [useGraphiQLAssets(logger)] : []),
      useGraphQLGetHelp({ graphiql: config.NODE_ENV !== 'production' }),
      useVariableErrors(),
      useSecurityHeaders({ corsList: config.CORS_ORIGINS !== '*' }),
      useQueryLimits({
        maxTokens: config.GRAPHQL_MAX_TOKENS,
        maxDepth: config.GRAPHQL_MAX_DEPTH,
        maxAliases: config.GRAPHQL_MAX_ALIASES,
        maxDirectives: config.GRAPHQL_MAX_DIRECTIVES,
        maxCost: config.GRAPHQL_MAX_COST,
      }),
      useInputHygiene({ maxJsonDepth: config.MAX_JSON_DEPTH }),
      useIntrospectionPolicy({ mode: config.INTROSPECTION, production: config.NODE_ENV === 'production' }),
      ...(tracingEnabled() ? [useExecuteSpans()] : []),
      // Every subscription: bounded, ended with its credentials, errors answered before `complete`.
      useLiveStreams(logger),
    ],
  });
  return yoga;
}

/**
 * GET (or any method) on `endpoint`: 200 when `check` resolves, 503 with its error's message
 * when it throws. yoga's useReadinessCheck answers the same, but tested every other request's
 * URL against a URLPattern too (a sizeable share of a small query's CPU): one string compare here.
 */
function useReadiness(endpoint: string, check: () => Promise<void>): Plugin {
  return {
    async onRequest({ url, endResponse, fetchAPI }) {
      if (url.pathname !== endpoint) return;
      try {
        await check();
        endResponse(new fetchAPI.Response(null, { status: 200 }));
      } catch (error) {
        const message = error instanceof Error ? error.message : null;
        endResponse(new fetchAPI.Response(message, { status: 503, headers: message === null ? {} : { 'content-type': 'text/plain; charset=utf-8' } }));
      }
    },
  };
}

/**
 * Refuses bodies over the limit (413), for GraphQL and REST alike: a Content-Length over it
 * before anything is read, a body without one (chunked) as soon as it grows past it.
 */
function useBodyLimit(maxBytes: number): Plugin<Record<string, unknown>, Partial<BridgeServerContext>> {
  const tooLarge = () =>
    Response.json(
      { errors: [{ message: `Request body is larger than ${maxBytes} bytes`, extensions: { code: ErrorCode.PAYLOAD_TOO_LARGE } }] },
      // The rest of the body is never read: the connection cannot carry another request (see http.ts).
      { status: 413, headers: { connection: 'close' } },
    );
  return {
    async onRequest({ request, serverContext, setRequest, endResponse, fetchAPI }) {
      // The REST bridge's own GraphQL requests: it already applied the limit to the client's body.
      if (serverContext?.heraldRestBridge) return;
      const length = request.headers.get('content-length');
      // Only a plain integer is trusted (Node's parser refuses others; yoga.fetch callers may not).
      if (length !== null && /^\d+$/.test(length)) {
        if (Number(length) > maxBytes) endResponse(tooLarge());
        return;
      }
      if (!request.body) return;
      const body = await readBodyLimited(request, maxBytes);
      if (body === null) endResponse(tooLarge());
      else setRequest(new fetchAPI.Request(request.url, { method: request.method, headers: request.headers, body }));
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Logs database-unavailable errors as one warning per 5 s with how many requests failed that
 * way since the last one; answers false for any other error (the caller logs it as usual).
 */
function throttledUnavailableLog(logger: Logger, intervalMs = 5_000): (error: unknown) => boolean {
  let last = 0;
  let suppressed = 0;
  return (error) => {
    const unavailable = databaseUnavailability(error);
    if (!unavailable) return false;
    if (Date.now() - last < intervalMs) {
      suppressed++;
      return true;
    }
    last = Date.now();
    logger.warn({ code: unavailable.code, reason: unavailable.reason, error: (error as Error)?.message?.split('\n').filter(Boolean).at(-1), sinceLast: suppressed }, 'Requests answered 503: the database cannot serve them');
    suppressed = 0;
    return true;
  };
}
