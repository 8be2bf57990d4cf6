import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../src/generated/gql/index.ts';
import { verify } from '../src/delivery/signing.ts';
import { userHash } from '../src/modules/projects/credentials.ts';
import { bearer, gql, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor, startHttpServer } from './helpers/http-server.ts';

const Settings = graphql(`
  query ProjSettings {
    project {
      id
      name
      unicityField
      stackTimeoutSeconds
      statusWebhookUrl
      signingSecret
    }
  }
`);
const Update = graphql(`
  mutation ProjUpdate($input: ProjectSettingsInput!) {
    updateProject(input: $input) {
      name
      unicityField
      stackTimeoutSeconds
      statusWebhookUrl
    }
  }
`);
const Rotate = graphql(`
  mutation ProjRotate($secret: ProjectSecret!) {
    rotateProjectSecret(secret: $secret)
  }
`);
const CreateNotification = graphql(`
  mutation ProjCreateNotification($input: NotificationInput!) {
    createNotification(input: $input) {
      id
    }
  }
`);
const Viewer = graphql(`
  query ProjViewer {
    viewer {
      externalId
    }
  }
`);

let h: TestHerald;
let auth: Record<string, string>;
let hook: Awaited<ReturnType<typeof startHttpServer>>;

beforeAll(async () => {
  h = await startTestHerald({ env: { DELIVERY_BACKOFF_MS: '50' } });
  auth = bearer(h.project.apiKey);
  hook = await startHttpServer(() => ({ status: 200 }));
});
afterAll(async () => {
  await h?.stop();
  await hook?.close();
});

describe('project settings', () => {
  it('reads and updates the settings; absent fields keep their value and null clears the webhook', async () => {
    const before = (await gql(h.url, Settings, {}, auth)).data!.project;
    expect(before).toMatchObject({ unicityField: 'email', stackTimeoutSeconds: 600, statusWebhookUrl: null });
    expect(before.signingSecret).toMatch(/^[0-9a-f]{64}$/);

    const set = await gql(h.url, Update, { input: { stackTimeoutSeconds: 60, statusWebhookUrl: 'https://hooks.example/herald' } }, auth);
    expect(set.errors).toBeUndefined();
    expect(set.data!.updateProject).toEqual({ name: before.name, unicityField: 'email', stackTimeoutSeconds: 60, statusWebhookUrl: 'https://hooks.example/herald' });

    const cleared = await gql(h.url, Update, { input: { statusWebhookUrl: null, unicityField: 'telephone' } }, auth);
    expect(cleared.data!.updateProject).toMatchObject({ stackTimeoutSeconds: 60, statusWebhookUrl: null, unicityField: 'telephone' });
    await gql(h.url, Update, { input: { unicityField: 'email', stackTimeoutSeconds: 600 } }, auth);
  });

  it('refuses bad values naming the field, and writes nothing', async () => {
    const url = await gql(h.url, Update, { input: { name: 'Renamed', statusWebhookUrl: 'ftp://files.example/x' } }, auth);
    expect(url.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ field: 'input.statusWebhookUrl', message: 'must be an http(s) URL' }] });
    const timeout = await gql(h.url, Update, { input: { name: 'Renamed', stackTimeoutSeconds: -1 } }, auth);
    expect(timeout.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ field: 'input.stackTimeoutSeconds' }] });
    const bad = await gql(h.url, Update, { input: { unicityField: 'nickname' } }, auth);
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await gql(h.url, Settings, {}, auth)).data!.project).toMatchObject({ name: 'Test project', unicityField: 'email' });
  });

  it('needs an API key: end users and anonymous callers cannot read or change them', async () => {
    const anonymous = await gql(h.url, Settings, {}, {});
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const endUser = {
      'x-herald-project': h.project.projectId,
      'x-herald-user': 'someone',
      'x-herald-user-hash': userHash(h.project.widgetSecret, 'someone'),
    };
    const res = await gql(h.url, Update, { input: { name: 'Hijacked' } }, endUser);
    expect(res.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it("keeps projects apart: one project's settings do not change another's", async () => {
    const other = await h.newProject();
    await gql(h.url, Update, { input: { stackTimeoutSeconds: 5 } }, bearer(other.apiKey));
    expect((await gql(h.url, Settings, {}, auth)).data!.project.stackTimeoutSeconds).toBe(600);
    expect((await gql(h.url, Settings, {}, bearer(other.apiKey))).data!.project.stackTimeoutSeconds).toBe(5);
  });
});

describe('status webhook and secrets', () => {
  it('POSTs the outcome of each message to the status webhook, signed with the signing secret', async () => {
    await gql(h.url, Update, { input: { statusWebhookUrl: hook.url } }, auth);
    const created = await gql(
      h.url,
      CreateNotification,
      { input: { key: 'status-hook', type: 'in-app', name: 'Hook', versions: [{ contents: [{ locale: 'en', title: 'Hi', body: 'there' }] }] } },
      auth,
    );
    expect(created.errors).toBeUndefined();
    const sent = await rest(h.url, 'POST', '/messages.send', { messages: [{ notificationId: 'status-hook', userId: 'hooked' }] }, auth);
    expect(sent.status).toBe(200);
    const { signingSecret } = (await gql(h.url, Settings, {}, auth)).data!.project;
    await pollFor(() => hook.received.length > 0, 10_000, 'the outcome on the webhook');
    // Outcomes only (not every intermediate status), once per message.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(hook.received.map((r) => (JSON.parse(r.body) as { status: string }).status)).toEqual(['DELIVERED']);
    for (const request of hook.received) {
      expect(verify(signingSecret, request.body, request.headers['x-herald-signature'] as string)).toBe(true);
      expect(verify('another secret', request.body, request.headers['x-herald-signature'] as string)).toBe(false);
      expect(JSON.parse(request.body)).toMatchObject({ projectId: h.project.projectId, channel: 'IN_APP', at: expect.any(String) });
    }
    await gql(h.url, Update, { input: { statusWebhookUrl: null } }, auth);
  });

  it('rotates the widget secret: the old userHash stops working at once, the new one works', async () => {
    const headers = (secret: string) => ({
      'x-herald-project': h.project.projectId,
      'x-herald-user': 'hooked',
      'x-herald-user-hash': userHash(secret, 'hooked'),
    });
    expect((await gql(h.url, Viewer, {}, headers(h.project.widgetSecret))).data?.viewer.externalId).toBe('hooked');
    const rotated = await gql(h.url, Rotate, { secret: 'WIDGET' }, auth);
    const fresh = rotated.data!.rotateProjectSecret;
    expect(fresh).toMatch(/^[0-9a-f]{64}$/);
    expect(fresh).not.toBe(h.project.widgetSecret);
    const old = await gql(h.url, Viewer, {}, headers(h.project.widgetSecret));
    expect(old.status).toBe(401);
    expect(old.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await gql(h.url, Viewer, {}, headers(fresh))).data?.viewer.externalId).toBe('hooked');
  });

  it('rotates the signing secret: the project answers the new one', async () => {
    const before = (await gql(h.url, Settings, {}, auth)).data!.project.signingSecret;
    const fresh = (await gql(h.url, Rotate, { secret: 'SIGNING' }, auth)).data!.rotateProjectSecret;
    expect(fresh).not.toBe(before);
    expect((await gql(h.url, Settings, {}, auth)).data!.project.signingSecret).toBe(fresh);
  });
});
