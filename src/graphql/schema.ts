import { lexicographicSortSchema, printSchema } from 'graphql';
import { builder } from './builder.ts';
// Each domain module registers its types and fields on the builder when imported.
import '../modules/projects/schema.ts';
import '../modules/users/schema.ts';
import '../modules/notifications/schema.ts';
import '../modules/messages/schema.ts';
import '../modules/providers/schema.ts';
import '../modules/neucron/schema.ts';
import '../modules/departments/schema.ts';
import '../modules/push/schema.ts';
import '../modules/devices/schema.ts';
import '../modules/inbox/schema.ts';
import '../modules/inbox/operator.ts';
import '../modules/preferences/schema.ts';
import '../modules/suppressions/schema.ts';
import '../modules/tenants/schema.ts';
import '../modules/workflows/schema.ts';
import '../modules/topics/schema.ts';
import '../modules/broadcasts/schema.ts';

export const schema = builder.toSchema({ sortSchema: true });

/** The SDL committed as schema.graphql (sorted, so diffs show real changes only). */
export function printSortedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
