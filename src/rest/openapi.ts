import type { Plugin } from 'graphql-yoga';
import { API_PROFILES, type LegacyApi } from './apis.ts';
import type { RestRoute } from './route.ts';

/**
 * Schemas shared by several routes, under `components.schemas` (routes point at them with
 * `{ $ref: '#/components/schemas/<name>' }`).
 */
export const SHARED_SCHEMAS: Record<string, Record<string, unknown>> = {
  // NP6 documents content as a polymorphic object with a `type` discriminator whose variant tags
  // are not public: any tag (or none) is accepted, and unknown members are kept and returned.
  Np6Content: {
    type: 'object',
    description:
      'NP6 content: an open object tagged by `type` (any variant: push-app, default, text, ...; or Herald\'s "localized" with `locales`). Its content fields at top level are the default language\'s; unknown members are stored and returned as written.',
    properties: { type: { type: 'string', description: 'The variant tag, kept as written' } },
    additionalProperties: true,
  },
};

const STATUS_TEXT: Record<string, string> = {
  '400': 'Invalid input (the message names the field as the request body spells it)',
  '401': 'Missing or invalid credentials (checked before anything else)',
  '404': "Unknown id (another project's ids are unknown too)",
  '409': 'Conflict',
  '413': 'Body too large',
  '500': 'Internal error',
};

const errorRef = (api: LegacyApi) => ({ $ref: `#/components/schemas/${errorSchemaName(api)}` });
const errorSchemaName = (api: LegacyApi) => `${api.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase()).replace(/^./, (c) => c.toUpperCase())}Error`;

/** Builds the OpenAPI 3.1 document of the legacy routes from the route table itself. */
export function buildOpenApi(routes: RestRoute[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const schemas: Record<string, Record<string, unknown>> = { ...SHARED_SCHEMAS };
  for (const route of routes) {
    Object.assign(schemas, route.openapi?.components);
    const path = route.path.replace(/:([A-Za-z]+)/g, '{$1}');
    const params = [
      ...[...route.path.matchAll(/:([A-Za-z]+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } })),
      ...(route.openapi?.query ?? []).map((q) => ({ in: 'query', required: false, ...q })),
    ];
    const success = String(route.openapi?.successStatus ?? 200);
    const errors = Object.fromEntries(
      Object.entries(STATUS_TEXT).map(([status, description]) => [
        status,
        { description, content: { 'application/json': { schema: route.openapi?.errorResponses?.[Number(status)] ?? errorRef(route.api) } } },
      ]),
    );
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = {
      tags: [route.api],
      summary: route.summary,
      ...(route.openapi?.description ? { description: route.openapi.description } : {}),
      operationId: `${route.api}_${route.method.toLowerCase()}_${route.path.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_|_$/g, '')}`,
      security: [{ [route.api]: [] }],
      ...(params.length ? { parameters: params } : {}),
      ...(route.openapi?.requestBody
        ? { requestBody: { required: true, content: { 'application/json': { schema: route.openapi.requestBody } } } }
        : {}),
      responses: {
        [success]: {
          description: 'Success',
          ...(route.openapi?.responseHeaders ? { headers: route.openapi.responseHeaders } : {}),
          ...(route.openapi?.response ? { content: { 'application/json': { schema: route.openapi.response } } } : {}),
        },
        ...errors,
      },
    };
  }
  const apis = Object.keys(API_PROFILES) as LegacyApi[];
  return {
    openapi: '3.1.0',
    // Every schema is JSON Schema 2020-12 (OpenAPI 3.1's own dialect): any maintained validator reads them.
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'Herald legacy REST API',
      version,
      description:
        'The Notifuse, NP6, Neucron and myKaarma department notify routes. Every route runs a GraphQL operation of /graphql. Objects are open unless a schema says otherwise: unknown members are ignored (or kept, where the route says so).',
    },
    paths,
    components: {
      schemas: { ...schemas, ...Object.fromEntries(apis.map((api) => [errorSchemaName(api), API_PROFILES[api].errorSchema])) },
      securitySchemes: Object.fromEntries(apis.map((api) => [api, API_PROFILES[api].securityScheme])),
    },
  };
}

export function useOpenApi(routes: RestRoute[], version: string): Plugin {
  let document: string | undefined;
  return {
    onRequest({ url, request, endResponse }) {
      if (url.pathname !== '/openapi.json' || request.method !== 'GET') return;
      document ??= JSON.stringify(buildOpenApi(routes, version));
      endResponse(new Response(document, { headers: { 'content-type': 'application/json' } }));
    },
  };
}
