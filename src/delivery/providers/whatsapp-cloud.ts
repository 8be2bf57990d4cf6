import { baseUrl, callProvider, stringSetting } from './http.ts';
import { z } from 'zod';
import { httpError, httpUrl, ProviderError, requiredText, type ChannelProvider } from './types.ts';

interface WhatsAppContent {
  text?: string | null;
  /** `components`: raw Cloud API components (header, buttons...), sent as given (Neucron's template sends). */
  template?: { name?: string | null; language?: string | null; parameters?: string[] | null; components?: { type?: unknown }[] | null } | null;
}

interface GraphError {
  error?: { code?: number; message?: string; is_transient?: boolean; error_subcode?: number };
}

/**
 * Graph API error codes that are worth a retry although Meta answers them with a 4xx:
 * 1/2 (temporarily unavailable), 4/17/32/613/80007/130429 (rate limits), 131000 (something
 * went wrong), 131016 (service overloaded), 131048/131056 (spam and pair rate limits).
 */
const TRANSIENT_CODES = new Set([1, 2, 4, 17, 32, 613, 80007, 130429, 131000, 131016, 131048, 131056]);

/**
 * WhatsApp through Meta's Cloud API. settings: phoneNumberId, apiVersion (default v21.0),
 * baseUrl (default https://graph.facebook.com); secrets: accessToken, appSecret and verifyToken
 * (the app's status webhook, src/modules/receipts). Content is either
 * { text } or { template: { name, language, parameters } } (see draftsFor). The Cloud API has
 * no idempotency key: a retry after a lost answer may send twice.
 */
export const whatsappCloudProvider: ChannelProvider = {
  kind: 'whatsapp-cloud',
  channel: 'WHATSAPP',
  config: {
    settings: z
      .object({ phoneNumberId: requiredText(), apiVersion: z.string().regex(/^v\d+\.\d+$/, 'must look like v21.0').optional(), baseUrl: httpUrl().optional() })
      .strict(),
    // appSecret and verifyToken: the Meta app's, for its status webhook (delivery receipts).
    secrets: z.object({ accessToken: requiredText(), appSecret: requiredText().optional(), verifyToken: requiredText().optional() }).strict(),
  },
  outbound: { urls: ['baseUrl'] },
  async send({ message }, settings) {
    const phoneNumberId = stringSetting(settings, 'phoneNumberId');
    const accessToken = stringSetting(settings, 'accessToken');
    if (!phoneNumberId || !accessToken) throw new ProviderError('whatsapp-cloud: the provider needs the phoneNumberId setting and the accessToken secret', true);
    const to = (message.to ?? '').replace(/\D/g, '');
    if (!to) throw new ProviderError('whatsapp-cloud: the message has no telephone number', true);

    const body = { messaging_product: 'whatsapp', recipient_type: 'individual', to, ...whatsappPayload(message.content as WhatsAppContent) };
    const url = `${baseUrl(settings, 'https://graph.facebook.com')}/${stringSetting(settings, 'apiVersion') ?? 'v21.0'}/${encodeURIComponent(phoneNumberId)}/messages`;
    const answer = await callProvider('whatsapp-cloud', url, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json', 'user-agent': 'Herald' },
      body: JSON.stringify(body),
    });
    if (answer.status < 200 || answer.status >= 300) {
      const error = (answer.json as GraphError | undefined)?.error;
      const detail = error?.code !== undefined ? `${error.code} ${error.message ?? ''}`.trim() : answer.text;
      const classified = httpError('whatsapp-cloud', answer.status, detail);
      const transient = error?.is_transient === true || (error?.code !== undefined && TRANSIENT_CODES.has(error.code));
      throw transient ? new ProviderError(classified.message, false) : classified;
    }
    const id = (answer.json as { messages?: { id?: unknown }[] } | undefined)?.messages?.[0]?.id;
    return { providerMessageId: typeof id === 'string' ? id : undefined };
  },
};

/** The type-specific part of a Cloud API message. Template languages use WhatsApp's underscore form (fr_FR). */
export function whatsappPayload(content: WhatsAppContent): Record<string, unknown> {
  const template = content.template;
  if (template) {
    if (!template.name) throw new ProviderError('whatsapp-cloud: the template has no name', true);
    const parameters = template.parameters ?? [];
    const given = template.components ?? [];
    const body = parameters.length ? [{ type: 'body', parameters: parameters.map((text) => ({ type: 'text', text })) }] : [];
    // In the order of Meta's own examples: header, body, then the rest (buttons).
    const components = [...given.filter((c) => c.type === 'header'), ...body, ...given.filter((c) => c.type !== 'header')];
    return {
      type: 'template',
      template: {
        name: template.name,
        language: { code: (template.language ?? 'en').replace('-', '_') },
        ...(components.length ? { components } : {}),
      },
    };
  }
  if (!content.text) throw new ProviderError('whatsapp-cloud: the message has no text', true);
  return { type: 'text', text: { body: content.text } };
}
