import webpush from 'web-push';
import { prisma } from '../../db/client.ts';
import type { PushSubscription } from '../../generated/prisma/client.ts';
import { callProvider, stringSetting } from './http.ts';
import { z } from 'zod';
import { httpError, ProviderError, requiredText, type ChannelProvider } from './types.ts';

/** The largest plaintext that fits the 4096-byte record of RFC 8291 (aes128gcm) once encrypted. */
const MAX_PAYLOAD_BYTES = 3_993;
const URGENCIES = ['very-low', 'low', 'normal', 'high'] as const;

/**
 * Web Push (RFC 8030/8291/8292) to every browser subscription of the message's user. settings:
 * subject (mailto: or https: contact), publicKey, ttl (seconds, default one day), urgency;
 * secrets: privateKey (the VAPID key pair). The payload is the message content as JSON,
 * encrypted (aes128gcm) by the web-push library; the request itself is sent with fetch so it
 * shares the other providers' timeout and error handling.
 *
 * The message id (without dashes: 32 base64url characters) is the Topic: a re-send of a
 * message the push service still holds replaces it instead of showing twice.
 * 404/410 mean the subscription is gone: it is deleted. The message is SENT when at least one
 * subscription accepted it; otherwise the error is transient if any subscription's was.
 */
export const webPushProvider: ChannelProvider = {
  kind: 'web-push',
  channel: 'WEB_PUSH',
  config: {
    settings: z
      .object({
        subject: z.string().regex(/^(mailto:|https:\/\/)\S+$/, 'must be a mailto: or https: contact'),
        publicKey: requiredText(),
        ttl: z.number().int().min(0).max(2_419_200).optional(),
        urgency: z.enum(URGENCIES).optional(),
      })
      .strict(),
    secrets: z.object({ privateKey: requiredText() }).strict(),
  },
  async send({ message }, settings) {
    const subject = stringSetting(settings, 'subject');
    const publicKey = stringSetting(settings, 'publicKey');
    const privateKey = stringSetting(settings, 'privateKey');
    if (!subject || !publicKey || !privateKey) throw new ProviderError('web-push: the provider needs the subject and publicKey settings and the privateKey secret', true);
    if (!message.userId) throw new ProviderError('web-push: the message has no user', true);
    const payload = JSON.stringify(message.content);
    if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) throw new ProviderError(`web-push: the content is ${Buffer.byteLength(payload)} bytes as JSON; push services take at most ${MAX_PAYLOAD_BYTES}`, true);
    const subscriptions = await prisma().pushSubscription.findMany({ where: { projectId: message.projectId, userId: message.userId } });
    if (subscriptions.length === 0) throw new ProviderError('web-push: the user has no push subscription', true);

    const urgency = URGENCIES.find((u) => u === settings.urgency) ?? 'normal';
    const options: webpush.RequestOptions = {
      vapidDetails: { subject, publicKey, privateKey },
      TTL: Number.isInteger(settings.ttl) && (settings.ttl as number) >= 0 ? (settings.ttl as number) : 86_400,
      urgency,
      topic: message.id.replaceAll('-', ''),
    };
    const outcomes = await Promise.all(subscriptions.map((s) => pushTo(s, payload, options)));
    const accepted = outcomes.find((o) => o.ok);
    if (accepted) return { providerMessageId: accepted.location };
    const errors = outcomes.map((o) => o.error!);
    const summary = errors.map((e) => e.message).join('; ');
    throw new ProviderError(summary.slice(0, 1_000), errors.every((e) => e.permanent));
  },
};

async function pushTo(subscription: PushSubscription, payload: string, options: webpush.RequestOptions): Promise<{ ok: boolean; location?: string; error?: ProviderError }> {
  let request;
  try {
    request = webpush.generateRequestDetails({ endpoint: subscription.endpoint, keys: { p256dh: subscription.p256dh, auth: subscription.auth } }, payload, options);
  } catch (error) {
    // Bad keys or VAPID details: nothing a retry changes.
    return { ok: false, error: new ProviderError(`web-push: ${(error as Error).message}`, true) };
  }
  const headers = Object.fromEntries(
    Object.entries(request.headers)
      .filter(([name]) => name.toLowerCase() !== 'content-length')
      .map(([name, value]) => [name, String(value)]),
  );
  let answer;
  try {
    answer = await callProvider('web-push', request.endpoint, { method: 'POST', headers, body: request.body ? new Uint8Array(request.body) : null });
  } catch (error) {
    return { ok: false, error: error as ProviderError };
  }
  if (answer.status >= 200 && answer.status < 300) return { ok: true, location: answer.headers.get('location') ?? undefined };
  if (answer.status === 404 || answer.status === 410) {
    await prisma().pushSubscription.deleteMany({ where: { id: subscription.id, endpoint: subscription.endpoint } });
    return { ok: false, error: new ProviderError(`web-push: subscription ${subscription.id} expired (${answer.status}) and was removed`, true) };
  }
  return { ok: false, error: httpError('web-push', answer.status, answer.text) };
}
