import { Kind, type ExecutionResult, type GraphQLError } from 'graphql';
import { createGraphQLError, isAsyncIterable, type Plugin } from 'graphql-yoga';
import { ErrorCode, type InputIssue } from '../graphql/errors.ts';

/**
 * Gives BAD_USER_INPUT and `issues` to the errors of variables that do not fit their type (an
 * Int past int32, an unknown enum value, a missing required one). The executor refuses them
 * before any resolver runs and codes them only for subscriptions, so an id typed by a client
 * as `Int!` got a code-less 400 over HTTP where the same mistake in a resolver is BAD_USER_INPUT.
 */
export function useVariableErrors(): Plugin {
  const recode = (result: ExecutionResult, setResult: (result: ExecutionResult) => void) => {
    if (!result.errors?.some(variableOf)) return;
    setResult({ ...result, errors: result.errors.map((error) => withIssue(error)) });
  };
  return {
    onExecute: () => ({
      onExecuteDone: ({ result, setResult }) => {
        if (!isAsyncIterable(result)) recode(result, setResult);
      },
    }),
    onSubscribe: () => ({
      onSubscribeResult: ({ result, setResult }) => {
        if (!isAsyncIterable(result)) recode(result, setResult);
      },
    }),
  };
}

/** The variable a coercion error is about (the executor attaches its definition), if any. */
function variableOf(error: GraphQLError): string | undefined {
  const node = error.nodes?.[0];
  return node?.kind === Kind.VARIABLE_DEFINITION ? node.variable.name.value : undefined;
}

function withIssue(error: GraphQLError): GraphQLError {
  const variable = variableOf(error);
  if (variable === undefined) return error;
  const { message, field } = withoutValues(error, variable);
  const issues: InputIssue[] = [{ field, message }];
  // A new error: the executor defines `extensions` as read-only.
  return createGraphQLError(message, {
    nodes: error.nodes ?? null,
    source: error.source ?? null,
    positions: error.positions ?? null,
    extensions: { ...error.extensions, code: ErrorCode.BAD_USER_INPUT, issues },
  });
}

/** Quoted text (a key, an enum value) longer than this is not repeated back. */
const MAX_QUOTED = 40;

/**
 * graphql-js writes the value it refused into the message ('Variable "$x" got invalid value
 * <the whole value>; ...', 'String cannot represent a non string value: <it again>'): a 10 MB
 * variable came back whole, and a secret typed into the wrong field would be echoed (and
 * logged). The message keeps the variable, the path and the reason, never the value.
 */
function withoutValues(error: GraphQLError, variable: string): { message: string; field: string } {
  const head = `Variable "$${variable}" got invalid value `;
  if (!error.message.startsWith(head)) return { message: capQuoted(error.message), field: variable };
  const inner = error.originalError?.message ?? '';
  const prefix = inner && error.message.endsWith(`; ${inner}`) ? error.message.slice(0, error.message.length - inner.length - 2) : error.message;
  // The path comes last in the prefix: ` at "<variable>.a[0].b"` (keys are the client's; capped).
  const at = prefix.lastIndexOf(` at "${variable}`);
  const rawPath = at >= 0 && prefix.endsWith('"') ? prefix.slice(at + 5, -1) : variable;
  const path = rawPath.length > 100 ? `${rawPath.slice(0, 100)}…` : rawPath;
  const reason = scrub(inner);
  return { message: `Variable "$${variable}" got an invalid value${path !== variable ? ` at "${path}"` : ''}${reason ? `; ${reason}` : ''}`, field: path };
}

function scrub(reason: string): string {
  const cleaned = reason
    // Scalars: "Int cannot represent non-integer value: <value>", "DateTime cannot represent an invalid date-time-string <value>".
    .replace(/ cannot represent[\s\S]*$/, ' cannot represent the value given.')
    // Enums: 'Value "<value>" does not exist in "Status" enum.'
    .replace(/Value "(?:[^"\\]|\\.)*" does not exist in/, 'The value does not exist in');
  return capQuoted(cleaned).slice(0, 300);
}

function capQuoted(text: string): string {
  return text.replace(new RegExp(`"((?:[^"\\\\]|\\\\.){${MAX_QUOTED}})(?:[^"\\\\]|\\\\.)+"`, 'g'), '"$1…"');
}
