import { builder } from './builder.ts';
import type { InputIssue as InputIssueShape } from './errors.ts';

/** Types shared by several modules: per-item outcomes of batch operations. */
export const InputIssue = builder.objectRef<InputIssueShape>('InputIssue').implement({
  description: 'One invalid field.',
  fields: (t) => ({ field: t.exposeString('field'), message: t.exposeString('message') }),
});

export interface ItemErrorShape {
  code: string;
  message: string;
  issues?: InputIssueShape[] | undefined;
}

export const ItemError = builder.objectRef<ItemErrorShape>('ItemError').implement({
  description: 'Why one item of a batch was not processed.',
  fields: (t) => ({
    code: t.exposeString('code'),
    message: t.exposeString('message'),
    issues: t.field({ type: [InputIssue], resolve: (e) => e.issues ?? [] }),
  }),
});
