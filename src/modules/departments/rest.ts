import { graphql } from '../../generated/gql/index.ts';
import { defineRoute, RestInputError, type RestRoute } from '../../rest/route.ts';

const DepartmentNotify = graphql(`
  mutation DepartmentNotify($departmentId: ID!, $userId: String!, $input: DepartmentNotifyInput) {
    notifyDepartmentUser(departmentId: $departmentId, userId: $userId, input: $input) {
      notificationMessageUUID
      status
      requestUUID
      errors {
        errorCode
        errorDescription
        errorUID
      }
      warnings {
        warningCode
        warningDescription
      }
    }
  }
`);

/** The body fields the GraphQL input knows, by object; anything else in a legacy body is ignored. */
type Shape = { [key: string]: true | Shape | [Shape] };
const BODY_SHAPE: Shape = {
  messageAttributes: {
    body: true,
    subject: true,
    type: true,
    protocol: true,
    purpose: true,
    isManual: true,
    metaData: true,
    tags: true,
    attachments: true,
    draftAttributes: { draftStatus: true, scheduledOn: true, draftFailureReason: true },
    messageTags: true,
    defaultReplyAction: true,
  },
  notificationAttributes: {
    internalSubscribersNotifierPop: true,
    externalSubscribersNotifierPop: true,
    threadOwnerNotifierPop: true,
    sendPhoneNotification: true,
    additionalNotifierNotificationDAUUIDs: true,
    notificationButtons: [
      {
        buttonTextTranslationWidgetKey: true,
        buttonTextTranslationKey: true,
        buttonDefaultText: true,
        buttonTheme: true,
        buttonActionEventData: true,
        isPrimaryButton: true,
      },
    ],
    bodyTagsForSpecialRendering: true,
  },
  messageSendingAttributesLite: { delay: true, sendSynchronously: true, callBackUrl: true, callBackMetadata: true },
};

/** `MessageSendingAttributes` spells them callbackURL / callbackMetaData: both spellings are read. */
const ALIASES: Record<string, string> = { callbackURL: 'callBackUrl', callbackUrl: 'callBackUrl', callbackMetaData: 'callBackMetadata', callbackMetadata: 'callBackMetadata' };

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Keeps the known keys of a legacy body (values that are not objects are left for GraphQL to reject, naming the field). */
function pick(value: unknown, shape: Shape): unknown {
  if (!isObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [rawKey, v] of Object.entries(value)) {
    const key = ALIASES[rawKey] && !(ALIASES[rawKey]! in value) ? ALIASES[rawKey]! : rawKey;
    const s = shape[key];
    if (!s) continue;
    out[key] = s === true ? v : Array.isArray(s) ? (Array.isArray(v) ? v.map((item) => pick(item, s[0])) : v) : pick(v, s);
  }
  return out;
}

/** Failure codes → HTTP status; SUCCESS (and a synchronous send's MESSAGE_SEND_FAILED) answer 200. */
const STATUS_BY_ERROR: Record<string, number> = {
  MISSING_MESSAGE_ATTRIBUTES: 400,
  MISSING_MESSAGE_BODY: 400,
  INVALID_REQUEST: 400,
  INVALID_CALLBACK_URL: 400,
  INVALID_SCHEDULED_ON: 400,
  DEPARTMENT_NOT_FOUND: 404,
  USER_NOT_FOUND: 404,
};

const str = { type: 'string' } as const;
const bool = { type: 'boolean' } as const;
const stringMap = { type: 'object', additionalProperties: true } as const;
const requestBody = {
  type: 'object',
  description: 'Unknown keys are ignored. `callbackURL` / `callbackMetaData` are read as `callBackUrl` / `callBackMetadata`.',
  properties: {
    messageAttributes: {
      type: 'object',
      description: 'Required (MISSING_MESSAGE_ATTRIBUTES otherwise).',
      required: ['body'],
      properties: {
        body: { type: 'string', description: 'Required (MISSING_MESSAGE_BODY otherwise).' },
        subject: str,
        type: { type: 'string', description: 'Accepted; the note is always NOTE.' },
        protocol: { type: 'string', enum: ['TEXT', 'EMAIL', 'VOICE_CALL', 'NONE'], description: 'EMAIL → email, TEXT → SMS, otherwise in-app.' },
        purpose: str,
        isManual: bool,
        metaData: stringMap,
        tags: { type: 'array', items: str },
        attachments: { type: 'array', items: stringMap },
        draftAttributes: {
          type: 'object',
          properties: { draftStatus: { type: 'string', description: 'SCHEDULED: delivered at scheduledOn' }, scheduledOn: { type: 'string', description: 'ISO 8601 or epoch ms' }, draftFailureReason: str },
        },
        messageTags: { type: 'array', items: stringMap },
        defaultReplyAction: str,
      },
    },
    notificationAttributes: {
      type: 'object',
      properties: {
        internalSubscribersNotifierPop: bool,
        externalSubscribersNotifierPop: bool,
        threadOwnerNotifierPop: bool,
        sendPhoneNotification: { type: 'boolean', description: 'Also send an SMS' },
        additionalNotifierNotificationDAUUIDs: { type: 'array', items: str },
        notificationButtons: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              buttonTextTranslationWidgetKey: str,
              buttonTextTranslationKey: str,
              buttonDefaultText: str,
              buttonTheme: { type: 'string', enum: ['PRIMARY', 'SECONDARY', 'TERTIARY', 'QUATERNARY'] },
              buttonActionEventData: stringMap,
              isPrimaryButton: bool,
            },
          },
        },
        bodyTagsForSpecialRendering: stringMap,
      },
    },
    messageSendingAttributesLite: {
      type: 'object',
      properties: {
        delay: { type: 'integer', minimum: 0, description: 'Seconds' },
        sendSynchronously: { type: 'boolean', description: 'Answer after the outcome (at most ~10 s)' },
        callBackUrl: { type: 'string', format: 'uri', description: 'http(s); receives a signed POST (X-Herald-Signature) on each terminal status' },
        callBackMetadata: stringMap,
      },
    },
  },
} as const;
const response = {
  type: 'object',
  properties: {
    notificationMessageUUID: { type: ['string', 'null'] },
    status: { type: 'string', enum: ['SUCCESS', 'FAILURE'] },
    requestUUID: str,
    errors: { type: 'array', items: { type: 'object', properties: { errorCode: str, errorDescription: str, errorUID: { type: ['string', 'null'] } } } },
    warnings: { type: 'array', items: { type: 'object', properties: { warningCode: str, warningDescription: str } } },
  },
} as const;

function notifyRoute(path: string): RestRoute {
  return defineRoute({
    api: 'department',
    method: 'POST',
    path,
    summary: 'Send a notification to a department user (userUUID "default": the default member), without customer context',
    operation: DepartmentNotify,
    variables(request) {
      if (request.body !== undefined && request.body !== null && !isObject(request.body)) throw new RestInputError('the request body must be a JSON object');
      return {
        departmentId: request.params.departmentUUID!,
        userId: request.params.userUUID!,
        input: request.body == null ? null : (pick(request.body, BODY_SHAPE) as never),
      };
    },
    respond(data) {
      const r = data.notifyDepartmentUser;
      const status = r.status === 'SUCCESS' ? 200 : (STATUS_BY_ERROR[r.errors[0]?.errorCode ?? ''] ?? 200);
      return {
        status,
        body: { notificationMessageUUID: r.notificationMessageUUID ?? null, status: r.status, requestUUID: r.requestUUID, errors: r.errors, warnings: r.warnings },
      };
    },
    openapi: { requestBody, response },
  });
}

/** myKaarma's notify, on its documented path and with the `/communications` prefix of its full URL. */
export const departmentRoutes: RestRoute[] = [
  notifyRoute('/department/:departmentUUID/user/:userUUID/notify'),
  notifyRoute('/communications/department/:departmentUUID/user/:userUUID/notify'),
];
