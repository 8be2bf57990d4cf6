import { describe, expect, it } from 'vitest';
import { TransactionalLoad } from '../src/delivery/load.ts';

// The gate broadcasts take turns at (src/delivery/load.ts): pure in-process logic, no server.

/** A promise and the function that settles it. */
function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('TransactionalLoad', () => {
  it('quiet() waits for every transactional send in flight, then lets background work go', async () => {
    const load = new TransactionalLoad({ yieldMs: 60_000, backgroundConcurrency: 2 });
    const order: string[] = [];
    const first = deferred();
    const second = deferred();
    const a = load.track(() => first.promise.then(() => order.push('send 1 done')));
    const b = load.track(() => second.promise.then(() => order.push('send 2 done')));
    expect(load.busy).toBe(true);
    const waited = load.quiet().then(() => order.push('background'));
    first.resolve();
    await a;
    // One send is still in flight: the background work has not started.
    await Promise.resolve();
    expect(order).toEqual(['send 1 done']);
    second.resolve();
    await Promise.all([b, waited]);
    expect(order).toEqual(['send 1 done', 'send 2 done', 'background']);
    expect(load.busy).toBe(false);
  });

  it('a failing send still counts out, and quiet() answers at once when nothing is in flight', async () => {
    const load = new TransactionalLoad({ yieldMs: 60_000, backgroundConcurrency: 1 });
    await expect(load.track(() => Promise.reject(new Error('refused')))).rejects.toThrow('refused');
    expect(load.busy).toBe(false);
    await load.quiet();
  });

  it('quiet() gives up after yieldMs under a send that does not end, and never waits with yieldMs 0', async () => {
    const stuck = deferred();
    const bounded = new TransactionalLoad({ yieldMs: 20, backgroundConcurrency: 1 });
    void bounded.track(() => stuck.promise);
    await bounded.quiet();
    expect(bounded.busy).toBe(true);
    const never = new TransactionalLoad({ yieldMs: 0, backgroundConcurrency: 1 });
    void never.track(() => stuck.promise);
    await never.quiet();
    stuck.resolve();
  });

  it('background() runs at most backgroundConcurrency batches at once, in the order they came, and passes on slots after a failure', async () => {
    const load = new TransactionalLoad({ yieldMs: 60_000, backgroundConcurrency: 2 });
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const gates = Array.from({ length: 5 }, deferred);
    const batches = gates.map((gate, i) =>
      load.background(async () => {
        started.push(i);
        running++;
        most = Math.max(most, running);
        await gate.promise;
        running--;
        if (i === 1) throw new Error('batch failed');
      }),
    );
    const settled = Promise.allSettled(batches);
    for (const gate of gates) {
      // Let the batches that have a slot start before the next one ends.
      await new Promise((resolve) => setImmediate(resolve));
      gate.resolve();
    }
    const outcomes = await settled;
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBe(2);
  });
});
