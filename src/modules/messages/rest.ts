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
const TEXT_FIELDS = ['notificationId', 'userId', 'id', 'incrementId', 'userEmail', 'userTelephone', 'userLanguage', 'userTimezone', 'userFirstName', 'userLastName', 'userPhotoURL', 'userCountry'] as const;
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
    requestBody: {
      type: 'object',
      required: ['messages'],
      properties: {
        messages: {
          type: 'array',
          maxItems: 50,
          items: {
            type: 'object',
            required: ['notificationId', 'userId'],
            properties: {
              notificationId: { type: 'string' },
              userId: { type: 'string' },
              data: { type: 'object' },
              id: { type: 'string' },
              incrementId: { type: 'string' },
              userEmail: { type: 'string' },
              userTelephone: { type: 'string' },
              userLanguage: { type: 'string' },
              userTimezone: { type: 'string' },
              userFirstName: { type: 'string' },
              userLastName: { type: 'string' },
              userPhotoURL: { type: 'string' },
              userCountry: { type: 'string' },
              widgetSettingsOverride: { type: 'object' },
              emailSettingsOverride: { type: 'object' },
            },
          },
        },
      },
    },
    response: {
      type: 'object',
      properties: {
        results: {
          type: 'array',
          items: {
            type: 'object',
            properties: { id: { type: 'string' }, ok: { type: 'boolean' }, error: { type: 'string' }, emailError: { type: 'string' }, smsError: { type: 'string' } },
          },
        },
      },
    },
  },
});
