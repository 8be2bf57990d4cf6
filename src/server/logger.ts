import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from '../config/env.ts';

type LoggerConfig = Pick<Config, 'LOG_LEVEL'> & Partial<Pick<Config, 'LOG_FORMAT'>>;

/**
 * JSON lines for machines, readable lines for a person at a terminal (LOG_FORMAT). Pretty
 * printing runs in this thread (pino-pretty as a stream, not a worker transport: no extra
 * thread, and lines are written before the process exits).
 */
export function createLogger(config: LoggerConfig, stdout: { isTTY?: boolean } = process.stdout): Logger {
  const options = { name: 'herald', level: config.LOG_LEVEL };
  const format = config.LOG_FORMAT ?? 'json';
  if (format === 'json' || (format === 'auto' && !stdout.isTTY)) return pino(options);
  const pretty = prettyStream(format === 'pretty' && !stdout.isTTY);
  if (pretty) return pino(options, pretty);
  const logger = pino(options);
  // Production installs (npm ci --omit=dev) may lack the dev dependency: JSON then, said once.
  if (format === 'pretty') logger.warn('LOG_FORMAT=pretty needs the pino-pretty package, which is not installed: logging JSON');
  return logger;
}

type PrettyFactory = (options: Record<string, unknown>) => DestinationStream;

function prettyStream(plain: boolean): DestinationStream | null {
  let factory: PrettyFactory;
  try {
    factory = createRequire(import.meta.url)('pino-pretty') as PrettyFactory;
  } catch {
    return null;
  }
  // Colours only on a terminal; sync so the last lines before an exit are not lost.
  return factory({ colorize: !plain, sync: true, ignore: 'pid,hostname,name', translateTime: 'SYS:HH:MM:ss.l' });
}
