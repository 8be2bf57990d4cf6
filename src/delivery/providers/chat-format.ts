/**
 * Shared by the chat providers (slack.ts, ms-teams.ts, discord.ts): what a chat message's content
 * holds, and Slack mrkdwn turned into the common Markdown that Teams and Discord read. Chat
 * content is written in Slack's terms (Block Kit blocks, mrkdwn text), so one version serves the
 * three channels; the other two translate the common blocks.
 */

export interface ChatContent {
  text?: string | null;
  blocks?: Block[] | null;
  title?: string | null;
  body?: string | null;
  image?: string | null;
  redirection?: string | null;
}

/** A Block Kit block, loosely: only the members the translations read are typed. */
export interface Block {
  type: string;
  text?: TextObject | null;
  fields?: TextObject[] | null;
  elements?: (TextObject & { url?: string; image_url?: string; alt_text?: string })[] | null;
  accessory?: { type?: string; image_url?: string; alt_text?: string; url?: string; text?: TextObject } | null;
  image_url?: string;
  alt_text?: string;
  title?: TextObject | null;
}
export interface TextObject {
  type?: string;
  text?: string;
}

/**
 * Slack mrkdwn to Markdown: <url|label> links, *bold*, ~strike~, and the &amp; &lt; &gt;
 * escapes (Slack's, not Markdown's). _italic_, `code` and ``` blocks are the same in both.
 */
export function mrkdwnToMarkdown(text: string): string {
  return text
    .replace(/<((?:https?|mailto):[^|>\s]+)\|([^>]+)>/g, (_m, url: string, label: string) => `[${label}](${url})`)
    .replace(/<((?:https?|mailto):[^|>\s]+)>/g, '$1')
    .replace(/<!(here|channel|everyone)>/g, '@$1')
    .replace(/(^|[\s(])\*([^*\n]+)\*(?=$|[\s).,!?:;])/gm, '$1**$2**')
    .replace(/(^|[\s(])~([^~\n]+)~(?=$|[\s).,!?:;])/gm, '$1~~$2~~')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** The text of a Block Kit text object: mrkdwn converted, plain_text as is. */
export function textOf(object: TextObject | null | undefined): string {
  if (!object || typeof object.text !== 'string') return '';
  return object.type === 'mrkdwn' ? mrkdwnToMarkdown(object.text) : object.text;
}

export const blocksOf = (content: ChatContent): Block[] => (Array.isArray(content.blocks) ? content.blocks.filter((b) => b && typeof b.type === 'string') : []);

export const isHttpUrl = (value: unknown): value is string => typeof value === 'string' && /^https?:\/\/\S+$/i.test(value);

/** Buttons with a URL in an actions block or a section's accessory: [{ label, url }]. */
export function linksOf(block: Block): { label: string; url: string }[] {
  const buttons = block.type === 'actions' ? (block.elements ?? []) : block.type === 'section' && block.accessory ? [block.accessory] : [];
  return buttons.flatMap((b) => (b && b.type === 'button' && isHttpUrl(b.url) ? [{ label: textOf(b.text as TextObject) || b.url, url: b.url }] : []));
}

/** At most `max` characters, with an ellipsis when cut. */
export const cut = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);
