import { Redis } from 'ioredis';
import type { Logger } from 'pino';

/**
 * The callbacks already accepted, so a replayed one is refused: Redis SET NX with a TTL when
 * REDIS_URL is set (every instance sees the same keys, under QUEUE_PREFIX), in memory otherwise
 * (the embedded mode has one process).
 */
export interface ReplayStore {
  /** true: first time this key is seen (it is now held for ttlSeconds); false: a replay. */
  claim(key: string, ttlSeconds: number): Promise<boolean>;
  /** Forgets a key whose callback could not be applied, so the provider's retry is accepted. */
  release(key: string): Promise<void>;
  close(): Promise<void>;
}

export function createReplayStore(redisUrl: string | undefined, prefix: string, logger: Logger): ReplayStore {
  if (!redisUrl) return memoryReplayStore();
  // No offline queue: with Redis unreachable a claim fails at once and the callback is answered
  // 503 (the provider retries), rather than accepted without a replay check.
  const redis = new Redis(redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: false });
  redis.on('error', (error) => logger.warn({ err: error }, 'Receipt replay store: Redis unreachable'));
  const full = (key: string) => `${prefix}:receipt-seen:${key}`;
  return {
    async claim(key, ttlSeconds) {
      if (redis.status !== 'ready') await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('Redis is not ready')), 2_000);
        redis.once('ready', () => (clearTimeout(timer), resolve()));
      });
      return (await redis.set(full(key), '1', 'EX', ttlSeconds, 'NX')) === 'OK';
    },
    async release(key) {
      await redis.del(full(key));
    },
    async close() {
      redis.disconnect();
    },
  };
}

export function memoryReplayStore(): ReplayStore {
  const seen = new Map<string, number>();
  return {
    async claim(key, ttlSeconds) {
      const now = Date.now();
      // Expired keys go as new ones come: the map holds at most the keys of the last TTL.
      if (seen.size > 10_000) for (const [k, until] of seen) if (until <= now) seen.delete(k);
      const until = seen.get(key);
      if (until !== undefined && until > now) return false;
      seen.set(key, now + ttlSeconds * 1000);
      return true;
    },
    async release(key) {
      seen.delete(key);
    },
    async close() {
      seen.clear();
    },
  };
}
