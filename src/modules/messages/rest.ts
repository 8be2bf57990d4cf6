import { graphql } from '../../generated/gql/index.ts';
import { defineRoute, objectBody, RestInputError } from '../../rest/route.ts';

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

const STRING_FIELDS = ['notificationId', 'userId', 'id', 'incrementId'] as const;

/** `POST /messages.send` (Notifuse): up to 50 messages, one result per message, in order. */
export const messagesSendRoute = defineRoute({
  api: 'notifuse',
  method: 'POST',
  path: '/messages.send',
  summary: 'Send up to 50 messages; emails and SMS are attempted before the answer',
  operation: RestMessagesSend,
  variables(request) {
    const messages = objectBody(request.body).messages;
    if (!Array.isArray(messages)) throw new RestInputError('messages: must be an array of messages', 'messages');
    return {
      messages: messages.map((item: unknown, index) => {
        if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new RestInputError(`messages.${index}: must be an object`, `messages.${index}`);
        const message = { ...(item as Record<string, unknown>) };
        // Notifuse clients often hold numeric ids: they are the same ids as strings.
        for (const field of STRING_FIELDS) if (typeof message[field] === 'number') message[field] = String(message[field]);
        return message as never;
      }),
    };
  },
  respond(data) {
    return {
      status: 200,
      body: {
        results: data.sendMessages.map((r) => ({
          id: r.id,
          ok: r.ok,
          ...(r.error ? { error: r.error } : {}),
          ...(r.emailError ? { emailError: r.emailError } : {}),
          ...(r.smsError ? { smsError: r.smsError } : {}),
        })),
      },
    };
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
