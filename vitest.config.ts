import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // graphql 16 ships index.js and index.mjs with no "exports" map. Node (and tsx, in
    // production) load index.js for everyone; Vite would give our own files index.mjs while
    // Pothos and yoga get index.js: two graphql instances ("Cannot use GraphQLObjectType from
    // another module or realm") as soon as a test calls graphql on a Pothos schema directly.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Each file gets its own process, database and project; 2 files at a time fit 2 cores.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
