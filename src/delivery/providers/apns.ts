import { createHash, createPrivateKey } from 'node:crypto';
import { connect, constants, type ClientHttp2Session } from 'node:http2';
import { SignJWT } from 'jose';
import { z } from 'zod';
import { PROVIDER_TIMEOUT_MS, stringSetting } from './http.ts';
import { badgeFor, collapseIdOf, deviceOf, pruneDevice, secondsToLive, serviceOf, stringData } from './mobile-push.ts';
import { OutboundRefusedError, outboundPolicy } from './outbound.ts';
import { httpError, httpUrl, networkError, ProviderError, requiredText, type ChannelProvider } from './types.ts';

const PUSH_TYPES = ['alert', 'background', 'voip', 'complication', 'fileprovider', 'mdm', 'liveactivity'] as const;
/** APNs refuses payloads over 4 KiB (5 KiB for VoIP). */
const MAX_PAYLOAD_BYTES = 4_096;

/**
 * The provider token: an ES256 JWT (iss = team id, iat, kid = key id). Apple refuses one older
 * than an hour and one renewed more often than every 20 minutes, so each is kept 50 minutes.
 */
const TOKEN_LIFETIME_MS = 50 * 60_000;
const tokens = new Map<string, { jwt: string; at: number }>();

async function providerToken(teamId: string, keyId: string, privateKey: string): Promise<string> {
  const cacheKey = createHash('sha256').update(JSON.stringify([teamId, keyId, privateKey])).digest('hex');
  const cached = tokens.get(cacheKey);
  // A negative age is a clock that moved back: sign a new one rather than trust it.
  if (cached && Date.now() - cached.at >= 0 && Date.now() - cached.at < TOKEN_LIFETIME_MS) return cached.jwt;
  let key;
  try {
    key = createPrivateKey(privateKey);
  } catch {
    throw new ProviderError('apns: the privateKey secret is not a PEM private key (the .p8 file)', true);
  }
  if (key.asymmetricKeyType !== 'ec') throw new ProviderError('apns: the privateKey must be the P-256 key of the .p8 file', true);
  const at = Date.now();
  const jwt = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: keyId }).setIssuer(teamId).setIssuedAt(Math.floor(at / 1000)).sign(key);
  if (tokens.size > 500) tokens.clear();
  tokens.set(cacheKey, { jwt, at });
  return jwt;
}

const forgetToken = (teamId: string, keyId: string, privateKey: string) => tokens.delete(createHash('sha256').update(JSON.stringify([teamId, keyId, privateKey])).digest('hex'));

/**
 * One HTTP/2 connection per APNs origin (and CA): Apple asks providers to keep connections open
 * rather than connect per push. A session that closes, errs or receives GOAWAY is dropped and
 * the next push opens a new one. Sessions are unref'd: they never keep the process alive.
 */
const sessions = new Map<string, ClientHttp2Session>();

function sessionFor(origin: string, ca: string | undefined): ClientHttp2Session {
  const key = `${origin}\n${ca ?? ''}`;
  const existing = sessions.get(key);
  if (existing && !existing.closed && !existing.destroyed) return existing;
  const host = new URL(origin).hostname;
  // The outbound policy, as for every provider: IP literals here, names at connect time.
  outboundPolicy().checkLiteral(host);
  const session = connect(origin, { ...(ca ? { ca } : {}), lookup: outboundPolicy().lookup });
  const drop = () => {
    if (sessions.get(key) === session) sessions.delete(key);
  };
  session.on('error', drop);
  session.on('close', drop);
  session.on('goaway', () => {
    drop();
    session.close();
  });
  session.setTimeout(5 * 60_000, () => session.close());
  session.unref();
  sessions.set(key, session);
  return session;
}

/** Closes the open APNs connections (tests, shutdown). */
export function closeApnsSessions(): void {
  for (const session of sessions.values()) session.close();
  sessions.clear();
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function request(origin: string, ca: string | undefined, path: string, headers: Record<string, string>, body: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let session: ClientHttp2Session;
    try {
      session = sessionFor(origin, ca);
    } catch (error) {
      return reject(error);
    }
    const stream = session.request({ [constants.HTTP2_HEADER_METHOD]: 'POST', [constants.HTTP2_HEADER_PATH]: path, ...headers });
    stream.setTimeout(PROVIDER_TIMEOUT_MS, () => stream.close(constants.NGHTTP2_CANCEL));
    let answerHeaders: Answer['headers'] = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => (answerHeaders = h as Answer['headers']));
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve({ status: Number(answerHeaders[constants.HTTP2_HEADER_STATUS] ?? 0), headers: answerHeaders, body: Buffer.concat(chunks).toString('utf8') }));
    stream.on('error', reject);
    stream.on('close', () => {
      if (!answerHeaders[constants.HTTP2_HEADER_STATUS]) reject(new Error('the stream closed without an answer (timeout or connection reset)'));
    });
    stream.end(body);
  });
}

/**
 * MOBILE_PUSH through Apple's Push Notification service (HTTP/2, token-based authentication), for
 * devices registered with an APNs device token. settings: teamId, keyId, topic (the bundle id;
 * a device's appId wins), pushType (default alert), baseUrl (default
 * https://api.push.apple.com; https://api.sandbox.push.apple.com for development builds), ca (a
 * PEM CA to trust, for a private gateway); secrets: privateKey (the .p8 key). Headers: apns-topic,
 * apns-push-type, apns-id (the message id: one id per device's message), apns-collapse-id (the
 * incrementId), apns-priority (10 urgent, 5 otherwise), apns-expiration (NP6 settings.expiration).
 * 410 Unregistered and 400 BadDeviceToken remove the device; 403 ExpiredProviderToken renews the
 * JWT; 429 and 5xx are retried.
 */
export const apnsProvider: ChannelProvider = {
  kind: 'apns',
  channel: 'MOBILE_PUSH',
  config: {
    settings: z
      .object({
        teamId: z.string().regex(/^[A-Z0-9]{10}$/, 'must be the 10-character Apple team id'),
        keyId: z.string().regex(/^[A-Z0-9]{10}$/, 'must be the 10-character key id of the .p8 key'),
        topic: z.string().trim().min(1).max(255).regex(/^[A-Za-z0-9.\-_]+$/, 'must be a bundle id such as com.example.app').optional(),
        pushType: z.enum(PUSH_TYPES).optional(),
        baseUrl: httpUrl().refine((v) => v.startsWith('https://'), 'must be an https URL (APNs is HTTP/2 over TLS)').optional(),
        ca: z.string().max(20_000).regex(/-----BEGIN CERTIFICATE-----/, 'must be a PEM certificate').optional(),
      })
      .strict(),
    secrets: z.object({ privateKey: z.string().max(10_000).regex(/-----BEGIN PRIVATE KEY-----/, 'must be the PEM of the .p8 key') }).strict(),
  },
  outbound: { urls: ['baseUrl'] },
  accepts: (message) => serviceOf(message) === 'APNS',
  async send({ message }, settings) {
    const teamId = stringSetting(settings, 'teamId');
    const keyId = stringSetting(settings, 'keyId');
    const privateKey = stringSetting(settings, 'privateKey');
    if (!teamId || !keyId || !privateKey) throw new ProviderError('apns: the provider needs the teamId and keyId settings and the privateKey secret', true);
    const { device, token, content } = deviceOf(message, 'apns');
    const topic = device.appId ?? stringSetting(settings, 'topic');
    if (!topic) throw new ProviderError('apns: no apns-topic: set the provider’s topic (bundle id) or register the device with its appId', true);
    const pushType = stringSetting(settings, 'pushType') ?? 'alert';
    const ttl = secondsToLive(content, 'apns');
    const collapseId = collapseIdOf(message);
    const badge = await badgeFor(message);
    const alert = pushType === 'alert' ? { alert: { ...(content.title ? { title: content.title } : {}), ...(content.body ? { body: content.body } : {}) } } : {};
    const payload = {
      ...stringData(message.data),
      heraldMessageId: message.id,
      ...(content.redirection ? { redirection: content.redirection } : {}),
      ...(content.image ? { image: content.image } : {}),
      aps: {
        ...alert,
        badge,
        ...(content.sound ? { sound: content.sound } : {}),
        ...(pushType === 'background' ? { 'content-available': 1 } : {}),
        ...(content.image ? { 'mutable-content': 1 } : {}),
      },
    };
    const body = JSON.stringify(payload);
    if (Buffer.byteLength(body) > MAX_PAYLOAD_BYTES) throw new ProviderError(`apns: the payload is ${Buffer.byteLength(body)} bytes; APNs takes at most ${MAX_PAYLOAD_BYTES}`, true);
    const origin = new URL(stringSetting(settings, 'baseUrl') ?? 'https://api.push.apple.com').origin;
    const ca = stringSetting(settings, 'ca');
    const headers = async () => ({
      authorization: `bearer ${await providerToken(teamId, keyId, privateKey)}`,
      'apns-topic': topic,
      'apns-push-type': pushType,
      'apns-id': message.id,
      // Background pushes must go at priority 5.
      'apns-priority': message.critical && pushType !== 'background' ? '10' : '5',
      ...(ttl !== null ? { 'apns-expiration': String(Math.floor(Date.now() / 1000) + ttl) } : {}),
      ...(collapseId ? { 'apns-collapse-id': collapseId } : {}),
      'content-type': 'application/json',
    });
    const send = async () => {
      try {
        return await request(origin, ca, `/3/device/${encodeURIComponent(token)}`, await headers(), body);
      } catch (error) {
        if (error instanceof ProviderError) throw error;
        if (error instanceof OutboundRefusedError) throw new ProviderError(`apns: ${error.message}`, true);
        throw networkError('apns', error);
      }
    };
    let answer = await send();
    let reason = reasonOf(answer);
    if (answer.status === 403 && reason === 'ExpiredProviderToken') {
      // Apple thinks the JWT is too old (clock skew, a cache older than Apple allows): once with a new one.
      forgetToken(teamId, keyId, privateKey);
      answer = await send();
      reason = reasonOf(answer);
    }
    if (answer.status === 200) {
      const id = answer.headers['apns-id'];
      return { providerMessageId: typeof id === 'string' ? id : message.id };
    }
    if (answer.status === 410 || (answer.status === 400 && reason === 'BadDeviceToken')) {
      throw await pruneDevice(message, 'apns', `${answer.status} ${reason ?? 'Unregistered'}`);
    }
    if (answer.status === 403 && reason === 'ExpiredProviderToken') throw new ProviderError('apns answered 403: ExpiredProviderToken', false);
    throw httpError('apns', answer.status, reason ?? answer.body);
  },
};

function reasonOf(answer: Answer): string | undefined {
  try {
    const reason = (JSON.parse(answer.body) as { reason?: unknown }).reason;
    return typeof reason === 'string' ? reason : undefined;
  } catch {
    return undefined;
  }
}
