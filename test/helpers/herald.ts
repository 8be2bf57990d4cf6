import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { parseConfig, type Config } from '../../src/config/env.ts';
import { startHerald, type Herald } from '../../src/main.ts';
import { createProject, type NewProjectCredentials } from '../../src/modules/projects/service.ts';
import type { RestRoute } from '../../src/rest/route.ts';
import { createLogger } from '../../src/server/logger.ts';
import { createTestDatabase, TEST_REDIS_URL } from './database.ts';
import { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';

export interface TestHerald {
  url: string;
  port: number;
  herald: Herald;
  config: Config;
  /** A project created for this file, with its first key. */
  project: NewProjectCredentials;
  newProject(name?: string): Promise<NewProjectCredentials>;
  /**
   * Another Herald on this file's database, Redis and queues, without workers, configured with
   * `env` on top (e.g. NODE_ENV=production, a limit): for what only a different configuration
   * shows. The caller stops it.
   */
  startSibling(env?: Record<string, string>): Promise<{ herald: Herald; url: string }>;
  /** Stops Herald, drops its database and its queue keys; answers how many keys were removed. */
  stop(): Promise<number>;
}

/**
 * Starts a real Herald in this process, on a free port, against its own PostgreSQL database
 * and the real Redis, so test files never share data.
 */
export async function startTestHerald(options: { env?: Record<string, string>; routes?: RestRoute[]; logger?: Logger } = {}): Promise<TestHerald> {
  const database = await createTestDatabase();
  const config = parseConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: database.url,
    REDIS_URL: TEST_REDIS_URL,
    // Test files run in parallel on one Redis: each gets its own queues, as its own database.
    QUEUE_PREFIX: database.name,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    SHUTDOWN_TIMEOUT_MS: '2000',
    // The tests' webhook receivers, SMTP and provider stand-ins listen on 127.0.0.1: allowed here,
    // explicitly (the default refuses private addresses as soon as DATABASE_URL is set).
    // test/outbound.test.ts turns it off to test the policy.
    OUTBOUND_ALLOW_PRIVATE: 'true',
    ...options.env,
  });
  const herald = await startHerald(config, options.logger ?? createLogger(config), { routes: options.routes });
  const project = await createProject('Test project');
  return {
    url: `http://127.0.0.1:${herald.port}`,
    port: herald.port,
    herald,
    config,
    project,
    newProject: (name = 'Other project') => createProject(name),
    async startSibling(env = {}) {
      const siblingConfig = parseConfig({
        NODE_ENV: 'test',
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_URL: database.url,
        REDIS_URL: config.REDIS_URL ?? TEST_REDIS_URL,
        QUEUE_PREFIX: config.QUEUE_PREFIX,
        LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
        SHUTDOWN_TIMEOUT_MS: '2000',
        WORKERS_ENABLED: 'false',
        ...env,
      });
      const sibling = await startHerald(siblingConfig, createLogger(siblingConfig));
      return { herald: sibling, url: `http://127.0.0.1:${sibling.port}` };
    },
    async stop() {
      await herald.stop();
      await database.drop();
      return removeQueueKeys(config.REDIS_URL ?? TEST_REDIS_URL, config.QUEUE_PREFIX);
    },
  };
}

/**
 * Deletes the keys BullMQ leaves under a queue prefix (meta, id counters, event streams): each
 * test file has a prefix of its own, and the machine's Redis outlives the run. Answers how many.
 */
export async function removeQueueKeys(redisUrl: string, prefix: string): Promise<number> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    let removed = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) removed += await redis.del(...keys);
    } while (cursor !== '0');
    return removed;
  } finally {
    redis.disconnect();
  }
}

export interface GraphQLResponse<T> {
  status: number;
  data?: T | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

/** Runs a typed operation over HTTP, as any client would. */
export async function gql<TData, TVars>(
  baseUrl: string,
  document: TypedDocumentNode<TData, TVars>,
  variables: TVars,
  headers: Record<string, string> = {},
): Promise<GraphQLResponse<TData>> {
  const response = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query: print(document), variables }),
  });
  const body = (await response.json()) as Omit<GraphQLResponse<TData>, 'status'>;
  return { status: response.status, ...body };
}

export const bearer = (apiKey: string) => ({ authorization: `Bearer ${apiKey}` });

/** POSTs JSON to a REST path and returns status and parsed body. */
export async function rest(baseUrl: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: response.status, body: json, headers: response.headers };
}

/** A logger that keeps every line (parsed) in memory, for tests that assert what was logged. */
export function memoryLogger(level = 'info'): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ name: 'herald', level }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}
