import { prisma, rawQuery } from '../../db/client.ts';
import { createHash, timingSafeEqual } from 'node:crypto';
import { batched } from '../../realtime/batch.ts';
import { isUuid } from '../users/service.ts';
import { tenantKeySchema } from '../tenants/key.ts';
import { parseApiKey, secretMatches, tenantUserHash, userHash, widgetSecretTag } from './credentials.ts';
import { cachedKey, keyCacheEpoch, rememberKey } from './key-cache.ts';
import { authRateLimiter } from './rate-limit.ts';
import { unverifiedClaims, verifyWidgetToken } from './widget-token.ts';

/**
 * Who is calling. Operators hold an API key of one project; end users (browser widgets) prove
 * who they are with the HMAC of their externalId keyed by the project's widgetSecret.
 */
export type Principal =
  | { kind: 'apiKey'; projectId: string; keyId: string }
  | {
      kind: 'endUser';
      projectId: string;
      /**
       * null: no user with this externalId exists (yet). End users are created by operators only
       * (upsert, send); until then the widget sees an empty inbox and writes nothing.
       */
      userId: string | null;
      externalId: string;
      /** widgetSecretTag of the secret the hash was checked with (long-lived streams end when it changes). */
      secretTag: string;
      /**
       * A tenant-scoped widget (its hash binds the tenant, see tenantUserHash): it sees only the
       * inbox items and events of this tenant. Absent: the user's whole inbox.
       */
      tenant?: { id: string; key: string };
      /** Signed-token principals only: when the token expires (ms since the epoch); its streams end then. */
      expiresAt?: number;
    };

/** Credentials as presented, whatever legacy style carried them. */
export interface WidgetCredentials {
  style: 'widget';
  projectId: string;
  externalId: string;
  userHash: string;
  /** The tenant key the widget is scoped to (X-Herald-Tenant), if any. */
  tenant?: string;
}

/**
 * A short-lived signed token instead of a hash (widget-token.ts). X-Herald-Project and
 * X-Herald-User are optional next to it; when sent, they must match the token's claims.
 */
export interface WidgetTokenCredentials {
  style: 'widgetToken';
  token: string;
  projectId: string | null;
  externalId: string | null;
}

export interface PresentedCredentials {
  style: 'bearer' | 'x-key' | 'neucron' | 'basic';
  keyId: string;
  secret: string;
  /** Neucron names the project too; it must be the key's project. */
  projectId?: string;
}

export type CredentialStyle = PresentedCredentials['style'];

/**
 * Reads credentials from request headers, in every legacy style Herald serves:
 * - `X-Neucron-App-ID` + `X-Neucron-Key-ID` + `X-Neucron-Key-Secret` (they win over Authorization,
 *   because Neucron clients also send an Authorization token of their own);
 * - `X-Key: <apiKey>` (NP6);
 * - `Authorization: Bearer <apiKey>` (Notifuse);
 * - `Authorization: Basic base64(keyId:keySecret)` (department notify).
 * Returns null when none is present, 'malformed' when one is present but unreadable.
 */
export function credentialsFromHeaders(headers: Headers): PresentedCredentials | WidgetCredentials | WidgetTokenCredentials | null | 'malformed' {
  const widgetProject = headers.get('x-herald-project');
  const widgetUser = headers.get('x-herald-user');
  const widgetHash = headers.get('x-herald-user-hash');
  const widgetToken = headers.get('x-herald-user-token');
  if (widgetToken !== null) {
    // A token and a hash at once is ambiguous: which one failed would be anyone's guess.
    if (!widgetToken || widgetHash !== null) return 'malformed';
    return { style: 'widgetToken', token: widgetToken.trim(), projectId: widgetProject, externalId: widgetUser };
  }
  if (widgetProject !== null || widgetUser !== null || widgetHash !== null) {
    if (!widgetProject || !widgetUser || !widgetHash) return 'malformed';
    const tenant = headers.get('x-herald-tenant');
    // Present but empty is a malformed credential, not an unscoped widget.
    if (tenant === '') return 'malformed';
    return { style: 'widget', projectId: widgetProject, externalId: widgetUser, userHash: widgetHash, ...(tenant !== null ? { tenant } : {}) };
  }
  const appId = headers.get('x-neucron-app-id');
  const neucronKeyId = headers.get('x-neucron-key-id');
  const neucronSecret = headers.get('x-neucron-key-secret');
  if (appId !== null || neucronKeyId !== null || neucronSecret !== null) {
    if (!appId || !neucronKeyId || !neucronSecret) return 'malformed';
    return { style: 'neucron', keyId: neucronKeyId, secret: neucronSecret, projectId: appId };
  }
  const xKey = headers.get('x-key');
  if (xKey !== null) {
    const parsed = parseApiKey(xKey.trim());
    return parsed ? { style: 'x-key', ...parsed } : 'malformed';
  }
  const authorization = headers.get('authorization');
  if (authorization === null) return null;
  const [scheme = '', value = ''] = authorization.trim().split(/\s+/, 2);
  if (/^bearer$/i.test(scheme)) {
    const parsed = parseApiKey(value);
    return parsed ? { style: 'bearer', ...parsed } : 'malformed';
  }
  if (/^basic$/i.test(scheme)) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) return 'malformed';
    return { style: 'basic', keyId: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
  }
  return 'malformed';
}

/**
 * The authentication entry point of every transport: `authenticate` behind the failed-attempt
 * limits (rate-limit.ts). Blocked: throws RATE_LIMITED (429). Otherwise the principal, or null
 * for wrong or unreadable credentials (counted against the IP and the key id or widget user).
 */
export async function authenticateLimited(credentials: PresentedCredentials | WidgetCredentials | WidgetTokenCredentials | 'malformed', ip: string | undefined): Promise<Principal | null> {
  const limiter = authRateLimiter();
  await limiter.check(ip);
  const principal = credentials === 'malformed' ? null : await authenticate(credentials);
  if (principal) return principal;
  const subject = credentials === 'malformed' ? null : failureSubject(credentials);
  // The subject is the caller's text: a long one is hashed, so a counter key stays small.
  await limiter.fail(ip, subject && subject.length > 128 ? `sha256:${createHash('sha256').update(subject).digest('hex')}` : subject);
  return null;
}

function failureSubject(credentials: PresentedCredentials | WidgetCredentials | WidgetTokenCredentials): string | null {
  if (credentials.style === 'widget') return `widget:${credentials.projectId}:${credentials.externalId}${credentials.tenant !== undefined ? `:${credentials.tenant}` : ''}`;
  if (credentials.style === 'widgetToken') {
    // The user a forged or expired token names counts like a wrong hash for that user.
    const claims = unverifiedClaims(credentials.token);
    return claims ? `widget:${claims.projectId}:${claims.externalId}` : null;
  }
  return `key:${credentials.keyId}`;
}

/**
 * Checks presented credentials against the stored keys: a primary-key read, or a key verified
 * moments ago (key-cache.ts: a few seconds, forgotten on every instance when it is revoked).
 */
export async function authenticate(credentials: PresentedCredentials | WidgetCredentials | WidgetTokenCredentials): Promise<Principal | null> {
  if (credentials.style === 'widget') return authenticateWidget(credentials);
  if (credentials.style === 'widgetToken') return authenticateWidgetToken(credentials);
  const cached = cachedKey(credentials.keyId, credentials.secret);
  if (cached && (credentials.projectId === undefined || credentials.projectId === cached.projectId)) {
    return { kind: 'apiKey', projectId: cached.projectId, keyId: credentials.keyId };
  }
  const readAt = keyCacheEpoch();
  const key = await prisma().apiKey.findUnique({
    where: { id: credentials.keyId },
    select: { id: true, projectId: true, secretHash: true, revokedAt: true },
  });
  // Compare even when the key is unknown, so timing does not reveal which key ids exist.
  const matches = secretMatches(credentials.secret, key?.secretHash ?? '0'.repeat(64));
  if (!key || !matches || key.revokedAt) return null;
  rememberKey(key.id, key.projectId, key.secretHash, readAt);
  if (credentials.projectId !== undefined && credentials.projectId !== key.projectId) return null;
  return { kind: 'apiKey', projectId: key.projectId, keyId: key.id };
}

/**
 * An end user: the hash must be the HMAC-SHA256 of their externalId keyed by the project's
 * widgetSecret (compared in constant time). One statement, no write: the project's secret and
 * the user's id together. A user that does not exist is not created (end users are created by
 * operators: upsert, send); the principal then has no userId and sees an empty inbox.
 */
async function authenticateWidget(credentials: WidgetCredentials): Promise<Principal | null> {
  if (!isUuid(credentials.projectId) || credentials.externalId.length > 256) return null;
  const tenantKey = credentials.tenant;
  if (tenantKey !== undefined && !tenantKeySchema.safeParse(tenantKey).success) return null;
  const projectId = credentials.projectId.toLowerCase();
  const project = await widgetLookup({ projectId, externalId: credentials.externalId, tenant: tenantKey ?? '' });
  const secret = project?.widgetSecret ?? 'no-project';
  const expected = Buffer.from(tenantKey === undefined ? userHash(secret, credentials.externalId) : tenantUserHash(secret, tenantKey, credentials.externalId), 'hex');
  const given = Buffer.from(credentials.userHash.toLowerCase(), 'hex');
  const matches = expected.length === given.length && timingSafeEqual(expected, given);
  if (!project || !matches) return null;
  // A scoped widget of a tenant that does not exist (never created, or deleted) is refused.
  if (tenantKey !== undefined && project.tenantId === null) return null;
  return {
    kind: 'endUser',
    projectId,
    userId: project.userId,
    externalId: credentials.externalId,
    secretTag: widgetSecretTag(project.widgetSecret),
    ...(tenantKey !== undefined ? { tenant: { id: project.tenantId!, key: tenantKey } } : {}),
  };
}

/**
 * An end user with a signed token: the unverified claims name the project (whose widget secret
 * verifies it) and the user; the same one-statement lookup as a hash. The principal carries
 * the token's expiry, at which its long-lived streams end (streams.ts).
 */
async function authenticateWidgetToken(credentials: WidgetTokenCredentials): Promise<Principal | null> {
  const claims = unverifiedClaims(credentials.token);
  if (!claims || !isUuid(claims.projectId) || claims.externalId.length === 0 || claims.externalId.length > 256) return null;
  const projectId = claims.projectId.toLowerCase();
  if (credentials.projectId !== null && credentials.projectId.toLowerCase() !== projectId) return null;
  if (credentials.externalId !== null && credentials.externalId !== claims.externalId) return null;
  const tenantKey = claims.tenant;
  if (tenantKey !== undefined && !tenantKeySchema.safeParse(tenantKey).success) return null;
  const project = await widgetLookup({ projectId, externalId: claims.externalId, tenant: tenantKey ?? '' });
  // Verify even for an unknown project, so timing does not reveal which project ids exist.
  const verified = await verifyWidgetToken(credentials.token, project?.widgetSecret ?? 'no-project');
  if (!project || !verified) return null;
  // As with a hash: a token scoped to a tenant the project does not have (or no longer has) is refused.
  if (tenantKey !== undefined && project.tenantId === null) return null;
  return {
    kind: 'endUser',
    projectId,
    userId: project.userId,
    externalId: claims.externalId,
    secretTag: widgetSecretTag(project.widgetSecret),
    expiresAt: verified.expiresAt,
    ...(tenantKey !== undefined ? { tenant: { id: project.tenantId!, key: tenantKey } } : {}),
  };
}

/**
 * The widget secret of each project and the id of each (project, externalId) user, for every
 * widget authenticating in the same tick, in one statement.
 */
const widgetLookup = batched(
  async (keys: { projectId: string; externalId: string; tenant: string }[]) => {
    // On the pool (rawQuery): a crowd of sockets connecting pays this per batch, and the ORM's fixed cost was most of it.
    const rows = await rawQuery<{ projectId: string; externalId: string; tenant: string; widgetSecret: string; userId: string | null; tenantId: string | null }>(
      `SELECT k.project_id::text AS "projectId", k.external_id AS "externalId", k.tenant, p."widgetSecret", u.id::text AS "userId", t.id::text AS "tenantId"
       FROM unnest($1::uuid[], $2::text[], $3::text[]) AS k(project_id, external_id, tenant)
       JOIN "Project" p ON p.id = k.project_id
       LEFT JOIN "User" u ON u."projectId" = p.id AND u."externalId" = k.external_id
       LEFT JOIN "Tenant" t ON t."projectId" = p.id AND t.key = k.tenant AND k.tenant <> ''`,
      [keys.map((k) => k.projectId), keys.map((k) => k.externalId), keys.map((k) => k.tenant)],
      { prepared: true },
    );
    return new Map(rows.map((r) => [`${r.projectId} ${r.externalId} ${r.tenant}`, { widgetSecret: r.widgetSecret, userId: r.userId, tenantId: r.tenantId }]));
  },
  // The key's parts cannot contain the separator where it matters: a project id is a uuid, a tenant key has no space.
  (k) => `${k.projectId} ${k.externalId} ${k.tenant}`,
);
