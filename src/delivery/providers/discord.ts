import { z } from 'zod';
import { blocksOf, cut, isHttpUrl, linksOf, mrkdwnToMarkdown, textOf, type ChatContent } from './chat-format.ts';
import { callProvider, stringSetting } from './http.ts';
import { httpError, httpUrl, MAX_RETRY_AFTER_MS, ProviderError, requiredText, retryAfterMs, type ChannelProvider } from './types.ts';

/** Discord's limits (discord.com/developers/docs/resources/message#embed-object-embed-limits). */
const LIMITS = { content: 2_000, title: 256, description: 4_096, footer: 2_048 };

interface DiscordEmbed {
  title?: string;
  description?: string;
  url?: string;
  image?: { url: string };
  footer?: { text: string };
}

/**
 * Discord through a channel webhook (POST /webhooks/{id}/{token}): the user's
 * (User.chat.discord) or else secrets.webhookUrl (the URL holds the webhook's token). The
 * chat content becomes one embed (Block Kit blocks translated: header → title, sections →
 * description, first image, context → footer, the first button → the title's link) or, without
 * blocks, the text as `content`. `?wait=true` makes Discord answer the message, whose id is
 * kept. Mentions are disabled (allowed_mentions): rendered data cannot ping @everyone. A 429
 * carries retry_after (seconds, JSON) and Retry-After: the retry waits for it.
 */
export const discordProvider: ChannelProvider = {
  kind: 'discord',
  channel: 'DISCORD',
  config: {
    settings: z.object({ username: requiredText().optional(), avatarUrl: httpUrl().optional() }).strict(),
    secrets: z.object({ webhookUrl: httpUrl().optional() }).strict(),
  },
  async send({ message }, settings) {
    const address = message.to ?? stringSetting(settings, 'webhookUrl');
    if (!address) throw new ProviderError('discord: no address: the user has no chat.discord and the provider no webhookUrl', true);
    if (!isHttpUrl(address)) throw new ProviderError('discord: the address is not a webhook URL', true);
    const url = new URL(address);
    url.searchParams.set('wait', 'true');
    const payload = discordPayload((message.content ?? {}) as ChatContent);
    if (!payload.content && payload.embeds.length === 0) throw new ProviderError('discord: the message has no text and no blocks', true);
    const username = stringSetting(settings, 'username');
    const avatarUrl = stringSetting(settings, 'avatarUrl');
    const answer = await callProvider('discord', url.toString(), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'Herald' },
      body: JSON.stringify({
        ...(payload.content ? { content: payload.content } : {}),
        ...(payload.embeds.length ? { embeds: payload.embeds } : {}),
        ...(username ? { username } : {}),
        ...(avatarUrl ? { avatar_url: avatarUrl } : {}),
        allowed_mentions: { parse: [] },
      }),
    });
    const body = answer.json as { id?: unknown; code?: number; message?: string; retry_after?: unknown } | undefined;
    if (answer.status === 429) {
      // The body's retry_after (seconds, with decimals) is the precise one; the header is rounded.
      const wait =
        typeof body?.retry_after === 'number' && Number.isFinite(body.retry_after)
          ? Math.min(Math.ceil(Math.max(0, body.retry_after) * 1_000), MAX_RETRY_AFTER_MS)
          : retryAfterMs(answer.headers.get('retry-after'));
      throw new ProviderError(`discord answered 429 ${body?.message ?? 'rate limited'}${wait !== undefined ? ` (retry after ${wait} ms)` : ''}`, false, wait);
    }
    if (answer.status < 200 || answer.status >= 300) {
      // 404 code 10015 (Unknown Webhook), 401 50027 (Invalid Webhook Token), 400 50006 (empty message)...
      throw httpError('discord', answer.status, body?.code !== undefined ? `${body.code} ${body.message ?? ''}`.trim() : answer.text);
    }
    return { providerMessageId: typeof body?.id === 'string' ? body.id : undefined };
  },
};

/** The `content` and embed of a chat message's content. */
export function discordPayload(content: ChatContent): { content: string; embeds: DiscordEmbed[] } {
  const blocks = blocksOf(content);
  if (blocks.length === 0) return { content: cut(mrkdwnToMarkdown(content.text ?? ''), LIMITS.content), embeds: [] };
  const embed: DiscordEmbed = {};
  const description: string[] = [];
  const footer: string[] = [];
  for (const block of blocks) {
    if (block.type === 'header' && !embed.title) embed.title = cut(textOf(block.text), LIMITS.title);
    else if (block.type === 'header') description.push(`**${textOf(block.text)}**`);
    else if (block.type === 'section') {
      const parts = [textOf(block.text), ...(block.fields ?? []).map(textOf)].filter(Boolean);
      if (parts.length) description.push(parts.join('\n'));
      if (block.accessory?.type === 'image' && isHttpUrl(block.accessory.image_url) && !embed.image) embed.image = { url: block.accessory.image_url };
    } else if (block.type === 'image' && isHttpUrl(block.image_url) && !embed.image) embed.image = { url: block.image_url };
    else if (block.type === 'context') footer.push((block.elements ?? []).map((e) => (e.type === 'image' ? '' : textOf(e))).filter(Boolean).join('  '));
    else if (block.type === 'divider') description.push('───');
    const links = linksOf(block);
    if (links.length && !embed.url) embed.url = links[0]!.url;
    for (const link of links.slice(embed.url === links[0]?.url ? 1 : 0)) description.push(`[${link.label}](${link.url})`);
  }
  if (description.length) embed.description = cut(description.join('\n\n'), LIMITS.description);
  if (footer.some(Boolean)) embed.footer = { text: cut(footer.filter(Boolean).join('\n'), LIMITS.footer) };
  // A link needs a title to show; with none, the first button is listed in the description.
  if (embed.url && !embed.title) {
    embed.description = cut([embed.description, `[Open](${embed.url})`].filter(Boolean).join('\n\n'), LIMITS.description);
    delete embed.url;
  }
  return { content: '', embeds: Object.keys(embed).length ? [embed] : [] };
}
