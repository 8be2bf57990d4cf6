import { uuidv7 } from '../../db/ids.ts';
import { z } from 'zod';
import { prisma } from '../../db/client.ts';
import { Prisma, type Notification, type NotificationVersion } from '../../generated/prisma/client.ts';
import { badInput, conflict, issuesFrom, notFound, type InputIssue } from '../../graphql/errors.ts';
import {
  CHANNELS,
  checkExtraSize,
  extraSchema,
  localeContentSchema,
  nonEmpty,
  np6ContentSchema,
  NP6_MEMBERS,
  NOTIFICATION_TYPES,
  templatesOf,
  toStored,
  TYPE_CHANNELS,
  type ChannelName,
  type LocaleContent,
  unknownMembers,
} from './content.ts';
import { checkTemplates } from './templates.ts';
import { workflowIssues } from '../workflows/model.ts';

// NP6's typed objects (purpose, expiration, scheduler, redirection, channel), `mp` and `scripting`
// are open: what Herald does not read is stored as given, within the same bound as other extras.
const jsonObject = z.record(z.string(), z.unknown()).superRefine((value, ctx) => checkExtraSize(value, ctx));
const typed = z
  .object({ type: z.string().min(1).max(100) })
  .catchall(z.unknown())
  .superRefine((value, ctx) => checkExtraSize(unknownMembers(value, ['type']), ctx));

export const versionInputSchema = z.object({
  id: z.uuid().nullish(),
  master: z.boolean().nullish(),
  label: z.string().trim().max(200).nullish(),
  scripting: z
    .object({ version: z.string().max(50).nullish() })
    .catchall(z.unknown())
    .superRefine((value, ctx) => checkExtraSize(unknownMembers(value, ['version']), ctx))
    .nullish(),
  /** Herald's form: one entry per locale. */
  contents: z
    .array(localeContentSchema)
    .min(1, 'give the content of at least one locale')
    .max(100)
    .refine((list) => new Set(list.map((c) => c.locale.toLowerCase())).size === list.length, 'each locale may appear once')
    .nullish(),
  /** NP6's form: any `type`, kept as written (see np6ContentSchema). */
  content: np6ContentSchema.nullish(),
  redirection: typed.nullish(),
  channel: typed.nullish(),
  extra: extraSchema(NP6_MEMBERS.version).nullish(),
}).superRefine((v, ctx) => {
  if (v.content != null && v.contents != null) ctx.addIssue({ code: 'custom', path: ['content'], message: 'give either content or contents, not both' });
  if (v.content == null && v.contents == null) ctx.addIssue({ code: 'custom', path: ['content'], message: 'is required' });
});
export type VersionInput = z.input<typeof versionInputSchema>;
type ParsedVersion = z.output<typeof versionInputSchema>;

export const notificationInputSchema = z.object({
  key: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/, 'must be 1-128 letters, digits, "_", ".", ":" or "-"')
    .refine((k) => !/^\d+$/.test(k), 'must not be only digits (digits are notification ids)')
    .nullish(),
  type: z.enum(NOTIFICATION_TYPES as [string, ...string[]], { error: `must be one of ${NOTIFICATION_TYPES.join(', ')}` }),
  channels: z.array(z.enum(CHANNELS)).max(CHANNELS.length).nullish(),
  name: z.string({ error: 'is required' }).trim().min(1, 'is required').max(200),
  description: z.string().max(2_000).nullish(),
  active: z.boolean().nullish(),
  settings: z
    .object({
      urgent: z.boolean().nullish(),
      category: z.number().int().min(0).max(2_147_483_647).nullish(),
      purpose: typed.nullish(),
      expiration: typed.nullish(),
      mp: jsonObject.nullish(),
      extra: extraSchema(NP6_MEMBERS.settings).nullish(),
    })
    .nullish(),
  application: z.uuid().nullish(),
  task: z
    .object({
      id: z.uuid().nullish(),
      name: z.string().max(200).nullish(),
      description: z.string().max(2_000).nullish(),
      scheduler: typed.nullish(),
      extra: extraSchema(NP6_MEMBERS.task).nullish(),
    })
    .nullish(),
  defaultLanguage: z
    .string()
    .trim()
    .regex(/^[a-zA-Z]{2,3}([-_][a-zA-Z0-9]{2,8})*$/, 'must be a language tag such as "en"')
    .nullish(),
  versions: z.array(versionInputSchema).max(50).nullish(),
  extra: extraSchema(NP6_MEMBERS.notification).nullish(),
  /** Checked by workflowIssues (src/modules/workflows/model.ts) against the channels. */
  workflow: z.unknown().nullish(),
});
export type NotificationInput = z.input<typeof notificationInputSchema>;
type ParsedNotification = z.output<typeof notificationInputSchema>;

function parse<S extends z.ZodType>(schema: S, input: unknown, prefix: (string | number)[] = []): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw badInput(issuesFrom(result.error.issues, prefix));
  return result.data;
}

/**
 * A version's content per locale, each with the field path it was written at: NP6's flat content
 * is the default language's; NP6's localized form and Herald's `contents` list their locales.
 */
function contentsOf(version: ParsedVersion, defaultLanguage: string, prefix: string): { content: LocaleContent; field: string }[] {
  const c = version.content;
  if (c?.flat) return [{ content: { ...c.flat, locale: defaultLanguage.replace('_', '-') }, field: `${prefix}.content` }];
  if (c?.locales) return c.locales.map((l) => ({ content: l.content, field: `${prefix}.content.locales.${l.key}` }));
  return (version.contents ?? []).map((content, i) => ({ content, field: `${prefix}.contents.${i}` }));
}

/** Checks a version against its notification: default-language content and template syntax. */
async function versionIssues(version: ParsedVersion, defaultLanguage: string, prefix: string): Promise<InputIssue[]> {
  const issues: InputIssue[] = [];
  const contents = contentsOf(version, defaultLanguage, prefix);
  if (!contents.some((c) => sameLanguage(c.content.locale, defaultLanguage))) {
    issues.push({ field: `${prefix}.${version.content ? 'content' : 'contents'}`, message: `must include content for the default language "${defaultLanguage}"` });
  }
  for (const { content, field } of contents) issues.push(...(await checkTemplates(templatesOf(content, field))));
  return issues;
}

export function sameLanguage(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

const jsonOrNull = (value: unknown) => (value == null ? Prisma.DbNull : (value as Prisma.InputJsonValue));

function versionData(version: ParsedVersion, defaultLanguage: string) {
  return {
    label: version.label ?? null,
    scripting: jsonOrNull(version.scripting),
    content: toStored(contentsOf(version, defaultLanguage, '').map((c) => c.content)) as Prisma.InputJsonValue,
    np6Content: jsonOrNull(version.content?.written),
    redirection: jsonOrNull(version.redirection),
    channel: jsonOrNull(version.channel),
    extra: jsonOrNull(version.extra && nonEmpty(version.extra)),
  };
}

/** An open object's known members with its unknown ones (`extra`) stored beside them, as one JSON object. */
function withExtra<T extends { extra?: Record<string, unknown> | null }>(value: T): Omit<T, 'extra'> & Record<string, unknown> {
  const { extra, ...known } = value;
  return { ...(extra ?? {}), ...known };
}

function notificationData(n: ParsedNotification) {
  return {
    extra: jsonOrNull(n.extra && nonEmpty(n.extra)),
    key: n.key ?? null,
    type: n.type,
    channels: (n.channels?.length ? n.channels : TYPE_CHANNELS[n.type]!) as ChannelName[],
    name: n.name,
    description: n.description ?? null,
    settings: (n.settings ? withExtra(n.settings) : {}) as Prisma.InputJsonValue,
    application: n.application ?? null,
    task: n.task ? (withExtra(n.task) as Prisma.InputJsonValue) : Prisma.DbNull,
    defaultLanguage: (n.defaultLanguage ?? 'en').replace('_', '-'),
  };
}

/** Validates the versions of a create/PUT body and says which one is the master. */
async function checkVersions(versions: ParsedVersion[], defaultLanguage: string): Promise<number> {
  const issues = (await Promise.all(versions.map((v, i) => versionIssues(v, defaultLanguage, `versions.${i}`)))).flat();
  const masters = versions.flatMap((v, i) => (v.master ? [i] : []));
  if (masters.length > 1) issues.push({ field: 'versions', message: 'exactly one version may be the master' });
  if (issues.length) throw badInput(issues);
  return masters[0] ?? 0;
}

function rethrowUnique(error: unknown, key: string | null | undefined): never {
  if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
    throw conflict(`A notification with key ${JSON.stringify(key)} already exists`);
  }
  throw error;
}

/** The workflow of a create/PUT body, validated (BAD_USER_INPUT naming the step); DbNull: none. */
async function workflowData(n: ParsedNotification, channels: ChannelName[]) {
  const { steps, issues } = await workflowIssues(n.workflow, channels);
  if (issues.length) throw badInput(issues);
  return steps ? (steps as unknown as Prisma.InputJsonValue) : Prisma.DbNull;
}

export async function createNotification(projectId: string, input: unknown): Promise<Notification> {
  const n = parse(notificationInputSchema, input);
  const data = { ...notificationData(n), workflow: Prisma.DbNull as Prisma.InputJsonValue | typeof Prisma.DbNull };
  data.workflow = await workflowData(n, data.channels);
  const versions = n.versions ?? [];
  const master = await checkVersions(versions, data.defaultLanguage);
  try {
    return await prisma().$transaction(async (tx) => {
      // Without a master version it cannot be executed, so it starts inactive unless asked otherwise.
      const active = n.active ?? versions.length > 0;
      if (active && versions.length === 0) throw badInput([{ field: 'active', message: 'a notification without versions cannot be active' }]);
      const created = await tx.notification.create({ data: { ...data, projectId, active } });
      for (const [i, v] of versions.entries()) {
        await tx.notificationVersion.create({
          data: { id: uuidv7(), projectId, notificationId: created.id, masterOf: i === master ? created.id : null, ...versionData(v, data.defaultLanguage) },
        });
      }
      return created;
    });
  } catch (error) {
    rethrowUnique(error, data.key);
  }
}

/** A notification of the project by numeric id or key; another project's is "not found". */
export async function getNotification(projectId: string, idOrKey: number | string): Promise<Notification> {
  const found = await findNotification(projectId, idOrKey);
  if (!found) throw notFound('Notification', idOrKey);
  return found;
}

export async function findNotification(projectId: string, idOrKey: number | string): Promise<Notification | null> {
  const asNumber = typeof idOrKey === 'number' ? idOrKey : /^\d{1,10}$/.test(idOrKey) ? Number(idOrKey) : null;
  if (asNumber !== null) {
    if (asNumber > 2_147_483_647) return null;
    return prisma().notification.findFirst({ where: { id: asNumber, projectId } });
  }
  return prisma().notification.findUnique({ where: { projectId_key: { projectId, key: String(idOrKey) } } });
}

/**
 * PUT: replaces the notification's fields; when `versions` is given, they replace the versions
 * too. The workflow is replaced only when the body names it (null removes it): a client that
 * does not know workflows (NP6's PUT, whose bodies cannot carry one) keeps it, checked against
 * the channels the body sets.
 */
export async function updateNotification(projectId: string, id: number, input: unknown): Promise<Notification> {
  const existing = await getNotification(projectId, id);
  const n = parse(notificationInputSchema, input);
  const data = { ...notificationData(n), workflow: Prisma.DbNull as Prisma.InputJsonValue | typeof Prisma.DbNull };
  data.workflow = await workflowData(n.workflow === undefined ? { ...n, workflow: existing.workflow } : n, data.channels);
  const versions = n.versions;
  let master = 0;
  if (versions) {
    if (versions.length === 0) throw badInput([{ field: 'versions', message: 'a notification keeps at least one version' }]);
    master = await checkVersions(versions, data.defaultLanguage);
  } else {
    // The kept versions must still have content for the (maybe new) default language.
    const kept = await prisma().notificationVersion.findMany({ where: { notificationId: id } });
    const lacking = kept.filter((v) => !Object.keys(v.content as object).some((l) => sameLanguage(l, data.defaultLanguage)));
    if (lacking.length) {
      throw badInput([{ field: 'defaultLanguage', message: `versions ${lacking.map((v) => v.id).join(', ')} have no content for "${data.defaultLanguage}"` }]);
    }
  }
  try {
    return await prisma().$transaction(async (tx) => {
      await lockNotification(tx, id);
      const updated = await tx.notification.update({ where: { id: existing.id }, data: { ...data, active: n.active ?? existing.active } });
      if (versions) {
        const keep = versions.flatMap((v) => (v.id ? [v.id] : []));
        await tx.notificationVersion.deleteMany({ where: { notificationId: id, id: { notIn: keep } } });
        // Clear the master first: the unique index allows one master at a time.
        await tx.notificationVersion.updateMany({ where: { notificationId: id }, data: { masterOf: null } });
        for (const [i, v] of versions.entries()) {
          const fields = { ...versionData(v, data.defaultLanguage), masterOf: i === master ? id : null };
          const current = v.id ? await tx.notificationVersion.findFirst({ where: { id: v.id, notificationId: id } }) : null;
          if (v.id && !current) throw notFound('Version', v.id);
          if (current) await tx.notificationVersion.update({ where: { id: current.id }, data: fields });
          else await tx.notificationVersion.create({ data: { id: uuidv7(), projectId, notificationId: id, ...fields } });
        }
      }
      return updated;
    });
  } catch (error) {
    rethrowUnique(error, data.key);
  }
}

export async function deleteNotification(projectId: string, id: number): Promise<Notification> {
  const existing = await getNotification(projectId, id);
  await prisma().notification.delete({ where: { id: existing.id } });
  return existing;
}

/** Copies a notification and its versions with new ids; the copy is inactive and has no key. */
export async function duplicateNotification(projectId: string, id: number): Promise<Notification> {
  const source = await getNotification(projectId, id);
  const versions = await prisma().notificationVersion.findMany({ where: { notificationId: id }, orderBy: { createdAt: 'asc' } });
  return prisma().$transaction(async (tx) => {
    const { id: _id, createdAt: _c, updatedAt: _u, ...fields } = source;
    const copy = await tx.notification.create({
      data: {
        ...fields,
        key: null,
        active: false,
        settings: source.settings as Prisma.InputJsonValue,
        task: jsonOrNull(source.task),
        extra: jsonOrNull(source.extra),
        workflow: jsonOrNull(source.workflow),
      },
    });
    for (const v of versions) {
      await tx.notificationVersion.create({
        data: {
          id: uuidv7(),
          projectId,
          notificationId: copy.id,
          masterOf: v.masterOf === null ? null : copy.id,
          label: v.label,
          scripting: (v.scripting as Prisma.InputJsonValue | null) ?? Prisma.DbNull,
          content: v.content as Prisma.InputJsonValue,
          np6Content: jsonOrNull(v.np6Content),
          redirection: jsonOrNull(v.redirection),
          channel: jsonOrNull(v.channel),
          extra: jsonOrNull(v.extra),
        },
      });
    }
    return copy;
  });
}

export async function setActive(projectId: string, id: number, active: boolean): Promise<Notification> {
  const existing = await getNotification(projectId, id);
  if (active && !(await prisma().notificationVersion.findUnique({ where: { masterOf: id } }))) {
    throw conflict('A notification without a master version cannot be activated: create a version first');
  }
  return prisma().notification.update({ where: { id: existing.id }, data: { active } });
}

/** Serializes changes to one notification's versions (set-master races, PUT). */
async function lockNotification(tx: Prisma.TransactionClient, id: number) {
  await tx.$queryRaw`SELECT id FROM "Notification" WHERE id = ${id} FOR UPDATE`;
}

export async function getVersion(projectId: string, notificationId: number, versionId: string): Promise<NotificationVersion> {
  await getNotification(projectId, notificationId);
  const version = z.uuid().safeParse(versionId).success
    ? await prisma().notificationVersion.findFirst({ where: { id: versionId, notificationId, projectId } })
    : null;
  if (!version) throw notFound('Version', versionId);
  return version;
}

export async function masterVersion(projectId: string, notificationId: number): Promise<NotificationVersion> {
  const version = await prisma().notificationVersion.findFirst({ where: { masterOf: notificationId, projectId } });
  if (!version) throw conflict(`Notification ${notificationId} has no master version`);
  return version;
}

export async function createVersion(projectId: string, notificationId: number, input: unknown): Promise<NotificationVersion> {
  const notification = await getNotification(projectId, notificationId);
  const v = parse(versionInputSchema, input);
  const issues = await versionIssues(v, notification.defaultLanguage, 'version');
  if (issues.length) throw badInput(issues);
  return prisma().$transaction(async (tx) => {
    await lockNotification(tx, notificationId);
    const hasMaster = (await tx.notificationVersion.count({ where: { masterOf: notificationId } })) > 0;
    const makeMaster = Boolean(v.master) || !hasMaster;
    if (makeMaster) await tx.notificationVersion.updateMany({ where: { masterOf: notificationId }, data: { masterOf: null } });
    return tx.notificationVersion.create({
      data: { id: uuidv7(), projectId, notificationId, masterOf: makeMaster ? notificationId : null, ...versionData(v, notification.defaultLanguage) },
    });
  });
}

export async function updateVersion(projectId: string, notificationId: number, versionId: string, input: unknown): Promise<NotificationVersion> {
  const notification = await getNotification(projectId, notificationId);
  const existing = await getVersion(projectId, notificationId, versionId);
  const v = parse(versionInputSchema, input);
  const issues = await versionIssues(v, notification.defaultLanguage, 'version');
  if (issues.length) throw badInput(issues);
  if (v.master === false && existing.masterOf !== null) {
    throw conflict('The master version stays master until another version is made master');
  }
  return prisma().$transaction(async (tx) => {
    await lockNotification(tx, notificationId);
    if (v.master && existing.masterOf === null) {
      await tx.notificationVersion.updateMany({ where: { masterOf: notificationId }, data: { masterOf: null } });
    }
    return tx.notificationVersion.update({
      where: { id: existing.id },
      data: { ...versionData(v, notification.defaultLanguage), masterOf: v.master || existing.masterOf !== null ? notificationId : null },
    });
  });
}

export async function deleteVersion(projectId: string, notificationId: number, versionId: string): Promise<NotificationVersion> {
  const existing = await getVersion(projectId, notificationId, versionId);
  if (existing.masterOf !== null) throw conflict('The master version cannot be deleted: make another version master first');
  await prisma().notificationVersion.delete({ where: { id: existing.id } });
  return existing;
}

/** Makes a version the master, atomically: at every instant exactly one version is master. */
export async function setMasterVersion(projectId: string, notificationId: number, versionId: string): Promise<NotificationVersion> {
  const existing = await getVersion(projectId, notificationId, versionId);
  return prisma().$transaction(async (tx) => {
    await lockNotification(tx, notificationId);
    await tx.notificationVersion.updateMany({ where: { masterOf: notificationId, NOT: { id: existing.id } }, data: { masterOf: null } });
    return tx.notificationVersion.update({ where: { id: existing.id }, data: { masterOf: notificationId } });
  });
}

export async function listVersions(notificationId: number): Promise<NotificationVersion[]> {
  return prisma().notificationVersion.findMany({ where: { notificationId }, orderBy: { createdAt: 'asc' } });
}

/** Locales a draft preview may carry (a version has a handful; this only bounds the work). */
export const MAX_DRAFT_LOCALES = 50;

/**
 * The version with `contents` in place of its stored content, unsaved: what the operator
 * console's template editor previews as it is typed. Checked like a save (field lengths, locale
 * tags, template syntax and the no-data render limits), with issues named `draft.<i>.<field>`,
 * so a syntax error comes back at its line before anything is written.
 */
export async function draftVersion(version: NotificationVersion, contents: unknown[]): Promise<NotificationVersion> {
  if (contents.length === 0) throw badInput([{ field: 'draft', message: 'must have at least one locale' }]);
  if (contents.length > MAX_DRAFT_LOCALES) throw badInput([{ field: 'draft', message: `at most ${MAX_DRAFT_LOCALES} locales` }]);
  const parsed = contents.map((content, i) => parse(localeContentSchema, content, ['draft', i]));
  const issues = (await Promise.all(parsed.map((content, i) => checkTemplates(templatesOf(content, `draft.${i}`))))).flat();
  if (issues.length) throw badInput(issues);
  return { ...version, content: toStored(parsed) as Prisma.JsonValue };
}
