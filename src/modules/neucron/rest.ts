import { graphql } from '../../generated/gql/index.ts';
import { defineRoute, objectBody, RestInputError, type RestRequest, type RestRoute } from '../../rest/route.ts';

const NeucronSend = graphql(`
  mutation NeucronSend($userId: String, $input: NeucronNotificationInput!) {
    neucronSendNotification(userId: $userId, input: $input) {
      message
      ids
    }
  }
`);
const NeucronWhatsApp = graphql(`
  mutation NeucronWhatsApp($input: NeucronWhatsAppInput!) {
    neucronSendWhatsApp(input: $input) {
      message
      ids
    }
  }
`);
const NeucronWhatsAppTemplate = graphql(`
  mutation NeucronWhatsAppTemplate($input: NeucronWhatsAppTemplateInput!) {
    neucronSendWhatsAppTemplate(input: $input) {
      message
      ids
    }
  }
`);

// ---------- tolerant reading of the unpublished Neucron bodies ----------

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

interface Found {
  /** The field as the client named it, for errors ("phone", "template.name", "UserIDs"). */
  path: string;
  value: unknown;
}

/**
 * Go's encoding/json matches keys to struct fields case-insensitively, so a Go client may send
 * `UserIDs`, `userids` or `user_ids` alike: keys are compared without case, `_` or `-`.
 */
const norm = (key: string) => key.toLowerCase().replace(/[_-]/g, '');

/** The first of `names` present in `body` (null/undefined count as absent); `prefix` when `body` is a nested object ("template."). */
function first(body: Record<string, unknown>, names: string[], prefix = ''): Found | null {
  const keys = Object.keys(body);
  for (const name of names) {
    const key = keys.find((k) => norm(k) === norm(name) && body[k] !== undefined && body[k] !== null);
    if (key !== undefined) return { path: `${prefix}${key}`, value: body[key] };
  }
  return null;
}

/** A string field; numbers are read as strings. Anything else is a 400 naming the field. */
function asText(found: Found | null): string | undefined {
  if (!found) return undefined;
  if (typeof found.value === 'string') return found.value;
  if (typeof found.value === 'number') return String(found.value);
  // WhatsApp Cloud style: { "text": { "body": "..." } }.
  if (isObject(found.value) && typeof found.value.body === 'string') return found.value.body;
  throw new RestInputError(`${found.path}: must be a string`, found.path);
}

/** A list of ids or numbers: an array, or one value. Numbers are read as strings. */
function asList(found: Found | null): string[] | undefined {
  if (!found) return undefined;
  const values = Array.isArray(found.value) ? found.value : [found.value];
  return values.map((v, i) => {
    if (typeof v === 'string') return v;
    if (typeof v === 'number') return String(v);
    // WhatsApp-style recipient objects: { "phone": ... } / { "id": ... }.
    if (isObject(v)) {
      const inner = v.phone ?? v.to ?? v.number ?? v.id ?? v.userId ?? v.user_id ?? v.text;
      if (typeof inner === 'string' || typeof inner === 'number') return String(inner);
    }
    const path = Array.isArray(found.value) ? `${found.path}.${i}` : found.path;
    throw new RestInputError(`${path}: must be a string`, path);
  });
}

/**
 * Reads one request's body and remembers where each GraphQL input field came from, so that the
 * service's issues ("userIds.1: no user ...") name the field as the client spelled it ("UserIDs.1").
 */
class BodyReader {
  /** GraphQL input field → the client's path, and whether it was one value instead of a list. */
  readonly origins = new Map<string, { path: string; single: boolean }>();
  constructor(
    readonly body: Record<string, unknown>,
    readonly prefix: string,
  ) {}

  find(field: string, names: string[], within = this.body, prefix = this.prefix): Found | null {
    const found = first(within, names, prefix);
    if (found) this.origins.set(field, { path: found.path, single: !Array.isArray(found.value) });
    return found;
  }
  text(field: string, names: string[], within?: Record<string, unknown>, prefix?: string) {
    return asText(this.find(field, names, within, prefix));
  }
  list(field: string, names: string[]) {
    return asList(this.find(field, names));
  }

  /** The client's name of an issue's field ("userIds.1" → "UserIDs.1"; "to.0" → "phone" when one number was given). */
  clientField(field: string): string {
    // The service's `userId` is the X-Neucron-User-ID header.
    if (field === 'userId') return 'X-Neucron-User-ID';
    const [head = '', index, ...rest] = field.split('.');
    const origin = this.origins.get(head);
    if (!origin) return this.prefix + field;
    if (index === undefined) return origin.path;
    if (origin.single && index === '0') return [origin.path, ...rest].join('.');
    return [origin.path, index, ...rest].join('.');
  }
}

const readers = new WeakMap<RestRequest, BodyReader>();

/**
 * The body as sent bare, wrapped as `{ "subs": { ... } }` (the swagger names the body parameter
 * `subs`), or as FCM HTTP v1's `{ "message": { "notification", "data", ... } }`.
 */
function neucronBody(request: RestRequest): BodyReader {
  let body = objectBody(request.body ?? {});
  let prefix = '';
  const subs = first(body, ['subs']);
  if (subs && isObject(subs.value)) [body, prefix] = [subs.value, `${subs.path}.`];
  const v1 = first(body, ['message']);
  if (v1 && isObject(v1.value) && (first(v1.value, ['notification']) || first(v1.value, ['data']))) [body, prefix] = [v1.value, `${prefix}${v1.path}.`];
  const reader = new BodyReader(body, prefix);
  readers.set(request, reader);
  return reader;
}

const errorField = (field: string, request: RestRequest) => readers.get(request)?.clientField(field) ?? field;

const USER_IDS = ['userIds', 'users', 'userId', 'ids'];
const PHONES = ['to', 'phone', 'phones', 'phoneNumber', 'phoneNumbers', 'mobile', 'number', 'numbers', 'recipient', 'recipients'];

const envelope = (r: { message: string; ids: string[] }) => ({ status: 200, body: { data: { message: r.message, ids: r.ids }, status_code: 200 } });

// ---------- OpenAPI: the inferred body shapes ----------

const str = { type: 'string' } as const;
const strOrList = { oneOf: [{ type: ['string', 'number'] }, { type: 'array', items: { type: ['string', 'number'] } }] } as const;
const KEYS =
  'Keys are matched as Go matches them, without case (`UserIDs`, `userids`), and without `_` or `-` (`user_ids`). Unknown keys are ignored. A refusal names the field as the body spells it.';
const wrapped = (schema: Record<string, unknown>) => ({
  description: `Inferred shape (Neucron does not publish its notifmodel schemas): sent bare or wrapped as { "subs": { ... } }. ${KEYS}`,
  anyOf: [schema, { type: 'object', required: ['subs'], properties: { subs: schema } }],
});
const content = { type: 'object', additionalProperties: true } as const;
const fcmNotification = {
  type: 'object',
  description: 'FCM style: the title and body (top-level title/body win)',
  additionalProperties: true,
  properties: { title: str, body: str },
} as const;
const sendBody = {
  type: 'object',
  additionalProperties: true,
  properties: {
    userIds: { ...strOrList, description: 'Herald user ids or externalIds (also user_ids, UserIDs, users, userId, ids); X-Neucron-User-ID is added' },
    title: { type: ['string', 'number'], description: 'Also subject, heading, notification.title' },
    body: { type: ['string', 'number'], description: 'Also message, text, content, notification.body. Required without notificationId' },
    data: { ...content, description: 'Also payload: template data and in-app data' },
    notification: { oneOf: [fcmNotification, { type: ['string', 'integer'], description: 'A notification id or key (as notificationId)' }] },
    notificationId: { type: ['string', 'integer'], description: "Also notification_id, template: send that notification's master version" },
  },
} as const;
const sendSchema = {
  ...wrapped(sendBody),
  anyOf: [
    ...wrapped(sendBody).anyOf,
    // Documentation only (the bare shape is open already): the FCM HTTP v1 envelope.
    {
      type: 'object',
      description: 'FCM HTTP v1 style: { "message": { "notification", "data" } } (the users come from X-Neucron-User-ID or message.user_ids)',
      required: ['message'],
      properties: { message: { ...sendBody, description: 'Read as the body when it holds notification or data' } },
    },
  ],
};
const recipientsProps = {
  to: { ...strOrList, description: 'E.164 phone numbers (also phone, phone_number, phoneNumber, mobile, number(s), recipient(s))' },
  userIds: { ...strOrList, description: "Herald user ids or externalIds: sent to their telephone (also user_ids, UserIDs, users, userId)" },
} as const;
const whatsappSchema = wrapped({
  type: 'object',
  additionalProperties: true,
  properties: {
    ...recipientsProps,
    message: { oneOf: [str, { type: 'object', properties: { body: str } }], description: 'Also text (a string or { body }), body. Required' },
  },
});
const templateSchema = wrapped({
  type: 'object',
  additionalProperties: true,
  properties: {
    ...recipientsProps,
    template: {
      oneOf: [
        str,
        {
          type: 'object',
          properties: { name: str, language: { oneOf: [str, { type: 'object', properties: { code: str } }] }, components: { type: 'array', items: { type: 'object' } } },
        },
      ],
      description: 'The template name (also template_name, templateName), or a WhatsApp Cloud template object',
    },
    language: { type: 'string', description: 'Also language_code, languageCode, lang; default "en"' },
    parameters: { type: 'array', items: str, description: 'Body parameters in order (also params, variables)' },
    components: { type: 'array', items: { type: 'object' }, description: 'Raw WhatsApp Cloud API components' },
  },
});
const response = {
  type: 'object',
  required: ['data', 'status_code'],
  properties: {
    data: { type: 'object', required: ['message', 'ids'], properties: { message: str, ids: { type: 'array', items: { type: 'string', format: 'uuid' }, description: 'Herald message ids' } } },
    status_code: { const: 200 },
  },
} as const;

// ---------- routes ----------

const api = 'neucron' as const;

const send = defineRoute({
  api,
  method: 'POST',
  path: '/notif/send',
  summary: 'Send a generic notification to users by their ids (X-Neucron-User-ID: the user it is for)',
  operation: NeucronSend,
  variables(request) {
    const r = neucronBody(request);
    const data = r.find('data', ['data', 'payload']);
    if (data && !isObject(data.value)) throw new RestInputError(`${data.path}: must be an object`, data.path);
    // FCM style: { notification: { title, body } } (then `notification` is the content, not a notification id).
    const fcm = first(r.body, ['notification'], r.prefix);
    const content = fcm && isObject(fcm.value) ? fcm.value : null;
    const title = r.text('title', ['title', 'subject', 'heading']) ?? (content ? r.text('title', ['title'], content, `${fcm!.path}.`) : undefined);
    const text = r.text('body', ['body', 'message', 'text', 'content']) ?? (content ? r.text('body', ['body'], content, `${fcm!.path}.`) : undefined);
    return {
      userId: request.headers.get('x-neucron-user-id'),
      input: {
        userIds: r.list('userIds', USER_IDS),
        title,
        body: text,
        data: data?.value as Record<string, unknown> | undefined,
        notificationId: r.text('notificationId', content ? ['notificationId', 'template'] : ['notificationId', 'notification', 'template']),
      },
    };
  },
  errorField,
  respond: (data) => envelope(data.neucronSendNotification),
  openapi: { requestBody: sendSchema, response },
});

const whatsappSend = defineRoute({
  api,
  method: 'POST',
  path: '/notif/whatsappSend',
  summary: 'Send a WhatsApp text message to phone numbers and/or users',
  operation: NeucronWhatsApp,
  variables(request) {
    const r = neucronBody(request);
    return { input: { to: r.list('to', PHONES), userIds: r.list('userIds', USER_IDS), text: r.text('text', ['message', 'text', 'body']) } };
  },
  errorField,
  respond: (data) => envelope(data.neucronSendWhatsApp),
  openapi: { requestBody: whatsappSchema, response },
});

const whatsappSendTemplate = defineRoute({
  api,
  method: 'POST',
  path: '/notif/whatsappSendTemplate',
  summary: 'Send a WhatsApp template message to phone numbers and/or users',
  operation: NeucronWhatsAppTemplate,
  variables(request) {
    const r = neucronBody(request);
    // The template as a name, or as a WhatsApp Cloud API template object { name, language: { code }, components }.
    const found = first(r.body, ['template', 'templateName', 'name'], r.prefix);
    const cloud = found && isObject(found.value) ? found.value : null;
    const inCloud = `${found?.path}.`;
    const name = cloud ? r.text('template', ['name'], cloud, inCloud) : r.text('template', ['template', 'templateName', 'name']);
    const lang = r.find('language', ['language', 'languageCode', 'lang']) ?? (cloud && r.find('language', ['language'], cloud, inCloud));
    const language = lang && isObject(lang.value) ? r.text('language', ['code'], lang.value, `${lang.path}.`) : asText(lang);
    const components = r.find('components', ['components']) ?? (cloud && r.find('components', ['components'], cloud, inCloud));
    if (components && (!Array.isArray(components.value) || !components.value.every(isObject))) {
      throw new RestInputError(`${components.path}: must be an array of objects`, components.path);
    }
    return {
      input: {
        to: r.list('to', PHONES),
        userIds: r.list('userIds', USER_IDS),
        template: name ?? '',
        language,
        parameters: r.list('parameters', ['parameters', 'params', 'variables']),
        components: components?.value as Record<string, unknown>[] | undefined,
      },
    };
  },
  errorField,
  respond: (data) => envelope(data.neucronSendWhatsAppTemplate),
  openapi: { requestBody: templateSchema, response },
});

export const neucronRoutes: RestRoute[] = [send, whatsappSend, whatsappSendTemplate];
