// Writes schema.graphql from the Pothos schema (`npm run schema`); `--check` fails on drift.
import { readFileSync, writeFileSync } from 'node:fs';
import { printSortedSchema } from '../src/graphql/schema.ts';

const file = new URL('../schema.graphql', import.meta.url);
const sdl = printSortedSchema();
if (process.argv.includes('--check')) {
  let committed = '';
  try {
    committed = readFileSync(file, 'utf8');
  } catch {}
  if (committed !== sdl) {
    console.error('schema.graphql is out of date: run `npm run schema` and commit it.');
    process.exit(1);
  }
} else {
  writeFileSync(file, sdl);
}
