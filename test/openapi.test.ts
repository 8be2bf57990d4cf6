import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restRoutes } from '../src/rest/routes.ts';
import { rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { DEPARTMENT_NOTIFY_DOC_BODY, NEUCRON_FCM_BODY, NEUCRON_GO_BODY, NOTIFUSE_SEND_WITHOUT_USER_ID, NOTIFUSE_UPSERT_DOC_USER } from './helpers/legacy-bodies.ts';
import { ajv, openApiDocument, operation, requestErrors, responseErrors } from './helpers/openapi.ts';

let h: TestHerald;
beforeAll(async () => {
  h = await startTestHerald();
});
afterAll(async () => {
  await h?.stop();
});

const DEPARTMENT = '/department/:departmentUUID/user/:userUUID/notify';

describe('GET /openapi.json', () => {
  it('serves the OpenAPI 3.1 document of every legacy route', async () => {
    const res = await rest(h.url, 'GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(res.body.openapi).toBe('3.1.0');
    expect(res.body.jsonSchemaDialect).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(Object.keys(res.body.paths).sort()).toEqual(Object.keys(openApiDocument.paths).sort());
    for (const route of restRoutes) expect(operation(route.method, route.path).operationId).toEqual(expect.any(String));
  });

  it('has, for every operation, schemas that a strict draft 2020-12 validator compiles, and an error body for every error status', () => {
    for (const route of restRoutes) {
      const op = operation(route.method, route.path);
      if (op.requestBody) expect(requestErrors(route.method, route.path, Symbol.for('probe')), route.path).not.toBeNull();
      for (const [status, response] of Object.entries(op.responses as Record<string, { content?: unknown }>)) {
        if (Number(status) >= 400) expect(response.content, `${route.method} ${route.path} ${status}`).toBeDefined();
        if (response.content) expect(() => responseErrors(route.method, route.path, Number(status), null), `${route.path} ${status}`).not.toThrow();
      }
    }
  });
});

describe('the legacy bodies, as their documentation writes them, match the document', () => {
  it('Notifuse: messages.send (an item without userId is still a valid batch) and users.upsert', () => {
    expect(requestErrors('POST', '/messages.send', NOTIFUSE_SEND_WITHOUT_USER_ID)).toBeNull();
    expect(requestErrors('POST', '/users.upsert', NOTIFUSE_UPSERT_DOC_USER)).toBeNull();
    // Each item is either a message that can be sent or one answered with its own ok:false.
    const message = ajv.compile({ $ref: 'openapi.json#/components/schemas/NotifuseMessage' });
    expect(NOTIFUSE_SEND_WITHOUT_USER_ID.messages.map((m) => message(m))).toEqual([true, false]);
    // Unknown keys are open: ignored on messages, custom fields on users.
    expect(requestErrors('POST', '/messages.send', { messages: [{ notificationId: 'a', userId: 'b', later: 1 }] })).toBeNull();
    // What is refused as a whole (400) is outside the document.
    for (const body of [{ messages: 'x' }, [{ notificationId: 'a', userId: 'b' }], { messages: [] }, { messages: Array(51).fill({ notificationId: 'a', userId: 'b' }) }]) {
      expect(requestErrors('POST', '/messages.send', body), JSON.stringify(body).slice(0, 80)).not.toBeNull();
    }
    expect(requestErrors('POST', '/users.upsert', { users: Array(101).fill({ id: 'x' }) })).not.toBeNull();
    // The answer: one result per message, ok or not.
    expect(responseErrors('POST', '/messages.send', 200, { results: [{ id: 'm', ok: true }, { id: null, ok: false, error: 'invalid/userId: is required' }] })).toBeNull();
    expect(responseErrors('POST', '/messages.send', 200, { results: [{ id: null, ok: false }] })).not.toBeNull();
  });

  it("department notify: myKaarma's example verbatim, on both paths", () => {
    expect(requestErrors('POST', DEPARTMENT, DEPARTMENT_NOTIFY_DOC_BODY)).toBeNull();
    expect(requestErrors('POST', `/communications${DEPARTMENT}`, DEPARTMENT_NOTIFY_DOC_BODY)).toBeNull();
    expect(requestErrors('POST', DEPARTMENT, { messageAttributes: { body: 'x', futureField: true }, somethingElse: {} })).toBeNull();
    expect(requestErrors('POST', DEPARTMENT, { messageAttributes: { body: 5 } })).not.toBeNull();
  });

  it('Neucron: bare, wrapped in subs, FCM-style and Go-style bodies', () => {
    for (const body of [NEUCRON_FCM_BODY, NEUCRON_GO_BODY, { subs: { user_ids: ['a'], title: 't', body: 'b' } }, { message: { notification: { title: 't', body: 'b' } } }]) {
      expect(requestErrors('POST', '/notif/send', body), JSON.stringify(body)).toBeNull();
    }
    expect(requestErrors('POST', '/notif/whatsappSend', { subs: { to: ['+14155550100'], message: 'hi' } })).toBeNull();
    expect(requestErrors('POST', '/notif/whatsappSendTemplate', { to: '+14155550100', template: { name: 'x', language: { code: 'en' }, components: [] } })).toBeNull();
    expect(requestErrors('POST', '/notif/send', ['not', 'an', 'object'])).not.toBeNull();
    expect(responseErrors('POST', '/notif/send', 400, { error: 'x', message: 'x', status_code: 400 })).toBeNull();
  });

  it('NP6: content is an open object with a type tag (any variant, unknown members kept)', () => {
    const content = ajv.compile({ $ref: 'openapi.json#/components/schemas/Np6Content' });
    for (const value of [{ type: 'push-app', title: 'T', body: 'B', icon: 'i', thumbnail: 't', image: 'im' }, { type: 'default' }, { type: 'text', extra: { nested: true } }, { type: 'localized', locales: { fr: { title: 'x' } } }, {}]) {
      expect(content(value), JSON.stringify(value)).toBe(true);
    }
    expect(content({ type: 3 })).toBe(false);
    expect(content('push-app')).toBe(false);
  });
});
