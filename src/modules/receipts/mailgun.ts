import { createHmac } from 'node:crypto';
import { stringSetting } from '../../delivery/providers/http.ts';
import { checkTimestamp, isRecord, parseJson, reasonOf, RELAY_MESSAGE_ARG, safeEqual, sha256Hex, text, WebhookRefused, type ParsedCallback, type Receipt, type ReceiptWebhook } from './types.ts';

/** Mailgun's webhook signature: hex HMAC-SHA256 of timestamp + token, keyed by the HTTP webhook signing key. */
export function mailgunSignature(signingKey: string, timestamp: string, token: string): string {
  return createHmac('sha256', signingKey).update(timestamp + token).digest('hex');
}

function bodyOf(body: Buffer): { signature: Record<string, unknown>; event: Record<string, unknown> } {
  const parsed = parseJson(body);
  if (!isRecord(parsed) || !isRecord(parsed.signature) || !isRecord(parsed['event-data'])) throw new WebhookRefused(400, 'expected { signature, event-data }');
  return { signature: parsed.signature, event: parsed['event-data'] };
}

/**
 * Mailgun's (JSON) webhooks. The event finds its message by the herald_message_id variable
 * Herald's SMTP provider sets (X-Mailgun-Variables), else by the Message-ID.
 */
export const mailgunReceipts: ReceiptWebhook = {
  kind: 'mailgun',
  providerKind: 'smtp',
  channels: ['EMAIL'],
  requires: ['mailgunWebhookSigningKey'],
  verify(request, settings, now, tolerance) {
    const { signature } = bodyOf(request.body);
    const timestamp = text(signature.timestamp);
    const token = text(signature.token);
    const given = text(signature.signature);
    if (!token || !given) throw new WebhookRefused(401, 'missing signature.token or signature.signature');
    checkTimestamp(timestamp, now, tolerance);
    if (!safeEqual(mailgunSignature(stringSetting(settings, 'mailgunWebhookSigningKey')!, timestamp!, token), given)) throw new WebhookRefused(401, 'signature does not match');
    // Mailgun's advice: a token is used once.
    return { replayKey: sha256Hex('mailgun-token:', token), timestamped: true };
  },
  parse(request): ParsedCallback {
    const { event: e } = bodyOf(request.body);
    const variables = isRecord(e['user-variables']) ? e['user-variables'] : {};
    const headers = isRecord(e.message) && isRecord(e.message.headers) ? e.message.headers : {};
    const messageIdHeader = text(headers['message-id']);
    const match: Receipt = { messageId: text(variables[RELAY_MESSAGE_ARG]), providerMessageId: messageIdHeader ? `<${messageIdHeader.replace(/^<|>$/g, '')}>` : null };
    const status = isRecord(e['delivery-status']) ? e['delivery-status'] : {};
    const reason = reasonOf(status.code, status.description || status.message, e.reason);
    switch (e.event) {
      case 'delivered':
        return { receipts: [{ ...match, status: 'DELIVERED' }], ignored: 0 };
      case 'failed':
        // Permanent: the address is refused for good (Mailgun stops retrying); temporary: it retries.
        return e.severity === 'permanent'
          ? { receipts: [{ ...match, status: 'BOUNCED', reason: reason ?? 'permanent failure', suppress: true }], ignored: 0 }
          : { receipts: [{ ...match, kind: 'DEFERRED', reason }], ignored: 0 };
      case 'opened':
        return { receipts: [{ ...match, kind: 'OPENED' }], ignored: 0 };
      case 'clicked':
        return { receipts: [{ ...match, kind: 'CLICKED', url: text(e.url)?.slice(0, 2048) ?? null }], ignored: 0 };
      case 'complained':
        return { receipts: [{ ...match, kind: 'COMPLAINED', reason: 'spam complaint', suppress: true }], ignored: 0 };
      default:
        return { receipts: [], ignored: 1 }; // accepted, unsubscribed...
    }
  },
};
