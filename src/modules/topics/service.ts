import { uuidv7 } from '../../db/ids.ts';
import { z } from 'zod';
import { prisma, rawQuery } from '../../db/client.ts';
import { Prisma, type Topic } from '../../generated/prisma/client.ts';
import { badInput, conflict, issuesFrom, notFound } from '../../graphql/errors.ts';

/** The most user ids one addTopicSubscribers / removeTopicSubscribers call takes (one statement each). */
export const MAX_SUBSCRIBERS_PER_CALL = 10_000;

export const topicKeySchema = z
  .string({ error: 'must be a string' })
  .trim()
  .regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'must be 1-128 letters, digits, "_", ".", ":" or "-"');

const createSchema = z.object({
  key: topicKeySchema,
  name: z.string().trim().min(1, 'must not be empty').max(200, 'at most 200 characters').nullish(),
});

/** The users of a subscribe call: externalIds (the `userId` of a send), at most MAX_SUBSCRIBERS_PER_CALL. */
export const subscriberIdsSchema = z
  .array(z.string().trim().min(1, 'must not be empty').max(256, 'at most 256 characters'))
  .min(1, 'give at least one user id')
  .max(MAX_SUBSCRIBERS_PER_CALL, `at most ${MAX_SUBSCRIBERS_PER_CALL} user ids per call`);

function parse<T>(schema: z.ZodType<T>, value: unknown, field?: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw badInput(issuesFrom(result.error.issues, field ? [field] : []));
  return result.data;
}

export async function createTopic(projectId: string, input: { key: string; name?: string | null | undefined }): Promise<Topic> {
  const { key, name } = parse(createSchema, input);
  try {
    return await prisma().topic.create({ data: { id: uuidv7(), projectId, key, name: name ?? key } });
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') throw conflict(`Topic ${JSON.stringify(key)} already exists`);
    throw error;
  }
}

/** The project's topic with this key; another project's key is as unknown as a missing one. */
export async function getTopic(projectId: string, key: string): Promise<Topic> {
  const parsed = topicKeySchema.safeParse(key);
  const topic = parsed.success ? await prisma().topic.findUnique({ where: { projectId_key: { projectId, key: parsed.data } } }) : null;
  if (!topic) throw notFound('Topic', key);
  return topic;
}

export async function deleteTopic(projectId: string, key: string): Promise<Topic> {
  const topic = await getTopic(projectId, key);
  // Subscriptions go with it (ON DELETE CASCADE); a broadcast still fanning out to it finds no more subscribers and completes.
  const deleted = await prisma().topic.deleteMany({ where: { id: topic.id, projectId } });
  if (deleted.count === 0) throw notFound('Topic', key);
  return topic;
}

export function subscriberCount(topicId: string): Promise<number> {
  return prisma().topicSubscriber.count({ where: { topicId } });
}

/**
 * Subscribes users (by externalId) to the topic, in ONE statement whatever their number: the
 * topic is looked up, the ids are matched against the project's users, and the rows are
 * inserted only if every id matched. An unknown id (or another project's) refuses the whole
 * call with BAD_USER_INPUT and writes nothing: a typo does not silently drop a recipient, and
 * a topic never creates users (sends and upsertUsers do). Idempotent: existing subscriptions
 * stay as they are. Answers how many subscriptions are new.
 */
export async function addTopicSubscribers(projectId: string, key: string, userIds: unknown): Promise<{ topic: Topic; added: number }> {
  const ids = parse(subscriberIdsSchema, userIds, 'userIds');
  const topicKey = parse(topicKeySchema, key, 'key');
  const [row] = await rawQuery<{ topicId: string | null; added: number; missing: string[] | null; missingCount: number }>(
    `
    WITH topic AS (
      SELECT id FROM "Topic" WHERE "projectId" = $1::uuid AND key = $2
    ),
    wanted AS (
      SELECT DISTINCT unnest($3::text[]) AS ext
    ),
    found AS (
      SELECT u.id, u."externalId" FROM "User" u JOIN wanted w ON u."externalId" = w.ext WHERE u."projectId" = $1::uuid
    ),
    missing AS (
      SELECT w.ext FROM wanted w WHERE NOT EXISTS (SELECT 1 FROM found f WHERE f."externalId" = w.ext)
    ),
    ins AS (
      INSERT INTO "TopicSubscriber" ("topicId", "userId")
      SELECT t.id, f.id FROM topic t CROSS JOIN found f
      WHERE NOT EXISTS (SELECT 1 FROM missing)
      ORDER BY f.id
      ON CONFLICT DO NOTHING
      RETURNING "userId"
    )
    SELECT (SELECT id::text FROM topic) AS "topicId",
      (SELECT count(*)::int FROM ins) AS added,
      (SELECT array_agg(ext) FROM (SELECT ext FROM missing ORDER BY ext LIMIT 10) m) AS missing,
      (SELECT count(*)::int FROM missing) AS "missingCount"`,
    [projectId, topicKey, ids],
  );
  if (!row?.topicId) throw notFound('Topic', topicKey);
  if (row.missingCount > 0) {
    const shown = (row.missing ?? []).map((id) => JSON.stringify(id)).join(', ');
    throw badInput([
      {
        field: 'userIds',
        message: `${row.missingCount} user id(s) are not users of this project (${shown}${row.missingCount > 10 ? ', ...' : ''}): create them first (upsertUsers); nothing was subscribed`,
      },
    ]);
  }
  return { topic: await getTopic(projectId, topicKey), added: row.added };
}

/** Unsubscribes users (by externalId) in one statement; ids that are not subscribed (or not users) are ignored. Answers how many were removed. */
export async function removeTopicSubscribers(projectId: string, key: string, userIds: unknown): Promise<{ topic: Topic; removed: number }> {
  const ids = parse(subscriberIdsSchema, userIds, 'userIds');
  const topic = await getTopic(projectId, parse(topicKeySchema, key, 'key'));
  const [row] = await rawQuery<{ removed: number }>(
    `
    WITH del AS (
      DELETE FROM "TopicSubscriber" s USING "User" u
      WHERE s."topicId" = $1::uuid AND s."userId" = u.id AND u."projectId" = $2::uuid AND u."externalId" = ANY($3::text[])
      RETURNING s."userId"
    )
    SELECT count(*)::int AS removed FROM del`,
    [topic.id, projectId, ids],
  );
  return { topic, removed: row?.removed ?? 0 };
}
