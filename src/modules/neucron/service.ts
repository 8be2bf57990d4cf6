import { prisma } from '../../db/client.ts';
import { sendTransactional } from '../messages/transactional.ts';
import { acceptMessages, draftsFor, type AcceptContext, type MessageDraft } from '../../delivery/accept.ts';
import type { Delivery } from '../../delivery/delivery.ts';
import type { Message, User } from '../../generated/prisma/client.ts';
import { badInput, conflict, type InputIssue } from '../../graphql/errors.ts';
import { renderVersion } from '../notifications/render.ts';
import { findNotification, masterVersion } from '../notifications/service.ts';
import { usersByRef } from '../users/service.ts';

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

interface UserRef {
  /** Where the reference came from, for the issue naming it ("userId", "userIds.3"). */
  field: string;
  id: string;
}

/** The references to users given in `userIds` (and the header's userId): each one must be a non-empty id. */
function userRefs(userIds: readonly string[] | null | undefined, headerUserId: string | null = null): { refs: UserRef[]; issues: InputIssue[] } {
  const refs: UserRef[] = headerUserId?.trim() ? [{ field: 'userId', id: headerUserId.trim() }] : [];
  const issues: InputIssue[] = [];
  (userIds ?? []).forEach((id, i) => {
    if (id.trim() === '') issues.push({ field: `userIds.${i}`, message: 'must not be empty' });
    else refs.push({ field: `userIds.${i}`, id: id.trim() });
  });
  return { refs, issues };
}

/**
 * Users by Herald id or externalId (a uuid is tried as an id first, as contacts' `lookup` does),
 * de-duplicated. One query for the whole call: 500 recipients must not be 500 round trips.
 * Scoped by project, so another project's users are unknown ones.
 */
async function resolveUsers(projectId: string, refs: UserRef[]): Promise<{ users: User[]; issues: InputIssue[] }> {
  const found = await usersByRef(projectId, refs.map((r) => r.id));
  const users = new Map<string, User>();
  const issues: InputIssue[] = [];
  refs.forEach((ref, i) => {
    const user = found[i];
    if (user) users.set(user.id, user);
    else issues.push({ field: ref.field, message: `no user ${JSON.stringify(ref.id)}` });
  });
  return { users: [...users.values()], issues };
}

async function accept(projectId: string, requestId: string, drafts: MessageDraft[], delivery: Delivery): Promise<Message[]> {
  const ctx: AcceptContext = { projectId, requestId, source: 'neucron', maxAttempts: delivery.maxAttempts };
  return sendTransactional(delivery, ctx, () => prisma().$transaction((tx) => acceptMessages(tx, ctx, drafts)), (messages) => messages);
}

/**
 * `/notif/send`: a notification to users by id. With `notificationId`, the notification's master
 * version is rendered for each user (title/body override it) on its channels; without one, an
 * ad-hoc in-app message with the given title and body. `headerUserId` is X-Neucron-User-ID.
 * Every input issue is reported at once, and nothing is written unless all of it is valid.
 */
export async function sendNotification(projectId: string, requestId: string, headerUserId: string | null, input: NeucronNotifyInput, delivery: Delivery): Promise<NeucronResult> {
  const { refs, issues } = userRefs(input.userIds, headerUserId);
  if (refs.length + issues.length === 0) issues.push({ field: 'userIds', message: 'give at least one user (userIds in the body or the X-Neucron-User-ID header)' });
  if (refs.length > MAX_RECIPIENTS) issues.push({ field: 'userIds', message: `at most ${MAX_RECIPIENTS} users per call` });
  const title = input.title?.trim() ? input.title : null;
  const body = input.body?.trim() ? input.body : null;
  const data = input.data ?? {};
  const notificationRef = input.notificationId?.trim() || null;
  if (!notificationRef && !title && !body) issues.push({ field: 'body', message: 'is required (body or message; or give a notificationId)' });
  if (issues.length) throw badInput(issues);

  const [resolved, notification] = await Promise.all([resolveUsers(projectId, refs), notificationRef ? findNotification(projectId, notificationRef) : null]);
  const lookupIssues = [...resolved.issues];
  if (notificationRef && !notification) lookupIssues.push({ field: 'notificationId', message: `no notification ${JSON.stringify(notificationRef)}` });
  if (lookupIssues.length) throw badInput(lookupIssues);

  let drafts: MessageDraft[];
  if (notification) {
    if (!notification.active) throw conflict(`Notification ${notification.id} is inactive`);
    const version = await masterVersion(projectId, notification.id);
    const redirection = (version.redirection as { value?: unknown } | null)?.value;
    drafts = [];
    for (const user of resolved.users) {
      const render = await renderVersion({ notification, version, user, data, overrides: { title, body } });
      drafts.push(...draftsFor(notification, version.id, { channels: notification.channels, user, render, data, redirection: typeof redirection === 'string' ? redirection : null }));
    }
  } else {
    drafts = resolved.users.map((user) => ({
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

/**
 * WhatsApp drafts: one per number, and one per user at their telephone (SKIPPED when they have
 * none, like every channel a user cannot be reached on). `contentIssues` are the caller's own
 * checks, reported together with the recipients' ones.
 */
async function whatsappDrafts(projectId: string, input: { to?: readonly string[] | null; userIds?: readonly string[] | null }, content: Record<string, unknown>, contentIssues: InputIssue[]): Promise<MessageDraft[]> {
  const numbers = input.to ?? [];
  const { refs, issues: refIssues } = userRefs(input.userIds);
  const issues = [...contentIssues, ...refIssues];
  if (numbers.length === 0 && (input.userIds ?? []).length === 0) issues.push({ field: 'to', message: 'give at least one recipient (a phone number in to, or userIds)' });
  if (numbers.length + refs.length > MAX_RECIPIENTS) issues.push({ field: 'to', message: `at most ${MAX_RECIPIENTS} recipients per call` });
  const normalized = numbers.map(e164);
  normalized.forEach((n, i) => {
    if (!n) issues.push({ field: `to.${i}`, message: 'must be an E.164 phone number such as +14155550100' });
  });
  if (issues.length) throw badInput(issues);
  const { users, issues: unknown } = await resolveUsers(projectId, refs);
  if (unknown.length) throw badInput(unknown);
  const base = { notificationId: null, versionId: null, content, data: {} };
  return [
    ...[...new Set(normalized as string[])].map((to): MessageDraft => ({ ...base, channel: 'WHATSAPP', userId: null, to })),
    ...users.map((user): MessageDraft => {
      const to = user.telephone ? e164(user.telephone) : null;
      return { ...base, channel: 'WHATSAPP', userId: user.id, to: to ?? user.telephone, skipReason: to ? null : user.telephone ? "the user's telephone number is not E.164" : 'the user has no telephone number' };
    }),
  ];
}

/** `/notif/whatsappSend`: a WhatsApp text to phone numbers and/or users. */
export async function sendWhatsApp(projectId: string, requestId: string, input: NeucronWhatsAppInput, delivery: Delivery): Promise<NeucronResult> {
  const text = input.text?.trim() ? input.text : null;
  const issues: InputIssue[] = [];
  if (!text) issues.push({ field: 'text', message: 'is required (message or text)' });
  else if (text.length > 4_096) issues.push({ field: 'text', message: 'at most 4096 characters (WhatsApp limit)' });
  const drafts = await whatsappDrafts(projectId, input, { text }, issues);
  const messages = await accept(projectId, requestId, drafts, delivery);
  return { message: 'WhatsApp message sent successfully.', ids: messages.map((m) => m.id), messages };
}

/** Meta refuses such template parameters (error 132018) after we would have answered 200. */
const BAD_PARAMETER_TEXT = /[\n\t]| {5,}/;

/** `/notif/whatsappSendTemplate`: a WhatsApp template message (name, language, body parameters and/or raw components). */
export async function sendWhatsAppTemplate(projectId: string, requestId: string, input: NeucronWhatsAppTemplateInput, delivery: Delivery): Promise<NeucronResult> {
  const issues: InputIssue[] = [];
  const name = input.template?.trim() ?? '';
  if (!name) issues.push({ field: 'template', message: 'is required (the template name)' });
  else if (!/^[a-z0-9_]{1,512}$/.test(name)) issues.push({ field: 'template', message: 'must be a WhatsApp template name (lower-case letters, digits and _)' });
  const language = input.language?.trim() || 'en';
  if (!/^[a-zA-Z]{2,3}([_-][a-zA-Z0-9]{2,8})?$/.test(language)) issues.push({ field: 'language', message: 'must be a language code such as "en" or "en_US"' });
  const parameters = [...(input.parameters ?? [])];
  parameters.forEach((p, i) => {
    if (p.trim() === '') issues.push({ field: `parameters.${i}`, message: 'must not be empty' });
    else if (BAD_PARAMETER_TEXT.test(p)) issues.push({ field: `parameters.${i}`, message: 'must not contain new lines, tabs or more than 4 consecutive spaces (WhatsApp rule)' });
  });
  const components = [...(input.components ?? [])];
  components.forEach((c, i) => {
    if (typeof c.type !== 'string' || c.type.trim() === '') issues.push({ field: `components.${i}.type`, message: 'is required (header, body, button...)' });
  });
  // The provider turns `parameters` into the body component: a second one would be refused by Meta.
  if (parameters.length && components.some((c) => c.type === 'body')) {
    issues.push({ field: 'parameters', message: 'give the body parameters either in parameters or in a body component, not both' });
  }
  const template = {
    name,
    language: language.replace('-', '_'),
    parameters,
    ...(components.length ? { components } : {}),
  };
  const drafts = await whatsappDrafts(projectId, input, { template }, issues);
  const messages = await accept(projectId, requestId, drafts, delivery);
  return { message: 'WhatsApp template message sent successfully.', ids: messages.map((m) => m.id), messages };
}
