import { postSigned } from '../signing.ts';
import { z } from 'zod';
import { OutboundRefusedError } from './outbound.ts';
import { httpError, httpUrl, networkError, none, ProviderError, type ChannelProvider } from './types.ts';

/**
 * Webhook channel: POSTs the rendered message as JSON to the message's address (or the
 * provider's `url`), signed (see signing.ts), with the message id as Idempotency-Key.
 */
export const webhookProvider: ChannelProvider = {
  kind: 'webhook',
  channel: 'WEBHOOK',
  config: { settings: z.object({ url: httpUrl().optional() }).strict(), secrets: none() },
  outbound: { urls: ['url'] },
  async send({ message, user, idempotencyKey, signingSecret }, settings) {
    const url = message.to ?? (typeof settings.url === 'string' ? settings.url : null);
    if (!url) throw new ProviderError('no webhook URL: give the message an address or the provider a url', true);
    const payload = {
      id: message.id,
      notificationId: message.notificationId,
      user: user ? { id: user.id, externalId: user.externalId } : null,
      content: message.content,
      data: message.data,
      createdAt: message.createdAt.toISOString(),
    };
    let answer;
    try {
      answer = await postSigned(url, payload, signingSecret, { 'idempotency-key': idempotencyKey, 'x-herald-message-id': message.id });
    } catch (error) {
      if (error instanceof OutboundRefusedError) throw new ProviderError(`webhook: ${error.message}`, true);
      throw networkError('webhook', error);
    }
    if (answer.status < 200 || answer.status >= 300) throw httpError('webhook', answer.status, answer.text);
    return {};
  },
};
