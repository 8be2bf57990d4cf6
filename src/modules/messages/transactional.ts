import type { AcceptContext } from '../../delivery/accept.ts';
import type { Delivery } from '../../delivery/delivery.ts';
import type { Message } from '../../generated/prisma/client.ts';
import { wakeStartedRuns } from '../workflows/service.ts';

/**
 * What follows the commit of accepted messages, for every entry point: the workflow runs the
 * write started are woken (see startRuns), the first statuses published and the messages that
 * are not SKIPPED handed to the queue (with `priority`, after `pause`: a broadcast's chunk).
 */
export async function afterAccept(delivery: Delivery, ctx: AcceptContext, messages: Message[], options: { priority?: number; pause?: () => Promise<void> } = {}): Promise<void> {
  await wakeStartedRuns(delivery.workflows, ctx);
  delivery.publishAccepted(messages);
  await options.pause?.();
  await delivery.dispatch(
    messages.filter((m) => m.status !== 'SKIPPED'),
    undefined,
    { priority: options.priority },
  );
}

/**
 * A transactional send (messages.send, NP6 executions and tests, Neucron, department notify):
 * `write` commits its messages, then afterAccept runs, and while both run a broadcast's chunks
 * and deliveries in this process wait (src/delivery/load.ts).
 */
export function sendTransactional<T>(delivery: Delivery, ctx: AcceptContext, write: () => Promise<T>, messagesOf: (written: T) => Message[]): Promise<T> {
  return delivery.load.track(async () => {
    const written = await write();
    await afterAccept(delivery, ctx, messagesOf(written));
    return written;
  });
}
