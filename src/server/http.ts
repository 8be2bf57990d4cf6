import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { HeraldPubSub } from '../realtime/pubsub.ts';
import { attachWebSocketServer } from '../realtime/websocket.ts';
import type { HeraldYoga } from './app.ts';

export interface RunningServer {
  server: Server;
  port: number;
  /** Stops accepting, lets in-flight requests finish (up to timeoutMs), closes every socket. */
  stop(timeoutMs: number): Promise<void>;
}

export async function listen(yoga: HeraldYoga, pubsub: HeraldPubSub, logger: Logger, host: string, port: number): Promise<RunningServer> {
  const server = createServer(yoga);
  const ws = attachWebSocketServer(server, yoga, pubsub);
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
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // close() stops accepting and closes idle keep-alive sockets; busy ones end after their response.
      server.closeIdleConnections();
      await ws.close();
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
