/** The bundle served at /widget/herald-inbox.js: importing it registers <herald-inbox>. */
import { defineHeraldInbox } from './element.ts';

export { HeraldInboxElement, defineHeraldInbox, relativeTime } from './element.ts';

defineHeraldInbox();
