import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { HeraldPubSub } from '../realtime/pubsub.ts';
import { watchCredentials } from '../realtime/revocation.ts';
import { attachWebSocketServer, type WebSocketOptions } from '../realtime/websocket.ts';
import type { HeraldYoga } from './app.ts';

export interface RunningServer {
  server: Server;
  port: number;
  /** Stops accepting, lets in-flight requests finish (up to timeoutMs), closes every socket. */
  stop(timeoutMs: number): Promise<void>;
}

export async function listen(
  yoga: HeraldYoga,
  pubsub: HeraldPubSub,
  logger: Logger,
  host: string,
  port: number,
  webSocket: WebSocketOptions,
): Promise<RunningServer> {
  const server = createServer(yoga);
  let stopping = false;
  // A keep-alive connection busy when stop begins would otherwise stay open, idle, until the
  // client's own idle timeout, and server.close() with it: once stopping, a connection closes as
  // soon as its response is done (an SSE response is done once its subscription has ended).
  server.on('request', (req, res) => res.once('close', () => stopping && req.socket.end()));
  const ws = attachWebSocketServer(server, yoga, pubsub, { logger, ...webSocket });
  const credentials = watchCredentials(pubsub, { recheckMs: webSocket.recheckMs, logger });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  logger.info({ host, port: bound }, `Herald listening on http://${host === '0.0.0.0' ? 'localhost' : host}:${bound}/graphql`);
  return {
    server,
    port: bound,
    async stop(timeoutMs) {
      stopping = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // close() stops accepting and closes idle keep-alive sockets; busy ones end after their response.
      server.closeIdleConnections();
      // Subscriptions end first (SSE responses with `complete`), so no stream outlives Redis or
      // the database and no SSE response holds the server open until the timeout.
      await credentials.stop();
      await pubsub.streams.endAll();
      await ws.close(timeoutMs);
      const timer = setTimeout(() => {
        logger.warn('In-flight requests did not finish in time: closing their connections');
        server.closeAllConnections();
      }, timeoutMs);
      timer.unref();
      await closed;
      clearTimeout(timer);
    },
  };
}
