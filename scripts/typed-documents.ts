import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Plugin } from 'esbuild';
import { Kind, parse, print, type DocumentNode } from 'graphql';

/** A `graphql(\`...\`)` call of the client preset, its document text captured. */
export const GRAPHQL_CALL = /\bgraphql\(\s*`([^`]*)`\s*\)/g;

/** The client preset's name for the generated constant of a document (`<Name>Document`, `<Name>FragmentDoc`). */
export function documentConstant(text: string, file: string): string {
  const definition = parse(text).definitions[0];
  if (definition?.kind === Kind.OPERATION_DEFINITION && definition.name) return `${definition.name.value}Document`;
  if (definition?.kind === Kind.FRAGMENT_DEFINITION) return `${definition.name.value}FragmentDoc`;
  throw new Error(`${file}: every graphql() document must be a named operation or a fragment`);
}

/**
 * The client preset's `graphql()` looks documents up in a map of every document in the
 * repository (the REST bridge's and the tests' too), which a bundler cannot shake. Like the
 * preset's Babel and SWC plugins, this swaps each call in the matched files for the one
 * generated document it stands for (the types were already checked against the same map), and
 * ships it printed: the request text itself (with the fragments it spreads), a fraction of the
 * size of the generated AST, and no GraphQL printer in the bundle. The console's and the
 * widget's clients send it as it is.
 */
export function typedDocuments({ root, files, generated }: { root: string; files: RegExp; generated: string }): Plugin {
  return {
    name: 'herald-typed-documents',
    setup(pluginBuild) {
      let documents: Promise<Record<string, DocumentNode>> | undefined;
      pluginBuild.onLoad({ filter: files }, async (args) => {
        const source = await readFile(args.path, 'utf8');
        if (!/\bgraphql\(\s*`/.test(source)) return undefined;
        const generatedDocuments = await (documents ??= import(pathToFileURL(generated).href) as Promise<Record<string, DocumentNode>>);
        const contents = source.replace(GRAPHQL_CALL, (_call, text: string) => {
          const constant = documentConstant(text, relative(root, args.path));
          const document = generatedDocuments[constant];
          if (!document) throw new Error(`${relative(root, args.path)}: no generated ${constant}: run codegen (npm run generate)`);
          return JSON.stringify(print(document));
        });
        return { contents, loader: 'ts' };
      });
    },
  };
}
