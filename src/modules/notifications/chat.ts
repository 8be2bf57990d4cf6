import { cut, isHttpUrl as isUrl } from '../../delivery/providers/chat-format.ts';
import type { User } from '../../generated/prisma/client.ts';
import type { RenderedContent } from './render.ts';

/** What a chat message (SLACK, MS_TEAMS, DISCORD) stores as its content; the providers read it. */
export interface ChatMessageContent {
  /** Slack mrkdwn: the message text, and the notification text when there are blocks. */
  text: string;
  /** Slack Block Kit blocks (Teams and Discord translate the common ones); empty for text only. */
  blocks: Record<string, unknown>[];
  title: string | null;
  body: string | null;
  image: string | null;
  redirection: string | null;
  locale: string;
}

/** Slack's limits on the default blocks: header text 150 characters, section text 3,000. */
const HEADER_MAX = 150;
const SECTION_MAX = 3_000;

/** Slack mrkdwn needs &, < and > escaped in text that is not markup (api.slack.com: formatting). */
export const escapeMrkdwn = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Slack refuses image and button URLs over 3,000 characters. */
const isHttpUrl = (value: string | null | undefined): value is string => isUrl(value) && value.length <= 3_000;

/**
 * The chat content of a rendered version. With a `chat` part its text and blocks are used as
 * written (text defaults to title and body, blocks to none); without one, a default is built
 * from title, body, image and redirection: header, section, image and an "Open" button, with the
 * same text as the notification fallback.
 */
export function chatContent(r: RenderedContent, redirection: string | null | undefined): ChatMessageContent {
  const link = isHttpUrl(redirection) ? redirection : null;
  const defaultText = [r.title ? `*${escapeMrkdwn(r.title)}*` : null, r.body ? escapeMrkdwn(r.body) : null].filter(Boolean).join('\n');
  const common = { title: r.title, body: r.body, image: r.image, redirection: redirection ?? null, locale: r.locale };
  if (r.chat) return { text: r.chat.text ?? defaultText, blocks: r.chat.blocks ?? [], ...common };
  const blocks: Record<string, unknown>[] = [];
  if (r.title) blocks.push({ type: 'header', text: { type: 'plain_text', text: cut(r.title, HEADER_MAX), emoji: true } });
  if (r.body) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: cut(escapeMrkdwn(r.body), SECTION_MAX) } });
  if (isHttpUrl(r.image)) blocks.push({ type: 'image', image_url: r.image, alt_text: cut(r.title ?? 'image', 2_000) });
  if (link) blocks.push({ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open', emoji: true }, url: link, action_id: 'herald_open' }] });
  return { text: defaultText, blocks, ...common };
}

/** The per-user chat addresses (User.chat), as upsertUsers stored them. */
export interface ChatAddresses {
  slack?: string;
  msTeams?: string;
  discord?: string;
}

/** The user's own address on a chat channel, or null (the provider's project default applies). */
export function chatAddressOf(user: Pick<User, 'chat'>, key: keyof ChatAddresses): string | null {
  const value = ((user.chat ?? {}) as ChatAddresses)[key];
  return typeof value === 'string' && value !== '' ? value : null;
}
