import { z } from 'zod';
import type { TemplateKind } from './templates.ts';

/** Herald's channels, and the NP6 / Herald notification types that imply them. */
export const CHANNELS = ['IN_APP', 'EMAIL', 'SMS', 'WHATSAPP', 'WEB_PUSH', 'WEBHOOK', 'SLACK', 'MS_TEAMS', 'DISCORD', 'MOBILE_PUSH'] as const;
export type ChannelName = (typeof CHANNELS)[number];

export const TYPE_CHANNELS: Record<string, ChannelName[]> = {
  // NP6's push-app is a mobile app push, also kept in the in-app inbox: the push's badge is the
  // inbox's unread count, which then includes it. Without a MOBILE_PUSH provider it goes to the
  // inbox only, and every answer that sends one says so (pushAppFallback).
  'push-app': ['IN_APP', 'MOBILE_PUSH'],
  'in-app': ['IN_APP'],
  email: ['EMAIL'],
  sms: ['SMS'],
  whatsapp: ['WHATSAPP'],
  'web-push': ['WEB_PUSH'],
  webhook: ['WEBHOOK'],
  'mobile-push': ['MOBILE_PUSH'],
  multichannel: ['IN_APP'],
  slack: ['SLACK'],
  'ms-teams': ['MS_TEAMS'],
  discord: ['DISCORD'],
};
export const NOTIFICATION_TYPES = Object.keys(TYPE_CHANNELS);

/**
 * What a push-app send answers when it cannot go out as a mobile push: the project has no
 * MOBILE_PUSH provider (or the notification's channels leave it out). It then goes to the other
 * channels only (the in-app inbox by default); stated in execution and test answers (`fallback`,
 * header `X-Herald-Fallback`). Null when the mobile push goes out.
 */
export function pushAppFallback(notification: { type: string }, channels: readonly ChannelName[], mobilePushConfigured: boolean) {
  if (notification.type !== 'push-app') return null;
  if (mobilePushConfigured && channels.includes('MOBILE_PUSH')) return null;
  const to = pushAppChannels(notification, channels, mobilePushConfigured);
  return {
    from: 'MOBILE_PUSH',
    to: [...to],
    reason: mobilePushConfigured
      ? `this push-app send's channels leave out MOBILE_PUSH: it was sent to ${to.join(', ')}`
      : `the project has no mobile push provider (MOBILE_PUSH: fcm or apns): this push-app notification was sent to ${to.join(', ')} instead (the in-app inbox by default)`,
  };
}

/** The channels a push-app send goes to: without a MOBILE_PUSH provider, the others (at least the inbox). */
export function pushAppChannels<C extends string>(notification: { type: string }, channels: readonly C[], mobilePushConfigured: boolean): C[] {
  if (notification.type !== 'push-app' || mobilePushConfigured) return [...channels];
  const others = channels.filter((c) => c !== 'MOBILE_PUSH');
  return others.length ? others : ['IN_APP' as C];
}
export type ChannelFallback = NonNullable<ReturnType<typeof pushAppFallback>>;

const text = (max: number) => z.string().max(max).nullish();

/** Slack allows at most 50 blocks in a message. */
export const MAX_CHAT_BLOCKS = 50;
const MAX_CHAT_BLOCKS_BYTES = 64_000;

/**
 * Chat blocks: Slack Block Kit objects, each with a string `type` ("header", "section"...).
 * Slack gets them as they are; Teams and Discord translate the common ones (see their providers).
 * Every string in them is a Liquid template.
 */
function chatBlocksSchema() {
  return z
    .array(z.looseObject({ type: z.string({ error: 'must be a Block Kit block type such as "section"' }).min(1).max(64) }), { error: 'must be a list of Block Kit blocks (objects)' })
    .max(MAX_CHAT_BLOCKS, `at most ${MAX_CHAT_BLOCKS} blocks (Slack's limit)`)
    .refine((blocks) => JSON.stringify(blocks).length <= MAX_CHAT_BLOCKS_BYTES, `must be at most ${MAX_CHAT_BLOCKS_BYTES} bytes of JSON`);
}

/** The templates of chat blocks: every string but the Block Kit `type`s ("section", "mrkdwn"...). */
export function chatTemplates(blocks: unknown[] | null | undefined, prefix = 'chat.blocks') {
  return stringLeaves(blocks ?? [], prefix).filter((leaf) => !leaf.path.endsWith('.type'));
}

/** Every string inside a JSON value, with its dotted path (chat blocks: each is a template). */
export function stringLeaves(value: unknown, path: string, out: { path: string; value: string }[] = []): { path: string; value: string }[] {
  if (typeof value === 'string') out.push({ path, value });
  else if (Array.isArray(value)) value.forEach((v, i) => stringLeaves(v, `${path}.${i}`, out));
  else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) stringLeaves(v, `${path}.${k}`, out);
  return out;
}

/** The content of one locale of a version. Every string is a Liquid template. */
export const localeContentSchema = z.object({
  locale: z
    .string()
    .trim()
    .regex(/^[a-zA-Z]{2,3}([-_][a-zA-Z0-9]{2,8})*$/, 'must be a language tag such as "en" or "fr-FR"')
    .transform((v) => v.replace('_', '-')),
  title: text(1_000),
  body: text(10_000),
  icon: text(2_048),
  thumbnail: text(2_048),
  image: text(2_048),
  email: z
    .object({ subject: text(1_000), html: text(500_000), text: text(100_000) })
    .nullish(),
  sms: z.object({ text: z.string().max(1_600) }).nullish(),
  whatsapp: z
    .object({
      text: text(4_096),
      templateName: text(512),
      templateLanguage: text(16),
      parameters: z.array(z.string().max(1_024)).max(50).nullish(),
    })
    .nullish(),
  chat: z
    .object({
      // Slack cuts text at 40,000 characters; Discord's content and Teams' cards take less (see the providers).
      text: text(40_000),
      blocks: chatBlocksSchema().nullish(),
    })
    .nullish(),
  /** The mobile push (MOBILE_PUSH) part; title and body default to the locale's. */
  push: z
    .object({ title: text(1_000), body: text(4_000), image: text(2_048), sound: text(256) })
    .nullish(),
});

export type LocaleContent = z.output<typeof localeContentSchema>;
/** Stored shape: { [locale]: content without its locale key }. */
export type StoredContent = Record<string, Omit<LocaleContent, 'locale'>>;

/** Every template of a locale's content, with its field path and whether it is HTML. */
export function templatesOf(content: Omit<LocaleContent, 'locale'>, prefix: string): { field: string; source: string; kind: TemplateKind }[] {
  const out: { field: string; source: string; kind: TemplateKind }[] = [];
  const add = (path: string, source: string | null | undefined, kind: TemplateKind = 'text') => {
    if (source) out.push({ field: `${prefix}.${path}`, source, kind });
  };
  add('title', content.title);
  add('body', content.body);
  add('icon', content.icon);
  add('thumbnail', content.thumbnail);
  add('image', content.image);
  add('email.subject', content.email?.subject);
  add('email.html', content.email?.html, 'html');
  add('email.text', content.email?.text);
  add('sms.text', content.sms?.text);
  add('whatsapp.text', content.whatsapp?.text);
  content.whatsapp?.parameters?.forEach((p, i) => add(`whatsapp.parameters.${i}`, p));
  add('chat.text', content.chat?.text);
  for (const leaf of chatTemplates(content.chat?.blocks)) add(leaf.path, leaf.value);
  add('push.title', content.push?.title);
  add('push.body', content.push?.body);
  add('push.image', content.push?.image);
  add('push.sound', content.push?.sound);
  return out;
}

export function toStored(contents: LocaleContent[]): StoredContent {
  return Object.fromEntries(contents.map(({ locale, ...rest }) => [locale, rest]));
}

export function fromStored(stored: unknown): LocaleContent[] {
  return Object.entries((stored ?? {}) as StoredContent).map(([locale, rest]) => ({ locale, ...rest }));
}

// ---------- NP6 open objects ----------

/** Unknown members of one NP6 object are stored up to this many bytes of JSON (README: REST). */
export const MAX_EXTRA_BYTES = 16_384;

/** The members Herald reads in each NP6 object; the others are stored and answered back as given. */
export const NP6_MEMBERS = {
  notification: ['type', 'id', 'key', 'name', 'description', 'stamp', 'active', 'settings', 'application', 'task', 'channels', 'defaultLanguage', 'versions'],
  settings: ['urgent', 'category', 'purpose', 'expiration', 'mp'],
  task: ['id', 'name', 'description', 'scheduler'],
  version: ['id', 'master', 'label', 'stamp', 'scripting', 'content', 'contents', 'redirection', 'channel'],
  content: ['title', 'body', 'icon', 'thumbnail', 'image', 'email', 'sms', 'whatsapp', 'chat', 'push'],
} as const;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The members of `value` that are not in `known` (a new object). */
export function unknownMembers(value: Record<string, unknown>, known: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([key]) => !known.includes(key)));
}

export function pickMembers(value: Record<string, unknown>, known: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([key]) => known.includes(key)));
}

/** Null for no members, so an object without extras stores and answers nothing extra. */
export const nonEmpty = (value: Record<string, unknown>) => (Object.keys(value).length ? value : null);

export function checkExtraSize(extra: Record<string, unknown>, ctx: z.RefinementCtx, path: (string | number)[] = []) {
  const bytes = Buffer.byteLength(JSON.stringify(extra));
  if (bytes > MAX_EXTRA_BYTES) {
    ctx.addIssue({ code: 'custom', path, message: `unknown members take ${bytes} bytes of JSON; at most ${MAX_EXTRA_BYTES} bytes are stored per object` });
  }
}

/** The unknown members of an object (GraphQL's `extra`): none of the known ones, bounded in size. */
export function extraSchema(known: readonly string[]) {
  return z.record(z.string(), z.unknown()).superRefine((extra, ctx) => {
    for (const key of Object.keys(extra)) {
      if (known.includes(key)) ctx.addIssue({ code: 'custom', path: [key], message: 'is a known member: give it directly, not in extra' });
    }
    checkExtraSize(extra, ctx);
  });
}

const contentFields = localeContentSchema.omit({ locale: true });
type ContentFields = z.output<typeof contentFields>;

/**
 * A version's content as an NP6 client writes it, parsed:
 * - `{ "type": "localized", "locales": { "<locale>": { title, body, ... } } }` (Herald's form for
 *   several locales; `type` may be left out when `locales` is given);
 * - anything else, whatever its `type` (NP6's variant tags are not public: "push-app", "default",
 *   "text"... or none): its top-level title, body, icon, thumbnail, image, email, sms, whatsapp are
 *   the default language's content.
 * Unknown members are kept in `written`, which is stored and answered back as is.
 */
export interface Np6Content {
  written: Record<string, unknown>;
  /** The flat form's content (of the default language); null for the localized form. */
  flat: ContentFields | null;
  /** The localized form's contents, with the locale key as written (for error paths). */
  locales: { key: string; content: LocaleContent }[] | null;
}

export const np6ContentSchema = z.record(z.string(), z.unknown()).transform((written, ctx): Np6Content => {
  const relay = (issues: readonly z.core.$ZodIssue[], prefix: (string | number)[]) => {
    for (const issue of issues) ctx.addIssue({ code: 'custom', message: issue.message, path: [...prefix, ...(issue.path as (string | number)[])] });
  };
  if (written.type != null && (typeof written.type !== 'string' || written.type.length > 100)) {
    ctx.addIssue({ code: 'custom', path: ['type'], message: 'must be a string of at most 100 characters' });
    return z.NEVER;
  }
  const localized = written.type === 'localized' || (written.type == null && isObject(written.locales));
  if (!localized) {
    const parsed = contentFields.safeParse(pickMembers(written, NP6_MEMBERS.content));
    if (!parsed.success) {
      relay(parsed.error.issues, []);
      return z.NEVER;
    }
    checkExtraSize(unknownMembers(written, ['type', ...NP6_MEMBERS.content]), ctx);
    return { written, flat: parsed.data, locales: null };
  }
  if (!isObject(written.locales) || Object.keys(written.locales).length === 0) {
    ctx.addIssue({ code: 'custom', path: ['locales'], message: 'must be { "<locale>": { "title": ..., "body": ... } } with at least one locale' });
    return z.NEVER;
  }
  checkExtraSize(unknownMembers(written, ['type', 'locales']), ctx);
  const entries = Object.entries(written.locales);
  if (entries.length > 100) ctx.addIssue({ code: 'custom', path: ['locales'], message: 'at most 100 locales' });
  const locales: { key: string; content: LocaleContent }[] = [];
  for (const [key, value] of entries) {
    if (!isObject(value)) {
      ctx.addIssue({ code: 'custom', path: ['locales', key], message: 'must be an object' });
      continue;
    }
    const parsed = localeContentSchema.safeParse({ ...pickMembers(value, NP6_MEMBERS.content), locale: key });
    if (!parsed.success) {
      // A bad locale key is reported on the key itself.
      relay(parsed.error.issues.map((i) => (i.path[0] === 'locale' ? { ...i, path: [] } : i)), ['locales', key]);
      continue;
    }
    checkExtraSize(unknownMembers(value, NP6_MEMBERS.content), ctx, ['locales', key]);
    locales.push({ key, content: parsed.data });
  }
  if (new Set(locales.map((l) => l.content.locale.toLowerCase())).size !== locales.length) {
    ctx.addIssue({ code: 'custom', path: ['locales'], message: 'each locale may appear once' });
  }
  return { written, flat: null, locales };
});

/** Herald's localized form of stored content, for versions written as Herald's `contents` (GraphQL). */
export function localizedForm(stored: unknown): Record<string, unknown> {
  return {
    type: 'localized',
    locales: Object.fromEntries(
      fromStored(stored).map((c) => [
        c.locale,
        { title: c.title ?? null, body: c.body ?? null, icon: c.icon ?? null, thumbnail: c.thumbnail ?? null, image: c.image ?? null, email: c.email ?? null, sms: c.sms ?? null, whatsapp: c.whatsapp ?? null, ...(c.chat ? { chat: c.chat } : {}), ...(c.push ? { push: c.push } : {}) },
      ]),
    ),
  };
}
