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

/** The body as sent bare or wrapped as `{ "subs": { ... } }` (the swagger names the body parameter `subs`). */
function neucronBody(request: RestRequest): Record<string, unknown> {
  const body = objectBody(request.body ?? {});
  return isObject(body.subs) ? body.subs : body;
}

interface Found {
  /** The field as the client named it, for errors ("phone", "template.name"). */
  path: string;
  value: unknown;
}

/** The first of `names` present in `body` (null/undefined count as absent); `prefix` when `body` is a nested object ("template."). */
function first(body: Record<string, unknown>, names: string[], prefix = ''): Found | null {
  for (const name of names) if (body[name] !== undefined && body[name] !== null) return { path: `${prefix}${name}`, value: body[name] };
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

const text = (body: Record<string, unknown>, names: string[], prefix = '') => asText(first(body, names, prefix));

/** A list of ids or numbers: an array, or one value. Numbers are read as strings. */
function list(body: Record<string, unknown>, names: string[]): string[] | undefined {
  const found = first(body, names);
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

const USER_IDS = ['userIds', 'user_ids', 'userIDs', 'users', 'userId', 'user_id', 'ids'];
const PHONES = ['to', 'phone', 'phones', 'phone_number', 'phoneNumber', 'phone_numbers', 'phoneNumbers', 'mobile', 'number', 'numbers', 'recipient', 'recipients'];

const envelope = (r: { message: string; ids: string[] }) => ({ status: 200, body: { data: { message: r.message, ids: r.ids }, status_code: 200 } });

// ---------- OpenAPI: the inferred body shapes ----------

const str = { type: 'string' } as const;
const strOrList = { oneOf: [str, { type: 'array', items: str }] } as const;
const wrapped = (schema: Record<string, unknown>) => ({
  description: 'Inferred shape (Neucron does not publish notifmodel schemas). Sent bare or wrapped as { "subs": { ... } }; unknown keys are ignored.',
  oneOf: [schema, { type: 'object', required: ['subs'], properties: { subs: schema } }],
});
const sendSchema = wrapped({
  type: 'object',
  properties: {
    userIds: { ...strOrList, description: 'Herald user ids or externalIds (also user_ids, users, userId, user_id, ids); X-Neucron-User-ID is added' },
    title: { type: 'string', description: 'Also subject, heading' },
    body: { type: 'string', description: 'Also message, text, content. Required without notificationId' },
    data: { type: 'object', description: 'Also payload: template data and in-app data' },
    notificationId: { type: ['string', 'integer'], description: "Also notification_id, notification, template: send that notification's master version" },
  },
});
const recipientsProps = {
  to: { ...strOrList, description: 'E.164 phone numbers (also phone, phone_number, phoneNumber, mobile, number(s), recipient(s))' },
  userIds: { ...strOrList, description: "Herald user ids or externalIds: sent to their telephone (also user_ids, users, userId)" },
} as const;
const whatsappSchema = wrapped({
  type: 'object',
  properties: { ...recipientsProps, message: { type: 'string', description: 'Also text (a string or { body }), body. Required' } },
});
const templateSchema = wrapped({
  type: 'object',
  properties: {
    ...recipientsProps,
    template: { oneOf: [str, { type: 'object', properties: { name: str, language: { oneOf: [str, { type: 'object', properties: { code: str } }] }, components: { type: 'array', items: { type: 'object' } } } }], description: 'The template name (also template_name, templateName), or a WhatsApp Cloud template object' },
    language: { type: 'string', description: 'Also language_code, languageCode, lang; default "en"' },
    parameters: { type: 'array', items: str, description: 'Body parameters in order (also params, variables)' },
    components: { type: 'array', items: { type: 'object' }, description: 'Raw WhatsApp Cloud API components' },
  },
});
const response = {
  type: 'object',
  properties: {
    data: { type: 'object', properties: { message: str, ids: { type: 'array', items: { type: 'string', format: 'uuid' }, description: 'Herald message ids' } } },
    status_code: { type: 'integer', enum: [200] },
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
    const body = neucronBody(request);
    const data = first(body, ['data', 'payload']);
    if (data && !isObject(data.value)) throw new RestInputError(`${data.path}: must be an object`, data.path);
    return {
      userId: request.headers.get('x-neucron-user-id'),
      input: {
        userIds: list(body, USER_IDS),
        title: text(body, ['title', 'subject', 'heading']),
        body: text(body, ['body', 'message', 'text', 'content']),
        data: data?.value as Record<string, unknown> | undefined,
        notificationId: text(body, ['notificationId', 'notification_id', 'notification', 'template']),
      },
    };
  },
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
    const body = neucronBody(request);
    return { input: { to: list(body, PHONES), userIds: list(body, USER_IDS), text: text(body, ['message', 'text', 'body']) } };
  },
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
    const body = neucronBody(request);
    // The template as a name, or as a WhatsApp Cloud API template object { name, language: { code }, components }.
    const cloud = isObject(body.template) ? body.template : null;
    const name = cloud ? text(cloud, ['name'], 'template.') : text(body, ['template', 'template_name', 'templateName', 'name']);
    const lang = first(body, ['language', 'language_code', 'languageCode', 'lang']) ?? (cloud && first(cloud, ['language'], 'template.'));
    const language = lang && isObject(lang.value) ? text(lang.value, ['code'], `${lang.path}.`) : asText(lang);
    const components = first(body, ['components']) ?? (cloud && first(cloud, ['components'], 'template.'));
    if (components && (!Array.isArray(components.value) || !components.value.every(isObject))) {
      throw new RestInputError(`${components.path}: must be an array of objects`, components.path);
    }
    return {
      input: {
        to: list(body, PHONES),
        userIds: list(body, USER_IDS),
        template: name ?? '',
        language,
        parameters: list(body, ['parameters', 'params', 'variables']),
        components: components?.value as Record<string, unknown>[] | undefined,
      },
    };
  },
  respond: (data) => envelope(data.neucronSendWhatsAppTemplate),
  openapi: { requestBody: templateSchema, response },
});

export const neucronRoutes: RestRoute[] = [send, whatsappSend, whatsappSendTemplate];
