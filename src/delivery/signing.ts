import { createHmac, timingSafeEqual } from 'node:crypto';
import { sendOutbound } from './providers/outbound.ts';

/**
 * Signature of everything Herald POSTs out (webhook channel, callbacks, status webhooks), in the
 * style of Stripe's: `X-Herald-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`
 * keyed by the project's signingSecret. Receivers should reject timestamps older than 5 minutes.
 */
export const SIGNATURE_HEADER = 'x-herald-signature';

export function sign(secret: string, body: string, now = Date.now()): string {
  const t = Math.floor(now / 1000);
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

/** For receivers (and tests): checks the signature and its age. */
export function verify(secret: string, body: string, header: string | null, toleranceSeconds = 300, now = Date.now()): boolean {
  const parts = Object.fromEntries((header ?? '').split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isFinite(t) || !parts.v1 || Math.abs(now / 1000 - t) > toleranceSeconds) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'));
  const given = Buffer.from(parts.v1);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/**
 * POSTs signed JSON under the outbound address policy (a refused address rejects with
 * OutboundRefusedError); resolves with the status and the first bytes of the answer.
 */
export async function postSigned(url: string, payload: unknown, secret: string, headers: Record<string, string> = {}, timeoutMs = 10_000) {
  const body = JSON.stringify(payload);
  const answer = await sendOutbound(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'Herald', [SIGNATURE_HEADER]: sign(secret, body), ...headers },
    body,
    timeoutMs,
  });
  return { status: answer.status, text: answer.text };
}
