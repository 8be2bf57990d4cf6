import { z } from 'zod';
import { blocksOf, isHttpUrl, type ChatContent } from './chat-format.ts';
import { baseUrl, callProvider, stringSetting, type HttpAnswer } from './http.ts';
import { httpError, httpUrl, ProviderError, requiredText, retryAfterMs, type ChannelProvider } from './types.ts';

/** A Slack channel, private channel, DM or user id (C…, G…, D…, U…, W…) or a #channel name. */
export const SLACK_CHANNEL = /^([CGDUW][A-Z0-9]{2,20}|#[a-z0-9][a-z0-9._-]{0,79})$/;
export const SLACK_CHANNEL_MESSAGE = 'must be a Slack channel or user id (C0123ABCD, U0123ABCD) or a #channel name';

/**
 * Web API errors worth a retry (api.slack.com/methods/chat.postMessage, "Errors"); every other
 * `error` (channel_not_found, not_in_channel, is_archived, invalid_auth, token_revoked,
 * missing_scope, invalid_blocks, msg_too_long...) is the same on the next attempt.
 */
const TRANSIENT_ERRORS = new Set(['ratelimited', 'internal_error', 'fatal_error', 'service_unavailable', 'request_timeout']);

/**
 * Slack, two ways. With a bot token (secrets.botToken, xoxb-…): `chat.postMessage` to a
 * channel or user id, the user's (User.chat.slack) or else settings.defaultChannel. With an
 * Incoming Webhook URL (the user's, or secrets.webhookUrl): a POST of the same JSON to it
 * (the webhook's channel is fixed when it is created). The text and blocks are the message's
 * chat content as written (Block Kit). Slack answers Web API failures with HTTP 200 and
 * { ok: false, error }; rate limits with 429 and Retry-After, which the retry waits for.
 * Neither API takes an idempotency key: a retry after a lost answer may post twice.
 */
export const slackProvider: ChannelProvider = {
  kind: 'slack',
  channel: 'SLACK',
  config: {
    settings: z
      .object({
        defaultChannel: z.string().trim().regex(SLACK_CHANNEL, SLACK_CHANNEL_MESSAGE).optional(),
        /** Web API base, default https://slack.com/api. */
        baseUrl: httpUrl().optional(),
        username: requiredText().optional(),
        iconEmoji: z.string().regex(/^:[a-z0-9_+-]+:$/, 'must look like :robot_face:').optional(),
      })
      .strict(),
    secrets: z
      .object({
        botToken: z.string().trim().regex(/^xox[abep]-[A-Za-z0-9-]+$/, 'must be a Slack token (xoxb-…)').optional(),
        webhookUrl: httpUrl().optional(),
      })
      .strict()
      .refine((s) => Boolean(s.botToken || s.webhookUrl), { message: 'give botToken (chat.postMessage) or webhookUrl (an Incoming Webhook)', path: ['botToken'] }),
  },
  outbound: { urls: ['baseUrl'] },
  async send({ message }, settings) {
    const content = (message.content ?? {}) as ChatContent;
    const blocks = blocksOf(content);
    const text = content.text ?? '';
    if (!text && blocks.length === 0) throw new ProviderError('slack: the message has no text and no blocks', true);
    const payload = { text, ...(blocks.length ? { blocks } : {}) };

    // The user's address first, then the project's default channel, then its webhook.
    const address = message.to ?? stringSetting(settings, 'defaultChannel') ?? stringSetting(settings, 'webhookUrl');
    if (!address) throw new ProviderError('slack: no address: the user has no chat.slack and the provider no defaultChannel or webhookUrl', true);
    if (isHttpUrl(address)) return postWebhook(address, payload);

    const token = stringSetting(settings, 'botToken');
    if (!token) throw new ProviderError(`slack: ${address} is a channel: posting to it needs the provider's botToken secret`, true);
    const username = stringSetting(settings, 'username');
    const iconEmoji = stringSetting(settings, 'iconEmoji');
    const answer = await callProvider('slack', `${baseUrl(settings, 'https://slack.com/api')}/chat.postMessage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json; charset=utf-8', accept: 'application/json', 'user-agent': 'Herald' },
      body: JSON.stringify({ channel: address, ...payload, ...(username ? { username } : {}), ...(iconEmoji ? { icon_emoji: iconEmoji } : {}) }),
    });
    const body = answer.json as { ok?: boolean; error?: string; ts?: string; channel?: string } | undefined;
    if (answer.status === 200 && body?.ok === true) return { providerMessageId: typeof body.ts === 'string' ? body.ts : undefined };
    if (answer.status === 429 || (answer.status === 200 && body?.error === 'ratelimited')) throw rateLimited(answer, body?.error ?? 'ratelimited');
    if (answer.status !== 200) throw httpError('slack', answer.status, body?.error ?? answer.text);
    const error = body?.error ?? 'unknown_error';
    throw new ProviderError(`slack answered ${error}`, !TRANSIENT_ERRORS.has(error));
  },
};

/** An Incoming Webhook answers "ok", or a status with the error as text (400 invalid_payload, 404 channel_not_found, 410 channel_is_archived...). */
async function postWebhook(url: string, payload: Record<string, unknown>) {
  const answer = await callProvider('slack', url, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'Herald' },
    body: JSON.stringify(payload),
  });
  if (answer.status === 429) throw rateLimited(answer, answer.text);
  if (answer.status < 200 || answer.status >= 300) throw httpError('slack', answer.status, answer.text);
  return {};
}

function rateLimited(answer: HttpAnswer, detail: string): ProviderError {
  const wait = retryAfterMs(answer.headers.get('retry-after'));
  return new ProviderError(`slack answered ${answer.status} ${detail || 'ratelimited'}${wait !== undefined ? ` (retry after ${wait} ms)` : ''}`.trim(), false, wait);
}
