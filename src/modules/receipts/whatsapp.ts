import { createHmac } from 'node:crypto';
import { stringSetting } from '../../delivery/providers/http.ts';
import { isRecord, parseJson, reasonOf, safeEqual, sha256Hex, text, WebhookRefused, type ParsedCallback, type Receipt, type ReceiptWebhook } from './types.ts';

/** X-Hub-Signature-256: "sha256=" + hex HMAC-SHA256 of the raw body keyed by the Meta app secret. */
export function hubSignature(appSecret: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', appSecret).update(body).digest('hex')}`;
}

/**
 * WhatsApp Cloud API status webhooks (the app's "messages" field). Meta signs no timestamp and
 * retries a callback for days: replays are refused by the seen-callback store. One Meta app posts
 * every number's events to one URL: statuses of other numbers than the provider's phoneNumberId
 * are ignored.
 */
export const whatsappReceipts: ReceiptWebhook = {
  kind: 'whatsapp',
  providerKind: 'whatsapp-cloud',
  channels: ['WHATSAPP'],
  requires: ['appSecret'],
  handshake(request, settings) {
    // Meta's endpoint check: GET ?hub.mode=subscribe&hub.verify_token=...&hub.challenge=...
    const q = request.url.searchParams;
    const token = stringSetting(settings, 'verifyToken');
    const challenge = q.get('hub.challenge') ?? '';
    if (q.get('hub.mode') !== 'subscribe' || !token || !safeEqual(q.get('hub.verify_token') ?? '', token) || !/^[A-Za-z0-9_-]{1,200}$/.test(challenge)) {
      throw new WebhookRefused(403, 'hub.verify_token does not match');
    }
    return new Response(challenge, { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' } });
  },
  verify(request, settings) {
    const given = request.headers.get('x-hub-signature-256');
    if (!given) throw new WebhookRefused(401, 'missing X-Hub-Signature-256');
    if (!safeEqual(hubSignature(stringSetting(settings, 'appSecret')!, request.body), given)) throw new WebhookRefused(401, 'X-Hub-Signature-256 does not match');
    return { replayKey: sha256Hex(request.body), timestamped: false };
  },
  parse(request, settings): ParsedCallback {
    const body = parseJson(request.body);
    if (!isRecord(body) || !Array.isArray(body.entry)) throw new WebhookRefused(400, 'expected { object, entry: [...] }');
    const phoneNumberId = stringSetting(settings, 'phoneNumberId');
    const receipts: Receipt[] = [];
    let ignored = 0;
    for (const entry of body.entry) {
      for (const change of isRecord(entry) && Array.isArray(entry.changes) ? entry.changes : []) {
        const value = isRecord(change) && isRecord(change.value) ? change.value : {};
        const statuses = Array.isArray(value.statuses) ? value.statuses : [];
        const number = isRecord(value.metadata) ? text(value.metadata.phone_number_id) : null;
        for (const s of statuses) {
          const id = isRecord(s) ? text(s.id) : null;
          if (!isRecord(s) || !id || (phoneNumberId && number !== phoneNumberId)) {
            ignored++;
            continue;
          }
          if (s.status === 'delivered') receipts.push({ providerMessageId: id, status: 'DELIVERED' });
          else if (s.status === 'read') receipts.push({ providerMessageId: id, status: 'READ' });
          else if (s.status === 'failed') {
            const error = Array.isArray(s.errors) && isRecord(s.errors[0]) ? s.errors[0] : {};
            const details = isRecord(error.error_data) ? error.error_data.details : null;
            receipts.push({ providerMessageId: id, status: 'FAILED', reason: reasonOf(error.code, error.title, details ?? error.message) ?? 'failed' });
          } else ignored++; // sent (Herald knows), deleted, warning...
        }
        if (statuses.length === 0) ignored++; // incoming messages and other fields
      }
    }
    return { receipts, ignored };
  },
};
