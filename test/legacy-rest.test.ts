import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restRoutes } from '../src/rest/routes.ts';
import type { RestRoute } from '../src/rest/route.ts';
import { rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { expectDocumented } from './helpers/openapi.ts';

let h: TestHerald;

beforeAll(async () => {
  h = await startTestHerald();
});
afterAll(async () => {
  await h?.stop();
});

/** A concrete path for a route (its parameters filled with ids that exist nowhere). */
const concrete = (route: RestRoute) =>
  route.path.replace(/:([A-Za-z]+)/g, (_m, name: string) => (name === 'departmentUUID' ? '6f1c9a52-0000-4000-8000-000000000000' : name === 'id' || name === 'version' ? '1' : 'someone'));

/** Credentials of the route's own style that are wrong (the key's secret is not its secret). */
function wrongCredentials(route: RestRoute): { headers: Record<string, string>; query: string } {
  const { keyId, projectId } = h.project;
  switch (route.api) {
    case 'notifuse':
      return { headers: { authorization: `Bearer ${keyId}.wrong` }, query: '' };
    case 'np6':
      return { headers: { 'x-key': `${keyId}.wrong` }, query: '' };
    case 'neucron':
      return { headers: { 'x-neucron-app-id': projectId, 'x-neucron-key-id': keyId, 'x-neucron-key-secret': 'wrong' }, query: '' };
    case 'department':
      return { headers: { authorization: `Basic ${Buffer.from(`${keyId}:wrong`).toString('base64')}` }, query: '' };
    case 'notifuse-front':
      return { headers: {}, query: `?projectId=${projectId}&userId=u1&userHmac=${'0'.repeat(64)}` };
  }
}

/** Bodies that are each invalid for every route: not JSON, JSON of the wrong shape. */
const INVALID_BODIES = ['{"messages": [', '[1, 2]', '"text"'];

describe('credentials come first on every legacy route', () => {
  it('answers 401 in the API\'s own shape without credentials, whatever the body', async () => {
    expect(restRoutes.length).toBeGreaterThan(20);
    for (const route of restRoutes) {
      const bodies = route.method === 'GET' || route.method === 'DELETE' ? [undefined] : INVALID_BODIES;
      for (const body of bodies) {
        const res = await rest(h.url, route.method, concrete(route), body, {});
        expect(res.status, `${route.method} ${route.path} ${body}: ${JSON.stringify(res.body)}`).toBe(401);
        expectDocumented(route.method, route.path, 401, res.body);
        expect(JSON.stringify(res.body)).toMatch(/Missing credentials/);
      }
    }
  });

  it('answers 401 with wrong credentials of the route\'s own style, whatever the body', async () => {
    for (const route of restRoutes) {
      const { headers, query } = wrongCredentials(route);
      const bodies = route.method === 'GET' || route.method === 'DELETE' ? [undefined] : INVALID_BODIES;
      for (const body of bodies) {
        const res = await rest(h.url, route.method, `${concrete(route)}${query}`, body, headers);
        expect(res.status, `${route.method} ${route.path} ${body}: ${JSON.stringify(res.body)}`).toBe(401);
        expectDocumented(route.method, route.path, 401, res.body);
      }
    }
  });

  it('then, with valid credentials, judges the body: not JSON is a 400 in the API\'s shape', async () => {
    const valid: Record<string, Record<string, string>> = {
      notifuse: { authorization: `Bearer ${h.project.apiKey}` },
      np6: { 'x-key': h.project.apiKey },
      neucron: { 'x-neucron-app-id': h.project.projectId, 'x-neucron-key-id': h.project.keyId, 'x-neucron-key-secret': h.project.keySecret },
      department: { authorization: `Basic ${Buffer.from(`${h.project.keyId}:${h.project.keySecret}`).toString('base64')}` },
    };
    for (const route of restRoutes) {
      if (route.method === 'GET' || route.method === 'DELETE' || route.api === 'notifuse-front') continue;
      const res = await rest(h.url, route.method, concrete(route), '{"not json', valid[route.api]);
      expect(res.status, `${route.method} ${route.path}: ${JSON.stringify(res.body)}`).toBe(400);
      expectDocumented(route.method, route.path, 400, res.body);
      expect(JSON.stringify(res.body)).toMatch(/not valid JSON/);
    }
  });
});
