import type { Server } from 'node:http';
import { useServer } from 'graphql-ws/use/ws';
import { getOperationAST, GraphQLError, type DocumentNode, type ExecutionArgs } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config } from '../config/env.ts';
import { headersFromConnectionParams, principalFromHeaders } from '../graphql/context.ts';
import { authRateLimiter, nodeHeaders } from '../modules/projects/rate-limit.ts';
import { ErrorCode } from '../graphql/errors.ts';
import type { Principal } from '../modules/projects/auth.ts';
import type { HeraldYoga } from '../server/app.ts';
import { CLOSE_FORBIDDEN, CLOSE_GOING_AWAY, CLOSE_GRACE_MS, CLOSE_SLOW_CONSUMER, closeWithin } from './close.ts';
import type { HeraldPubSub } from './pubsub.ts';

export interface WebSocketOptions {
  /** Ping every this many ms; a socket that has not answered within the same time is terminated. 0: no keep-alive. */
  keepAliveMs: number;
  /** Close sockets that send no connection_init within this time (ms) with 4408. */
  connectionInitTimeoutMs: number;
  /** Concurrent subscriptions per socket; one more is answered with a TOO_MANY_SUBSCRIPTIONS error. */
  maxSubscriptions: number;
  /** Unsent bytes a socket may hold when its next message is due; more closes it with 1013. */
  maxBufferedBytes: number;
  /** Largest message a client may send (MAX_BODY_BYTES, as for HTTP bodies); a larger one closes the socket with 1009. */
  maxPayloadBytes: number;
  /** How often open streams' credentials are re-read (STREAM_RECHECK_MS; see realtime/revocation.ts). */
  recheckMs: number;
  logger?: Pick<Logger, 'info'>;
}

export function webSocketOptions(config: Config): WebSocketOptions {
  return {
    keepAliveMs: config.WS_KEEPALIVE_MS,
    connectionInitTimeoutMs: config.WS_CONNECTION_INIT_TIMEOUT_MS,
    maxSubscriptions: config.WS_MAX_SUBSCRIPTIONS,
    maxBufferedBytes: config.WS_MAX_BUFFERED_BYTES,
    maxPayloadBytes: config.MAX_BODY_BYTES,
    recheckMs: config.STREAM_RECHECK_MS,
  };
}

/**
 * graphql-ws on the HTTP server's /graphql path. Operations run through yoga's envelop
 * (`getEnveloped`), so websocket and HTTP share plugins, context, auth and error masking.
 * A socket must present valid credentials in connection_init; its operations run with the
 * principal found then (no second lookup per operation), and the socket is closed (4403) as
 * soon as those credentials stop being valid (see realtime/revocation.ts). The limits come from the
 * configuration (webSocketOptions; src/config/env.ts holds their defaults).
 */
export function attachWebSocketServer(server: Server, yoga: HeraldYoga, pubsub: HeraldPubSub, options: WebSocketOptions) {
  const { keepAliveMs, connectionInitTimeoutMs, maxSubscriptions, maxBufferedBytes, maxPayloadBytes, logger } = options;
  // ws refuses a larger frame or message before buffering it whole (close 1009, "Message Too Big").
  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint, maxPayload: maxPayloadBytes });
  /** The principal each connection authenticated with in connection_init. */
  const principals = new WeakMap<object, Principal>();
  /** The ids of each connection's running subscriptions (queries and mutations do not count). */
  const subscriptions = new WeakMap<object, Set<string>>();

  const disposable = useServer(
    {
      connectionInitWaitTimeout: connectionInitTimeoutMs,
      // Otherwise read from process.env.NODE_ENV: an internal error's message would become the close
      // reason a client sees, which yoga's error masking never lets through on HTTP.
      isProd: true,
      execute: (args) => (args.rootValue as { execute: (a: ExecutionArgs) => unknown }).execute(args) as never,
      subscribe: (args) => (args.rootValue as { subscribe: (a: ExecutionArgs) => unknown }).subscribe(args) as never,
      onConnect: async (ctx) => {
        let principal: Principal | null = null;
        try {
          principal = await principalFromHeaders(headersFromConnectionParams(ctx.connectionParams ?? {}), authRateLimiter().clientIp(ctx.extra.request, nodeHeaders(ctx.extra.request)));
        } catch {
          principal = null;
        }
        // Returning false makes graphql-ws close the socket with 4403 Forbidden.
        if (!principal) return false;
        const socket = ctx.extra.socket;
        principals.set(ctx, principal);
        subscriptions.set(ctx, new Set());
        // Credentials that stop being valid close the socket (the server's stop closes it with 1001 itself).
        const untrack = pubsub.streams.add({
          principal,
          end: (reason) => {
            if (reason && socket.readyState === socket.OPEN) closeWithin(socket, CLOSE_FORBIDDEN, `Forbidden: ${reason.message}`.slice(0, 120), CLOSE_GRACE_MS);
          },
        });
        socket.once('close', untrack);
        return true;
      },
      onSubscribe: async (ctx, id, payload) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          transport: 'ws',
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
          // Authenticated once in connection_init (and ended with the socket when it stops being valid).
          principal: principals.get(ctx),
          operationId: id,
        });
        let document: DocumentNode;
        try {
          document = parse(payload.query);
        } catch (error) {
          // graphql-ws would close the whole socket (4500) on a throw; a syntax error is the operation's.
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        const running = subscriptions.get(ctx) ?? new Set<string>();
        const isSubscription = getOperationAST(document, payload.operationName)?.operation === 'subscription';
        if (isSubscription) {
          if (running.size >= maxSubscriptions) return [tooManySubscriptions(maxSubscriptions)];
          // Reserved before the awaits below, so concurrent subscribes cannot all pass the check.
          running.add(id);
        }
        try {
          const args = {
            schema,
            operationName: payload.operationName,
            document,
            variableValues: payload.variables,
            contextValue: await contextFactory(),
            rootValue: { execute, subscribe },
          };
          const errors = validate(args.schema, args.document);
          if (errors.length) {
            running.delete(id);
            return errors;
          }
          return args as ExecutionArgs;
        } catch (error) {
          running.delete(id);
          throw error;
        }
      },
      // Called however an accepted operation ends: completed by either side, failed, or its socket closed.
      onComplete: (ctx, id) => {
        subscriptions.get(ctx)?.delete(id);
      },
      onNext: (ctx) => {
        // graphql-ws waits for each message to be flushed before it takes the subscription's next
        // event, so what is still unsent here belongs to other operations of a client that is not
        // keeping up. Closing makes graphql-ws skip this message (the socket is no longer open).
        const socket = ctx.extra.socket;
        if (socket.bufferedAmount > maxBufferedBytes) dropSlowConsumer(socket, { bufferedAmount: socket.bufferedAmount, maxBufferedBytes });
      },
    },
    wss,
    // Pings are ws ping frames (browsers answer them without any code); a socket whose pong has
    // not come back by the next ping is terminated, and graphql-ws then ends its subscriptions.
    keepAliveMs,
  );

  // A socket error is the client's doing (a message over maxPayload: ws closes with 1009 by
  // itself; a reset connection), yet graphql-ws prints it to stderr as an internal error and
  // closes with 4500. Registered after useServer's handler, this replaces its listener.
  wss.on('connection', (socket: WebSocket) => {
    socket.removeAllListeners('error');
    socket.on('error', (error: Error & { code?: string }) => logger?.info({ err: { message: error.message, code: error.code } }, 'Websocket error'));
  });

  function dropSlowConsumer(socket: WebSocket, details: Record<string, unknown>) {
    if (socket.readyState !== socket.OPEN) return;
    logger?.info(details, 'Closing a websocket that reads too slowly');
    closeWithin(socket, CLOSE_SLOW_CONSUMER, 'Try again later: the client reads too slowly', CLOSE_GRACE_MS);
  }

  return {
    wss,
    /** Closes every socket with 1001; one that does not complete the close within graceMs is cut. */
    async close(graceMs = CLOSE_GRACE_MS) {
      for (const client of wss.clients) closeWithin(client, CLOSE_GOING_AWAY, 'Server shutting down', graceMs);
      await disposable.dispose();
    },
  };
}

function tooManySubscriptions(max: number) {
  return createGraphQLError(`At most ${max} subscriptions may run on one connection: complete one first, or open another connection`, {
    extensions: { code: ErrorCode.TOO_MANY_SUBSCRIPTIONS, max },
  });
}
