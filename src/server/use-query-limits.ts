import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import {
  getNamedType,
  getNullableType,
  isCompositeType,
  isListType,
  Kind,
  Lexer,
  parse,
  Source,
  TokenKind,
  type ExecutionArgs,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLError,
  type GraphQLField,
  type SelectionSetNode,
  type ValidationContext,
  type ValueNode,
} from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';

/** Codes of refused operations (HTTP 400, before any resolver runs). */
export const LimitCode = {
  TOO_MANY_TOKENS: 'TOO_MANY_TOKENS',
  QUERY_TOO_DEEP: 'QUERY_TOO_DEEP',
  TOO_MANY_ALIASES: 'TOO_MANY_ALIASES',
  TOO_MANY_DIRECTIVES: 'TOO_MANY_DIRECTIVES',
  QUERY_TOO_COMPLEX: 'QUERY_TOO_COMPLEX',
} as const;

export interface QueryLimits {
  /** Most lexical tokens in a document, counted before it is parsed. */
  maxTokens: number;
  /** Deepest field nesting (graphql-armor's max-depth; fragments count as a level). */
  maxDepth: number;
  /** Most aliases in an operation (graphql-armor's max-aliases). */
  maxAliases: number;
  /** Most directives in an operation (graphql-armor's max-directives). */
  maxDirectives: number;
  /** Cost budget: see operationCost. */
  maxCost: number;
}

/**
 * Brackets (`{`, `[`, `(`) nested deeper than this are refused before parsing. graphql-js parses
 * (and validates, and coerces literals) recursively: 5,000 nested selection sets, inline fragments
 * or list literals overflowed the stack, a 500. No real operation comes near it.
 */
export const MAX_NESTING = 100;

/** The page size a connection is counted with when neither `first` nor `last` is given. */
export const DEFAULT_PAGE_SIZE = 50;
/** The largest page any connection answers (Pothos clamps larger requests). */
export const MAX_PAGE_SIZE = 200;

/**
 * Bounds what one GraphQL operation may ask for, over HTTP and websockets alike (graphql-ws
 * operations go through the same envelop `parse`, `validate`, `execute` and `subscribe`):
 * - tokens and bracket nesting, with graphql-js' own lexer before the parser runs, so a huge or
 *   deeply nested document costs one linear pass and never reaches the recursive parser;
 * - depth, aliases and directives with graphql-armor's validation rules, their errors coded;
 * - a cost budget where a connection multiplies what it selects by its page size. graphql-armor's
 *   cost-limit reads only a literal `first` (not `$first`, not the default page size) and grows
 *   by 1.5× per level of depth, so it neither stops `messages(first: $n)` nor fits Herald's lists:
 *   the cost is computed here, at execution time, when the variables are known.
 * Every refusal is an HTTP 400 with its code in `extensions.code`, answered before any resolver.
 */
export function useQueryLimits(limits: QueryLimits): Plugin {
  const onReject = (code: string) => [
    (context: ValidationContext | null, error: GraphQLError) => {
      context?.reportError(limitError(error.message.replace(/^Syntax Error: /, ''), code));
    },
  ];
  const armor = EnvelopArmorPlugin({
    maxDepth: { n: limits.maxDepth, onReject: onReject(LimitCode.QUERY_TOO_DEEP), propagateOnRejection: false },
    maxAliases: { n: limits.maxAliases, onReject: onReject(LimitCode.TOO_MANY_ALIASES), propagateOnRejection: false },
    maxDirectives: { n: limits.maxDirectives, onReject: onReject(LimitCode.TOO_MANY_DIRECTIVES), propagateOnRejection: false },
    // Checked here, together with the nesting, in one lexer pass (see checkTokens).
    maxTokens: { enabled: false },
    // Connection-aware, below.
    costLimit: { enabled: false },
    // Introspection policy decides (use-introspection-policy.ts).
    blockFieldSuggestion: { enabled: false },
  });
  const checkCost = (args: ExecutionArgs, stop: (result: { errors: GraphQLError[] }) => void) => {
    const cost = operationCost(args);
    if (cost > limits.maxCost) {
      stop({ errors: [limitError(`Query cost limit of ${limits.maxCost} exceeded, found ${cost}: ask for smaller pages or fewer fields`, LimitCode.QUERY_TOO_COMPLEX)] });
    }
  };
  // Documents whose tokens and nesting were checked and found within the limits (the limits are
  // this plugin's, fixed): bounded like yoga's document cache, oldest first out.
  const passed = new Set<string>();
  const remember = (query: string) => {
    if (query.length > PASSED_MAX_LENGTH) return;
    if (passed.size >= PASSED_DOCUMENTS) passed.delete(passed.values().next().value!);
    passed.add(query);
  };
  return {
    onPluginInit({ addPlugin }) {
      addPlugin(armor as Plugin);
    },
    // Over HTTP before parsing: a parse error is answered 200 to `application/json` clients
    // (yoga marks every parse error as the spec's), a refused operation must be a 400.
    onParams({ params, setResult }) {
      if (typeof params.query !== 'string') return;
      // A document that passed is not lexed again (clients send the same few documents).
      if (passed.has(params.query)) return;
      try {
        checkTokens(params.query, limits.maxTokens);
        remember(params.query);
      } catch (error) {
        // A syntax error is left to the parser, which codes it as every other one.
        if (isLimitError(error)) setResult({ errors: [error] });
      }
    },
    // Websocket operations (and anything else that parses through envelop) are checked here.
    onParse({ setParseFn }) {
      setParseFn((source, options) => {
        const body = typeof source === 'string' ? source : source.body;
        if (!passed.has(body)) {
          checkTokens(body, limits.maxTokens);
          remember(body);
        }
        return parse(source, { ...options, maxTokens: limits.maxTokens });
      });
    },
    onExecute({ args, setResultAndStopExecution }) {
      checkCost(args, setResultAndStopExecution);
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      checkCost(args, setResultAndStopExecution);
    },
  };
}

/** Checked documents remembered (yoga's parse cache holds 1,000 by default). */
const PASSED_DOCUMENTS = 1_000;
/** Longer documents are lexed each time (a cache of large strings would be memory for nothing). */
const PASSED_MAX_LENGTH = 16_384;

const LIMIT_CODES = new Set<unknown>(Object.values(LimitCode));

function isLimitError(error: unknown): error is GraphQLError {
  return error instanceof Error && 'extensions' in error && LIMIT_CODES.has((error as GraphQLError).extensions?.code);
}

function limitError(message: string, code: string): GraphQLError {
  return createGraphQLError(message, { extensions: { code, http: { status: 400, spec: false } } });
}

/** Throws a coded error when the document has too many tokens or nests brackets too deeply. */
function checkTokens(body: string, maxTokens: number): void {
  const lexer = new Lexer(new Source(body));
  let tokens = 0;
  let nesting = 0;
  for (let token = lexer.advance(); token.kind !== TokenKind.EOF; token = lexer.advance()) {
    if (++tokens > maxTokens) throw limitError(`Token limit of ${maxTokens} exceeded`, LimitCode.TOO_MANY_TOKENS);
    if (token.kind === TokenKind.BRACE_L || token.kind === TokenKind.BRACKET_L || token.kind === TokenKind.PAREN_L) {
      if (++nesting > MAX_NESTING) throw limitError(`The document nests brackets deeper than ${MAX_NESTING} levels`, LimitCode.QUERY_TOO_DEEP);
    } else if (token.kind === TokenKind.BRACE_R || token.kind === TokenKind.BRACKET_R || token.kind === TokenKind.PAREN_R) {
      nesting--;
    }
  }
}

/**
 * An estimate of the work an operation asks for, in fields read: a field costs 1; a field with
 * a selection costs 1 plus what it selects, and a connection (a `…Connection` type with `first`
 * or `last`) multiplies what it selects by its page size: `first`/`last` (a literal or a
 * variable, at most MAX_PAGE_SIZE), DEFAULT_PAGE_SIZE when absent. Introspection fields cost 0
 * (their size is the schema's). The operation was validated already (no fragment cycles, nesting
 * bounded by MAX_NESTING), so the recursion is bounded; each fragment is costed once.
 */
export function operationCost({ schema, document, operationName, variableValues }: ExecutionArgs): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  let operation;
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
    else if (definition.kind === Kind.OPERATION_DEFINITION && (operationName == null || definition.name?.value === operationName)) operation ??= definition;
  }
  if (!operation) return 0;
  const root = schema.getRootType(operation.operation);
  if (!root) return 0;
  const variables = (variableValues ?? {}) as Record<string, unknown>;
  const fragmentCosts = new Map<string, number>();

  const selectionCost = (set: SelectionSetNode, type: GraphQLCompositeType): number => {
    let total = 0;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        if (name.startsWith('__')) continue;
        const field = 'getFields' in type ? type.getFields()[name] : undefined;
        if (!selection.selectionSet || !field) {
          total += 1;
          continue;
        }
        const fieldType = getNamedType(field.type);
        const children = isCompositeType(fieldType) ? selectionCost(selection.selectionSet, fieldType) : 0;
        total += 1 + pageSize(field, selection.arguments ?? [], variables) * children;
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const condition = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : type;
        total += selectionCost(selection.selectionSet, condition && isCompositeType(condition) ? condition : type);
      } else {
        const name = selection.name.value;
        let cost = fragmentCosts.get(name);
        if (cost === undefined) {
          const fragment = fragments.get(name);
          const condition = fragment ? schema.getType(fragment.typeCondition.name.value) : undefined;
          cost = fragment && condition && isCompositeType(condition) ? selectionCost(fragment.selectionSet, condition) : 0;
          fragmentCosts.set(name, cost);
        }
        total += cost;
      }
    }
    return total;
  };
  return selectionCost(operation.selectionSet, root);
}

/** The multiplier of a field: its page size for a connection, 1 for anything else. */
function pageSize(
  field: GraphQLField<unknown, unknown>,
  args: readonly { name: { value: string }; value: ValueNode }[],
  variables: Record<string, unknown>,
): number {
  const type = getNullableType(field.type);
  if (isListType(type) || !getNamedType(type).name.endsWith('Connection')) return 1;
  if (!field.args.some((arg) => arg.name === 'first' || arg.name === 'last')) return 1;
  let size: number | undefined;
  for (const arg of args) {
    if (arg.name.value !== 'first' && arg.name.value !== 'last') continue;
    const value = arg.value.kind === Kind.INT ? Number(arg.value.value) : arg.value.kind === Kind.VARIABLE ? variables[arg.value.name.value] : undefined;
    if (typeof value === 'number' && Number.isFinite(value)) size = Math.max(size ?? 0, value);
  }
  return Math.min(Math.max(size ?? DEFAULT_PAGE_SIZE, 0), MAX_PAGE_SIZE);
}
