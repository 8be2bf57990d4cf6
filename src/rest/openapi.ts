import type { Plugin } from 'graphql-yoga';
import { API_PROFILES } from './apis.ts';
import type { RestRoute } from './route.ts';

/** Builds the OpenAPI 3.1 document of the legacy routes from the route table itself. */
export function buildOpenApi(routes: RestRoute[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = route.path.replace(/:([A-Za-z]+)/g, '{$1}');
    const params = [
      ...[...route.path.matchAll(/:([A-Za-z]+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } })),
      ...(route.openapi?.query ?? []).map((q) => ({ in: 'query', required: false, ...q })),
    ];
    const success = String(route.openapi?.successStatus ?? 200);
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = {
      tags: [route.api],
      summary: route.summary,
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
        '400': { description: 'Invalid input (the message names the field)' },
        '401': { description: 'Missing or invalid credentials' },
        '404': { description: 'Unknown id (another project\'s ids are unknown too)' },
        '409': { description: 'Conflict' },
        '413': { description: 'Body too large' },
        '500': { description: 'Internal error' },
        '503': {
          description: 'Database unavailable or overloaded: retryable (wait Retry-After seconds)',
          headers: { 'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' } } },
        },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Herald legacy REST API', version, description: 'Every route runs a GraphQL operation of /graphql.' },
    paths,
    components: {
      securitySchemes: Object.fromEntries(Object.entries(API_PROFILES).map(([api, profile]) => [api, profile.securityScheme])),
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
