import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/env.ts';

/**
 * Provider credentials at rest: AES-256-GCM, "v1.<iv>.<tag>.<ciphertext>" in base64url.
 * The key comes from HERALD_ENCRYPTION_KEY; without it (embedded mode, development) one is
 * generated once under HERALD_DATA_DIR. Instances sharing a database must share the key.
 */
export class SecretBox {
  constructor(private readonly key: Buffer) {}

  static fromConfig(config: Pick<Config, 'HERALD_ENCRYPTION_KEY' | 'HERALD_DATA_DIR'>): SecretBox {
    if (config.HERALD_ENCRYPTION_KEY) return new SecretBox(Buffer.from(config.HERALD_ENCRYPTION_KEY, 'base64'));
    const file = path.resolve(config.HERALD_DATA_DIR, 'encryption.key');
    if (!existsSync(file)) {
      mkdirSync(path.dirname(file), { recursive: true });
      // wx: two processes starting at once cannot both write a key.
      try {
        writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    return new SecretBox(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64'));
  }

  seal(value: unknown): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return ['v1', iv, cipher.getAuthTag(), body].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
  }

  open<T = Record<string, unknown>>(sealed: string): T {
    const [version, iv, tag, body] = sealed.split('.');
    if (version !== 'v1' || !iv || !tag || body === undefined) throw new Error('Unreadable secret');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return JSON.parse(Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8')) as T;
  }
}
