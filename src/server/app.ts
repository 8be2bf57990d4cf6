import { createYoga, useReadinessCheck, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { Config } from '../config/env.ts';
import type { Database } from '../db/client.ts';
import type { Delivery } from '../delivery/delivery.ts';
import { contextFactory, type Context } from '../graphql/context.ts';
import { ErrorCode } from '../graphql/errors.ts';
import { schema } from '../graphql/schema.ts';
import type { PubSubHandle } from '../realtime/pubsub.ts';
import { useLiveStreams } from '../realtime/use-live-streams.ts';
import { useRestBridge, type BridgeServerContext } from '../rest/bridge.ts';
import { useOpenApi } from '../rest/openapi.ts';
import type { RestRoute } from '../rest/route.ts';
import { restRoutes } from '../rest/routes.ts';
import { useWidgetDemo } from '../widget/use-widget-demo.ts';
import { readBodyLimited } from './body.ts';
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
}

export type HeraldYoga = YogaServerInstance<Record<string, unknown>, Context>;

/**
 * The whole HTTP surface as one fetch handler: GraphQL at /graphql, the legacy REST routes
 * (executed through this same instance), /openapi.json, /healthz and /readyz. It needs no
 * socket, so tests can call `yoga.fetch` directly.
 */
export function createApp({ config, db, pubsub, delivery, logger, routes = restRoutes }: AppDeps): HeraldYoga {
  const yoga: HeraldYoga = createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: config.NODE_ENV !== 'production' ? { title: 'Herald' } : false,
    landingPage: false,
    healthCheckEndpoint: '/healthz',
    // Unexpected errors reach clients as "Unexpected error." and the log with their stack.
    maskedErrors: { isDev: false },
    logging: {
      debug: (...args) => logger.debug(args.length > 1 ? args : args[0]),
      info: (...args) => logger.info(args.length > 1 ? args : args[0]),
      warn: (...args) => logger.warn(args.length > 1 ? args : args[0]),
      error: (...args) => logger.error(args.length > 1 ? args : args[0]),
    },
    context: contextFactory({ pubsub: pubsub.pubsub, delivery }),
    plugins: [
      // Before the body limit: legacy routes answer 413 (and every other error) in their API's shape.
      useRestBridge(routes, () => yoga, config.MAX_BODY_BYTES),
      useBodyLimit(config.MAX_BODY_BYTES),
      useReadinessCheck({
        endpoint: '/readyz',
        check: async () => {
          // Bounded: a Redis that does not answer must fail the check, not hang it.
          await withTimeout(Promise.all([db.ping(), pubsub.ping()]), 2000);
        },
      }),
      useOpenApi(routes, VERSION),
      useWidgetDemo(),
      useVariableErrors(),
      // Every subscription: bounded, ended with its credentials, errors answered before `complete`.
      useLiveStreams(logger),
    ],
  });
  return yoga;
}

/**
 * Refuses bodies over the limit (413), for GraphQL and REST alike: a Content-Length over it
 * before anything is read, a body without one (chunked) as soon as it grows past it.
 */
function useBodyLimit(maxBytes: number): Plugin<Record<string, unknown>, Partial<BridgeServerContext>> {
  const tooLarge = () =>
    Response.json(
      { errors: [{ message: `Request body is larger than ${maxBytes} bytes`, extensions: { code: ErrorCode.PAYLOAD_TOO_LARGE } }] },
      { status: 413 },
    );
  return {
    async onRequest({ request, serverContext, setRequest, endResponse, fetchAPI }) {
      // The REST bridge's own GraphQL requests: it already applied the limit to the client's body.
      if (serverContext?.heraldRestBridge) return;
      const length = request.headers.get('content-length');
      if (length !== null) {
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
