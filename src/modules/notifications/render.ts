import type { Notification, NotificationVersion, User } from '../../generated/prisma/client.ts';
import { badInput } from '../../graphql/errors.ts';
import { fromStored, type LocaleContent } from './content.ts';
import { renderTemplate, TemplateRenderError, TemplateSyntaxError, type TemplateKind } from './templates.ts';

/** Per-call overrides of a version's content (NP6 executions and tests). Also templates. */
export interface ContentOverrides {
  title?: string | null;
  body?: string | null;
  icon?: string | null;
  thumbnail?: string | null;
  image?: string | null;
}

export interface RenderInput {
  notification: Notification;
  version: NotificationVersion;
  user?: User | null;
  locale?: string | null;
  data?: Record<string, unknown> | null;
  /** NP6 sends an array of objects; they are merged in order. */
  variables?: Record<string, unknown>[] | null;
  overrides?: ContentOverrides | null;
  /** The tenant the send names: templates see it as `tenant` ({ key, name, data }). */
  tenant?: { key: string; name: string; data: Record<string, unknown> } | null;
}

export interface RenderedContent {
  locale: string;
  title: string | null;
  body: string | null;
  icon: string | null;
  thumbnail: string | null;
  image: string | null;
  email: { subject: string | null; html: string | null; text: string | null } | null;
  sms: { text: string } | null;
  whatsapp: { text: string | null; templateName: string | null; templateLanguage: string | null; parameters: string[] } | null;
  /** Chat (Slack, Teams, Discord): null when the version has no chat part (the default is built from title and body). */
  chat: { text: string | null; blocks: Record<string, unknown>[] | null } | null;
  /** The mobile push part as written (null: the push uses title, body and image). */
  push?: { title: string | null; body: string | null; image: string | null; sound: string | null } | null;
}

/** A copy of JSON `value` with each string rendered (keys named `type` are kept: Block Kit's, not templates). */
async function renderLeaves(value: unknown, path: string, render: (source: string, field: string) => Promise<string | null>): Promise<unknown> {
  if (typeof value === 'string') return (await render(value, path)) ?? '';
  if (Array.isArray(value)) return Promise.all(value.map((v, i) => renderLeaves(v, `${path}.${i}`, render)));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = k === 'type' ? v : await renderLeaves(v, `${path}.${k}`, render);
    return out;
  }
  return value;
}

/**
 * Picks the locale: the requested one, else the user's language, else the notification's
 * default, else the first available. "fr-FR" matches "fr" content when no "fr-FR" exists.
 */
export function pickLocale(available: string[], candidates: (string | null | undefined)[]): string {
  for (const candidate of candidates) {
    if (!candidate) continue;
    const wanted = candidate.replace('_', '-').toLowerCase();
    const exact = available.find((l) => l.toLowerCase() === wanted);
    if (exact) return exact;
    const base = wanted.split('-')[0];
    const sameBase = available.find((l) => l.toLowerCase() === base) ?? available.find((l) => l.toLowerCase().split('-')[0] === base);
    if (sameBase) return sameBase;
  }
  return available[0]!;
}

function userScope(user: User | null | undefined): Record<string, unknown> {
  if (!user) return {};
  const { projectId: _p, custom, ...profile } = user;
  return {
    ...((custom as Record<string, unknown>) ?? {}),
    ...profile,
    createdAt: user.createdAt.toISOString(),
    updatedAt: user.updatedAt.toISOString(),
  };
}

/** The variables a template sees. Message data wins over variables, which win over the profile. */
export function templateScope(input: Pick<RenderInput, 'notification' | 'user' | 'data' | 'variables' | 'tenant'>): Record<string, unknown> {
  const user = userScope(input.user);
  const variables = Object.assign({}, ...(input.variables ?? []));
  const data = input.data ?? {};
  return {
    ...user,
    ...variables,
    ...data,
    user,
    data,
    variables,
    notification: { id: input.notification.id, key: input.notification.key, name: input.notification.name, type: input.notification.type },
    ...(input.tenant ? { tenant: { key: input.tenant.key, name: input.tenant.name, data: input.tenant.data } } : {}),
  };
}

export async function renderVersion(input: RenderInput): Promise<RenderedContent> {
  const contents = fromStored(input.version.content);
  if (contents.length === 0) throw badInput([{ field: 'version', message: 'the version has no content' }]);
  const locale = pickLocale(
    contents.map((c) => c.locale),
    [input.locale, input.user?.language, input.notification.defaultLanguage],
  );
  const content = contents.find((c) => c.locale === locale) as LocaleContent;
  const scope = templateScope(input);
  const render = async (source: string | null | undefined, field: string, kind: TemplateKind = 'text') => {
    if (source == null || source === '') return null;
    try {
      return await renderTemplate(source, kind, scope, field);
    } catch (error) {
      if (error instanceof TemplateRenderError || error instanceof TemplateSyntaxError) throw badInput([{ field, message: error.message }]);
      throw error;
    }
  };
  const o = input.overrides ?? {};
  return {
    locale,
    title: await render(o.title ?? content.title, o.title ? 'title' : `contents.${locale}.title`),
    body: await render(o.body ?? content.body, o.body ? 'body' : `contents.${locale}.body`),
    icon: await render(o.icon ?? content.icon, 'icon'),
    thumbnail: await render(o.thumbnail ?? content.thumbnail, 'thumbnail'),
    image: await render(o.image ?? content.image, 'image'),
    email: content.email
      ? {
          subject: await render(content.email.subject, `contents.${locale}.email.subject`),
          html: await render(content.email.html, `contents.${locale}.email.html`, 'html'),
          text: await render(content.email.text, `contents.${locale}.email.text`),
        }
      : null,
    sms: content.sms ? { text: (await render(content.sms.text, `contents.${locale}.sms.text`)) ?? '' } : null,
    whatsapp: content.whatsapp
      ? {
          text: await render(content.whatsapp.text, `contents.${locale}.whatsapp.text`),
          templateName: content.whatsapp.templateName ?? null,
          templateLanguage: content.whatsapp.templateLanguage ?? locale,
          parameters: await Promise.all(
            (content.whatsapp.parameters ?? []).map(async (p, i) => (await render(p, `contents.${locale}.whatsapp.parameters.${i}`)) ?? ''),
          ),
        }
      : null,
    chat: content.chat
      ? {
          text: await render(content.chat.text, `contents.${locale}.chat.text`),
          blocks: content.chat.blocks
            ? ((await renderLeaves(content.chat.blocks, `contents.${locale}.chat.blocks`, (source, field) => render(source, field))) as Record<string, unknown>[])
            : null,
        }
      : null,
    push: content.push
      ? {
          title: await render(content.push.title, `contents.${locale}.push.title`),
          body: await render(content.push.body, `contents.${locale}.push.body`),
          image: await render(content.push.image, `contents.${locale}.push.image`),
          sound: await render(content.push.sound, `contents.${locale}.push.sound`),
        }
      : null,
  };
}
