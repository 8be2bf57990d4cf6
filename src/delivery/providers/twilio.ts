import { baseUrl, callProvider, stringSetting } from './http.ts';
import { z } from 'zod';
import { httpError, httpUrl, ProviderError, requiredText, type ChannelProvider } from './types.ts';

interface SmsContent {
  text?: string | null;
}

interface TwilioError {
  code?: number;
  message?: string;
  status?: number;
}

/**
 * SMS through Twilio's Messages API (or anything speaking it). settings: from (a number) or
 * messagingServiceSid, baseUrl (default https://api.twilio.com), statusCallbackUrl (delivery
 * receipts, src/modules/receipts); secrets: accountSid, authToken.
 * The idempotency key goes in I-Twilio-Idempotency-Token, so a retried request after a lost
 * answer does not send a second SMS.
 */
export const twilioProvider: ChannelProvider = {
  kind: 'twilio',
  channel: 'SMS',
  config: {
    settings: z
      .object({
        from: requiredText().optional(),
        messagingServiceSid: requiredText().optional(),
        baseUrl: httpUrl().optional(),
        // Herald's receipt endpoint (README "Delivery receipts"): sent as StatusCallback with each
        // SMS, and the URL the signature of Twilio's callbacks is checked against (Twilio signs the
        // URL it called, which a proxy in front of Herald hides from it).
        statusCallbackUrl: httpUrl().optional(),
      })
      .strict()
      .refine((s) => Boolean(s.from || s.messagingServiceSid), { message: 'give from (a number) or messagingServiceSid', path: ['from'] }),
    secrets: z.object({ accountSid: requiredText(), authToken: requiredText() }).strict(),
  },
  outbound: { urls: ['baseUrl'] },
  async send({ message, idempotencyKey }, settings) {
    const accountSid = stringSetting(settings, 'accountSid');
    const authToken = stringSetting(settings, 'authToken');
    if (!accountSid || !authToken) throw new ProviderError('twilio: the provider needs the accountSid and authToken secrets', true);
    if (!message.to) throw new ProviderError('twilio: the message has no telephone number', true);
    const from = stringSetting(settings, 'from');
    const messagingServiceSid = stringSetting(settings, 'messagingServiceSid');
    if (!from && !messagingServiceSid) throw new ProviderError('twilio: set the provider’s from or messagingServiceSid setting', true);
    const text = (message.content as SmsContent).text ?? '';
    if (!text) throw new ProviderError('twilio: the message has no text', true);

    const form = new URLSearchParams({ To: message.to, Body: text });
    if (messagingServiceSid) form.set('MessagingServiceSid', messagingServiceSid);
    else form.set('From', from!);
    const statusCallback = stringSetting(settings, 'statusCallbackUrl');
    if (statusCallback) form.set('StatusCallback', statusCallback);
    const url = `${baseUrl(settings, 'https://api.twilio.com')}/2010-04-01/Accounts/${encodeURIComponent(accountSid)}/Messages.json`;
    const answer = await callProvider('twilio', url, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        'user-agent': 'Herald',
        'i-twilio-idempotency-token': idempotencyKey,
      },
      body: form.toString(),
    });
    if (answer.status < 200 || answer.status >= 300) {
      const error = (answer.json ?? {}) as TwilioError;
      const detail = error.code ? `${error.code} ${error.message ?? ''}`.trim() : answer.text;
      // Twilio's status codes already say it: 400 (21211 invalid number, 21610 unsubscribed...)
      // and 401/403/404 are final; 429 (20429) and 5xx are worth a retry.
      throw httpError('twilio', answer.status, detail);
    }
    const sid = (answer.json as { sid?: unknown } | undefined)?.sid;
    return { providerMessageId: typeof sid === 'string' ? sid : undefined };
  },
};
