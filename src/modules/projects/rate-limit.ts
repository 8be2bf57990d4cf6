import type { IncomingMessage } from 'node:http';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../../config/env.ts';
import { rateLimited } from '../../graphql/errors.ts';

/**
 * Limits on failed authentications (wrong API key secret, unknown or revoked key, wrong widget
 * hash, unreadable credentials), per client IP and per credential subject (an API key id, or a
 * widget's project + externalId), over a fixed window. Over a limit, the request is answered
 * 429 with Retry-After (GraphQL `RATE_LIMITED`) until the block ends.
 *
 * - An IP over its limit is refused before any lookup, whatever it presents: that is what
 *   stops one source hammering the database with guesses.
 * - A subject over its limit refuses wrong secrets with 429 instead of 401, but a correct one
 *   still passes. Otherwise anyone who knows a key id (they are not secret: `hk_…` appears in
 *   logs and dashboards) could lock its owner out of Herald with a few bad requests. Guessing a
 *   256-bit secret is hopeless anyway; this limit caps the noise a distributed attempt makes
 *   on one key and tells it to back off.
 * - Successes do not reset counters (an attacker holding one valid key could otherwise reset
 *   its IP's count between guesses).
 *
 * Counters live in Redis when REDIS_URL is set, so every instance sees the same counts (under
 * the QUEUE_PREFIX, like the queues); in memory otherwise (embedded mode). If Redis fails, an
 * in-memory limiter takes over for this instance rather than failing every authentication.
 */
export interface AuthRateLimiter {
  /**
   * Before authenticating: throws RATE_LIMITED when the IP is blocked (one counter read, skipped
   * for an address read as not blocked less than CHECK_CACHE_MS ago and without failures since).
   */
  check(ip: string | undefined): Promise<void>;
  /**
   * After a failed authentication: counts it for the IP and the subject; throws RATE_LIMITED
   * when either is over its limit (crossed now, or still blocked), so wrong credentials for a
   * blocked key get 429 while its right secret, which never reaches here, still works.
   */
  fail(ip: string | undefined, subject: string | null): Promise<void>;
  /** The client's address for a request, honouring TRUST_PROXY_HOPS. */
  clientIp(req: Pick<IncomingMessage, 'socket'> | undefined, headers: Headers): string | undefined;
  /** Resolves once the Redis connection is up (tests; requests never wait for it). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

interface Limits {
  ipFailures: number;
  subjectFailures: number;
  windowS: number;
  blockS: number;
  trustProxyHops: number;
}

export function createAuthRateLimiter(config: Config, logger: Logger): AuthRateLimiter {
  const limits: Limits = {
    ipFailures: config.AUTH_RATE_LIMIT_IP_FAILURES,
    subjectFailures: config.AUTH_RATE_LIMIT_KEY_FAILURES,
    windowS: config.AUTH_RATE_LIMIT_WINDOW_S,
    blockS: config.AUTH_RATE_LIMIT_BLOCK_S,
    trustProxyHops: config.TRUST_PROXY_HOPS,
  };
  // No offline queue: while Redis is unreachable (or not yet connected) a command fails at once,
  // and the check fails open, so authentication never waits for Redis; failures are then
  // counted by the in-memory insurance limiter of this instance.
  const redis = config.REDIS_URL ? new Redis(config.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1 }) : undefined;
  let lastWarning = 0;
  redis?.on('error', (error) => {
    if (Date.now() - lastWarning < 10_000) return;
    lastWarning = Date.now();
    logger.warn({ err: error }, 'Auth rate limiter: Redis unreachable (counting in memory meanwhile)');
  });
  const make = (name: string, points: number): RateLimiterAbstract | null => {
    if (points <= 0) return null;
    const options = { keyPrefix: `${config.QUEUE_PREFIX}:auth-fail:${name}`, points, duration: limits.windowS, blockDuration: limits.blockS };
    const memory = new RateLimiterMemory(options);
    return redis ? new RateLimiterRedis({ ...options, storeClient: redis, insuranceLimiter: memory }) : memory;
  };
  return new Limiter(limits, make('ip', limits.ipFailures), make('subject', limits.subjectFailures), logger, redis);
}

/**
 * How long an address found not blocked is not read again (CHECK_CACHE_MS): the IP check was a
 * Redis round trip on every authenticated request (6% of a list read's CPU). Failures counted by
 * this instance forget the address at once, so its own blocks apply from the next request; a
 * block crossed by failures on another instance applies here within this time (meanwhile wrong
 * credentials from that address are still counted, and answered 429, by fail()).
 */
const CHECK_CACHE_MS = 1_000;
/** Addresses remembered as not blocked; past it the oldest goes (Map order is insertion order). */
const CLEAR_MAX_ENTRIES = 10_000;

class Limiter implements AuthRateLimiter {
  /** Addresses read as not blocked, until when (ms since the epoch). */
  private readonly clear = new Map<string, number>();
  /** Failures counted by this instance so far: a read in flight when one is counted is not remembered. */
  private failures = 0;

  constructor(
    private readonly limits: Limits,
    private readonly byIp: RateLimiterAbstract | null,
    private readonly bySubject: RateLimiterAbstract | null,
    private readonly logger: Logger,
    private readonly redis: Redis | undefined,
  ) {}

  async check(ip: string | undefined) {
    if (!ip || !this.byIp) return;
    const now = Date.now();
    const clearUntil = this.clear.get(ip);
    if (clearUntil !== undefined && clearUntil > now) return;
    const failuresBefore = this.failures;
    const ipBlock = await this.blockedFor(this.byIp, ip);
    if (ipBlock !== null) throw rateLimited(ipBlock, 'Too many failed authentications from this address');
    // Not remembered when a failure was counted here meanwhile: it may have crossed the limit.
    if (failuresBefore !== this.failures) return;
    this.clear.delete(ip);
    if (this.clear.size >= CLEAR_MAX_ENTRIES) this.clear.delete(this.clear.keys().next().value!);
    this.clear.set(ip, now + CHECK_CACHE_MS);
  }

  async ready() {
    if (!this.redis || this.redis.status === 'ready') return;
    await new Promise<void>((resolve) => this.redis!.once('ready', () => resolve()));
  }

  async fail(ip: string | undefined, subject: string | null) {
    // This address's next request reads its counter again (this failure may block it).
    this.failures++;
    if (ip) this.clear.delete(ip);
    const crossed = await Promise.all([
      ip && this.byIp ? this.consume(this.byIp, ip) : null,
      subject && this.bySubject ? this.consume(this.bySubject, subject) : null,
    ]);
    // Again once counted: a check that read the counter before this failure reached it must not stay remembered.
    this.failures++;
    if (ip) this.clear.delete(ip);
    const retryAfter = Math.max(...crossed.map((s) => s ?? 0));
    if (retryAfter > 0) throw rateLimited(retryAfter, 'Too many failed authentications');
  }

  clientIp(req: Pick<IncomingMessage, 'socket'> | undefined, headers: Headers): string | undefined {
    const socket = req?.socket.remoteAddress;
    if (this.limits.trustProxyHops === 0) return socket;
    // Each trusted proxy appends the address it received the request from: the client is the
    // entry the outermost trusted one added (anything left of it is the client's own claim).
    const forwarded = (headers.get('x-forwarded-for') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    return forwarded[forwarded.length - this.limits.trustProxyHops] ?? forwarded[0] ?? socket;
  }

  /** Seconds left of a block, or null when not blocked. */
  private async blockedFor(limiter: RateLimiterAbstract, key: string): Promise<number | null> {
    try {
      const res = await limiter.get(key);
      return res && res.consumedPoints > limiter.points ? Math.max(1, Math.ceil(res.msBeforeNext / 1000)) : null;
    } catch (error) {
      // Fail open: an unreadable counter must not refuse every caller.
      this.logger.warn({ err: error }, 'Auth rate limiter: could not read a counter');
      return null;
    }
  }

  /** Counts one failure; the seconds to wait when it went over the limit, else null. */
  private async consume(limiter: RateLimiterAbstract, key: string): Promise<number | null> {
    try {
      await limiter.consume(key, 1);
      return null;
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      this.logger.warn({ err: rejection }, 'Auth rate limiter: could not count a failure');
      return null;
    }
  }

  async close() {
    this.redis?.disconnect();
  }
}

/** A Node request's headers as fetch Headers (websocket upgrades: X-Forwarded-For for clientIp). */
export function nodeHeaders(request: Pick<IncomingMessage, 'headers'> | undefined): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request?.headers ?? {})) if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  return headers;
}

/** Until start-up sets one: no limits (tests of single functions, the CLI). */
const unlimited: AuthRateLimiter = {
  check: async () => undefined,
  fail: async () => undefined,
  clientIp: (req) => req?.socket.remoteAddress,
  ready: async () => undefined,
  close: async () => undefined,
};
let current: AuthRateLimiter = unlimited;

export function authRateLimiter(): AuthRateLimiter {
  return current;
}

export function setAuthRateLimiter(limiter: AuthRateLimiter | null): void {
  current = limiter ?? unlimited;
}
