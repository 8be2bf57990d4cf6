import { createHash } from 'node:crypto';
import { JWT } from 'google-auth-library';
import { z } from 'zod';
import { baseUrl, callProvider, PROVIDER_TIMEOUT_MS, stringSetting } from './http.ts';
import { badgeFor, collapseIdOf, deviceOf, pruneDevice, secondsToLive, serviceOf, stringData } from './mobile-push.ts';
import { OutboundRefusedError, sendOutbound } from './outbound.ts';
import { httpError, httpUrl, networkError, ProviderError, requiredText, type ChannelProvider } from './types.ts';

/** Where google-auth-library posts the JWT-bearer grant (its gtoken has this address built in). */
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';

/** A service-account key file as the Google Cloud console downloads it (the members FCM needs). */
const serviceAccountSchema = z
  .object({
    type: z.literal('service_account', { error: 'must be "service_account"' }).optional(),
    project_id: requiredText().optional(),
    private_key_id: requiredText().optional(),
    private_key: z.string().trim().regex(/^-----BEGIN (RSA )?PRIVATE KEY-----[\s\S]+-----END (RSA )?PRIVATE KEY-----$/, 'must be the PEM private key of the key file'),
    client_email: z.email({ error: 'must be the service account email' }),
    token_uri: httpUrl().optional(),
  })
  .passthrough();
type ServiceAccount = z.output<typeof serviceAccountSchema>;

/** The key file as JSON text or as an object: both are what operators have at hand. */
const serviceAccountSecret = z.preprocess((value, ctx) => {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be the service account key file (JSON)' });
    return z.NEVER;
  }
}, serviceAccountSchema);

/**
 * A fetch for google-auth-library's token request, under the outbound address policy like every
 * other provider call, sent to the key file's token_uri (google's by default; a private
 * endpoint, or the tests' local one, otherwise).
 */
function tokenFetch(tokenUri: string): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const requested = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const target = requested === GOOGLE_TOKEN_URL ? tokenUri : requested;
    const body = init?.body;
    const text = body == null ? null : typeof body === 'string' ? body : body instanceof URLSearchParams ? body.toString() : null;
    if (body != null && text === null) throw new Error('fcm: unexpected token request body');
    const headers = new Headers(init?.headers);
    // fetch derives it from a URLSearchParams body; the body goes as text here, so say it.
    if (body instanceof URLSearchParams && !headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded;charset=UTF-8');
    const answer = await sendOutbound(target, {
      method: init?.method ?? 'GET',
      headers: Object.fromEntries(headers.entries()),
      body: text,
      timeoutMs: PROVIDER_TIMEOUT_MS,
    });
    return new Response(answer.text, { status: answer.status, headers: answer.headers });
  }) as typeof fetch;
}

/**
 * One OAuth2 client per service account (and token endpoint): google-auth-library caches the
 * access token in it and gets a new one before it expires, so a token is requested about
 * once an hour, not per push.
 */
const clients = new Map<string, JWT>();
const MAX_CLIENTS = 200;

function clientFor(account: ServiceAccount): JWT {
  const tokenUri = account.token_uri ?? GOOGLE_TOKEN_URL;
  const key = createHash('sha256').update(JSON.stringify([account.client_email, account.private_key, tokenUri])).digest('hex');
  let client = clients.get(key);
  if (!client) {
    client = new JWT({
      email: account.client_email,
      key: account.private_key,
      keyId: account.private_key_id,
      scopes: [FCM_SCOPE],
      // A token with less than a minute left is replaced before use (a push takes far less).
      eagerRefreshThresholdMillis: 60_000,
      transporterOptions: { fetchImplementation: tokenFetch(tokenUri), retry: false, timeout: PROVIDER_TIMEOUT_MS },
    });
    if (clients.size >= MAX_CLIENTS) clients.delete(clients.keys().next().value!);
    clients.set(key, client);
  }
  return client;
}

/** Forgets a service account's token (FCM refused it): the next attempt gets a fresh one. */
function forget(account: ServiceAccount): void {
  const tokenUri = account.token_uri ?? GOOGLE_TOKEN_URL;
  clients.delete(createHash('sha256').update(JSON.stringify([account.client_email, account.private_key, tokenUri])).digest('hex'));
}

async function accessToken(account: ServiceAccount): Promise<string> {
  try {
    const { token } = await clientFor(account).getAccessToken();
    if (!token) throw new ProviderError('fcm: the token endpoint answered no access_token', false);
    return token;
  } catch (error) {
    if (error instanceof ProviderError) throw error;
    const cause = error as Error & { status?: number; response?: { status?: number }; cause?: unknown };
    const refused = cause instanceof OutboundRefusedError || cause.cause instanceof OutboundRefusedError;
    if (refused) throw new ProviderError(`fcm: token endpoint: ${(cause.cause as Error | undefined)?.message ?? cause.message}`, true);
    const status = cause.response?.status ?? cause.status;
    // 400/401/403 (invalid_grant, a deleted key, a wrong audience) stay so until the key changes.
    if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429) {
      throw new ProviderError(`fcm: the token endpoint refused the service account (${status}): ${cause.message.slice(0, 300)}`, true);
    }
    throw networkError('fcm token endpoint', error);
  }
}

interface FcmError {
  error?: { code?: number; message?: string; status?: string; details?: { '@type'?: string; errorCode?: string; fieldViolations?: { field?: string }[] }[] };
}

/**
 * MOBILE_PUSH through Firebase Cloud Messaging's HTTP v1 API, for devices registered with an FCM
 * token (Android, web, and iOS apps that use Firebase). settings: projectId (default: the key
 * file's project_id), baseUrl (default https://fcm.googleapis.com); secrets: serviceAccount (the
 * key file, as JSON text or object; its token_uri is where the OAuth2 JWT-bearer grant goes).
 * One request per device (messages:send); the badge is the user's unread inbox count, the
 * collapse key the message's incrementId, the TTL from NP6 settings.expiration, the priority
 * high for urgent messages. UNREGISTERED, and INVALID_ARGUMENT about the token, remove the device.
 */
export const fcmProvider: ChannelProvider = {
  kind: 'fcm',
  channel: 'MOBILE_PUSH',
  config: {
    settings: z.object({ projectId: requiredText().optional(), baseUrl: httpUrl().optional() }).strict(),
    secrets: z.object({ serviceAccount: serviceAccountSecret }).strict(),
  },
  outbound: { urls: ['baseUrl'] },
  accepts: (message) => serviceOf(message) === 'FCM',
  async send({ message }, settings) {
    const parsed = serviceAccountSecret.safeParse(settings.serviceAccount);
    if (!parsed.success) throw new ProviderError('fcm: the provider needs the serviceAccount secret (the key file)', true);
    const account = parsed.data;
    const projectId = stringSetting(settings, 'projectId') ?? account.project_id;
    if (!projectId) throw new ProviderError('fcm: set the projectId setting (the key file has no project_id)', true);
    const { token, content } = deviceOf(message, 'fcm');
    const ttl = secondsToLive(content, 'fcm');
    const collapseId = collapseIdOf(message);
    const badge = await badgeFor(message);
    const urgent = message.critical;
    const body = {
      message: {
        token,
        notification: { title: content.title ?? undefined, body: content.body ?? undefined, image: content.image ?? undefined },
        data: { ...stringData(message.data), heraldMessageId: message.id, ...(content.redirection ? { redirection: content.redirection } : {}) },
        android: {
          priority: urgent ? 'HIGH' : 'NORMAL',
          ...(ttl !== null ? { ttl: `${ttl}s` } : {}),
          ...(collapseId ? { collapse_key: collapseId } : {}),
          notification: { notification_count: badge, ...(content.sound ? { sound: content.sound } : {}) },
        },
        apns: {
          headers: {
            'apns-priority': urgent ? '10' : '5',
            ...(ttl !== null ? { 'apns-expiration': String(Math.floor(Date.now() / 1000) + ttl) } : {}),
            ...(collapseId ? { 'apns-collapse-id': collapseId } : {}),
          },
          payload: { aps: { badge, ...(content.sound ? { sound: content.sound } : {}) } },
        },
        webpush: { headers: { Urgency: urgent ? 'high' : 'normal', ...(ttl !== null ? { TTL: String(ttl) } : {}) } },
      },
    };
    const url = `${baseUrl(settings, 'https://fcm.googleapis.com')}/v1/projects/${encodeURIComponent(projectId)}/messages:send`;
    const send = async () =>
      callProvider('fcm', url, {
        method: 'POST',
        headers: { authorization: `Bearer ${await accessToken(account)}`, 'content-type': 'application/json; charset=utf-8', accept: 'application/json', 'user-agent': 'Herald' },
        body: JSON.stringify(body),
      });
    let answer = await send();
    if (answer.status === 401) {
      // The token was revoked or expired early: once with a new one, then it is FCM's answer.
      forget(account);
      answer = await send();
    }
    if (answer.status >= 200 && answer.status < 300) {
      const name = (answer.json as { name?: unknown } | undefined)?.name;
      return { providerMessageId: typeof name === 'string' ? name : undefined };
    }
    const error = (answer.json as FcmError | undefined)?.error;
    const code = error?.details?.find((d) => d.errorCode)?.errorCode ?? error?.status;
    const detail = error ? `${code ?? error.status ?? ''} ${error.message ?? ''}`.trim() : answer.text;
    if (code === 'UNREGISTERED') throw await pruneDevice(message, 'fcm', `UNREGISTERED (${answer.status})`);
    if (code === 'INVALID_ARGUMENT' && aboutToken(error!)) throw await pruneDevice(message, 'fcm', `INVALID_ARGUMENT (${error?.message ?? 'bad token'})`);
    throw httpError('fcm', answer.status, detail);
  },
};

/** INVALID_ARGUMENT is also a bad payload; only one naming the token means the token is bad. */
function aboutToken(error: NonNullable<FcmError['error']>): boolean {
  const fields = (error.details ?? []).flatMap((d) => d.fieldViolations ?? []).map((v) => v.field ?? '');
  return fields.includes('message.token') || /registration token/i.test(error.message ?? '');
}
