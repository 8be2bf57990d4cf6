import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API key format. A key has a public id ("hk_" + 20 hex chars) and a secret (32 random
 * bytes, base64url). Clients that take one string (Notifuse's Bearer, NP6's X-Key) use
 * "<keyId>.<secret>"; Neucron and HTTP Basic send the two parts separately.
 * The secret has 256 bits of entropy, so a plain SHA-256 is a sufficient stored hash
 * (slow password hashes protect low-entropy human passwords, not random tokens).
 */
export const KEY_ID_PREFIX = 'hk_';

export function newKeyId(): string {
  return KEY_ID_PREFIX + randomBytes(10).toString('hex');
}

export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Constant-time comparison of a presented secret with a stored hash. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const presented = Buffer.from(hashSecret(secret), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}

export function formatApiKey(keyId: string, secret: string): string {
  return `${keyId}.${secret}`;
}

export function parseApiKey(apiKey: string): { keyId: string; secret: string } | null {
  const dot = apiKey.indexOf('.');
  if (dot <= 0 || dot === apiKey.length - 1) return null;
  return { keyId: apiKey.slice(0, dot), secret: apiKey.slice(dot + 1) };
}

/** The end-user hash a widget presents: hex HMAC-SHA256 of the user's externalId. */
export function userHash(widgetSecret: string, externalId: string): string {
  return createHmac('sha256', widgetSecret).update(externalId, 'utf8').digest('hex');
}

/**
 * The hash of a widget scoped to a tenant: hex HMAC-SHA256 of the externalId keyed by
 * "<widgetSecret>:<tenantKey>". The tenant is in the key, not the message, so no unscoped hash
 * (keyed by the widget secret alone) can ever pass for a scoped one, whatever externalId it was
 * computed for (with the tenant in the message, an externalId such as "alice\nacme" could), and
 * a hash for one tenant is worthless for another.
 */
export function tenantUserHash(widgetSecret: string, tenantKey: string, externalId: string): string {
  return createHmac('sha256', `${widgetSecret}:${tenantKey}`).update(externalId, 'utf8').digest('hex');
}

/**
 * A short, non-reversible tag of a widget secret, kept with an end user's principal: an open
 * stream whose tag no longer matches its project's secret was opened with a rotated one.
 */
export function widgetSecretTag(widgetSecret: string): string {
  return createHash('sha256').update(widgetSecret, 'utf8').digest('hex').slice(0, 16);
}
