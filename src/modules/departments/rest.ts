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

/**
 * The body fields the GraphQL input knows, by object, with the JSON type GraphQL takes; anything
 * else in a legacy body is ignored. A value of the wrong type is refused here, naming its path in
 * the body (GraphQL would word it as a variable of its own).
 */
type Leaf = 'string' | 'boolean' | 'int' | 'object' | 'strings' | 'objects';
type Shape = { [key: string]: Leaf | Shape | [Shape] };
const BODY_SHAPE: Shape = {
  messageAttributes: {
    body: 'string',
    subject: 'string',
    type: 'string',
    protocol: 'string',
    purpose: 'string',
    isManual: 'boolean',
    metaData: 'object',
    tags: 'strings',
    attachments: 'objects',
    draftAttributes: { draftStatus: 'string', scheduledOn: 'string', draftFailureReason: 'string' },
    messageTags: 'objects',
    defaultReplyAction: 'string',
  },
  notificationAttributes: {
    internalSubscribersNotifierPop: 'boolean',
    externalSubscribersNotifierPop: 'boolean',
    threadOwnerNotifierPop: 'boolean',
    sendPhoneNotification: 'boolean',
    additionalNotifierNotificationDAUUIDs: 'strings',
    notificationButtons: [
      {
        buttonTextTranslationWidgetKey: 'string',
        buttonTextTranslationKey: 'string',
        buttonDefaultText: 'string',
        buttonTheme: 'string',
        buttonActionEventData: 'object',
        isPrimaryButton: 'boolean',
      },
    ],
    bodyTagsForSpecialRendering: 'object',
  },
  messageSendingAttributesLite: { delay: 'int', sendSynchronously: 'boolean', callBackUrl: 'string', callBackMetadata: 'object' },
};

/** `MessageSendingAttributes` spells them callbackURL / callbackMetaData: both spellings are read. */
const ALIASES: Record<string, string> = { callbackURL: 'callBackUrl', callbackUrl: 'callBackUrl', callbackMetaData: 'callBackMetadata', callbackMetadata: 'callBackMetadata' };

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const LEAF_CHECKS: Record<Leaf, [(v: unknown) => boolean, string]> = {
  string: [(v) => typeof v === 'string', 'must be a string'],
  boolean: [(v) => typeof v === 'boolean', 'must be true or false'],
  int: [(v) => Number.isInteger(v) && Math.abs(v as number) < 2 ** 31, 'must be a whole number'],
  object: [isObject, 'must be an object'],
  strings: [(v) => Array.isArray(v) && v.every((x) => typeof x === 'string'), 'must be an array of strings'],
  objects: [(v) => Array.isArray(v) && v.every(isObject), 'must be an array of objects'],
};

/** Keeps the known keys of a legacy body, checking their JSON types (null counts as absent). */
function pick(value: unknown, shape: Shape, path: string): unknown {
  if (!isObject(value)) throw new RestInputError(`${path}: must be an object`, path);
  const out: Record<string, unknown> = {};
  for (const [rawKey, v] of Object.entries(value)) {
    const key = ALIASES[rawKey] && !(ALIASES[rawKey]! in value) ? ALIASES[rawKey]! : rawKey;
    const s = shape[key];
    if (!s || v === null || v === undefined) continue;
    const at = path ? `${path}.${rawKey}` : rawKey;
    if (typeof s === 'string') {
      const [ok, message] = LEAF_CHECKS[s];
      if (!ok(v)) throw new RestInputError(`${at}: ${message}`, at);
      out[key] = v;
    } else if (Array.isArray(s)) {
      if (!Array.isArray(v)) throw new RestInputError(`${at}: must be an array`, at);
      out[key] = v.map((item, i) => pick(item, s[0], `${at}.${i}`));
    } else out[key] = pick(v, s, at);
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
const requestBody = {
  ...open(
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
  ),
  required: ['messageAttributes'],
};
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
        input: request.body == null ? null : (pick(request.body, BODY_SHAPE, '') as never),
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
