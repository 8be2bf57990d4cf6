import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { LegacyApi } from './apis.ts';

export interface RestRequest {
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  headers: Headers;
  requestId: string;
}

export interface RestResponse {
  status: number;
  body?: unknown;
  /** Extra response headers (e.g. NP6's `X-Next-Cursor`). */
  headers?: Record<string, string>;
}

/** A query parameter, for the OpenAPI document. */
export interface RestQueryParameter {
  name: string;
  description?: string;
  required?: boolean;
  schema: Record<string, unknown>;
}

/**
 * One legacy route: which API it belongs to (credentials and error shape), the typed GraphQL
 * operation it runs, and how the request becomes variables and the result the legacy answer.
 * It holds no business logic: validation, auth and errors come from the GraphQL execution.
 */
export interface RestRoute<TData = any, TVars = any> {
  api: LegacyApi;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Express-style path, e.g. "/notifications/:id". */
  path: string;
  summary: string;
  operation: TypedDocumentNode<TData, TVars>;
  /** Throws RestInputError when the legacy request cannot even be mapped. */
  variables(request: RestRequest): TVars;
  respond(data: TData, request: RestRequest): RestResponse;
  /**
   * The legacy body's name of a field GraphQL reported an issue on (its input may spell it
   * differently, e.g. Neucron's `UserIDs` read as `userIds`). Identity when absent.
   */
  errorField?(field: string, request: RestRequest): string;
  /**
   * For list routes that answer every item in one call (NP6's GET /notifications): the variables
   * of the page after `data`, or null after the last one. The bridge runs the operation once per
   * page and streams the pages as one JSON array; respond() must answer an array body.
   */
  nextPage?(data: TData, variables: TVars, request: RestRequest): TVars | null;
  /**
   * Rewrites an issue of a GraphQL error into the legacy body's terms (its field path, its words),
   * so a legacy client never reads GraphQL variable names or types.
   */
  legacyIssue?(issue: { field: string; message: string }): { field: string; message: string };
  /** JSON Schemas for the OpenAPI document. */
  openapi?: {
    /** Longer than the summary: semantics, per-item errors, deliberate differences. */
    description?: string;
    /** Named schemas this route's schemas point at (`#/components/schemas/<name>`). */
    components?: Record<string, Record<string, unknown>>;
    /** The body of an error status when it is not the API's usual error body. */
    errorResponses?: Record<number, Record<string, unknown>>;
    requestBody?: Record<string, unknown>;
    response?: Record<string, unknown>;
    successStatus?: number;
    query?: RestQueryParameter[];
    /** Response headers of the success answer, by name. */
    responseHeaders?: Record<string, { description: string; schema: Record<string, unknown> }>;
  };
}

/** A legacy request that cannot be mapped to the operation (e.g. a body that is not an object). */
export class RestInputError extends Error {
  constructor(
    message: string,
    readonly field = '',
    /** Every problem, when there are several (the message then lists them all). */
    readonly issues?: { field: string; message: string }[],
  ) {
    super(message);
  }

  /** One error for several issues: "field: message; field: message". */
  static of(issues: { field: string; message: string }[]): RestInputError {
    const message = issues.map((i) => (i.field ? `${i.field}: ${i.message}` : i.message)).join('; ');
    return new RestInputError(message, issues[0]?.field ?? '', issues);
  }
}

export function defineRoute<TData, TVars>(route: RestRoute<TData, TVars>): RestRoute<TData, TVars> {
  return route;
}

/** Reads an object body, or fails with a message naming what was expected. */
export function objectBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new RestInputError('the request body must be a JSON object');
  return body as Record<string, unknown>;
}

/**
 * Thrown by `variables()` when the route can answer without running its operation (e.g. a
 * Notifuse batch whose every item is invalid). The bridge has checked the credentials already.
 */
export class RestAnswer {
  constructor(readonly response: RestResponse) {}
}
