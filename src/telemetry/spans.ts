/**
 * Herald's own spans, on the OpenTelemetry API only: without the SDK (no preload, no endpoint)
 * every call here is the API's no-op and costs next to nothing.
 */
import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';

/** Herald's own tracer (a no-op without the SDK). */
export const tracer = trace.getTracer('herald');

interface Flushable {
  forceFlush(): Promise<void>;
}
let provider: Flushable | undefined;

/** Called by the preload's tracing setup: stop() flushes what is still buffered. */
export function setTracingProvider(p: Flushable): void {
  provider = p;
}

/** True when the SDK was started (the preload found an endpoint). */
export function tracingEnabled(): boolean {
  return provider !== undefined;
}

/**
 * Sends the spans still buffered (at shutdown: the last requests' traces), waiting at most
 * timeoutMs for a collector that does not answer.
 */
export async function flushTraces(timeoutMs = 2_000): Promise<void> {
  if (!provider) return;
  await Promise.race([provider.forceFlush().catch(() => {}), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
}

/** Ends a span, recording the error (and an ERROR status) if there is one. */
export function finish(span: Span, error?: unknown): void {
  if (error !== undefined) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  }
  span.end();
}

/** Runs fn inside a span named `name` (a child of the active one). */
export function traced<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      const result = await fn(span);
      finish(span);
      return result;
    } catch (error) {
      finish(span, error);
      throw error;
    }
  });
}

/** The active trace context as W3C headers, for a queue job; undefined when nothing is traced. */
export function traceCarrier(): Record<string, string> | undefined {
  if (!provider) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return Object.keys(carrier).length ? carrier : undefined;
}

/**
 * Runs a queue job's work in a CONSUMER span whose parent is the context the job was added
 * in (traceCarrier), so the delivery joins the trace of the request that accepted it.
 */
export function tracedJob<T>(name: string, carrier: Record<string, string> | undefined, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  if (!provider) return fn();
  const parent = carrier ? propagation.extract(context.active(), carrier) : context.active();
  return context.with(parent, () =>
    tracer.startActiveSpan(name, { kind: SpanKind.CONSUMER, attributes }, async (span) => {
      try {
        const result = await fn();
        finish(span);
        return result;
      } catch (error) {
        finish(span, error);
        throw error;
      }
    }),
  );
}
