/**
 * Builds the demo widget (src/widget/demo) into src/generated/widget: a content-hashed ES module
 * bundle and stylesheet, and demo.html naming them. `npm run build:widget` type-checks the widget
 * first (esbuild only strips types); `npm run generate` runs it after codegen, so postinstall and
 * CI build it. The server answers 503 on /widget/demo until it has run.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { Kind, parse } from 'graphql';
import { WIDGET_ASSETS_PATH, WIDGET_BUILD_DIR, WIDGET_PAGE_FILE } from '../src/widget/use-widget-demo.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const demo = join(root, 'src/widget/demo');
const generatedDocuments = join(root, 'src/generated/gql/graphql.ts');

/**
 * The client preset's `graphql()` looks documents up in a map of every document in the
 * repository (the REST bridge's and the tests' too), which a bundler cannot shake. Like the
 * preset's Babel and SWC plugins, this swaps each call for an import of the one generated
 * document constant it stands for; the types were already checked against the same map.
 */
const typedDocuments: Plugin = {
  name: 'herald-typed-documents',
  setup(pluginBuild) {
    pluginBuild.onLoad({ filter: /[\\/]src[\\/]widget[\\/].*\.ts$/ }, async (args) => {
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
      const from = JSON.stringify(generatedDocuments);
      return { contents: `import { ${[...constants].join(', ')} } from ${from};\n${contents}`, loader: 'ts' };
    });
  },
};

async function main(): Promise<void> {
  const started = performance.now();
  const assets = join(WIDGET_BUILD_DIR, 'assets');
  // Old hashed files would otherwise pile up; the page is written last, so until then the
  // server answers 503 rather than a page naming a bundle that is not there yet.
  await rm(WIDGET_BUILD_DIR, { recursive: true, force: true });
  await mkdir(assets, { recursive: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: { widget: join(demo, 'main.ts'), 'widget-style': join(demo, 'widget.css') },
    entryNames: '[name]-[hash]',
    outdir: assets,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome109', 'firefox115', 'safari16'],
    tsconfig: join(root, 'src/widget/tsconfig.json'),
    minify: true,
    sourcemap: 'linked',
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    plugins: [typedDocuments],
  });
  const outputs = Object.entries(result.metafile.outputs);
  const output = (entry: string) => {
    const found = outputs.find(([, meta]) => meta.entryPoint === relative(root, join(demo, entry)).split('\\').join('/'));
    if (!found) throw new Error(`esbuild produced no output for ${entry}`);
    return { url: WIDGET_ASSETS_PATH + basename(found[0]), bytes: found[1].bytes };
  };
  const js = output('main.ts');
  const css = output('widget.css');
  const template = await readFile(join(demo, 'index.html'), 'utf8');
  const page = template.replace('__WIDGET_JS__', js.url).replace('__WIDGET_CSS__', css.url);
  if (page.includes('__WIDGET_')) throw new Error('index.html still has a placeholder after the build');
  await writeFile(join(WIDGET_BUILD_DIR, WIDGET_PAGE_FILE), page);
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} kB`;
  console.log(`widget: ${js.url} (${kb(js.bytes)}), ${css.url} (${kb(css.bytes)}) in ${Math.round(performance.now() - started)} ms`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
