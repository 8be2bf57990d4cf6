/**
 * What every example reads: the variables the first `npm start` prints (see the README's quick
 * start) and where Herald is. Each example is a standalone script a backend or a page could
 * copy; none imports Herald's own code.
 */
export const HERALD_URL = (process.env.HERALD_URL ?? 'http://localhost:4000').replace(/\/$/, '');

export function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    process.stderr.write(`${name} is not set: paste the export lines the first \`npm start\` printed (README, Quick start)\n`);
    process.exit(2);
  }
  return value;
}

/** `--name=value` arguments, e.g. `--events=2`. */
export function option(name: string, fallback: string): string {
  const prefix = `--${name}=`;
  return process.argv.find((a) => a.startsWith(prefix))?.slice(prefix.length) ?? fallback;
}

/** POSTs a GraphQL operation and fails loudly on errors, as a careful client would. */
export async function graphql<T>(query: string, variables: Record<string, unknown>, headers: Record<string, string>): Promise<T> {
  const response = await fetch(`${HERALD_URL}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };
  if (body.errors?.length) {
    throw new Error(`GraphQL ${response.status}: ${body.errors.map((e) => `${e.extensions?.code ?? 'ERROR'} ${e.message}`).join('; ')}`);
  }
  return body.data as T;
}
