import { z } from 'zod';
import { blocksOf, cut, isHttpUrl, linksOf, mrkdwnToMarkdown, textOf, type Block, type ChatContent } from './chat-format.ts';
import { callProvider, stringSetting } from './http.ts';
import { httpError, httpUrl, none, ProviderError, retryAfterMs, type ChannelProvider } from './types.ts';

/** Adaptive Cards 1.4: what Teams renders everywhere (desktop, web, mobile) today. */
const CARD_VERSION = '1.4';
/** Teams refuses messages over about 28 KB; a card is cut well below that. */
const MAX_TEXT = 20_000;

/**
 * Microsoft Teams through a webhook: a Workflows ("When a Teams webhook request is received",
 * Power Automate) URL or a legacy incoming-webhook (connector) URL, the user's
 * (User.chat.msTeams) or else secrets.webhookUrl (the URL carries its own signature, so it is a
 * secret). The message is an Adaptive Card built from the chat content: Block Kit blocks
 * translated (header, section, fields, image, context, divider, buttons) or, without blocks,
 * the text. Workflows answer 202, connectors 200 "1"; connectors report a failure of theirs
 * with 200 and "Microsoft Teams endpoint returned HTTP error NNN". 429 with Retry-After is waited for.
 */
export const msTeamsProvider: ChannelProvider = {
  kind: 'ms-teams',
  channel: 'MS_TEAMS',
  config: {
    settings: none(),
    secrets: z.object({ webhookUrl: httpUrl().optional() }).strict(),
  },
  async send({ message }, settings) {
    const url = message.to ?? stringSetting(settings, 'webhookUrl');
    if (!url) throw new ProviderError('ms-teams: no address: the user has no chat.msTeams and the provider no webhookUrl', true);
    if (!isHttpUrl(url)) throw new ProviderError('ms-teams: the address is not a webhook URL', true);
    const card = adaptiveCard((message.content ?? {}) as ChatContent);
    if (card.body.length === 0) throw new ProviderError('ms-teams: the message has no text and no blocks', true);
    const answer = await callProvider('ms-teams', url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'Herald' },
      body: JSON.stringify({ type: 'message', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content: card }] }),
    });
    const relayed = /returned HTTP error (\d{3})/i.exec(answer.text);
    const status = answer.status >= 200 && answer.status < 300 && relayed ? Number(relayed[1]) : answer.status;
    if (status === 429) {
      const wait = retryAfterMs(answer.headers.get('retry-after'));
      throw new ProviderError(`ms-teams answered 429${wait !== undefined ? ` (retry after ${wait} ms)` : ''}`, false, wait);
    }
    if (status < 200 || status >= 300) throw httpError('ms-teams', status, answer.text);
    return {};
  },
};

type Element = Record<string, unknown>;

/** The Adaptive Card of a chat message's content. */
export function adaptiveCard(content: ChatContent): { type: 'AdaptiveCard'; version: string; body: Element[]; actions?: Element[]; [key: string]: unknown } {
  const body: Element[] = [];
  const actions: Element[] = [];
  const blocks = blocksOf(content);
  for (const block of blocks) translate(block, body, actions);
  if (blocks.length === 0 && content.text) body.push({ type: 'TextBlock', text: cut(mrkdwnToMarkdown(content.text), MAX_TEXT), wrap: true });
  return {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: CARD_VERSION,
    body,
    ...(actions.length ? { actions } : {}),
    // The card takes the message's width in Teams rather than a narrow column.
    msteams: { width: 'Full' },
  };
}

function translate(block: Block, body: Element[], actions: Element[]): void {
  const text = (value: string, extra: Element = {}) => {
    if (value) body.push({ type: 'TextBlock', text: cut(value, MAX_TEXT), wrap: true, ...extra });
  };
  switch (block.type) {
    case 'header':
      text(textOf(block.text), { size: 'Large', weight: 'Bolder' });
      break;
    case 'section':
      text(textOf(block.text));
      for (const field of block.fields ?? []) text(textOf(field));
      if (block.accessory?.type === 'image' && isHttpUrl(block.accessory.image_url)) body.push({ type: 'Image', url: block.accessory.image_url, altText: block.accessory.alt_text ?? '' });
      break;
    case 'image':
      if (block.title) text(textOf(block.title), { weight: 'Bolder' });
      if (isHttpUrl(block.image_url)) body.push({ type: 'Image', url: block.image_url, altText: block.alt_text ?? '', size: 'Stretch' });
      break;
    case 'context':
      text((block.elements ?? []).map((e) => (e.type === 'image' ? '' : textOf(e))).filter(Boolean).join('  '), { size: 'Small', isSubtle: true });
      break;
    case 'divider':
      body.push({ type: 'TextBlock', text: ' ', separator: true });
      break;
    default:
      break;
  }
  for (const link of linksOf(block)) actions.push({ type: 'Action.OpenUrl', title: cut(link.label, 100), url: link.url });
}
