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
  const issues: InputIssue[] = [{ field: variable, message: error.message }];
  // A new error: the executor defines `extensions` as read-only.
  return createGraphQLError(error.message, {
    nodes: error.nodes ?? null,
    source: error.source ?? null,
    positions: error.positions ?? null,
    extensions: { ...error.extensions, code: ErrorCode.BAD_USER_INPUT, issues },
  });
}
