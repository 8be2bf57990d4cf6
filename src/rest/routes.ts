import { departmentRoutes } from '../modules/departments/rest.ts';
import { notifuseFrontRoutes } from '../modules/inbox/rest.ts';
import { messagesSendRoute } from '../modules/messages/rest.ts';
import { neucronRoutes } from '../modules/neucron/rest.ts';
import { np6NotificationRoutes } from '../modules/notifications/rest.ts';
import { usersUpsertRoute } from '../modules/users/rest.ts';
import type { RestRoute } from './route.ts';

/** The one route table of the legacy REST APIs. Each route's definition lives with its module. */
export const restRoutes: RestRoute[] = [usersUpsertRoute, messagesSendRoute, ...notifuseFrontRoutes, ...np6NotificationRoutes, ...neucronRoutes, ...departmentRoutes];
