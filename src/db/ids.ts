import { randomFillSync } from 'node:crypto';

/**
 * Row ids: UUIDv7 (RFC 9562), as the `uuid` package's v7() makes them, including its monotonic
 * counter (ids made in the same millisecond by this process sort in creation order: a user's
 * messages and inbox items keep the order they were sent in). The difference is the randomness:
 * uuid's v7() calls crypto.getRandomValues for 16 bytes per id, which cost 5% of the CPU of a
 * 50-message `messages.send` (100 ids: the messages and the user upsert's rows, ~8 µs each
 * measured under load); here the bytes come from a pool refilled 4 KiB at a time, as Node's own
 * randomUUID() does.
 */
const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;

/** 16 fresh random bytes: the pool's next slice (each slice is used once). */
function random16(): Buffer {
  if (offset + 16 > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const slice = pool.subarray(offset, offset + 16);
  offset += 16;
  return slice;
}

const HEX = Array.from({ length: 256 }, (_, i) => (i + 0x100).toString(16).slice(1));

// uuid's v7 state: the last millisecond used and a 32-bit counter seeded randomly in each new
// millisecond; when the counter wraps the timestamp moves on by one (ids stay ordered).
let lastMs = Number.NEGATIVE_INFINITY;
let seq = 0;

/** A new UUIDv7, lower-case hex with dashes. */
export function uuidv7(): string {
  const r = random16();
  const now = Date.now();
  if (now > lastMs) {
    seq = ((r[6]! & 0x7f) << 24) | (r[7]! << 16) | (r[8]! << 8) | r[9]!;
    lastMs = now;
  } else {
    seq = (seq + 1) | 0;
    if (seq === 0) lastMs++;
  }
  const ms = lastMs;
  const b0 = (ms / 0x10000000000) & 0xff;
  const b1 = (ms / 0x100000000) & 0xff;
  const b2 = (ms / 0x1000000) & 0xff;
  const b3 = (ms / 0x10000) & 0xff;
  const b4 = (ms / 0x100) & 0xff;
  const b5 = ms & 0xff;
  const b6 = 0x70 | ((seq >>> 28) & 0x0f);
  const b7 = (seq >>> 20) & 0xff;
  const b8 = 0x80 | ((seq >>> 14) & 0x3f);
  const b9 = (seq >>> 6) & 0xff;
  const b10 = ((seq << 2) & 0xff) | (r[10]! & 0x03);
  return (
    HEX[b0]! + HEX[b1]! + HEX[b2]! + HEX[b3]! + '-' + HEX[b4]! + HEX[b5]! + '-' + HEX[b6]! + HEX[b7]! + '-' + HEX[b8]! + HEX[b9]! + '-' +
    HEX[b10]! + HEX[r[11]!]! + HEX[r[12]!]! + HEX[r[13]!]! + HEX[r[14]!]! + HEX[r[15]!]!
  );
}
