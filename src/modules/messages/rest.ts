import { graphql } from '../../generated/gql/index.ts';
import { defineRoute, objectBody, RestAnswer, RestInputError, type RestRequest } from '../../rest/route.ts';
import { MAX_SEND_BATCH } from './service.ts';

const RestMessagesSend = graphql(`
  mutation RestMessagesSend($messages: [SendMessageInput!]!) {
    sendMessages(messages: $messages) {
      ok
      id
      error
      emailError
      smsError
    }
  }
`);

/** SendMessageInput's fields by JSON type: an item that does not fit is answered on its own, not sent to GraphQL. */
const REQUIRED = ['notificationId', 'userId'] as const;
const TEXT_FIELDS = ['notificationId', 'userId', 'id', 'incrementId', 'userEmail', 'userTelephone', 'userLanguage', 'userTimezone', 'userFirstName', 'userLastName', 'userPhotoURL', 'userCountry', 'tenant'] as const;
const OBJECT_FIELDS = ['data', 'widgetSettingsOverride', 'emailSettingsOverride'] as const;
/** Notifuse clients often hold numeric ids: they are the same ids as strings. */
const NUMERIC_IDS = ['notificationId', 'userId', 'id', 'incrementId'] as const;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

type Item = { message: Record<string, unknown> } | { result: { id: string | null; ok: false; error: string } };

/**
 * One message of the batch, read the way Notifuse does: unknown keys are ignored, and an item
 * that cannot be read (not an object, a required field missing, a field of the wrong JSON type)
 * gets its own `ok: false` result in the service's wording ("invalid/<field>: <message>").
 */
function readItem(raw: unknown): Item {
  if (!isObject(raw)) return { result: { id: null, ok: false, error: 'invalid/message: must be an object' } };
  const message: Record<string, unknown> = {};
  for (const field of TEXT_FIELDS) {
    const value = raw[field];
    if (value != null) message[field] = typeof value === 'number' && (NUMERIC_IDS as readonly string[]).includes(field) ? String(value) : value;
  }
  for (const field of OBJECT_FIELDS) if (raw[field] != null) message[field] = raw[field];
  const id = typeof message.id === 'string' ? message.id : null;
  const problem =
    REQUIRED.find((f) => message[f] === undefined)?.concat(': is required') ??
    TEXT_FIELDS.find((f) => message[f] !== undefined && typeof message[f] !== 'string')?.concat(': must be a string') ??
    OBJECT_FIELDS.find((f) => message[f] !== undefined && !isObject(message[f]))?.concat(': must be an object');
  return problem ? { result: { id, ok: false, error: `invalid/${problem}` } } : { message };
}

/** The items of each request, kept between variables() and respond() (the request object is the key). */
const batches = new WeakMap<RestRequest, Item[]>();

interface Result {
  id: string | null;
  ok: boolean;
  error?: string;
  emailError?: string;
  smsError?: string;
}

function results(items: Item[], sent: { id?: string | null; ok: boolean; error?: string | null; emailError?: string | null; smsError?: string | null }[]): Result[] {
  let next = 0;
  return items.map((item) => {
    if ('result' in item) return item.result;
    const r = sent[next++]!;
    return {
      id: r.id ?? null,
      ok: r.ok,
      ...(r.error ? { error: r.error } : {}),
      ...(r.emailError ? { emailError: r.emailError } : {}),
      ...(r.smsError ? { smsError: r.smsError } : {}),
    };
  });
}

/** `POST /messages.send` (Notifuse): up to 50 messages, one result per message, in order. */
export const messagesSendRoute = defineRoute({
  api: 'notifuse',
  method: 'POST',
  path: '/messages.send',
  summary: 'Send up to 50 messages; emails and SMS are attempted before the answer',
  operation: RestMessagesSend,
  variables(request) {
    // A body that is not a batch at all is refused as a whole; the batch's items are judged one by one.
    const messages = objectBody(request.body).messages;
    if (!Array.isArray(messages)) throw new RestInputError('messages: must be an array of messages', 'messages');
    if (messages.length === 0) throw new RestInputError('messages: give at least one message', 'messages');
    if (messages.length > MAX_SEND_BATCH) throw new RestInputError(`messages: at most ${MAX_SEND_BATCH} messages per call (got ${messages.length})`, 'messages');
    const items = messages.map(readItem);
    batches.set(request, items);
    const readable = items.flatMap((item) => ('message' in item ? [item.message] : []));
    if (readable.length === 0) throw new RestAnswer({ status: 200, body: { results: results(items, []) } });
    return { messages: readable as never };
  },
  respond(data, request) {
    return { status: 200, body: { results: results(batches.get(request)!, data.sendMessages) } };
  },
  openapi: {
    description:
      'Each message is decided on its own: one that cannot be read (not an object, notificationId or userId missing, a field of the wrong JSON type) or that fails (unknown or inactive notification, invalid profile field, reused id) gets `ok: false` and an `error` ("invalid/userId: is required", "notification/not-found", "id/exists"...), and the others are sent. Only a body that is not a batch of 1 to 50 messages is refused (400). Unknown keys of a message are ignored.',
    components: {
      NotifuseMessage: {
        type: 'object',
        description: 'A message that can be sent. Unknown keys are ignored; numeric ids are read as strings.',
        required: ['notificationId', 'userId'],
        additionalProperties: true,
        properties: {
          notificationId: { type: ['string', 'integer'], description: "The notification's key or numeric id" },
          userId: { type: ['string', 'integer'], description: "Your user id (Herald's externalId); the user is created if missing" },
          data: { type: 'object', description: 'Template data' },
          id: { type: ['string', 'integer'], description: 'Your unique id; reusing one answers "id/exists"' },
          incrementId: { type: ['string', 'integer'] },
          userEmail: { type: 'string' },
          userTelephone: { type: 'string', description: 'International format; stored as E.164' },
          userLanguage: { type: 'string' },
          userTimezone: { type: 'string' },
          userFirstName: { type: 'string' },
          userLastName: { type: 'string' },
          userPhotoURL: { type: 'string' },
          userCountry: { type: 'string' },
          widgetSettingsOverride: { type: 'object' },
          emailSettingsOverride: { type: 'object' },
          tenant: { type: 'string', description: 'The key of the tenant the message is sent for; the user must be a member ("tenant/not-member", "tenant/not-found")' },
        },
      },
      NotifuseUnreadableMessage: {
        description: 'Any other item: answered with its own `ok: false` result ("invalid/<field>: <reason>"), not a 400.',
        not: { $ref: '#/components/schemas/NotifuseMessage' },
      },
      NotifuseSendResult: {
        description: 'One per message, in input order.',
        oneOf: [
          {
            type: 'object',
            required: ['id', 'ok'],
            additionalProperties: false,
            properties: {
              id: { type: 'string', description: 'Your id, or the one Herald generated' },
              ok: { const: true },
              emailError: { type: 'string', description: 'The email provider failed (the message is accepted)' },
              smsError: { type: 'string', description: 'The SMS provider failed (the message is accepted)' },
            },
          },
          {
            type: 'object',
            required: ['id', 'ok', 'error'],
            additionalProperties: false,
            properties: { id: { type: ['string', 'null'] }, ok: { const: false }, error: { type: 'string' } },
          },
        ],
      },
    },
    requestBody: {
      type: 'object',
      required: ['messages'],
      properties: {
        messages: {
          type: 'array',
          minItems: 1,
          maxItems: MAX_SEND_BATCH,
          items: { anyOf: [{ $ref: '#/components/schemas/NotifuseMessage' }, { $ref: '#/components/schemas/NotifuseUnreadableMessage' }] },
        },
      },
    },
    response: {
      type: 'object',
      required: ['results'],
      properties: { results: { type: 'array', items: { $ref: '#/components/schemas/NotifuseSendResult' } } },
    },
  },
});
