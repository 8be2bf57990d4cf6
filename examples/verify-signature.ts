/**
 * A receiver of what Herald POSTs out (status webhook, callbacks, the webhook channel): it
 * checks `X-Herald-Signature` against the raw body and refuses anything unsigned, tampered with
 * or older than five minutes.
 *
 *   SIGNING_SECRET=… node --import tsx examples/verify-signature.ts [--port=8080]
 *
 * SIGNING_SECRET is the project's `project { signingSecret }`. Point Herald at it with
 * `updateProject(input: { statusWebhookUrl: "http://<this host>:8080/herald" })`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { option, required } from './env.ts';

function verify(secret: string, rawBody: string, header: string, toleranceSeconds = 300): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2)));
  const t = Number(parts.t);
  if (!Number.isFinite(t) || Math.abs(Date.now() / 1000 - t) > toleranceSeconds) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${rawBody}`).digest('hex'));
  const given = Buffer.from(String(parts.v1 ?? ''));
  return expected.length === given.length && timingSafeEqual(expected, given);
}

const secret = required('SIGNING_SECRET');
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    // Verify the bytes as received: re-serialised JSON would not match the signature.
    const raw = Buffer.concat(chunks).toString('utf8');
    const signature = req.headers['x-herald-signature'];
    if (req.method !== 'POST' || typeof signature !== 'string' || !verify(secret, raw, signature)) {
      console.log(`refused ${req.method} ${req.url}: bad or missing signature`);
      res.writeHead(401).end();
      return;
    }
    const event = JSON.parse(raw) as { messageId?: string; status?: string };
    console.log(`verified ${req.url}: ${event.messageId ?? ''} ${event.status ?? ''}`.trim());
    res.writeHead(204).end();
  });
});
server.listen(Number(option('port', '8080')), () => console.log(`listening on port ${(server.address() as AddressInfo).port}`));
process.once('SIGINT', () => server.close());
process.once('SIGTERM', () => server.close());
