import { prisma } from '../../db/client.ts';
import { acceptMessages, draftsFor, type AcceptContext, type MessageDraft } from '../../delivery/accept.ts';
import type { Delivery } from '../../delivery/delivery.ts';
import type { Message, User } from '../../generated/prisma/client.ts';
import { badInput, conflict, type InputIssue } from '../../graphql/errors.ts';
import { lookup } from '../notifications/contacts.ts';
import { renderVersion } from '../notifications/render.ts';
import { findNotification, masterVersion } from '../notifications/service.ts';

export const MAX_RECIPIENTS = 500;

export interface NeucronResult {
  /** Neucron's `data.message`. */
  message: string;
  ids: string[];
  messages: Message[];
}

export interface NeucronNotifyInput {
  userIds?: readonly string[] | null;
  title?: string | null;
  body?: string | null;
  data?: Record<string, unknown> | null;
  notificationId?: string | null;
}

export interface NeucronWhatsAppInput {
  to?: readonly string[] | null;
  userIds?: readonly string[] | null;
  text?: string | null;
}

export interface NeucronWhatsAppTemplateInput {
  to?: readonly string[] | null;
  userIds?: readonly string[] | null;
  template: string;
  language?: string | null;
  parameters?: readonly string[] | null;
  components?: readonly Record<string, unknown>[] | null;
}

/** Users by Herald id or externalId, de-duplicated; each unknown one is an issue naming its position. */
async function resolveUsers(projectId: string, refs: { field: string; id: string }[]): Promise<User[]> {
  if (refs.length > MAX_RECIPIENTS) throw badInput([{ field: 'userIds', message: `at most ${MAX_RECIPIENTS} users per call` }]);
  const found = await Promise.all(refs.map((r) => lookup(projectId, { id: r.id.trim() })));
  const issues: InputIssue[] = refs.flatMap((r, i) => (found[i] ? [] : [{ field: r.field, message: `no user ${JSON.stringify(r.id)}` }]));
  if (issues.length) throw badInput(issues);
  const unique = new Map((found as User[]).map((u) => [u.id, u]));
  return [...unique.values()];
}

async function accept(projectId: string, requestId: string, drafts: MessageDraft[], delivery: Delivery): Promise<Message[]> {
  const ctx: AcceptContext = { projectId, requestId, source: 'neucron', maxAttempts: delivery.maxAttempts };
  const messages = await prisma().$transaction((tx) => acceptMessages(tx, ctx, drafts));
  delivery.publishAccepted(messages);
  await delivery.dispatch(messages.filter((m) => m.status !== 'SKIPPED'));
  return messages;
}

/**
 * `/notif/send`: a notification to users by id. With `notificationId`, the notification's master
 * version is rendered for each user (title/body override it) on its channels; without one, an
 * ad-hoc in-app message with the given title and body. `headerUserId` is X-Neucron-User-ID.
 */
export async function sendNotification(projectId: string, requestId: string, headerUserId: string | null, input: NeucronNotifyInput, delivery: Delivery): Promise<NeucronResult> {
  const refs = [
    ...(headerUserId?.trim() ? [{ field: 'userId', id: headerUserId }] : []),
    ...(input.userIds ?? []).map((id, i) => ({ field: `userIds.${i}`, id })),
  ].filter((r) => r.id.trim() !== '');
  if (refs.length === 0) throw badInput([{ field: 'userIds', message: 'give at least one user (userIds in the body or the X-Neucron-User-ID header)' }]);
  const title = input.title?.trim() ? input.title : null;
  const body = input.body?.trim() ? input.body : null;
  const data = input.data ?? {};
  let drafts: MessageDraft[];
  if (input.notificationId?.trim()) {
    const notification = await findNotification(projectId, input.notificationId.trim());
    if (!notification) throw badInput([{ field: 'notificationId', message: `no notification ${JSON.stringify(input.notificationId)}` }]);
    if (!notification.active) throw conflict(`Notification ${notification.id} is inactive`);
    const version = await masterVersion(projectId, notification.id);
    const users = await resolveUsers(projectId, refs);
    const redirection = (version.redirection as { value?: unknown } | null)?.value;
    const urgent = Boolean((notification.settings as { urgent?: boolean } | null)?.urgent);
    drafts = [];
    for (const user of users) {
      const render = await renderVersion({ notification, version, user, data, overrides: { title, body } });
      drafts.push(
        ...draftsFor(notification, version.id, { channels: notification.channels, user, render, data, redirection: typeof redirection === 'string' ? redirection : null }).map((d) => ({
          ...d,
          critical: urgent,
        })),
      );
    }
  } else {
    if (!title && !body) throw badInput([{ field: 'body', message: 'is required (body or message; or give a notificationId)' }]);
    const users = await resolveUsers(projectId, refs);
    drafts = users.map((user) => ({
      channel: 'IN_APP',
      userId: user.id,
      notificationId: null,
      versionId: null,
      to: null,
      content: { title, body, icon: null, image: null, redirection: null, actions: [], locale: null },
      data,
    }));
  }
  const messages = await accept(projectId, requestId, drafts, delivery);
  return { message: 'Notification sent successfully.', ids: messages.map((m) => m.id), messages };
}

/**
 * A phone number as E.164 ("+14155550100"). Spaces, dashes, dots and parentheses are dropped,
 * a leading "00" is read as "+", and bare digits (as WhatsApp's own API takes them) get a "+".
 */
export function e164(raw: string): string | null {
  let value = raw.trim().replace(/[\s\-().]/g, '');
  if (value.startsWith('00')) value = `+${value.slice(2)}`;
  if (/^\d+$/.test(value)) value = `+${value}`;
  return /^\+[1-9]\d{6,14}$/.test(value) ? value : null;
}

/** WhatsApp drafts: one per number, and one per user at their telephone (SKIPPED when they have none). */
async function whatsappDrafts(projectId: string, input: { to?: readonly string[] | null; userIds?: readonly string[] | null }, content: Record<string, unknown>, data: Record<string, unknown>): Promise<MessageDraft[]> {
  const numbers = input.to ?? [];
  const refs = (input.userIds ?? []).map((id, i) => ({ field: `userIds.${i}`, id })).filter((r) => r.id.trim() !== '');
  if (numbers.length === 0 && refs.length === 0) throw badInput([{ field: 'to', message: 'give at least one recipient (a phone number in to, or userIds)' }]);
  if (numbers.length + refs.length > MAX_RECIPIENTS) throw badInput([{ field: 'to', message: `at most ${MAX_RECIPIENTS} recipients per call` }]);
  const normalized = numbers.map(e164);
  const issues = normalized.flatMap((n, i) => (n ? [] : [{ field: `to.${i}`, message: 'must be an E.164 phone number such as +14155550100' }]));
  if (issues.length) throw badInput(issues);
  const users = refs.length ? await resolveUsers(projectId, refs) : [];
  const base = { notificationId: null, versionId: null, content, data };
  return [
    ...[...new Set(normalized as string[])].map((to): MessageDraft => ({ ...base, channel: 'WHATSAPP', userId: null, to })),
    ...users.map((user): MessageDraft => {
      const to = user.telephone ? e164(user.telephone) : null;
      return { ...base, channel: 'WHATSAPP', userId: user.id, to: to ?? user.telephone, skipReason: to ? null : user.telephone ? 'the user\'s telephone number is not E.164' : 'the user has no telephone number' };
    }),
  ];
}

/** `/notif/whatsappSend`: a WhatsApp text to phone numbers and/or users. */
export async function sendWhatsApp(projectId: string, requestId: string, input: NeucronWhatsAppInput, delivery: Delivery): Promise<NeucronResult> {
  const text = input.text?.trim() ? input.text : null;
  if (!text) throw badInput([{ field: 'text', message: 'is required (message or text)' }]);
  if (text.length > 4_096) throw badInput([{ field: 'text', message: 'at most 4096 characters (WhatsApp limit)' }]);
  const drafts = await whatsappDrafts(projectId, input, { text }, {});
  const messages = await accept(projectId, requestId, drafts, delivery);
  return { message: 'WhatsApp message sent successfully.', ids: messages.map((m) => m.id), messages };
}

/** `/notif/whatsappSendTemplate`: a WhatsApp template message (name, language, body parameters or raw components). */
export async function sendWhatsAppTemplate(projectId: string, requestId: string, input: NeucronWhatsAppTemplateInput, delivery: Delivery): Promise<NeucronResult> {
  const name = input.template?.trim();
  if (!name) throw badInput([{ field: 'template', message: 'is required (the template name)' }]);
  if (!/^[a-z0-9_]{1,512}$/.test(name)) throw badInput([{ field: 'template', message: 'must be a WhatsApp template name (lower-case letters, digits and _)' }]);
  const language = input.language?.trim() || 'en';
  if (!/^[a-zA-Z]{2,3}([_-][a-zA-Z0-9]{2,8})?$/.test(language)) throw badInput([{ field: 'language', message: 'must be a language code such as "en" or "en_US"' }]);
  const template = {
    name,
    language: language.replace('-', '_'),
    parameters: [...(input.parameters ?? [])],
    ...(input.components?.length ? { components: input.components } : {}),
  };
  const drafts = await whatsappDrafts(projectId, input, { template }, {});
  const messages = await accept(projectId, requestId, drafts, delivery);
  return { message: 'WhatsApp template message sent successfully.', ids: messages.map((m) => m.id), messages };
}
