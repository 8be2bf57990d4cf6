import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { expect } from 'vitest';
import { buildOpenApi } from '../../src/rest/openapi.ts';
import { restRoutes } from '../../src/rest/routes.ts';

/**
 * The OpenAPI document of the legacy routes, checked with a maintained JSON Schema validator
 * (ajv, draft 2020-12: OpenAPI 3.1's dialect), so tests can prove that what a route really
 * accepts and answers is what the document says.
 */
export const openApiDocument = buildOpenApi(restRoutes, 'test') as { paths: Record<string, Record<string, any>>; components: Record<string, any> };

// The OpenAPI members around the schemas are not JSON Schema keywords: known to ajv as annotations,
// so strict mode still refuses any unknown keyword inside a schema.
export const ajv = new Ajv2020({
  strict: true,
  // `type: ["string", "null"]` is plain 2020-12 (OpenAPI 3.1 dropped `nullable` for it).
  allowUnionTypes: true,
  allErrors: true,
  formats: {
    uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
    uri: (v: string) => URL.canParse(v),
    email: /^[^\s@]+@[^\s@]+$/,
    'date-time': (v: string) => !Number.isNaN(Date.parse(v)),
    // OpenAPI's own data type formats.
    int32: { type: 'number', validate: (v: number) => Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31 },
    int64: { type: 'number', validate: (v: number) => Number.isInteger(v) },
  },
});
ajv.addVocabulary(['openapi', 'jsonSchemaDialect', 'info', 'paths', 'components', 'servers', 'tags', 'security', 'webhooks', 'externalDocs']);
ajv.addSchema(openApiDocument, 'openapi.json');

const pointer = (...parts: string[]) => parts.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');
const compiled = new Map<string, ValidateFunction>();
function validator(ref: string): ValidateFunction {
  let v = compiled.get(ref);
  if (!v) compiled.set(ref, (v = ajv.compile({ $ref: `openapi.json#/${ref}` })));
  return v;
}

/** The document's path for a route path (":id" → "{id}"). */
const docPath = (path: string) => path.replace(/:([A-Za-z]+)/g, '{$1}');

export function operation(method: string, path: string): Record<string, any> {
  const op = openApiDocument.paths[docPath(path)]?.[method.toLowerCase()];
  if (!op) throw new Error(`the OpenAPI document has no ${method} ${path}`);
  return op;
}

/** Validation errors of a request body against the documented one (null: valid). */
export function requestErrors(method: string, path: string, body: unknown): string | null {
  operation(method, path);
  const v = validator(pointer('paths', docPath(path), method.toLowerCase(), 'requestBody', 'content', 'application/json', 'schema'));
  return v(body) ? null : ajv.errorsText(v.errors);
}

/** Validation errors of an answer against the documented response of that status (null: valid). */
export function responseErrors(method: string, path: string, status: number, body: unknown): string | null {
  const op = operation(method, path);
  if (!op.responses[String(status)]) return `status ${status} is not documented for ${method} ${path}`;
  const v = validator(pointer('paths', docPath(path), method.toLowerCase(), 'responses', String(status), 'content', 'application/json', 'schema'));
  return v(body) ? null : ajv.errorsText(v.errors);
}

/** Asserts that an answer is what the document says this route answers with this status. */
export function expectDocumented(method: string, path: string, status: number, body: unknown) {
  expect(responseErrors(method, path, status, body), `${method} ${path} ${status}: ${JSON.stringify(body)}`).toBeNull();
}
