import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { stringSetting } from '../../delivery/providers/http.ts';
import { checkTimestamp, isRecord, parseJson, reasonOf, RELAY_MESSAGE_ARG, sha256Hex, text, WebhookRefused, type ParsedCallback, type Receipt, type ReceiptWebhook } from './types.ts';

/** SendGrid shows the verification key as base64 DER (SubjectPublicKeyInfo); PEM is accepted too. */
export function parseP256PublicKey(value: string): KeyObject {
  const key = value.includes('-----BEGIN')
    ? createPublicKey(value)
    : createPublicKey({ key: Buffer.from(value.replace(/\s+/g, ''), 'base64'), format: 'der', type: 'spki' });
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new Error('not a P-256 key');
  return key;
}

const SIGNATURE = 'x-twilio-email-event-webhook-signature';
const TIMESTAMP = 'x-twilio-email-event-webhook-timestamp';

/**
 * SendGrid's signed Event Webhook: ECDSA P-256 / SHA-256 over the timestamp header followed by
 * the raw body, the signature base64 DER in its header. Events find their message by the
 * herald_message_id unique argument Herald's SMTP provider sets (X-SMTPAPI), else by smtp-id
 * (the Message-ID Herald gave the email, its providerMessageId).
 */
export const sendgridReceipts: ReceiptWebhook = {
  kind: 'sendgrid',
  providerKind: 'smtp',
  channels: ['EMAIL'],
  requires: ['sendgridWebhookPublicKey'],
  verify(request, settings, now, tolerance) {
    const signature = request.headers.get(SIGNATURE);
    const timestamp = request.headers.get(TIMESTAMP);
    if (!signature) throw new WebhookRefused(401, 'missing X-Twilio-Email-Event-Webhook-Signature');
    checkTimestamp(timestamp, now, tolerance);
    let valid = false;
    try {
      const key = parseP256PublicKey(stringSetting(settings, 'sendgridWebhookPublicKey')!);
      valid = verify('sha256', Buffer.concat([Buffer.from(timestamp!), request.body]), key, Buffer.from(signature, 'base64'));
    } catch {
      valid = false;
    }
    if (!valid) throw new WebhookRefused(401, 'X-Twilio-Email-Event-Webhook-Signature does not match');
    // Keyed by what is signed, not by the signature: an ECDSA signature can be re-encoded (s → n−s).
    return { replayKey: sha256Hex(timestamp!, '.', request.body), timestamped: true };
  },
  parse(request): ParsedCallback {
    const events = parseJson(request.body);
    if (!Array.isArray(events)) throw new WebhookRefused(400, 'expected a JSON array of events');
    const receipts: Receipt[] = [];
    let ignored = 0;
    for (const e of events) {
      if (!isRecord(e)) {
        ignored++;
        continue;
      }
      const match = { messageId: text(e[RELAY_MESSAGE_ARG]), providerMessageId: text(e['smtp-id']) };
      const reason = reasonOf(e.status, e.reason);
      switch (e.event) {
        case 'delivered':
          receipts.push({ ...match, status: 'DELIVERED' });
          break;
        case 'bounce':
          // "blocked" is SendGrid's soft bounce (the receiving server refused for now): not suppressed.
          if (e.type === 'blocked') receipts.push({ ...match, status: 'FAILED', reason: reasonOf('blocked:', reason) });
          else receipts.push({ ...match, status: 'BOUNCED', reason: reason ?? 'bounce', suppress: true });
          break;
        case 'dropped':
          receipts.push({ ...match, status: 'FAILED', reason: reasonOf('dropped:', reason) });
          break;
        case 'deferred':
          receipts.push({ ...match, kind: 'DEFERRED', reason });
          break;
        case 'spamreport':
          receipts.push({ ...match, kind: 'COMPLAINED', reason: 'spam report', suppress: true });
          break;
        case 'open':
          receipts.push({ ...match, kind: 'OPENED' });
          break;
        case 'click':
          receipts.push({ ...match, kind: 'CLICKED', url: text(e.url)?.slice(0, 2048) ?? null });
          break;
        default:
          ignored++; // processed, unsubscribe, group_unsubscribe...
      }
    }
    return { receipts, ignored };
  },
};
