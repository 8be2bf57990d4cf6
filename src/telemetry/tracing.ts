/**
 * The OpenTelemetry SDK: loaded only by the preload, and only when an OTLP endpoint is set, so
 * a Herald without tracing never loads the SDK. The instrumentations are OpenTelemetry's own
 * (http for the server and outbound http, undici for fetch, pg, ioredis, graphql); Herald adds
 * its own spans around accept and delivery (src/telemetry/spans.ts) and carries the trace
 * context through the queue, so one trace goes request → accept → queue → delivery → provider.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { GraphQLInstrumentation } from '@opentelemetry/instrumentation-graphql';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { TelemetryConfig } from '../config/env.ts';
import { setTracingProvider } from './spans.ts';

/** Probes and scrapes would be most of the traces and say nothing. */
const UNTRACED_PATHS = /^\/(healthz|readyz|metrics)(\/|\?|$)/;

function packageVersion(): string {
  try {
    // src/telemetry and dist/telemetry are both two levels below the package root.
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function startTracing(config: TelemetryConfig): void {
  const url = config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? `${config.OTEL_EXPORTER_OTLP_ENDPOINT!.replace(/\/+$/, '')}/v1/traces`;
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.OTEL_SERVICE_NAME, [ATTR_SERVICE_VERSION]: packageVersion() }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.OTEL_TRACES_SAMPLE_RATIO) }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }))],
  });
  // Sets the global tracer provider, AsyncLocalStorage context and the W3C traceparent propagator.
  provider.register();
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request: IncomingMessage) => UNTRACED_PATHS.test(request.url ?? ''),
        // The path without its query string: widget credentials travel in some legacy queries.
        requestHook: (span, request) => {
          if ('method' in request && 'url' in request && typeof (request as IncomingMessage).url === 'string' && !('path' in request)) {
            const incoming = request as IncomingMessage;
            span.updateName(`${incoming.method} ${(incoming.url ?? '').split('?')[0]}`);
          }
        },
      }),
      new UndiciInstrumentation(),
      new PgInstrumentation({ enhancedDatabaseReporting: false }),
      new IORedisInstrumentation(),
      // Resolver spans would be one per field of every answer: parse, validate and execute tell where the time goes.
      new GraphQLInstrumentation({ ignoreResolveSpans: true, mergeItems: true, allowValues: false }),
    ],
  });
  setTracingProvider(provider);
}
