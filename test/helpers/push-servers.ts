import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createSecureServer, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { startHttpServer } from './http-server.ts';

/**
 * Stand-ins for Apple's and Google's push services that speak their real protocols: APNs over
 * HTTP/2 with TLS (a certificate made here, trusted through the provider's `ca` setting) checking
 * the ES256 provider token and the apns-* headers; Google's OAuth2 token endpoint checking the
 * service account's RS256 JWT-bearer assertion; FCM's HTTP v1 send checking the bearer token.
 */

/** A self-signed certificate for 127.0.0.1 and localhost (openssl, a one-day P-256 key). */
export function selfSignedCert(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'herald-tls-'));
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** An APNs signing key as Apple hands it out (.p8: PKCS#8 PEM of a P-256 key), with its public half. */
export function apnsKey(): { privateKey: string; publicKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicKey };
}

export interface ApnsRequest {
  token: string;
  headers: IncomingHttpHeaders;
  payload: Record<string, any>;
  /** The provider token's iat (seconds). */
  iat: number;
  jwt: string;
}

export type ApnsAnswer = { status: number; reason?: string };

/**
 * A local APNs. Every request must carry a valid provider token (ES256, kid = keyId, iss = teamId,
 * issued less than an hour ago) and the headers APNs requires; a failing one is answered as
 * APNs does (403 InvalidProviderToken, 400 MissingTopic / BadMessageId / BadPriority...).
 * `answers` scripts the answer per device token: a list is consumed one per request.
 */
export async function startApnsServer(options: { teamId: string; keyId: string; publicKey: KeyObject }) {
  const tls = selfSignedCert();
  const received: ApnsRequest[] = [];
  const refused: { reason: string; headers: IncomingHttpHeaders }[] = [];
  const answers = new Map<string, ApnsAnswer | ApnsAnswer[]>();
  const server = createSecureServer({ key: tls.key, cert: tls.cert });
  const reply = (stream: ServerHttp2Stream, status: number, reason?: string, extra: Record<string, string> = {}) => {
    stream.respond({ ':status': status, 'content-type': 'application/json', ...extra });
    stream.end(reason ? JSON.stringify({ reason, ...(status === 410 ? { timestamp: Date.now() } : {}) }) : undefined);
  };
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', async () => {
      const refuse = (status: number, reason: string) => {
        refused.push({ reason, headers });
        reply(stream, status, reason);
      };
      const path = String(headers[':path'] ?? '');
      const match = /^\/3\/device\/([0-9a-fA-F]+)$/.exec(path);
      if (headers[':method'] !== 'POST') return refuse(405, 'MethodNotAllowed');
      if (!match) return refuse(404, 'BadPath');
      const auth = String(headers.authorization ?? '');
      if (!auth.startsWith('bearer ')) return refuse(403, 'MissingProviderToken');
      const jwt = auth.slice(7);
      let iat: number;
      try {
        const header = decodeProtectedHeader(jwt);
        if (header.kid !== options.keyId) throw new Error('kid');
        const { payload } = await jwtVerify(jwt, options.publicKey, { algorithms: ['ES256'], issuer: options.teamId });
        iat = Number(payload.iat);
        if (!Number.isInteger(iat)) throw new Error('iat');
        if (Date.now() / 1000 - iat > 3600) return refuse(403, 'ExpiredProviderToken');
      } catch {
        return refuse(403, 'InvalidProviderToken');
      }
      if (!headers['apns-topic']) return refuse(400, 'MissingTopic');
      if (!['alert', 'background', 'voip', 'complication', 'fileprovider', 'mdm', 'liveactivity'].includes(String(headers['apns-push-type']))) return refuse(400, 'InvalidPushType');
      if (headers['apns-id'] && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(String(headers['apns-id']))) return refuse(400, 'BadMessageId');
      if (headers['apns-priority'] && !['5', '10', '1'].includes(String(headers['apns-priority']))) return refuse(400, 'BadPriority');
      if (headers['apns-expiration'] && !/^\d+$/.test(String(headers['apns-expiration']))) return refuse(400, 'BadExpirationDate');
      if (headers['apns-collapse-id'] && Buffer.byteLength(String(headers['apns-collapse-id'])) > 64) return refuse(400, 'BadCollapseId');
      let payload: Record<string, any>;
      try {
        payload = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if (typeof payload.aps !== 'object') throw new Error('aps');
      } catch {
        return refuse(400, 'PayloadEmpty');
      }
      const token = match[1]!;
      received.push({ token, headers, payload, iat, jwt });
      const scripted = answers.get(token);
      const answer = Array.isArray(scripted) ? (scripted.shift() ?? { status: 200 }) : (scripted ?? { status: 200 });
      if (answer.status === 200) return reply(stream, 200, undefined, { 'apns-id': String(headers['apns-id'] ?? '00000000-0000-0000-0000-000000000000') });
      reply(stream, answer.status, answer.reason);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    ca: tls.cert,
    received,
    refused,
    answers,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Open client sessions would keep close() waiting.
        setTimeout(resolve, 200).unref();
      }),
  };
}

/** A service account key file (RSA key, token_uri pointing at the local token endpoint). */
export function serviceAccount(projectId: string, tokenUri: string) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    json: {
      type: 'service_account',
      project_id: projectId,
      private_key_id: 'k1',
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      client_email: `herald@${projectId}.iam.gserviceaccount.com`,
      client_id: '1',
      token_uri: tokenUri,
    },
    publicKey,
  };
}

/**
 * Google's OAuth2 token endpoint: a JWT-bearer grant whose assertion is signed (RS256) by the
 * service account's key, for Google's audience, asking for the FCM scope, gets an access token
 * that expires in `expiresIn` seconds (settable between requests).
 */
export async function startTokenEndpoint(options: { publicKey: () => KeyObject; clientEmail: () => string }) {
  const issued: { token: string; expiresAt: number; issuedAt: number }[] = [];
  const state = { expiresIn: 3600 };
  const server = await startHttpServer(async (req) => {
    if (req.method !== 'POST' || req.url !== '/token') return { status: 404, body: { error: 'not_found' } };
    if (!String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) return { status: 400, body: { error: 'invalid_request' } };
    const form = new URLSearchParams(req.body);
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return { status: 400, body: { error: 'unsupported_grant_type' } };
    try {
      const { payload } = await jwtVerify(form.get('assertion') ?? '', options.publicKey(), {
        algorithms: ['RS256'],
        issuer: options.clientEmail(),
        audience: 'https://oauth2.googleapis.com/token',
      });
      if (!String(payload.scope).split(' ').includes('https://www.googleapis.com/auth/firebase.messaging')) return { status: 400, body: { error: 'invalid_scope' } };
    } catch (error) {
      return { status: 400, body: { error: 'invalid_grant', error_description: `Invalid JWT Signature: ${(error as Error).message}` } };
    }
    const token = `ya29.test-${issued.length + 1}`;
    issued.push({ token, issuedAt: Date.now(), expiresAt: Date.now() + state.expiresIn * 1000 });
    return { status: 200, body: { access_token: token, expires_in: state.expiresIn, token_type: 'Bearer' } };
  });
  return { ...server, tokenUri: `${server.url}/token`, issued, state };
}

export type FcmAnswer = 'ok' | 'unregistered' | 'invalid-token' | 'invalid-payload' | 'quota';

/**
 * FCM HTTP v1 (messages:send): the bearer must be a live token of the token endpoint (else 401
 * UNAUTHENTICATED, as Google answers an expired one); `revoked` tokens are refused too. Answers
 * per registration token as scripted (default success).
 */
export async function startFcmServer(options: { projectId: string; tokens: { issued: { token: string; expiresAt: number }[] } }) {
  const answers = new Map<string, FcmAnswer | FcmAnswer[]>();
  const revoked = new Set<string>();
  const accepted: { token: string; bearer: string; message: Record<string, any> }[] = [];
  const error = (code: number, status: string, message: string, errorCode?: string) => ({
    status: code,
    body: { error: { code, message, status, details: errorCode ? [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode }] : [] } },
  });
  let n = 0;
  const server = await startHttpServer((req) => {
    if (req.method !== 'POST' || req.url !== `/v1/projects/${options.projectId}/messages:send`) return error(404, 'NOT_FOUND', `no such path ${req.url}`);
    const bearer = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
    const live = options.tokens.issued.find((t) => t.token === bearer);
    if (!live || live.expiresAt <= Date.now() || revoked.has(bearer)) return error(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.');
    let message: Record<string, any>;
    try {
      message = JSON.parse(req.body).message;
      if (typeof message?.token !== 'string') throw new Error('token');
    } catch {
      return error(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
    }
    const scripted = answers.get(message.token);
    const answer = Array.isArray(scripted) ? (scripted.shift() ?? 'ok') : (scripted ?? 'ok');
    if (answer === 'unregistered') return error(404, 'NOT_FOUND', 'Requested entity was not found.', 'UNREGISTERED');
    if (answer === 'invalid-token') return error(400, 'INVALID_ARGUMENT', 'The registration token is not a valid FCM registration token', 'INVALID_ARGUMENT');
    if (answer === 'invalid-payload') return error(400, 'INVALID_ARGUMENT', 'Invalid value at message.android.ttl', 'INVALID_ARGUMENT');
    if (answer === 'quota') return error(429, 'RESOURCE_EXHAUSTED', 'Quota exceeded.', 'QUOTA_EXCEEDED');
    accepted.push({ token: message.token, bearer, message });
    return { status: 200, body: { name: `projects/${options.projectId}/messages/0:${++n}` } };
  });
  return { ...server, answers, revoked, accepted };
}
