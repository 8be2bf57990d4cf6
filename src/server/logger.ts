import { pino, type Logger } from 'pino';
import type { Config } from '../config/env.ts';

export function createLogger(config: Pick<Config, 'LOG_LEVEL'>): Logger {
  return pino({ name: 'herald', level: config.LOG_LEVEL });
}
