import { z } from 'zod';
import ipaddr from 'ipaddr.js';

/**
 * Herald's whole configuration, parsed once from the environment at start-up.
 * Everything else reads the typed `Config`, never `process.env`.
 */
/**
 * OpenTelemetry traces (src/telemetry/). Read by the preload (`node --import
 * ./dist/telemetry/preload.js`, which must run before Herald's modules load so the
 * instrumentations can wrap pg, ioredis, graphql and http) and by parseConfig, so they are
 * validated and documented in one place. The exporter reads the other standard OTEL_EXPORTER_OTLP_*
 * variables (headers, timeout, compression) itself.
 */
const telemetryFields = {
  /** OTLP/HTTP collector base URL (spans go to <url>/v1/traces). Unset: no tracing at all. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .string()
    .regex(/^https?:\/\//, 'must be an http:// or https:// URL')
    .optional(),
  /** Full traces URL, overriding OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces (the OTel convention). */
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z
    .string()
    .regex(/^https?:\/\//, 'must be an http:// or https:// URL')
    .optional(),
  OTEL_SERVICE_NAME: z.string().min(1).max(128).default('herald'),
  /** Share of new traces recorded, 0..1 (parent-based: a caller's sampled trace is always followed). */
  OTEL_TRACES_SAMPLE_RATIO: z.coerce.number().min(0).max(1).default(1),
};

export type TelemetryConfig = z.output<z.ZodObject<typeof telemetryFields>>;

/** The telemetry variables alone (the preload runs before the rest of the configuration is read); null when they are invalid (parseConfig then reports them). */
export function parseTelemetryConfig(env: Record<string, string | undefined> = process.env): TelemetryConfig | null {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([key, v]) => key in telemetryFields && v !== undefined && v !== ''));
  const result = z.object(telemetryFields).safeParse(cleaned);
  return result.success ? result.data : null;
}

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
    /**
     * Named prepared statements for the hot reads (planned once per connection). Off behind a
     * pooler in transaction mode that does not track them (PgBouncer before 1.21, or without
     * max_prepared_statements).
     */
    DATABASE_PREPARED_STATEMENTS: z
      .enum(['true', 'false', '1', '0'])
      .default('true')
      .transform((v) => v === 'true' || v === '1'),
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
    // --- throughput (batched delivery) ---
    /**
     * Due messages of one channel per queue job: a worker claims them in one statement and
     * delivers in-app ones in one statement. 1: one job per message, as before.
     */
    DELIVERY_BATCH_SIZE: z.coerce.number().int().min(1).max(1_000).default(100),
    /**
     * Workflow runs one process executes at once (each step is a short transaction): kept under
     * the pool size so the API and message delivery keep connections while runs pile up.
     */
    WORKFLOW_CONCURRENCY: z.coerce.number().int().min(1).max(200).default(4),
    /** How often the reconciler looks for messages that were never enqueued or were lost. */
    RECONCILE_INTERVAL_MS: z.coerce.number().int().min(100).default(10_000),
    /** A queued message with no progress for this long is enqueued again (jobs lost with Redis). */
    RECONCILE_STALE_MS: z.coerce.number().int().min(100).default(60_000),
    // --- broadcasts (topics, sendToAll) ---
    /** Recipients a broadcast's fan-out hands to the messages service per step (one cursor advance each). */
    BROADCAST_CHUNK_SIZE: z.coerce.number().int().min(1).max(5_000).default(200),
    /** Broadcasts one process fans out at once (their own queue, apart from the delivery queues). */
    BROADCAST_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(1),
    /** A pause after each chunk: throttles broadcasts to spare the database (0: none). */
    BROADCAST_CHUNK_DELAY_MS: z.coerce.number().int().min(0).max(60_000).default(0),
    /**
     * The longest a broadcast's next chunk, or one of its delivery batches, waits for the
     * transactional sends in flight in the same process to finish (0: it never waits). See src/delivery/load.ts.
     */
    BROADCAST_YIELD_MS: z.coerce.number().int().min(0).max(60_000).default(1_000),
    /** A broadcast's delivery batches one process runs at once: the rest of the pool stays free for transactional sends. */
    BROADCAST_DELIVERY_CONCURRENCY: z.coerce.number().int().min(1).max(1_000).default(4),
    /** How long a worker owns a broadcast between two chunks; after that a crash is assumed and another worker resumes it. */
    BROADCAST_LEASE_MS: z.coerce.number().int().min(500).default(30_000),
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
    // --- Request limits and input hygiene (see README "Request limits") ---
    /** Most lexical tokens one GraphQL document may have (checked before it is parsed). */
    GRAPHQL_MAX_TOKENS: z.coerce.number().int().min(100).max(100_000).default(10_000),
    /** Deepest field nesting of an operation (fragments expanded; introspection's __schema is exempt). */
    GRAPHQL_MAX_DEPTH: z.coerce.number().int().min(2).max(50).default(12),
    /** Most aliased fields in one operation (1,000 aliases of one list were the query bomb). */
    GRAPHQL_MAX_ALIASES: z.coerce.number().int().min(0).max(1_000).default(30),
    /** Most directives in one operation. */
    GRAPHQL_MAX_DIRECTIVES: z.coerce.number().int().min(0).max(1_000).default(20),
    /**
     * Cost budget of one operation: a field costs 1, and a connection multiplies what it selects
     * by its page size (`first`/`last`, 50 when absent), so it estimates the rows an answer reads.
     */
    GRAPHQL_MAX_COST: z.coerce.number().int().min(100).max(10_000_000).default(20_000),
    /** Deepest nesting of a JSON value (variables, JSON scalars, REST bodies). */
    MAX_JSON_DEPTH: z.coerce.number().int().min(4).max(1_000).default(64),
    /**
     * Origins allowed by CORS: `*` (any origin, without credentials) or a comma-separated list
     * of origins (`https://app.example.com,https://admin.example.com`), answered with credentials.
     */
    CORS_ORIGINS: z
      .string()
      .default('*')
      .transform((v, ctx) => {
        if (v.trim() === '*') return '*' as const;
        const origins = v.split(',').map((o) => o.trim()).filter(Boolean);
        for (const origin of origins) {
          let parsed: URL | undefined;
          try {
            parsed = new URL(origin);
          } catch {
            parsed = undefined;
          }
          if (!parsed || !/^https?:$/.test(parsed.protocol) || parsed.origin !== origin) {
            ctx.addIssue({ code: 'custom', message: `"${origin}" is not an origin like https://app.example.com (scheme, host, optional port; no path)` });
            return z.NEVER;
          }
        }
        return origins;
      }),
    /**
     * Introspection and "Did you mean" suggestions: `on` for everyone, `off` for everyone,
     * `auto` for everyone outside production and only for API-key callers in production.
     */
    INTROSPECTION: z.enum(['auto', 'on', 'off']).default('auto'),
    // --- end of request limits ---
    // --- Prometheus metrics (src/server/metrics.ts, src/server/use-metrics.ts) ---
    /** Serve GET /metrics (Prometheus text format) and record the metrics behind it. */
    METRICS_ENABLED: z
      .enum(['true', 'false', '1', '0'])
      .default('true')
      .transform((v) => v === 'true' || v === '1'),
    /**
     * When set, /metrics answers only `Authorization: Bearer <token>` (401 otherwise). Unset:
     * anyone who reaches the port reads it (block /metrics at the proxy, or set this).
     */
    METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters (e.g. openssl rand -hex 32)').optional(),
    /**
     * `herald worker` has no HTTP server: set, it serves its own GET /metrics on this port (on
     * HOST; 0: any free port), so the delivery counters of worker-only processes can be scraped.
     */
    WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
    // --- end of Prometheus metrics ---
    ...telemetryFields,
    // --- Outbound address policy (src/delivery/providers/outbound.ts) ---
    /**
     * Let outbound requests made for tenants (webhooks, callbacks, provider APIs, SMTP) reach
     * loopback, private, link-local, multicast and other non-public addresses. Unset: allowed
     * only in the embedded mode outside production (a developer's machine); refused as soon as
     * DATABASE_URL is set or NODE_ENV=production.
     */
    OUTBOUND_ALLOW_PRIVATE: z
      .enum(['true', 'false', '1', '0'])
      .optional()
      .transform((v) => (v === undefined ? undefined : v === 'true' || v === '1')),
    /** Non-public ranges allowed anyway, comma-separated CIDRs: "10.0.0.25/32,fd00::/8". */
    OUTBOUND_ALLOWED_CIDRS: z
      .string()
      .default('')
      .transform((v, ctx) => {
        const list = v.split(',').map((c) => c.trim()).filter(Boolean);
        for (const cidr of list) {
          if (!ipaddr.isValidCIDR(cidr)) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(cidr)} is not a CIDR (e.g. 10.0.0.0/8 or ::1/128)` });
        }
        return list;
      }),
    // --- Failed-authentication limits (src/modules/projects/rate-limit.ts) ---
    /** Failed authentications per client IP per window before that IP is answered 429. 0: no limit. */
    AUTH_RATE_LIMIT_IP_FAILURES: z.coerce.number().int().min(0).max(1_000_000).default(50),
    /** Failed authentications per API key id (or widget project + user) per window before wrong ones get 429. 0: no limit. */
    AUTH_RATE_LIMIT_KEY_FAILURES: z.coerce.number().int().min(0).max(1_000_000).default(20),
    /** The counting window, in seconds. */
    AUTH_RATE_LIMIT_WINDOW_S: z.coerce.number().int().min(1).max(86_400).default(60),
    /** How long an IP or key over its limit stays blocked, in seconds (Retry-After). */
    AUTH_RATE_LIMIT_BLOCK_S: z.coerce.number().int().min(1).max(86_400).default(60),
    /**
     * Reverse proxies in front of Herald that append to X-Forwarded-For. 0: the client IP is the
     * socket's peer (X-Forwarded-For is ignored: a client could forge it); n: the n-th address
     * from the right of X-Forwarded-For.
     */
    TRUST_PROXY_HOPS: z.coerce.number().int().min(0).max(10).default(0),
    // Database resilience (outages, pool exhaustion): see README "Database outages and overload".
    /**
     * How long a request may wait for a PostgreSQL connection (a free one in the pool, or a new
     * one being opened). Past it the request is shed with 503 + Retry-After instead of queueing
     * without bound; it also bounds how long a dead or unreachable server can hold a request.
     */
    DATABASE_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(50).max(120_000).default(5_000),
    /**
     * PostgreSQL's statement_timeout on Herald's connections: a statement running longer is
     * cancelled (the transaction rolls back) and the request answers 503. 0: no limit.
     * Migrations run on a connection of their own, without it.
     */
    DATABASE_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(0).max(3_600_000).default(15_000),
    /**
     * Longest a transaction may run (Prisma's interactive transaction timeout); past it it rolls
     * back and the request answers 503: nothing is half-written.
     */
    DATABASE_TRANSACTION_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
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
    // --- first run and logs (firstrun) ---
    /**
     * Log lines: `json` (pino, one JSON object per line: for log collectors), `pretty` (readable,
     * with pino-pretty; JSON when it is not installed) or `auto`: pretty when stdout is a terminal.
     */
    LOG_FORMAT: z.enum(['auto', 'pretty', 'json']).default('auto'),
    // --- retention (src/retention/; README "Retention") ---
    /**
     * How often the worker processes purge what the projects' retention settings let go (one
     * instance at a time: a PostgreSQL advisory lock). 0: never (run `herald purge` instead).
     */
    RETENTION_INTERVAL_MS: z.coerce
      .number()
      .int()
      .min(0)
      .max(7 * 86_400_000)
      .refine((v) => v === 0 || v >= 1_000, 'must be 0 (off) or at least 1000')
      .default(3_600_000),
    /** Rows per purge DELETE statement: each is its own short transaction. */
    RETENTION_BATCH_SIZE: z.coerce.number().int().min(1).max(50_000).default(1_000),
    /** Pause between two purge statements, in ms, so the purge never monopolises I/O or rows. */
    RETENTION_PAUSE_MS: z.coerce.number().int().min(0).max(60_000).default(100),
    // --- end of retention ---
    // --- delivery receipts (src/modules/receipts) ---
    /** How far the signed timestamp of a SendGrid or Mailgun callback may be from now, in seconds. */
    RECEIPTS_TIMESTAMP_TOLERANCE_S: z.coerce.number().int().min(10).max(86_400).default(300),
    /**
     * How long the callbacks of providers that sign no timestamp (Twilio, WhatsApp) are remembered
     * to refuse their replay, in seconds (timestamped ones: twice the tolerance).
     */
    RECEIPTS_REPLAY_TTL_S: z.coerce.number().int().min(60).max(30 * 86_400).default(86_400),
    // --- end of delivery receipts ---
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
