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
import type { HeraldPubSub } from './pubsub.ts';

/** graphql-ws close code for a refused connection_init (the protocol's "Forbidden"). */
export const CLOSE_FORBIDDEN = 4403;
/** graphql-ws close code for a socket that sent no connection_init in time. */
export const CLOSE_INIT_TIMEOUT = 4408;
/**
 * A slow consumer: the socket held more than maxBufferedBytes unsent when the next message was
 * due. RFC 6455's "Try Again Later", which graphql-ws clients retry; resubscribing with `since`
 * loses nothing.
 */
export const CLOSE_SLOW_CONSUMER = 1013;
/** Server shutdown. */
export const CLOSE_GOING_AWAY = 1001;

/** How long a closed socket gets to finish the closing handshake before it is cut. */
const CLOSE_GRACE_MS = 10_000;

export interface WebSocketOptions {
  /** Ping every this many ms; a socket that has not answered within the same time is terminated. 0: no keep-alive. */
  keepAliveMs: number;
  /** Close sockets that send no connection_init within this time (ms) with 4408. */
  connectionInitTimeoutMs: number;
  /** Concurrent subscriptions per socket; one more is answered with a TOO_MANY_SUBSCRIPTIONS error. */
  maxSubscriptions: number;
  /** Unsent bytes a socket may hold when its next message is due; more closes it with 1013. */
  maxBufferedBytes: number;
  logger?: Pick<Logger, 'info'>;
}

export function webSocketOptions(config: Config): WebSocketOptions {
  return {
    keepAliveMs: config.WS_KEEPALIVE_MS,
    connectionInitTimeoutMs: config.WS_CONNECTION_INIT_TIMEOUT_MS,
    maxSubscriptions: config.WS_MAX_SUBSCRIPTIONS,
    maxBufferedBytes: config.WS_MAX_BUFFERED_BYTES,
  };
}

/**
 * graphql-ws on the HTTP server's /graphql path. Operations run through yoga's envelop
 * (`getEnveloped`), so websocket and HTTP share plugins, context, auth and error masking.
 * A socket must present valid credentials in connection_init; each operation re-checks
 * them, and a socket whose key is revoked is closed at once. The limits come from the
 * configuration (webSocketOptions; src/config/env.ts holds their defaults).
 */
export function attachWebSocketServer(server: Server, yoga: HeraldYoga, pubsub: HeraldPubSub, options: WebSocketOptions) {
  const { keepAliveMs, connectionInitTimeoutMs, maxSubscriptions, maxBufferedBytes, logger } = options;
  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint });
  const sockets = new Map<object, { principal: Principal; close: (code: number, reason: string) => void }>();
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
        sockets.set(ctx, { principal, close: (code, reason) => socket.close(code, reason) });
        subscriptions.set(ctx, new Set());
        socket.once('close', () => sockets.delete(ctx));
        return true;
      },
      onSubscribe: async (ctx, id, payload) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          transport: 'ws',
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
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
      // A subscription whose events piled up behind a slow socket ends with SLOW_CONSUMER: the
      // whole socket is closed the same way, so that the client reconnects and resubscribes by itself.
      onError: (ctx, id, _payload, errors) => {
        if (errors.some((error) => error.extensions?.code === ErrorCode.SLOW_CONSUMER)) dropSlowConsumer(ctx.extra.socket, { subscription: id });
      },
    },
    wss,
    // Pings are ws ping frames (browsers answer them without any code); a socket whose pong has
    // not come back by the next ping is terminated, and graphql-ws then ends its subscriptions.
    keepAliveMs,
  );

  function dropSlowConsumer(socket: WebSocket, details: Record<string, unknown>) {
    if (socket.readyState !== socket.OPEN) return;
    logger?.info(details, 'Closing a websocket that reads too slowly');
    closeWithin(socket, CLOSE_SLOW_CONSUMER, 'Try again later: the client reads too slowly', CLOSE_GRACE_MS);
  }

  // A revoked key's sockets are closed on every instance (the event comes through Redis).
  const revocations = pubsub.subscribe('apiKeyRevoked');
  void (async () => {
    for await (const event of revocations) {
      for (const entry of sockets.values()) {
        if (entry.principal.kind === 'apiKey' && entry.principal.keyId === event.keyId) entry.close(CLOSE_FORBIDDEN, 'Forbidden');
      }
    }
  })();

  return {
    wss,
    /** Closes every socket with 1001; one that does not complete the close within graceMs is cut. */
    async close(graceMs = CLOSE_GRACE_MS) {
      await revocations.return?.();
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

/**
 * close() waits for the peer's close frame, which a dead or stalled peer never sends (ws would
 * wait 30 s, and the socket's subscriptions with it).
 */
function closeWithin(socket: WebSocket, code: number, reason: string, graceMs: number) {
  socket.close(code, reason);
  const timer = setTimeout(() => socket.terminate(), graceMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

