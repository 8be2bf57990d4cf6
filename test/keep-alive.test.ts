import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHerald, type TestHerald } from './helpers/herald.ts';

let t: TestHerald;
beforeAll(async () => {
  t = await startTestHerald({ env: { MAX_BODY_BYTES: '2048' } });
});
afterAll(async () => {
  await t.stop();
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  socket: net.Socket;
}

function request(agent: http.Agent, path: string, body: string | Buffer, options: { chunked?: boolean; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${t.url}${path}`,
      {
        agent,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...options.headers, ...(options.chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': Buffer.byteLength(body) }) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), socket: req.socket! }));
      },
    );
    // The server may answer 413 and close before the whole body is written.
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
    });
    req.setTimeout(4_000, () => req.destroy(new Error('timed out waiting for an answer')));
    req.end(body);
  });
}

const small = JSON.stringify({ query: '{ __typename }' });
const large = JSON.stringify({ query: `{ __typename }`, padding: 'x'.repeat(4 * 1024 * 1024) });

describe('413 on a keep-alive connection', () => {
  it.each([
    ['with Content-Length', false],
    ['chunked', true],
  ])('answers 413 %s with Connection: close, and the next request on the same agent works', async (_name, chunked) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await request(agent, '/graphql', small);
      expect(first.status).toBe(200);
      const refused = await request(agent, '/graphql', large, { chunked });
      expect(refused.status).toBe(413);
      expect(refused.headers.connection).toBe('close');
      expect(JSON.parse(refused.body).errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
      const next = await request(agent, '/graphql', small);
      expect(next.status).toBe(200);
      expect(JSON.parse(next.body).data).toEqual({ __typename: 'Query' });
    } finally {
      agent.destroy();
    }
  });

  it('does the same on a legacy REST path, in its own shape', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      // With credentials: legacy routes check them first (a 401 would come before the body is read).
      const refused = await request(agent, '/users.upsert', large, { headers: { authorization: `Bearer ${t.project.apiKey}` } });
      expect(refused.status).toBe(413);
      expect(refused.headers.connection).toBe('close');
      expect(JSON.parse(refused.body).error).toBe('payload_too_large');
      const next = await request(agent, '/graphql', small);
      expect(next.status).toBe(200);
    } finally {
      agent.destroy();
    }
  });

  it('keeps the connection of an ordinary answer alive', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await request(agent, '/graphql', small);
      const second = await request(agent, '/graphql', small);
      expect(second.status).toBe(200);
      expect(second.socket).toBe(first.socket);
    } finally {
      agent.destroy();
    }
  });
});
