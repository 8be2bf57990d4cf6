/**
 * Coalesces the lookups asked for in the same tick into one call of `load` (at most `max` keys
 * each): a crowd of widgets connecting at once (a deploy, a network blip) costs a few queries
 * instead of one per socket, each of which pays the ORM's fixed cost. `load` answers a map by
 * key; a key it does not answer resolves to undefined. A failed load rejects its whole batch.
 */
export function batched<K, V>(load: (keys: K[]) => Promise<Map<string, V>>, keyOf: (key: K) => string, max = 500): (key: K) => Promise<V | undefined> {
  let pending: { key: K; resolve: (value: V | undefined) => void; reject: (error: unknown) => void }[] = [];
  const flush = () => {
    const batch = pending;
    pending = [];
    for (let i = 0; i < batch.length; i += max) {
      const slice = batch.slice(i, i + max);
      // Distinct keys only: two sockets of one user share a row.
      const keys = [...new Map(slice.map((p) => [keyOf(p.key), p.key])).values()];
      load(keys).then(
        (found) => {
          for (const p of slice) p.resolve(found.get(keyOf(p.key)));
        },
        (error: unknown) => {
          for (const p of slice) p.reject(error);
        },
      );
    }
  };
  return (key) =>
    new Promise((resolve, reject) => {
      if (pending.length === 0) setImmediate(flush);
      pending.push({ key, resolve, reject });
    });
}
