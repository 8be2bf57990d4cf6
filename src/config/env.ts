import { z } from 'zod';

/**
 * Herald's whole configuration, parsed once from the environment at start-up.
 * Everything else reads the typed `Config`, never `process.env`.
 */
const schema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    HOST: z.string().min(1).default('0.0.0.0'),
    PORT: z.coerce.number().int().min(0).max(65535).default(4000),
    /** PostgreSQL URL. Unset: the embedded PGlite database under HERALD_DATA_DIR. */
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
      .optional(),
    /** Redis URL for pub/sub and the delivery queues (BullMQ). Unset: in-process pub/sub and queue. */
    REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
      .optional(),
    /**
     * Prefix of the queue keys in Redis. Deployments (or test runs) sharing one Redis need
     * different prefixes: a worker takes any job under its prefix, and another deployment's
     * message is unknown to its database.
     */
    QUEUE_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 letters, digits, "_", "." or "-"')
      .default('herald'),
    /** Where the embedded database and its lock live when DATABASE_URL is unset. */
    HERALD_DATA_DIR: z.string().min(1).default('./.herald'),
    /** Pool size of the PostgreSQL driver per process. */
    DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Largest accepted request body, in bytes (GraphQL and REST alike). */
    MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(1_048_576),
    /** How long SIGTERM waits for in-flight requests before closing sockets, in ms. */
    SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
    /** Run delivery workers in this process (set false on API-only instances; see `herald worker`). */
    WORKERS_ENABLED: z
      .enum(['true', 'false', '1', '0'])
      .default('true')
      .transform((v) => v === 'true' || v === '1'),
    /** Attempts per provider before failing over (or failing). */
    DELIVERY_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(5),
    /** First retry delay; each next one doubles (exponential backoff with jitter). */
    DELIVERY_BACKOFF_MS: z.coerce.number().int().min(10).default(2_000),
    /** Concurrent deliveries per channel and process. */
    DELIVERY_CONCURRENCY: z.coerce.number().int().min(1).max(1_000).default(20),
    /** Per-channel rate limits, JSON: {"SMS":{"max":10,"durationMs":1000}}. */
    DELIVERY_RATE_LIMITS: z
      .string()
      .default('{}')
      .transform((v, ctx) => {
        try {
          return z.record(z.string(), z.object({ max: z.number().int().min(1), durationMs: z.number().int().min(1) })).parse(JSON.parse(v));
        } catch {
          ctx.addIssue({ code: 'custom', message: 'must be JSON like {"SMS":{"max":10,"durationMs":1000}}' });
          return z.NEVER;
        }
      }),
    /** How long a worker owns a message it is sending; after that a crash is assumed. */
    DELIVERY_LEASE_MS: z.coerce.number().int().min(1_000).default(60_000),
    /** How often the reconciler looks for messages that were never enqueued or were lost. */
    RECONCILE_INTERVAL_MS: z.coerce.number().int().min(100).default(10_000),
    /** A queued message with no progress for this long is enqueued again (jobs lost with Redis). */
    RECONCILE_STALE_MS: z.coerce.number().int().min(100).default(60_000),
    /** Key for provider credentials at rest: 32 bytes, base64. Unset: generated in HERALD_DATA_DIR. */
    HERALD_ENCRYPTION_KEY: z
      .string()
      .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 bytes, base64-encoded (openssl rand -base64 32)')
      .optional(),
    /**
     * graphql-ws keep-alive: every this many ms the server pings each socket (a ws ping frame)
     * and terminates it if no pong came back within the same time, so a dead peer (a laptop
     * lid closed, a dropped mobile link) frees its subscriptions within two intervals. 0: off.
     */
    WS_KEEPALIVE_MS: z.coerce.number().int().min(0).max(3_600_000).default(12_000),
    /** A websocket that sends no connection_init within this time is closed with 4408. */
    WS_CONNECTION_INIT_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
    /** Concurrent subscriptions per websocket; one more is refused with TOO_MANY_SUBSCRIPTIONS. */
    WS_MAX_SUBSCRIPTIONS: z.coerce.number().int().min(1).max(10_000).default(100),
    /**
     * A websocket that still holds more than this many unsent bytes when the next message is due
     * is a slow consumer: it is closed with 1013 (Try Again Later) instead of buffering without
     * bound, and its client resubscribes with `since`.
     */
    WS_MAX_BUFFERED_BYTES: z.coerce.number().int().min(1024).default(1_048_576),
    // --- realtime streams (realtime branch) ---
    /**
     * Events one subscription (websocket or SSE, any field) may hold for a consumer that has not
     * taken them; one more ends that subscription with SLOW_CONSUMER (websocket: closed with 1013).
     */
    SUBSCRIPTION_MAX_BUFFERED_EVENTS: z.coerce.number().int().min(10).max(1_000_000).default(1_000),
    /**
     * How often each instance re-reads the credentials of its open streams (one query per kind of
     * credential). Revocations and rotations end streams at once through pub/sub; this bounds how
     * long a change made without an event (a user deleted in SQL) keeps a stream open. 0: off.
     */
    STREAM_RECHECK_MS: z.coerce.number().int().min(0).max(86_400_000).default(30_000),
    /** Apply pending migrations at start-up (set false when a release job runs `npm run migrate`). */
    MIGRATE_ON_START: z
      .enum(['true', 'false', '1', '0'])
      .default('true')
      .transform((v) => v === 'true' || v === '1'),
  })
  .superRefine((env, ctx) => {
    // Several instances only make sense with a shared database: the embedded one is per process.
    if (env.REDIS_URL && !env.DATABASE_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_URL'],
        message: 'is set but DATABASE_URL is not: Redis is only used together with PostgreSQL',
      });
    }
  });

export type Config = z.infer<typeof schema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

/** Parses the environment; throws ConfigError listing one line per problem. */
export function parseConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings mean "unset" (a common shape of docker-compose and systemd files).
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const key = issue.path.join('.') || '(environment)';
      const value = typeof issue.path[0] === 'string' ? cleaned[issue.path[0]] : undefined;
      return `${key}: ${issue.message}${value !== undefined && !/URL|SECRET/.test(key) ? ` (got ${JSON.stringify(value)})` : ''}`;
    }),
  );
}
