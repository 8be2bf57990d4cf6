/**
 * `node --import ./dist/telemetry/preload.js dist/main.js` (what `npm start`, the Dockerfile and
 * `herald worker` run): when OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is set, starts
 * OpenTelemetry BEFORE Herald's modules are loaded. It has to come first: the instrumentations
 * wrap pg, ioredis, graphql and http as they are loaded, and Herald is ES modules, which only a
 * loader hook (import-in-the-middle, registered here) can wrap. Without the variables it does
 * nothing and loads nothing of the SDK.
 */
import { register } from 'node:module';
import { parseTelemetryConfig } from '../config/env.ts';

const telemetry = parseTelemetryConfig();
if (telemetry && (telemetry.OTEL_EXPORTER_OTLP_ENDPOINT || telemetry.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)) {
  // Only the modules the instrumentations wrap go through the hook: wrapping every module of
  // the app would slow the start down for nothing.
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, {
    data: { include: ['pg', 'pg-pool', 'ioredis', 'graphql', /\/node_modules\/graphql\//, 'http', 'https', 'undici'] },
  });
  const { startTracing } = await import('./tracing.ts');
  startTracing(telemetry);
}
