import { decodeJwt, jwtVerify } from 'jose';

/**
 * Short-lived end-user tokens: a JWT signed (HS256) by the host app's backend with the project's
 * widget secret, so the credential a browser holds expires, unlike a userHash. Claims:
 * `sub` = the user's externalId, `projectId` = the Herald project id, `exp` (required), and
 * optionally `tenant` = a tenant key, which scopes the widget to that tenant as a tenant-bound
 * hash does (the claim is signed, so it binds the same way).
 * The key is the widget secret's UTF-8 bytes, as for userHash's HMAC.
 */

/** The longest lifetime Herald accepts (exp minus now, and exp minus iat when given). */
export const WIDGET_TOKEN_MAX_LIFETIME_S = 24 * 60 * 60;
/** Clock skew tolerated between the signing backend and Herald. */
export const WIDGET_TOKEN_CLOCK_TOLERANCE_S = 5;

/** A JWT is three base64url parts; anything else is not worth decoding. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const MAX_TOKEN_LENGTH = 4096;

export interface WidgetTokenClaims {
  projectId: string;
  externalId: string;
  /** The tenant the widget is scoped to; absent: the user's whole inbox. */
  tenant?: string;
}

/**
 * The claims that say which secret verifies the token, read WITHOUT checking the signature:
 * only to find the project. null when the token cannot be a widget token.
 */
export function unverifiedClaims(token: string): WidgetTokenClaims | null {
  if (token.length > MAX_TOKEN_LENGTH || !JWT_SHAPE.test(token)) return null;
  try {
    const claims = decodeJwt(token);
    if (typeof claims.sub !== 'string' || typeof claims.projectId !== 'string') return null;
    if (claims.tenant !== undefined && typeof claims.tenant !== 'string') return null;
    return { projectId: claims.projectId, externalId: claims.sub, ...(typeof claims.tenant === 'string' ? { tenant: claims.tenant } : {}) };
  } catch {
    return null;
  }
}

/**
 * Verifies the signature (HS256 only: `none` and other algorithms are refused), `exp` (required,
 * not past) and the lifetime bound. Answers the expiry in ms since the epoch, or null.
 */
export async function verifyWidgetToken(token: string, widgetSecret: string, now = Date.now()): Promise<{ expiresAt: number } | null> {
  try {
    const { payload } = await jwtVerify(token, new TextEncoder().encode(widgetSecret), {
      algorithms: ['HS256'],
      requiredClaims: ['exp', 'sub', 'projectId'],
      clockTolerance: WIDGET_TOKEN_CLOCK_TOLERANCE_S,
      currentDate: new Date(now),
    });
    const exp = payload.exp!;
    const nowS = now / 1000;
    // A token valid for longer would be the forever-credential this replaces.
    if (exp - nowS > WIDGET_TOKEN_MAX_LIFETIME_S + WIDGET_TOKEN_CLOCK_TOLERANCE_S) return null;
    if (payload.iat !== undefined && exp - payload.iat > WIDGET_TOKEN_MAX_LIFETIME_S) return null;
    return { expiresAt: exp * 1000 };
  } catch {
    return null;
  }
}
