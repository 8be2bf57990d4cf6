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
  DEPARTMENT_NOT_FOUND: 404,
  USER_NOT_FOUND: 404,
};

const str = { type: 'string' } as const;
const bool = { type: 'boolean' } as const;
const stringMap = { type: 'object', additionalProperties: true } as const;
const open = <T extends Record<string, unknown>>(properties: T, description?: string) => ({ type: 'object', additionalProperties: true, ...(description ? { description } : {}), properties }) as const;
const requestBody = open(
  {
    messageAttributes: {
      ...open(
        {
          body: { type: 'string', description: 'Required (MISSING_MESSAGE_BODY otherwise).' },
          subject: { type: 'string', description: "The note's title" },
          type: { type: 'string', description: 'Accepted and ignored: the note is always NOTE (myKaarma forces it).' },
          protocol: { type: 'string', description: 'Accepted and ignored: always NONE (myKaarma forces it); the note goes to the in-app inbox.' },
          purpose: { type: 'string', description: "myKaarma MessagePurpose (any string); the message's category" },
          isManual: { type: 'boolean', description: 'Accepted and ignored: always false (myKaarma forces it).' },
          metaData: stringMap,
          tags: { type: 'array', items: str },
          attachments: { type: 'array', items: stringMap },
          draftAttributes: open(
            { draftStatus: str, scheduledOn: str, draftFailureReason: str },
            'Stored and returned as given (the inbox item\'s data); a note is never a draft, so a SCHEDULED draftStatus does not delay it.',
          ),
          messageTags: { type: 'array', items: stringMap },
          defaultReplyAction: str,
          updateThreadTimestamp: bool,
          updateTotalMessageCount: bool,
          showInCustomerConversation: bool,
        },
        'Required (MISSING_MESSAGE_ATTRIBUTES otherwise).',
      ),
      required: ['body'],
    },
    notificationAttributes: open({
      internalSubscribersNotifierPop: { type: 'boolean', description: 'Accepted: the notifier is the in-app note, always sent' },
      externalSubscribersNotifierPop: bool,
      threadOwnerNotifierPop: bool,
      sendPhoneNotification: { type: 'boolean', description: "Also notify the user's phone: an SMS to their telephone (Herald has no mobile push channel yet)" },
      additionalNotifierNotificationDAUUIDs: { type: 'array', items: str, description: 'More users (ids or externalIds) who get the in-app note; unknown ones are warnings' },
      notificationButtons: {
        type: 'array',
        items: open({
          buttonTextTranslationWidgetKey: str,
          buttonTextTranslationKey: str,
          buttonDefaultText: str,
          buttonTheme: { type: 'string', description: 'PRIMARY, SECONDARY, TERTIARY or QUATERNARY' },
          buttonActionEventData: stringMap,
          isPrimaryButton: bool,
        }),
      },
      bodyTagsForSpecialRendering: { type: 'object', additionalProperties: { type: 'string' }, description: '{ CUSTOMER_NAMES }: replaces `_customer_names` in the body' },
    }),
    messageSendingAttributesLite: open({
      delay: { type: 'integer', minimum: 0, description: 'Seconds before the note is sent' },
      sendSynchronously: { type: 'boolean', description: 'Answer after the outcome (at most ~10 s)' },
      callBackUrl: { type: 'string', description: 'http(s): receives a signed POST (X-Herald-Signature) on each terminal status; anything else is a warning INVALID_CALLBACK_URL and no callback. Also callbackURL' },
      callBackMetadata: { ...stringMap, description: 'Echoed to the callback. Also callbackMetaData' },
    }),
  },
  'Unknown keys are ignored. `callbackURL` / `callbackMetaData` are read as `callBackUrl` / `callBackMetadata`.',
);
Object.assign(requestBody, { required: ['messageAttributes'] });
const envelope = (status: Record<string, unknown>) => ({
  type: 'object',
  required: ['notificationMessageUUID', 'status', 'requestUUID', 'errors', 'warnings'],
  properties: {
    notificationMessageUUID: { type: ['string', 'null'], description: "The target user's in-app note" },
    status,
    requestUUID: str,
    errors: {
      type: 'array',
      items: { type: 'object', required: ['errorCode', 'errorDescription'], properties: { errorCode: str, errorDescription: str, errorUID: { type: ['string', 'null'] } } },
    },
    warnings: {
      type: 'array',
      description: 'INVALID_CALLBACK_URL, ADDITIONAL_USER_NOT_FOUND, CHANNEL_SKIPPED (e.g. SMS to a user without telephone), DELIVERY_PENDING',
      items: { type: 'object', required: ['warningCode', 'warningDescription'], properties: { warningCode: str, warningDescription: str } },
    },
  },
});
const response = envelope({ enum: ['SUCCESS', 'FAILURE'], description: 'FAILURE with 200: a synchronous send failed (MESSAGE_SEND_FAILED)' });

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
    openapi: {
      description:
        "myKaarma's semantics: the endpoint raises an internal note (type NOTE, protocol NONE, forced) for a staff user. The note goes to the user's in-app inbox; sendPhoneNotification adds an SMS to their telephone; messageSendingAttributesLite.delay postpones it; draft attributes are stored, not acted on. 400 and 404 answer this same envelope with status FAILURE.",
      requestBody,
      response,
    },
  });
}

/** myKaarma's notify, on its documented path and with the `/communications` prefix of its full URL. */
export const departmentRoutes: RestRoute[] = [
  notifyRoute('/department/:departmentUUID/user/:userUUID/notify'),
  notifyRoute('/communications/department/:departmentUUID/user/:userUUID/notify'),
];
