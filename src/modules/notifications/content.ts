import { z } from 'zod';
import type { TemplateKind } from './templates.ts';

/** Herald's channels, and the NP6 / Herald notification types that imply them. */
export const CHANNELS = ['IN_APP', 'EMAIL', 'SMS', 'WHATSAPP', 'WEB_PUSH', 'WEBHOOK'] as const;
export type ChannelName = (typeof CHANNELS)[number];

export const TYPE_CHANNELS: Record<string, ChannelName[]> = {
  'push-app': ['WEB_PUSH'],
  'in-app': ['IN_APP'],
  email: ['EMAIL'],
  sms: ['SMS'],
  whatsapp: ['WHATSAPP'],
  'web-push': ['WEB_PUSH'],
  webhook: ['WEBHOOK'],
  multichannel: ['IN_APP'],
};
export const NOTIFICATION_TYPES = Object.keys(TYPE_CHANNELS);

const text = (max: number) => z.string().max(max).nullish();

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
  return out;
}

export function toStored(contents: LocaleContent[]): StoredContent {
  return Object.fromEntries(contents.map(({ locale, ...rest }) => [locale, rest]));
}

export function fromStored(stored: unknown): LocaleContent[] {
  return Object.entries((stored ?? {}) as StoredContent).map(([locale, rest]) => ({ locale, ...rest }));
}
