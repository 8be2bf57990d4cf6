/**
 * The workflow engine's notion of "now": every due-time decision (DELAY, DIGEST close, THROTTLE
 * windows, the sweep's "is it due") reads it, and SQL comparisons take it as a parameter rather
 * than calling now(), so a test can move time (across a DST change, past a one-hour delay)
 * without waiting. Production never sets it. Leases keep the wall clock: they measure how long
 * a worker has been silent, not a business time.
 */
let source: () => number = () => Date.now();

export const clock = {
  now: (): Date => new Date(source()),
  ms: (): number => source(),
};

/** Tests: a fixed or moving time; null goes back to the wall clock. */
export function setClock(now: (() => number | Date) | null): void {
  source = now ? () => { const v = now(); return typeof v === 'number' ? v : v.getTime(); } : () => Date.now();
}
