import { createHmac } from 'node:crypto';
import { stringSetting } from '../../delivery/providers/http.ts';
import { reasonOf, safeEqual, sha256Hex, WebhookRefused, type ParsedCallback, type ReceiptWebhook, type WebhookRequest } from './types.ts';

/**
 * Twilio error codes of a status callback that say the number itself cannot receive SMS
 * (30005 unknown destination handset, 30006 landline or unreachable carrier): a hard bounce,
 * so the number is suppressed. Other failures (30003 unreachable, 30007 filtered...) may pass later.
 */
const NUMBER_GONE = new Set(['30005', '30006']);

/**
 * The X-Twilio-Signature of a request: base64 HMAC-SHA1 keyed by the auth token, of the full URL
 * Twilio called followed by every POST parameter, sorted by name, as name + value
 * (twilio.com/docs/usage/security#validating-requests).
 */
export function twilioSignature(authToken: string, url: string, params: URLSearchParams): string {
  const sorted = [...params.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHmac('sha1', authToken)
    .update(url + sorted.map(([k, v]) => k + v).join(''))
    .digest('base64');
}

function formOf(request: WebhookRequest): URLSearchParams {
  const type = request.headers.get('content-type') ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded')) throw new WebhookRefused(400, 'expected an application/x-www-form-urlencoded body');
  return new URLSearchParams(request.body.toString('utf8'));
}

/**
 * Twilio's message status callbacks (the StatusCallback of each SMS, or the Messaging Service's).
 * Twilio signs no timestamp: replays are refused by the seen-callback store only (see rest.ts).
 */
export const twilioReceipts: ReceiptWebhook = {
  kind: 'twilio',
  providerKind: 'twilio',
  channels: ['SMS'],
  requires: ['authToken'],
  verify(request, settings) {
    const given = request.headers.get('x-twilio-signature');
    if (!given) throw new WebhookRefused(401, 'missing X-Twilio-Signature');
    const params = formOf(request);
    const authToken = stringSetting(settings, 'authToken')!;
    // The URL Twilio was given (statusCallbackUrl) and the one this request arrived at: behind
    // a proxy only the first is what Twilio signed; without the setting only the second exists.
    const urls = [stringSetting(settings, 'statusCallbackUrl'), request.url.href].filter((u): u is string => Boolean(u));
    if (!urls.some((url) => safeEqual(twilioSignature(authToken, url, params), given))) throw new WebhookRefused(401, 'X-Twilio-Signature does not match');
    return { replayKey: sha256Hex(given, request.body), timestamped: false };
  },
  parse(request): ParsedCallback {
    const params = formOf(request);
    const sid = params.get('MessageSid') ?? params.get('SmsSid');
    const status = params.get('MessageStatus') ?? params.get('SmsStatus');
    if (!sid || !status) throw new WebhookRefused(400, 'expected MessageSid and MessageStatus');
    const code = params.get('ErrorCode');
    const reason = reasonOf(status, code ? `ErrorCode ${code}` : null, params.get('ErrorMessage'));
    switch (status) {
      case 'delivered':
        return { receipts: [{ providerMessageId: sid, status: 'DELIVERED' }], ignored: 0 };
      case 'read':
        return { receipts: [{ providerMessageId: sid, status: 'READ' }], ignored: 0 };
      case 'undelivered':
      case 'failed': {
        const gone = code !== null && NUMBER_GONE.has(code);
        return { receipts: [{ providerMessageId: sid, status: gone ? 'BOUNCED' : 'FAILED', reason, suppress: gone }], ignored: 0 };
      }
      default:
        // queued, accepted, sending, sent, scheduled, canceled...: Herald already knows it as SENT.
        return { receipts: [], ignored: 1 };
    }
  },
};
