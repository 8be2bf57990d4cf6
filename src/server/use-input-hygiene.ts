import { Kind, type ASTVisitor, type ExecutionArgs, type GraphQLError, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { badInput } from '../graphql/errors.ts';
import { badText, findInputProblem } from './input-hygiene.ts';

/**
 * Refuses, with BAD_USER_INPUT naming the field, GraphQL input that PostgreSQL cannot store or
 * that nests too deeply (see input-hygiene.ts): every variable (HTTP and websocket operations
 * alike, before the executor coerces them) and every string literal of the document. Before,
 * a NUL or a lone surrogate in users.upsert or messages.send reached PostgreSQL (22P05: a 500),
 * and a `data` nested 100,000 deep overflowed JSON.stringify's stack.
 */
export function useInputHygiene({ maxJsonDepth }: { maxJsonDepth: number }): Plugin {
  const checkVariables = (args: ExecutionArgs, stop: (result: { errors: GraphQLError[] }) => void) => {
    const variables = (args.variableValues ?? {}) as Record<string, unknown>;
    const problem = findInputProblem(variables, maxJsonDepth + 1);
    if (problem) stop({ errors: [refused(problem.path, problem.message)] });
  };
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(StringLiteralsRule);
    },
    onExecute({ args, setResultAndStopExecution }) {
      checkVariables(args, setResultAndStopExecution);
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      checkVariables(args, setResultAndStopExecution);
    },
  };
}

function refused(field: string, message: string): GraphQLError {
  const error = badInput([{ field, message }]);
  // Not the spec's: yoga would answer a validation error 200 to `application/json` clients.
  (error.extensions as Record<string, unknown>).http = { status: 400, spec: false };
  return error;
}

/**
 * `"\u0000"` is a valid GraphQL string (the lexer refuses lone surrogates and raw control
 * characters, not that escape); refused here, naming the argument (`user.email`).
 * Nesting of literals is bounded before parsing (use-query-limits.ts).
 */
function StringLiteralsRule(context: ValidationContext): ASTVisitor {
  return {
    StringValue(node, _key, _parent, path) {
      const problem = badText(node.value);
      if (!problem) return;
      // Walks the visitor's path from the document down: arguments, object fields and list indexes.
      const names: string[] = [];
      let current: unknown = context.getDocument();
      let inList = false;
      for (const key of path) {
        current = (current as Record<string | number, unknown>)[key];
        if (inList && typeof key === 'number') names.push(String(key));
        const kind = (current as { kind?: string } | null)?.kind;
        if (kind === Kind.ARGUMENT || kind === Kind.OBJECT_FIELD) names.push((current as { name: { value: string } }).name.value);
        inList = kind === Kind.LIST || (inList && Array.isArray(current));
      }
      const error = refused(names.join('.'), problem);
      context.reportError(error);
    },
  };
}
