import { GraphQLError, visit, type DocumentNode, type ExecutionResult } from 'graphql';
import { createGraphQLError, isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { Context, SocketInitialContext } from '../graphql/context.ts';
import { headersFromConnectionParams, principalFromHeaders } from '../graphql/context.ts';
import { credentialsFromHeaders } from '../modules/projects/auth.ts';

export type IntrospectionMode = 'auto' | 'on' | 'off';

export const INTROSPECTION_DISABLED = 'INTROSPECTION_DISABLED';

/**
 * Who may introspect the schema (`__schema`, `__type`) and read "Did you mean …?" suggestions
 * in validation errors: `on` everyone, `off` no one, `auto` everyone outside production and, in
 * production, only operators (API keys): the schema of a public endpoint is a map for attackers,
 * and suggestions leak it field by field even with introspection off. `__typename` always works.
 *
 * Suggestions come with validation errors, before the context (and its authentication) exists:
 * over HTTP they are removed from the answer unless the request's credentials are an API key's
 * (checked only on that error path); over websockets the socket's credentials were verified at
 * `connection_init`, so their style says who it is.
 */
export function useIntrospectionPolicy({ mode, production }: { mode: IntrospectionMode; production: boolean }): Plugin<Partial<Context> & SocketInitialContext> {
  const everyone = mode === 'on' || (mode === 'auto' && !production);
  const operatorsOnly = mode === 'auto' && production;
  if (everyone) return {};
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const context = args.contextValue as Partial<Context>;
      if (operatorsOnly && context.principal?.kind === 'apiKey') return;
      if (introspects(args.document)) {
        setResultAndStopExecution({ errors: [refused(operatorsOnly)] });
        return;
      }
      // Variable coercion errors suggest too ("Did you mean the enum value …?"), on websockets
      // as well, where no result processing follows.
      return {
        onExecuteDone({ result, setResult }) {
          if (isAsyncIterable(result) || !result.errors?.some(suggests)) return;
          setResult({ ...result, errors: result.errors.map(withoutSuggestions) });
        },
      };
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const context = args.contextValue as Partial<Context>;
      if (operatorsOnly && context.principal?.kind === 'apiKey') return;
      if (introspects(args.document)) setResultAndStopExecution({ errors: [refused(operatorsOnly)] });
    },
    onValidate({ context }) {
      if (context.transport !== 'ws') return;
      const presented = credentialsFromHeaders(headersFromConnectionParams(context.connectionParams ?? {}));
      const operator = presented !== null && presented !== 'malformed' && presented.style !== 'widget' && presented.style !== 'widgetToken';
      if (operatorsOnly && operator) return;
      return ({ valid, result, setResult }) => {
        if (!valid) setResult(result.map(withoutSuggestions));
      };
    },
    async onResultProcess({ request, result, setResult }) {
      if (Array.isArray(result) || isAsyncIterable(result)) return;
      const single = result as ExecutionResult;
      if (!single.errors?.some(suggests)) return;
      if (operatorsOnly && (await isOperator(request.headers))) return;
      setResult({ ...single, errors: single.errors.map(withoutSuggestions) });
    },
  };
}

const SUGGESTION = /\s*Did you mean .+\?/;
const SUGGESTIONS = new RegExp(SUGGESTION.source, 'g');

/** Whether an error's message, or one of its `issues` (use-variable-errors.ts), suggests. */
function suggests(error: Error): boolean {
  const issues = (error as Partial<GraphQLError>).extensions?.issues;
  return SUGGESTION.test(error.message) || (Array.isArray(issues) && issues.some((issue: { message?: unknown }) => SUGGESTION.test(String(issue.message))));
}

function withoutSuggestions<E extends Error>(error: E): E | GraphQLError {
  if (!(error instanceof GraphQLError) || !suggests(error)) return error;
  const strip = (text: string) => text.replace(SUGGESTIONS, '').trim();
  const issues = error.extensions.issues;
  // A new error: validation results are cached, and an operator asking next must see the original.
  return new GraphQLError(strip(error.message), {
    nodes: error.nodes ?? null,
    source: error.source ?? null,
    positions: error.positions ?? null,
    path: error.path ?? null,
    extensions: Array.isArray(issues)
      ? { ...error.extensions, issues: issues.map((issue: { message?: unknown }) => ({ ...issue, message: strip(String(issue.message)) })) }
      : error.extensions,
  });
}

async function isOperator(headers: Headers): Promise<boolean> {
  try {
    return (await principalFromHeaders(headers))?.kind === 'apiKey';
  } catch {
    return false;
  }
}

/** Whether the document selects __schema or __type anywhere (fragments included). */
/** Per parsed document: yoga's parser cache hands the same object to every request of one text. */
const introspecting = new WeakMap<DocumentNode, boolean>();

function introspects(document: DocumentNode): boolean {
  let found = introspecting.get(document);
  if (found === undefined) introspecting.set(document, (found = visitsIntrospection(document)));
  return found;
}

function visitsIntrospection(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    Field(node) {
      if (node.name.value === '__schema' || node.name.value === '__type') {
        found = true;
        return false;
      }
      return undefined;
    },
  });
  return found;
}

function refused(operatorsOnly: boolean): GraphQLError {
  return createGraphQLError(operatorsOnly ? 'Introspection is available to API keys only' : 'Introspection is disabled', {
    extensions: { code: INTROSPECTION_DISABLED, http: { status: 403 } },
  });
}
