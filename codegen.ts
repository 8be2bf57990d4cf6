import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * Typed documents for the operations Herald itself sends: the REST bridge's routes and the
 * tests. Input: the committed schema.graphql (printed from the Pothos code by `npm run schema`).
 * Output: src/generated/gql (not committed; `npm run generate` rebuilds it).
 */
const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', '!src/generated/**'],
  ignoreNoDocuments: true,
  generates: {
    'src/generated/gql/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        emitLegacyCommonJSImports: false,
        scalars: { DateTime: 'string', JSONObject: 'Record<string, unknown>', JSON: 'unknown' },
        strictScalars: true,
      },
    },
  },
  silent: true,
};

export default config;
