import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import type { Plugin } from 'esbuild';
import { Kind, parse } from 'graphql';

/**
 * The client preset's `graphql()` looks documents up in a map of every document in the
 * repository (the REST bridge's and the tests' too), which a bundler cannot shake. Like the
 * preset's Babel and SWC plugins, this swaps each call in the matched files for an import of
 * the one generated document constant it stands for; the types were already checked against
 * the same map. (scripts/build-widget.ts has its own copy of the same swap.)
 */
export function typedDocuments({ root, files, generated }: { root: string; files: RegExp; generated: string }): Plugin {
  return {
    name: 'herald-typed-documents',
    setup(pluginBuild) {
      pluginBuild.onLoad({ filter: files }, async (args) => {
        const source = await readFile(args.path, 'utf8');
        const constants = new Set<string>();
        const contents = source.replace(/\bgraphql\(\s*`([^`]*)`\s*\)/g, (_call, text: string) => {
          const definition = parse(text).definitions[0];
          // The client preset's names for generated document constants.
          let constant: string;
          if (definition?.kind === Kind.OPERATION_DEFINITION && definition.name) constant = `${definition.name.value}Document`;
          else if (definition?.kind === Kind.FRAGMENT_DEFINITION) constant = `${definition.name.value}FragmentDoc`;
          else throw new Error(`${relative(root, args.path)}: every graphql() document must be a named operation or a fragment`);
          constants.add(constant);
          return constant;
        });
        if (constants.size === 0) return undefined;
        return { contents: `import { ${[...constants].join(', ')} } from ${JSON.stringify(generated)};\n${contents}`, loader: 'ts' };
      });
    },
  };
}
