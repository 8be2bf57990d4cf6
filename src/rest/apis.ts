import type { CredentialStyle } from '../modules/projects/auth.ts';

/**
 * The four legacy APIs Herald answers for. Each decides which credential headers its routes
 * accept and what its error bodies look like; the routes themselves live with their modules.
 */
export type LegacyApi = 'notifuse' | 'notifuse-front' | 'np6' | 'neucron' | 'department';

export interface LegacyError {
  status: number;
  /** Herald's error code (BAD_USER_INPUT, NOT_FOUND...). */
  code: string;
  message: string;
  requestId: string;
  issues?: { field: string; message: string }[] | undefined;
}

interface ApiProfile {
  /** Headers forwarded to GraphQL: only this API's own credential style is honoured. */
  credentialHeaders: string[];
  credentialStyle: CredentialStyle | 'widget';
  /** What a request without credentials is told to send. */
  credentialsHint: string;
  /**
   * For APIs that carry credentials in the query or body (Notifuse's widget API): builds the
   * headers GraphQL authenticates with.
   */
  credentialsFromRequest?: (query: URLSearchParams, body: unknown) => Record<string, string>;
  /** The OpenAPI security scheme of the API. */
  securityScheme: Record<string, unknown>;
  /** The JSON Schema of errorBody(), for the OpenAPI document. */
  errorSchema: Record<string, unknown>;
  errorBody(error: LegacyError): unknown;
}

/** Codes in the legacy APIs' own vocabularies. */
const SHORT_CODES: Record<string, string> = {
  BAD_USER_INPUT: 'invalid_request',
  UNAUTHENTICATED: 'unauthorized',
  FORBIDDEN: 'forbidden',
  NOT_FOUND: 'not_found',
  CONFLICT: 'conflict',
  PAYLOAD_TOO_LARGE: 'payload_too_large',
  RATE_LIMITED: 'rate_limited',
  DATABASE_UNAVAILABLE: 'service_unavailable',
  OVERLOADED: 'service_unavailable',
  INTERNAL_SERVER_ERROR: 'internal_error',
};

const ISSUES = {
  type: 'array',
  description: 'Each offending field, named as in the request body',
  items: { type: 'object', required: ['field', 'message'], properties: { field: { type: 'string' }, message: { type: 'string' } } },
};

export const API_PROFILES: Record<LegacyApi, ApiProfile> = {
  // Notifuse: { error, message } (its per-item errors use short slash codes such as "id/exists").
  notifuse: {
    credentialHeaders: ['authorization'],
    credentialStyle: 'bearer',
    credentialsHint: 'Authorization: Bearer <apiKey>',
    securityScheme: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <apiKey>' },
    errorSchema: {
      type: 'object',
      required: ['error', 'message'],
      properties: { error: { enum: [...new Set(Object.values(SHORT_CODES))] }, message: { type: 'string' }, issues: ISSUES },
    },
    errorBody: (e) => ({ error: SHORT_CODES[e.code] ?? 'internal_error', message: e.message, ...(e.issues ? { issues: e.issues } : {}) }),
  },
  // Notifuse's frontend (widget) API: projectId, userId and userHmac in the query or the body.
  'notifuse-front': {
    credentialHeaders: [],
    credentialStyle: 'widget',
    credentialsHint: 'projectId, userId and userHmac in the query or the body',
    securityScheme: { type: 'apiKey', in: 'query', name: 'userHmac', description: 'with projectId and userId: hex HMAC-SHA256 of userId keyed by the widget secret; with `tenant` too (a tenant-scoped widget): keyed by "<widgetSecret>:<tenant>"' },
    errorSchema: { type: 'object', required: ['error', 'message'], properties: { error: { enum: [...new Set(Object.values(SHORT_CODES))] }, message: { type: 'string' } } },
    credentialsFromRequest: (query, body) => {
      const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
      const pick = (name: string) => query.get(name) ?? (typeof b[name] === 'string' ? (b[name] as string) : '');
      // `tenant` scopes the widget to one tenant (its userHmac is then keyed by "<widgetSecret>:<tenant>").
      const tenant = query.get('tenant') ?? (typeof b.tenant === 'string' ? b.tenant : null);
      return { 'x-herald-project': pick('projectId'), 'x-herald-user': pick('userId'), 'x-herald-user-hash': pick('userHmac'), ...(tenant !== null ? { 'x-herald-tenant': tenant } : {}) };
    },
    errorBody: (e) => ({ error: SHORT_CODES[e.code] ?? 'internal_error', message: e.message }),
  },
  // NP6 documents statuses but no error fields; we answer in the shape of its typed results.
  np6: {
    credentialHeaders: ['x-key'],
    credentialStyle: 'x-key',
    credentialsHint: 'X-Key: <apiKey>',
    securityScheme: { type: 'apiKey', in: 'header', name: 'X-Key' },
    errorSchema: {
      type: 'object',
      required: ['type', 'status', 'code', 'message'],
      properties: { type: { const: 'error' }, status: { type: 'integer' }, code: { type: 'string' }, message: { type: 'string' }, issues: ISSUES },
    },
    errorBody: (e) => ({ type: 'error', status: e.status, code: e.code, message: e.message, ...(e.issues ? { issues: e.issues } : {}) }),
  },
  // Neucron: { error, status_code } (its SDK reads `message || error`).
  neucron: {
    credentialHeaders: ['x-neucron-app-id', 'x-neucron-key-id', 'x-neucron-key-secret'],
    credentialStyle: 'neucron',
    credentialsHint: 'X-Neucron-App-ID, X-Neucron-Key-ID and X-Neucron-Key-Secret',
    securityScheme: { type: 'apiKey', in: 'header', name: 'X-Neucron-Key-Secret', description: 'with X-Neucron-App-ID and X-Neucron-Key-ID' },
    errorSchema: {
      type: 'object',
      required: ['error', 'message', 'status_code'],
      properties: { error: { type: 'string' }, message: { type: 'string', description: 'Names the field, as the client spelled it' }, status_code: { type: 'integer' } },
    },
    errorBody: (e) => ({ error: e.message, message: e.message, status_code: e.status }),
  },
  // myKaarma: the notify response envelope with status FAILURE and one error entry.
  department: {
    credentialHeaders: ['authorization'],
    credentialStyle: 'basic',
    credentialsHint: 'Authorization: Basic base64(<keyId>:<keySecret>)',
    securityScheme: { type: 'http', scheme: 'basic', description: 'keyId as user name, keySecret as password' },
    errorSchema: {
      type: 'object',
      required: ['status', 'requestUUID', 'notificationMessageUUID', 'errors', 'warnings'],
      properties: {
        status: { const: 'FAILURE' },
        requestUUID: { type: 'string' },
        notificationMessageUUID: { type: 'null' },
        errors: {
          type: 'array',
          minItems: 1,
          items: { type: 'object', required: ['errorCode', 'errorDescription'], properties: { errorCode: { type: 'string' }, errorDescription: { type: 'string' }, errorUID: { type: ['string', 'null'] } } },
        },
        warnings: { type: 'array', items: { type: 'object', properties: { warningCode: { type: 'string' }, warningDescription: { type: 'string' } } } },
      },
    },
    errorBody: (e) => ({
      status: 'FAILURE',
      requestUUID: e.requestId,
      notificationMessageUUID: null,
      errors: [{ errorCode: departmentCode(e.code), errorDescription: e.message, errorUID: null }],
      warnings: [],
    }),
  },
};

function departmentCode(code: string): string {
  return code === 'INTERNAL_SERVER_ERROR' ? 'INTERNAL_SERVER_ERROR' : code === 'BAD_USER_INPUT' ? 'INVALID_REQUEST' : code;
}

/** Herald's error codes → HTTP status, shared by every legacy API. */
export const STATUS_BY_CODE: Record<string, number> = {
  BAD_USER_INPUT: 400,
  GRAPHQL_VALIDATION_FAILED: 400,
  GRAPHQL_PARSE_FAILED: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  INTERNAL_SERVER_ERROR: 500,
  // Retryable: the bridge forwards GraphQL's Retry-After.
  DATABASE_UNAVAILABLE: 503,
  OVERLOADED: 503,
};

/**
 * A legacy API's error body, for a route whose `respond()` must answer an error that GraphQL
 * reported as data (e.g. NP6's single execution of an unknown contact → 404).
 */
export function legacyError(api: LegacyApi, error: LegacyError): { status: number; body: unknown } {
  return { status: error.status, body: API_PROFILES[api].errorBody(error) };
}
