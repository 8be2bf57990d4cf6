import { validate, version } from 'uuid';
import { describe, expect, it } from 'vitest';
import { uuidv7 } from '../src/db/ids.ts';

describe('uuidv7 (src/db/ids.ts)', () => {
  it('makes valid, distinct UUIDv7s that sort in creation order, also within one millisecond', () => {
    const ids = Array.from({ length: 20_000 }, () => uuidv7());
    for (const id of ids.slice(0, 100)) {
      expect(validate(id)).toBe(true);
      expect(version(id)).toBe(7);
      // RFC 9562 variant (10xx) in the 17th hex digit.
      expect('89ab').toContain(id[19]);
    }
    expect(new Set(ids).size).toBe(ids.length);
    // Many land in the same millisecond: the counter keeps them ordered, as PostgreSQL's uuid order (bytes) sees them.
    expect([...ids].sort()).toEqual(ids);
  });

  it('carries the time: the first 48 bits are the milliseconds since the epoch', () => {
    const before = Date.now();
    const id = uuidv7();
    const ms = parseInt(id.replace(/-/g, '').slice(0, 12), 16);
    // The counter may have moved the timestamp on by a millisecond or so when it wrapped.
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThan(Date.now() + 1_000);
  });
});
