import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import type { Plugin } from 'esbuild';
import { Kind, parse } from 'graphql';

/**
 * The client preset's `graphql()` looks documents up in a map of every document in the
 * repository (the REST bridge's and the tests' too), which a bundler cannot shake. Like the
 * preset's Babel and SWC plugins, this swaps each call in the matched files for an import of
 * the one generated document constant it stands for; the types were already checked against
 * the same map. (scripts/build-widget.ts swaps them for the printed text instead.)
 */
/** A `graphql(\`...\`)` call of the client preset, its document text captured. */
export const GRAPHQL_CALL = /\bgraphql\(\s*`([^`]*)`\s*\)/g;

/** The client preset's name for the generated constant of a document (`<Name>Document`, `<Name>FragmentDoc`). */
export function documentConstant(text: string, file: string): string {
  const definition = parse(text).definitions[0];
  if (definition?.kind === Kind.OPERATION_DEFINITION && definition.name) return `${definition.name.value}Document`;
  if (definition?.kind === Kind.FRAGMENT_DEFINITION) return `${definition.name.value}FragmentDoc`;
  throw new Error(`${file}: every graphql() document must be a named operation or a fragment`);
}

export function typedDocuments({ root, files, generated }: { root: string; files: RegExp; generated: string }): Plugin {
  return {
    name: 'herald-typed-documents',
    setup(pluginBuild) {
      pluginBuild.onLoad({ filter: files }, async (args) => {
        const source = await readFile(args.path, 'utf8');
        const constants = new Set<string>();
        const contents = source.replace(GRAPHQL_CALL, (_call, text: string) => {
          const constant = documentConstant(text, relative(root, args.path));
          constants.add(constant);
          return constant;
        });
        if (constants.size === 0) return undefined;
        return { contents: `import { ${[...constants].join(', ')} } from ${JSON.stringify(generated)};\n${contents}`, loader: 'ts' };
      });
    },
  };
}
