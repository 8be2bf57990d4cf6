import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../src/db/client.ts';
import { userHash } from '../src/modules/projects/credentials.ts';
import { MAX_RETRY_AFTER_MS, retryAfterMs } from '../src/delivery/providers/types.ts';
import { graphql } from '../src/generated/gql/index.ts';
import { bearer, gql, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor } from './helpers/http-server.ts';

/**
 * Chat channels against local servers that speak each API: Slack's Web API (chat.postMessage,
 * Bearer token, HTTP 200 { ok: false, error } failures, 429 + Retry-After) and its Incoming
 * Webhooks, Teams Workflows / connector webhooks (Adaptive Card payload, 202, 429 + Retry-After,
 * a connector's relayed error), Discord webhooks (?wait=true, embeds, 429 + retry_after).
 */

const CreateNotification = graphql(`
  mutation ChatCreateNotification($input: NotificationInput!) {
    createNotification(input: $input) {
      id
    }
  }
`);
const Configure = graphql(`
  mutation ChatConfigure($input: ProviderInput!) {
    configureProvider(input: $input) {
      id
      kind
      hasSecrets
    }
  }
`);
const Upsert = graphql(`
  mutation ChatUpsert($users: [UserInput!]!, $mode: UpsertMode!) {
    upsertUsers(users: $users, mode: $mode) {
      ok
      user {
        externalId
        chat {
          slack
          msTeams
          discord
        }
      }
      error {
        message
        issues {
          field
          message
        }
      }
    }
  }
`);
const Render = graphql(`
  query ChatRender($id: Int!, $data: JSONObject) {
    renderNotification(id: $id, data: $data) {
      render {
        title
        chat {
          text
          blocks
        }
      }
    }
    notification(id: $id) {
      masterVersion {
        contents {
          locale
          chat {
            text
            blocks
          }
        }
      }
    }
  }
`);
const Viewer = graphql(`
  query ChatViewer {
    viewer {
      externalId
      chat {
        slack
      }
    }
  }
`);
const Send = graphql(`
  mutation ChatSend($messages: [SendMessageInput!]!) {
    sendMessages(messages: $messages) {
      ok
      error
      messages {
        id
        channel
        status
      }
    }
  }
`);
const GetMessage = graphql(`
  query ChatMessage($id: ID!) {
    message(id: $id) {
      id
      channel
      status
      attempts
      lastError
      provider
      providerMessageId
      events {
        status
      }
    }
  }
`);

/** A request as a chat API stand-in saw it, with when it arrived. */
interface Seen {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: Record<string, unknown>;
  at: number;
}
type Answer = { status: number; headers?: Record<string, string>; body?: unknown };

/** A local HTTP server answering what the test scripts (headers included: Retry-After). */
async function startApi(answer: (req: Seen) => Answer) {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(body) as Record<string, unknown>;
      } catch {
        // not JSON: the assertions on `json` fail
      }
      const entry = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, json, at: Date.now() };
      seen.push(entry);
      const a = answer(entry);
      const text = a.body === undefined ? '' : typeof a.body === 'string' ? a.body : JSON.stringify(a.body);
      res.writeHead(a.status, { 'content-type': typeof a.body === 'string' ? 'text/plain' : 'application/json', ...a.headers });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let h: TestHerald;
let auth: Record<string, string>;
let slack: Awaited<ReturnType<typeof startApi>>;
let teams: Awaited<ReturnType<typeof startApi>>;
let discord: Awaited<ReturnType<typeof startApi>>;
/** Scripted answers, first come first served; the default is each API's success. */
const script: { slack: Answer[]; teams: Answer[]; discord: Answer[] } = { slack: [], teams: [], discord: [] };
/** Notification ids by key. */
const ids: Record<string, number> = {};
let ts = 0;

const TOKEN = 'xoxb-1111-2222-chattest';

beforeAll(async () => {
  [h, slack, teams, discord] = await Promise.all([
    // Backoff 50 ms: a retry that waits a second waited for the provider, not for the backoff.
    startTestHerald({ env: { DELIVERY_BACKOFF_MS: '50', DELIVERY_MAX_ATTEMPTS: '3' } }),
    startApi((req) => script.slack.shift() ?? (req.path.startsWith('/services/') ? { status: 200, body: 'ok' } : { status: 200, body: { ok: true, channel: req.json.channel, ts: `1700000000.${String(++ts).padStart(6, '0')}` } })),
    startApi(() => script.teams.shift() ?? { status: 202 }),
    startApi(() => script.discord.shift() ?? { status: 200, body: { id: `12345678901234${String(++ts).padStart(4, '0')}`, type: 0, content: '' } }),
  ]);
  auth = bearer(h.project.apiKey);
  const configure = async (input: Record<string, unknown>) => {
    const res = await gql(h.url, Configure, { input: input as never }, auth);
    expect(res.errors).toBeUndefined();
  };
  await configure({ channel: 'SLACK', kind: 'slack', name: 'slack-bot', settings: { baseUrl: `${slack.url}/api`, defaultChannel: 'C0DEFAULT', username: 'Herald' }, secrets: { botToken: TOKEN } });
  await configure({ channel: 'MS_TEAMS', kind: 'ms-teams', name: 'teams', secrets: { webhookUrl: `${teams.url}/workflows/default?sig=s3cret` } });
  await configure({ channel: 'DISCORD', kind: 'discord', name: 'discord', settings: { username: 'Herald' } });
  await notification('chat-default', ['SLACK', 'MS_TEAMS', 'DISCORD'], {
    title: 'Hello {{ user.firstName }}',
    body: 'Order <{{ order }}> & more',
    image: 'https://img.test/{{ order }}.png',
  });
  await notification('chat-blocks', ['SLACK', 'MS_TEAMS', 'DISCORD'], {
    title: 'unused',
    chat: {
      text: 'Deploy {{ version }} of {{ service }}',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: '{{ service }} {{ version }}' } },
        { type: 'section', text: { type: 'mrkdwn', text: '*{{ service }}* is live, see <https://ci.test/{{ version }}|the build>' }, fields: [{ type: 'mrkdwn', text: '*Env*\nprod' }] },
        { type: 'divider' },
        { type: 'context', elements: [{ type: 'mrkdwn', text: 'by {{ user.firstName }}' }] },
        { type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Roll back' }, url: 'https://ci.test/{{ version }}/rollback' }] },
      ],
    },
  });
  await notification('chat-text', ['SLACK', 'DISCORD'], { chat: { text: 'Just *text* ~here~ {{ n }}' } });
}, 30_000);
afterAll(async () => {
  await Promise.all([h?.stop(), slack?.close(), teams?.close(), discord?.close()]);
});

async function notification(key: string, channels: string[], content: Record<string, unknown>) {
  const res = await gql(
    h.url,
    CreateNotification,
    { input: { key, type: 'slack', channels: channels as never, name: key, versions: [{ contents: [{ locale: 'en', ...content }], redirection: { type: 'url', value: 'https://app.test/orders' } }] } },
    auth,
  );
  expect(res.errors).toBeUndefined();
  ids[key] = res.data!.createNotification.id;
}

async function upsert(users: Record<string, unknown>[], mode: 'FILL_MISSING' | 'OVERWRITE' = 'OVERWRITE') {
  const res = await gql(h.url, Upsert, { users: users as never, mode }, auth);
  return res;
}

const message = async (id: string) => (await gql(h.url, GetMessage, { id }, auth)).data!.message;
const settled = (id: string, status: string) => pollFor(async () => ((await message(id)).status === status ? message(id) : null), 10_000, `${status} of ${id}`);

/** Sends a notification to a user; answers the message ids by channel. */
async function send(notificationId: string, userId: string, data: Record<string, unknown> = {}) {
  const res = await gql(h.url, Send, { messages: [{ notificationId, userId, data }] }, auth);
  expect(res.errors).toBeUndefined();
  const result = res.data!.sendMessages[0]!;
  expect(result.ok).toBe(true);
  return Object.fromEntries(result.messages.map((m) => [m.channel, m.id])) as Record<string, string>;
}

const after = <T>(list: T[], start: number) => list.slice(start);

/**
 * How long after the provider's 429 answer the retry was scheduled for (the row keeps the
 * retry's scheduledAt). The backoff here is 50 ms: a value at or above the provider's delay was
 * set by it, whatever the machine's load did to the second request's arrival.
 */
async function scheduledAfter(messageId: string, first: Seen): Promise<number> {
  const row = await prisma().message.findUniqueOrThrow({ where: { id: messageId }, select: { scheduledAt: true } });
  return row.scheduledAt!.getTime() - first.at;
}

describe('user chat addresses', () => {
  it('stores validated addresses; OVERWRITE with null removes one, FILL_MISSING keeps what is stored', async () => {
    const first = await upsert([{ externalId: 'addr-1', chat: { slack: 'U0ADA1234', msTeams: 'https://example.webhook.office.com/webhookb2/x', discord: 'https://discord.com/api/webhooks/1/tok' } }]);
    expect(first.errors).toBeUndefined();
    expect(first.data!.upsertUsers[0]!.user!.chat).toEqual({ slack: 'U0ADA1234', msTeams: 'https://example.webhook.office.com/webhookb2/x', discord: 'https://discord.com/api/webhooks/1/tok' });
    const kept = await upsert([{ externalId: 'addr-1', chat: { slack: 'C0OTHER', discord: null } }], 'FILL_MISSING');
    expect(kept.data!.upsertUsers[0]!.user!.chat).toEqual({ slack: 'U0ADA1234', msTeams: 'https://example.webhook.office.com/webhookb2/x', discord: 'https://discord.com/api/webhooks/1/tok' });
    const cleared = await upsert([{ externalId: 'addr-1', chat: { slack: '#alerts', discord: null } }], 'OVERWRITE');
    expect(cleared.data!.upsertUsers[0]!.user!.chat).toEqual({ slack: '#alerts', msTeams: 'https://example.webhook.office.com/webhookb2/x', discord: null });
    // Repeated items of one user in one batch fold like separate calls.
    const batch = await upsert([{ externalId: 'addr-2', chat: { slack: 'C0FIRST' } }, { externalId: 'addr-2', chat: { slack: null, discord: 'https://discord.com/api/webhooks/2/t' } }]);
    expect(batch.data!.upsertUsers.map((r) => r.user!.chat)).toEqual([
      { slack: 'C0FIRST', msTeams: null, discord: null },
      { slack: null, msTeams: null, discord: 'https://discord.com/api/webhooks/2/t' },
    ]);
  });

  it('keeps the addresses (webhook URLs hold tokens) from the widget’s viewer: FORBIDDEN', async () => {
    const widget = { 'x-herald-project': h.project.projectId, 'x-herald-user': 'addr-1', 'x-herald-user-hash': userHash(h.project.widgetSecret, 'addr-1') };
    const res = await gql(h.url, Viewer, {}, widget);
    expect(res.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(JSON.stringify(res.data ?? null)).not.toContain('alerts');
  });

  it('refuses malformed addresses item by item, naming the field, and writes none of them', async () => {
    const res = await upsert([
      { externalId: 'bad-1', chat: { slack: 'general' } },
      { externalId: 'bad-2', chat: { msTeams: 'ftp://teams.test/hook' } },
      { externalId: 'bad-3', chat: { discord: 'https://user:pw@discord.com/api/webhooks/1/t' } },
      { externalId: 'bad-4', chat: { slack: 'x'.repeat(3000) } },
      { externalId: 'good-1', chat: { slack: 'https://hooks.slack.com/services/T0/B0/abc' } },
    ]);
    expect(res.errors).toBeUndefined();
    const results = res.data!.upsertUsers;
    expect(results.map((r) => r.ok)).toEqual([false, false, false, false, true]);
    expect(results.slice(0, 4).map((r) => r.error!.issues.map((i) => i.field))).toEqual([['chat.slack'], ['chat.msTeams'], ['chat.discord'], ['chat.slack']]);
    expect(results[0]!.error!.issues[0]!.message).toMatch(/Slack channel or user id/);
    expect(results[2]!.error!.issues[0]!.message).toMatch(/credentials/);
  });

  it('refuses addresses of the wrong type and unknown chat keys with BAD_USER_INPUT', async () => {
    for (const chat of [{ slack: 42 }, { slack: ['C0ABC'] }, { telegram: '@me' }, 'C0ABC']) {
      const res = await upsert([{ externalId: 'typed', chat }]);
      expect(res.errors?.[0]?.extensions?.code, JSON.stringify(chat)).toBe('BAD_USER_INPUT');
      expect(res.data ?? null).toBeNull();
    }
  });
});

describe('provider configuration', () => {
  it('refuses bad settings and secrets with BAD_USER_INPUT and the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ channel: 'SLACK', kind: 'slack', name: 's', settings: {}, secrets: {} }, 'input.secrets.botToken'],
      [{ channel: 'SLACK', kind: 'slack', name: 's', settings: { defaultChannel: 'general' }, secrets: { botToken: TOKEN } }, 'input.settings.defaultChannel'],
      [{ channel: 'SLACK', kind: 'slack', name: 's', secrets: { botToken: 'not-a-token' } }, 'input.secrets.botToken'],
      [{ channel: 'MS_TEAMS', kind: 'ms-teams', name: 't', secrets: { webhookUrl: 'teams' } }, 'input.secrets.webhookUrl'],
      [{ channel: 'DISCORD', kind: 'discord', name: 'd', settings: { channel: 'x' } }, 'input.settings.channel'],
      [{ channel: 'DISCORD', kind: 'slack', name: 'd', secrets: { botToken: TOKEN } }, 'input.kind'],
    ];
    for (const [input, field] of cases) {
      const res = await gql(h.url, Configure, { input: input as never }, auth);
      expect(res.errors?.[0]?.extensions?.code, field).toBe('BAD_USER_INPUT');
      expect((res.errors?.[0]?.extensions?.issues as { field: string }[]).map((i) => i.field), field).toContain(field);
    }
  });

  it('stores the chat part as written and renders each of its strings (renderNotification); none without one', async () => {
    const res = await gql(h.url, Render, { id: ids['chat-blocks']!, data: { service: 'web', version: 'v9' } }, auth);
    expect(res.errors).toBeUndefined();
    const { render } = res.data!.renderNotification;
    expect(render.chat!.text).toBe('Deploy v9 of web');
    expect(render.chat!.blocks![0]).toEqual({ type: 'header', text: { type: 'plain_text', text: 'web v9' } });
    expect(render.chat!.blocks![4]).toEqual({ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Roll back' }, url: 'https://ci.test/v9/rollback' }] });
    const stored = res.data!.notification.masterVersion!.contents[0]!.chat!;
    expect(stored.text).toBe('Deploy {{ version }} of {{ service }}');
    expect(stored.blocks![3]).toEqual({ type: 'context', elements: [{ type: 'mrkdwn', text: 'by {{ user.firstName }}' }] });
    const plain = await gql(h.url, Render, { id: ids['chat-default']!, data: { order: 1 } }, auth);
    expect(plain.data!.renderNotification.render.chat).toBeNull();
    expect(plain.data!.notification.masterVersion!.contents[0]!.chat).toBeNull();
  });

  it('refuses chat content that is not Block Kit or does not parse as Liquid', async () => {
    const cases: [unknown, RegExp][] = [
      // Not an object: refused by the JSONObject scalar itself.
      [{ blocks: ['section'] }, /contents\[0\]\.chat\.blocks\[0\]/],
      [{ blocks: [{ text: 'no type' }] }, /contents\.0\.chat\.blocks\.0\.type/],
      [{ blocks: Array.from({ length: 51 }, () => ({ type: 'divider' })) }, /contents\.0\.chat\.blocks/],
      [{ blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '{% if %}' } }] }, /chat\.blocks\.0\.text\.text/],
      [{ text: 42 }, /chat/],
    ];
    for (const [chat, field] of cases) {
      const res = await gql(h.url, CreateNotification, { input: { key: `bad-${Math.random()}`, type: 'slack', name: 'bad', versions: [{ contents: [{ locale: 'en', title: 't', chat: chat as never }] }] } }, auth);
      expect(res.errors?.[0]?.extensions?.code, JSON.stringify(chat).slice(0, 80)).toBe('BAD_USER_INPUT');
      expect(JSON.stringify(res.errors?.[0]?.extensions ?? res.errors), JSON.stringify(chat).slice(0, 80)).toMatch(field);
    }
  });
});

describe('slack provider', () => {
  it('posts chat.postMessage with the bot token to the user’s channel, with Block Kit built from title, body, image and redirection', async () => {
    await upsert([{ externalId: 'ada', firstName: 'Ada', chat: { slack: 'U0ADA1234', msTeams: `${teams.url}/workflows/ada`, discord: `${discord.url}/api/webhooks/42/ada-token` } }]);
    const start = { slack: slack.seen.length, teams: teams.seen.length, discord: discord.seen.length };
    const ids = await send('chat-default', 'ada', { order: 42 });
    const sent = await Promise.all([settled(ids.SLACK!, 'SENT'), settled(ids.MS_TEAMS!, 'SENT'), settled(ids.DISCORD!, 'SENT')]);

    const [call] = after(slack.seen, start.slack);
    expect(call).toMatchObject({ method: 'POST', path: '/api/chat.postMessage' });
    expect(call!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(call!.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(call!.json).toEqual({
      channel: 'U0ADA1234',
      text: '*Hello Ada*\nOrder &lt;42&gt; &amp; more',
      username: 'Herald',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: 'Hello Ada', emoji: true } },
        { type: 'section', text: { type: 'mrkdwn', text: 'Order &lt;42&gt; &amp; more' } },
        { type: 'image', image_url: 'https://img.test/42.png', alt_text: 'Hello Ada' },
        { type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open', emoji: true }, url: 'https://app.test/orders', action_id: 'herald_open' }] },
      ],
    });
    expect(sent[0]).toMatchObject({ provider: 'slack-bot', attempts: 1, providerMessageId: expect.stringMatching(/^1700000000\.\d{6}$/) });

    // The same content as an Adaptive Card: the user's own Workflows URL, not the project's.
    const [card] = after(teams.seen, start.teams);
    expect(card).toMatchObject({ method: 'POST', path: '/workflows/ada' });
    expect(card!.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(card!.json).toEqual({
      type: 'message',
      attachments: [
        {
          contentType: 'application/vnd.microsoft.card.adaptive',
          contentUrl: null,
          content: {
            $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
            type: 'AdaptiveCard',
            version: '1.4',
            body: [
              { type: 'TextBlock', text: 'Hello Ada', wrap: true, size: 'Large', weight: 'Bolder' },
              { type: 'TextBlock', text: 'Order <42> & more', wrap: true },
              { type: 'Image', url: 'https://img.test/42.png', altText: 'Hello Ada', size: 'Stretch' },
            ],
            actions: [{ type: 'Action.OpenUrl', title: 'Open', url: 'https://app.test/orders' }],
            msteams: { width: 'Full' },
          },
        },
      ],
    });
    expect(sent[1]).toMatchObject({ provider: 'teams', attempts: 1 });

    // And as a Discord embed, ?wait=true so the message id comes back.
    const [post] = after(discord.seen, start.discord);
    expect(post).toMatchObject({ method: 'POST', path: '/api/webhooks/42/ada-token?wait=true' });
    expect(post!.json).toEqual({
      embeds: [{ title: 'Hello Ada', description: 'Order <42> & more', image: { url: 'https://img.test/42.png' }, url: 'https://app.test/orders' }],
      username: 'Herald',
      allowed_mentions: { parse: [] },
    });
    expect(sent[2]).toMatchObject({ provider: 'discord', attempts: 1, providerMessageId: expect.stringMatching(/^\d{18}$/) });
  });

  it('uses the project default channel (Slack) and webhook (Teams) for a user without an address; Discord without either fails', async () => {
    await upsert([{ externalId: 'nobody', firstName: 'No' }]);
    const start = { slack: slack.seen.length, teams: teams.seen.length, discord: discord.seen.length };
    const ids = await send('chat-default', 'nobody', { order: 7 });
    await Promise.all([settled(ids.SLACK!, 'SENT'), settled(ids.MS_TEAMS!, 'SENT')]);
    const failed = await settled(ids.DISCORD!, 'FAILED');
    expect(after(slack.seen, start.slack).map((c) => c.json.channel)).toEqual(['C0DEFAULT']);
    expect(after(teams.seen, start.teams).map((c) => c.path)).toEqual(['/workflows/default?sig=s3cret']);
    expect(after(discord.seen, start.discord)).toHaveLength(0);
    expect(failed).toMatchObject({ attempts: 1, lastError: expect.stringMatching(/discord: no address/) });
  });

  it('sends the version’s own text and Liquid-rendered blocks as written', async () => {
    await upsert([{ externalId: 'grace', firstName: 'Grace', chat: { slack: 'C0DEPLOYS', msTeams: `${teams.url}/workflows/grace`, discord: `${discord.url}/api/webhooks/7/grace` } }]);
    const start = { slack: slack.seen.length, teams: teams.seen.length, discord: discord.seen.length };
    const ids = await send('chat-blocks', 'grace', { service: 'api', version: 'v2.1' });
    await Promise.all([settled(ids.SLACK!, 'SENT'), settled(ids.MS_TEAMS!, 'SENT'), settled(ids.DISCORD!, 'SENT')]);
    expect(after(slack.seen, start.slack)[0]!.json).toEqual({
      channel: 'C0DEPLOYS',
      text: 'Deploy v2.1 of api',
      username: 'Herald',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: 'api v2.1' } },
        { type: 'section', text: { type: 'mrkdwn', text: '*api* is live, see <https://ci.test/v2.1|the build>' }, fields: [{ type: 'mrkdwn', text: '*Env*\nprod' }] },
        { type: 'divider' },
        { type: 'context', elements: [{ type: 'mrkdwn', text: 'by Grace' }] },
        { type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Roll back' }, url: 'https://ci.test/v2.1/rollback' }] },
      ],
    });
    const card = (after(teams.seen, start.teams)[0]!.json.attachments as { content: { body: unknown[]; actions: unknown[] } }[])[0]!.content;
    expect(card.body).toEqual([
      { type: 'TextBlock', text: 'api v2.1', wrap: true, size: 'Large', weight: 'Bolder' },
      { type: 'TextBlock', text: '**api** is live, see [the build](https://ci.test/v2.1)', wrap: true },
      { type: 'TextBlock', text: '**Env**\nprod', wrap: true },
      { type: 'TextBlock', text: ' ', separator: true },
      { type: 'TextBlock', text: 'by Grace', wrap: true, size: 'Small', isSubtle: true },
    ]);
    expect(card.actions).toEqual([{ type: 'Action.OpenUrl', title: 'Roll back', url: 'https://ci.test/v2.1/rollback' }]);
    expect(after(discord.seen, start.discord)[0]!.json.embeds).toEqual([
      { title: 'api v2.1', url: 'https://ci.test/v2.1/rollback', description: '**api** is live, see [the build](https://ci.test/v2.1)\n**Env**\nprod\n\n───', footer: { text: 'by Grace' } },
    ]);
  });

  it('sends text alone (no blocks) as Slack text and Discord content, converted from mrkdwn', async () => {
    await upsert([{ externalId: 'texter', chat: { discord: `${discord.url}/api/webhooks/9/t?thread_id=55` } }]);
    const start = { slack: slack.seen.length, discord: discord.seen.length };
    const ids = await send('chat-text', 'texter', { n: 3 });
    await Promise.all([settled(ids.SLACK!, 'SENT'), settled(ids.DISCORD!, 'SENT')]);
    expect(after(slack.seen, start.slack)[0]!.json).toEqual({ channel: 'C0DEFAULT', text: 'Just *text* ~here~ 3', username: 'Herald' });
    const post = after(discord.seen, start.discord)[0]!;
    expect(post.path).toBe('/api/webhooks/9/t?thread_id=55&wait=true');
    expect(post.json).toEqual({ content: 'Just **text** ~~here~~ 3', username: 'Herald', allowed_mentions: { parse: [] } });
  });

  it('fails at once on ok:false channel_not_found and invalid_auth (HTTP 200), retries internal_error', async () => {
    await upsert([{ externalId: 'slack-err', chat: { slack: 'C0GONE' } }]);
    script.slack.push({ status: 200, body: { ok: false, error: 'channel_not_found' } });
    const a = await send('chat-text', 'slack-err', { n: 1 });
    expect(await settled(a.SLACK!, 'FAILED')).toMatchObject({ attempts: 1, lastError: 'slack answered channel_not_found' });
    script.slack.push({ status: 200, body: { ok: false, error: 'invalid_auth' } });
    const b = await send('chat-text', 'slack-err', { n: 2 });
    expect(await settled(b.SLACK!, 'FAILED')).toMatchObject({ attempts: 1, lastError: 'slack answered invalid_auth' });
    script.slack.push({ status: 200, body: { ok: false, error: 'internal_error' } });
    const c = await send('chat-text', 'slack-err', { n: 3 });
    expect(await settled(c.SLACK!, 'SENT')).toMatchObject({ attempts: 2 });
  });

  it('waits out a 429 Retry-After before the retry, however short the backoff', async () => {
    await upsert([{ externalId: 'slack-429', chat: { slack: 'C0BUSY' } }]);
    script.slack.push({ status: 429, headers: { 'retry-after': '2' }, body: { ok: false, error: 'ratelimited' } });
    const start = slack.seen.length;
    const ids = await send('chat-text', 'slack-429', { n: 429 });
    const sent = await settled(ids.SLACK!, 'SENT');
    expect(sent).toMatchObject({ attempts: 2 });
    expect(sent.events.map((e) => e.status)).toEqual(['QUEUED', 'SENDING', 'QUEUED', 'SENDING', 'SENT']);
    const calls = after(slack.seen, start);
    expect(calls).toHaveLength(2);
    expect(await scheduledAfter(ids.SLACK!, calls[0]!)).toBeGreaterThanOrEqual(2_000);
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(2_000);
  });

  it('posts to a user’s Incoming Webhook without the token; the webhook’s text errors are permanent', async () => {
    await upsert([{ externalId: 'hooked', chat: { slack: `${slack.url}/services/T0/B0/secret` } }]);
    const start = slack.seen.length;
    const ok = await send('chat-text', 'hooked', { n: 'hook' });
    await settled(ok.SLACK!, 'SENT');
    const [call] = after(slack.seen, start);
    expect(call).toMatchObject({ method: 'POST', path: '/services/T0/B0/secret' });
    expect(call!.headers.authorization).toBeUndefined();
    expect(call!.json).toEqual({ text: 'Just *text* ~here~ hook' });
    script.slack.push({ status: 404, body: 'channel_not_found' });
    const gone = await send('chat-text', 'hooked', { n: 'gone' });
    expect(await settled(gone.SLACK!, 'FAILED')).toMatchObject({ attempts: 1, lastError: 'slack answered 404: channel_not_found' });
  });
});

describe('Retry-After', () => {
  it('reads delay-seconds and HTTP dates, refuses nonsense, and caps long waits', () => {
    const now = Date.parse('2026-12-02T03:00:00Z');
    expect(retryAfterMs('2', now)).toBe(2_000);
    expect(retryAfterMs(' 0.5 ', now)).toBe(500);
    expect(retryAfterMs('Wed, 02 Dec 2026 03:00:30 GMT', now)).toBe(30_000);
    expect(retryAfterMs('Wed, 02 Dec 2026 02:59:00 GMT', now)).toBe(0);
    expect(retryAfterMs('86400', now)).toBe(MAX_RETRY_AFTER_MS);
    for (const bad of [null, undefined, '', 'soon', '-5']) expect(retryAfterMs(bad, now), String(bad)).toBeUndefined();
  });
});

describe('ms-teams provider', () => {
  it('waits out a 429 Retry-After, then posts; a connector’s relayed error is permanent', async () => {
    await upsert([{ externalId: 'teams-429', firstName: 'T', chat: { msTeams: `${teams.url}/workflows/busy` } }]);
    script.teams.push({ status: 429, headers: { 'retry-after': '1' }, body: { error: { code: 'TooManyRequests' } } });
    const start = teams.seen.length;
    const ids = await send('chat-blocks', 'teams-429', { service: 's', version: '1' });
    expect(await settled(ids.MS_TEAMS!, 'SENT')).toMatchObject({ attempts: 2 });
    const calls = after(teams.seen, start);
    expect(calls.map((c) => c.path)).toEqual(['/workflows/busy', '/workflows/busy']);
    expect(await scheduledAfter(ids.MS_TEAMS!, calls[0]!)).toBeGreaterThanOrEqual(1_000);
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(1_000);

    script.teams.push({ status: 200, body: 'Microsoft Teams endpoint returned HTTP error 413 with ContextId tcid=0,server=msgapi' });
    const big = await send('chat-blocks', 'teams-429', { service: 's', version: '2' });
    expect(await settled(big.MS_TEAMS!, 'FAILED')).toMatchObject({ attempts: 1, lastError: expect.stringMatching(/^ms-teams answered 413/) });
    script.teams.push({ status: 400, body: { error: { code: 'InvalidRequestContent', message: 'The input body for trigger is not valid' } } });
    const bad = await send('chat-blocks', 'teams-429', { service: 's', version: '3' });
    expect(await settled(bad.MS_TEAMS!, 'FAILED')).toMatchObject({ attempts: 1, lastError: expect.stringMatching(/^ms-teams answered 400/) });
  });
});

describe('discord provider', () => {
  it('waits out retry_after from the 429 body, then posts; Unknown Webhook is permanent', async () => {
    await upsert([{ externalId: 'discord-429', chat: { discord: `${discord.url}/api/webhooks/5/busy` } }]);
    // retry_after (seconds, with decimals) is the precise value and wins over the header.
    script.discord.push({ status: 429, headers: { 'retry-after': '6' }, body: { message: 'You are being rate limited.', retry_after: 1.2, global: false } });
    const start = discord.seen.length;
    const ids = await send('chat-text', 'discord-429', { n: 'busy' });
    expect(await settled(ids.DISCORD!, 'SENT')).toMatchObject({ attempts: 2 });
    const calls = after(discord.seen, start);
    expect(calls).toHaveLength(2);
    const scheduled = await scheduledAfter(ids.DISCORD!, calls[0]!);
    expect(scheduled).toBeGreaterThanOrEqual(1_200);
    expect(scheduled).toBeLessThan(6_000);
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(1_200);

    script.discord.push({ status: 404, body: { message: 'Unknown Webhook', code: 10015 } });
    const gone = await send('chat-text', 'discord-429', { n: 'gone' });
    expect(await settled(gone.DISCORD!, 'FAILED')).toMatchObject({ attempts: 1, lastError: 'discord answered 404: 10015 Unknown Webhook' });
  });
});
