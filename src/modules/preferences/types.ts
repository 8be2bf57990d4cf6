import { builder } from '../../graphql/builder.ts';
import type { Preferences } from './service.ts';

export const PreferencesRef = builder.objectRef<Preferences>('Preferences').implement({
  description: "A user's opt-outs. Critical notifications (settings.urgent) are delivered regardless.",
  fields: (t) => ({
    channels: t.stringList({ description: 'Channels muted for everything.', resolve: (p) => p.channels }),
    categories: t.stringList({ description: 'Notification categories muted on every channel.', resolve: (p) => p.categories }),
    notifications: t.field({
      type: 'JSONObject',
      description: 'Per notification (id or key): the muted channels.',
      resolve: (p) => p.notifications,
    }),
  }),
});

