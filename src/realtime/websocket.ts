import type { Server } from 'node:http';
import { useServer } from 'graphql-ws/use/ws';
import type { ExecutionArgs } from 'graphql';
import { WebSocketServer } from 'ws';
import { headersFromConnectionParams, principalFromHeaders } from '../graphql/context.ts';
import type { Principal } from '../modules/projects/auth.ts';
import type { HeraldYoga } from '../server/app.ts';
import type { HeraldPubSub } from './pubsub.ts';

/** graphql-ws close code for a refused connection_init (the protocol's "Forbidden"). */
export const CLOSE_FORBIDDEN = 4403;

export interface WebSocketOptions {
  /** Close sockets that send no connection_init within this time (ms). */
  connectionInitWaitTimeout?: number;
}

/**
 * graphql-ws on the HTTP server's /graphql path. Operations run through yoga's envelop
 * (`getEnveloped`), so websocket and HTTP share plugins, context, auth and error masking.
 * A socket must present valid credentials in connection_init; each operation re-checks
 * them, and a socket whose key is revoked is closed at once.
 */
export function attachWebSocketServer(server: Server, yoga: HeraldYoga, pubsub: HeraldPubSub, options: WebSocketOptions = {}) {
  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint });
  const sockets = new Map<object, { principal: Principal; close: (code: number, reason: string) => void }>();

  const disposable = useServer(
    {
      connectionInitWaitTimeout: options.connectionInitWaitTimeout ?? 10_000,
      execute: (args) => (args.rootValue as { execute: (a: ExecutionArgs) => unknown }).execute(args) as never,
      subscribe: (args) => (args.rootValue as { subscribe: (a: ExecutionArgs) => unknown }).subscribe(args) as never,
      onConnect: async (ctx) => {
        let principal: Principal | null = null;
        try {
          principal = await principalFromHeaders(headersFromConnectionParams(ctx.connectionParams ?? {}));
        } catch {
          principal = null;
        }
        // Returning false makes graphql-ws close the socket with 4403 Forbidden.
        if (!principal) return false;
        const socket = ctx.extra.socket;
        sockets.set(ctx, { principal, close: (code, reason) => socket.close(code, reason) });
        socket.once('close', () => sockets.delete(ctx));
        return true;
      },
      onSubscribe: async (ctx, _id, payload) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          transport: 'ws',
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
        });
        const args = {
          schema,
          operationName: payload.operationName,
          document: parse(payload.query),
          variableValues: payload.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
        const errors = validate(args.schema, args.document);
        if (errors.length) return errors;
        return args as ExecutionArgs;
      },
    },
    wss,
  );

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
    async close() {
      await revocations.return?.();
      for (const client of wss.clients) client.close(1001, 'Server shutting down');
      await disposable.dispose();
    },
  };
}
