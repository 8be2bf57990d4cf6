import { context, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { getOperationAST, type DocumentNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { finish, tracer } from './spans.ts';

/**
 * A `graphql.execute` span around each operation's execution, parent of its resolvers' work
 * (`herald.accept`, SQL, Redis). OpenTelemetry's graphql instrumentation wraps graphql-js's own
 * `execute`, which yoga does not call (it executes through @graphql-tools/executor): without this,
 * a trace shows parse and validate, then SQL hanging straight under the HTTP span.
 *
 * Envelop's instrumentation hook wraps the whole phase, so the span is the active context while
 * the resolvers run. Attributes follow the OpenTelemetry GraphQL conventions. Installed only when
 * tracing is on (the SDK started by the preload): otherwise there is nothing to wrap.
 */
export function useExecuteSpans(): Plugin {
  const spans = new WeakMap<object, Span>();
  return {
    instrumentation: {
      execute: ({ context: ctx }, wrapped) =>
        tracer.startActiveSpan('graphql.execute', (span) => {
          spans.set(ctx, span);
          let result;
          try {
            result = wrapped();
          } catch (error) {
            finish(span, error);
            throw error;
          }
          // wrapped() resolves when execution is done (a subscription: when its stream is set up).
          if (result && typeof (result as Promise<void>).then === 'function') {
            return (result as Promise<void>).then(
              () => finish(span),
              (error: unknown) => {
                finish(span, error);
                throw error;
              },
            );
          }
          finish(span);
          return result;
        }),
    },
    onExecute({ args }) {
      const span = spans.get(args.contextValue as object) ?? trace.getSpan(context.active());
      if (!span) return;
      const operation = getOperationAST(args.document as DocumentNode, args.operationName ?? undefined);
      if (operation) {
        span.setAttribute('graphql.operation.type', operation.operation);
        if (operation.name) span.setAttribute('graphql.operation.name', operation.name.value);
        span.updateName(`graphql.execute ${operation.operation}${operation.name ? ` ${operation.name.value}` : ''}`);
      }
      return {
        onExecuteDone({ result }) {
          if (!('errors' in result) || !result.errors?.length) return;
          span.setAttribute('graphql.errors', result.errors.length);
          span.setStatus({ code: SpanStatusCode.ERROR, message: result.errors[0]!.message });
        },
      };
    },
  };
}
