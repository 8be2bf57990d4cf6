/** What every bench script needs: bounded integer settings from the environment, percentiles. */

/** An integer setting from the environment, `fallback` when unset; anything else out of [min, max] stops the bench. */
export function intEnv(name: string, fallback: number, min: number, max: number): number {
  const value = process.env[name] === undefined ? fallback : Number(process.env[name]);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name} must be an integer in [${min}, ${max}]`);
  return value;
}

/** The nearest-rank percentile of an ascending list (NaN when it is empty). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!;
}
