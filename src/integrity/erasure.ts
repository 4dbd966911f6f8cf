// The right to be forgotten, for live rows. A data subject (a user_id in a tenant) is erased from
//  - events they performed: user_id, ip_address, user_agent and every personal details value;
//  - events about them (resource_type personal, e.g. "user", with resource_id = them): the
//    resource_id and every personal details value;
//  - events that name them under a personal details key (e.g. {"user_id": them} in the filters
//    of an audit.accessed event): those values.
// Erased values become "[ERASED]". Personal values enter the chain hash only through pii_mac, so
// the chain still verifies; each erased row gets a MAC-ed mark naming the erasure event, which is
// itself an ordinary chained event (audit.erasure) carrying only a keyed pseudonym of the subject.
//
// The statements on stored rows (the candidate scan, the mutation) are store/erasure-rows.ts'.
import crypto from 'node:crypto';
import type { EventRow } from '../event/model.ts';
import { uuidv7 } from '../event/ids.ts';
import type { BatchWriter } from '../ingest/writer.ts';
import type { Logger } from '../logger.ts';
import type { Store } from '../store/client.ts';
import { ACTIVITIES_TABLE } from '../store/activity-rows.ts';
import { RESTORED_TABLE, applyRowChanges, subjectCandidates, type RowChange } from '../store/erasure-rows.ts';
import { ERASED, ERASURE_ACTIVITY, policyOf, streamParams, subjectRef, type PiiPolicy, type StreamParams } from './canonical.ts';
import { findInArchives, rewriteArchives, withArchiveLock, type ArchiveErasureDeps } from './archive-erasure.ts';
import type { IntegrityKeys } from './keys.ts';
import type { ErasureResult } from './schemas.ts';
import { planRowErasure } from './subject.ts';

async function tableExists(store: Store, name: string): Promise<boolean> {
  const rows = await store.query<{ n: string | number }>(
    `SELECT count() AS n FROM system.tables WHERE database = {db:String} AND name = {t:String}`, { db: store.database, t: name }, 'erasure');
  return Number(rows[0]?.n ?? 0) > 0;
}

export interface ErasureRequest {
  tenant: string;
  userId: string;
  /** Who asked (the erasure event's actor). */
  actor: { sub: string; ip: string; userAgent: string; requestId: string };
}

// Inferred from the schema the endpoint is documented with.
export type { ErasureResult };

export interface ErasureDeps {
  store: Store;
  writer: BatchWriter;
  keys: IntegrityKeys;
  /** The policy for rows outside any chain (stored before chains existed). */
  currentPii: { detailKeys: string[]; resourceTypes: string[] };
  /** Audited reads still waiting to be written (they may name the subject in their filters). */
  accessLog?: { flush(): Promise<void> } | undefined;
  /** The archive directory and the retention job that owns it; absent: live rows only. */
  archives?: ArchiveErasureDeps | undefined;
  log?: Logger;
}

/** Each stream's personal-data policy as recorded with it (never today's config: old rows keep theirs). */
async function streamPolicies(store: Store): Promise<Map<string, PiiPolicy>> {
  const rows = await store.query<{ stream: string; params: string }>(
    `SELECT stream, any(params) AS params FROM ${store.table('integrity_streams')} GROUP BY stream`, {}, 'erasure',
  );
  return new Map(rows.map((r) => [r.stream, policyOf(JSON.parse(r.params) as StreamParams)]));
}

export async function eraseSubject(deps: ErasureDeps, req: ErasureRequest): Promise<ErasureResult> {
  // No retention run may move the subject's rows from the table into archives meanwhile.
  // In-process read caches close for the whole erasure (raw rows and the views change).
  const now = () => deps.store.gate.exclusive(() => eraseSubjectNow(deps, req));
  const work = () => (deps.archives ? withArchiveLock(deps.archives, now) : now());
  return deps.archives ? deps.archives.retention.exclusive(work) : work();
}

async function eraseSubjectNow(deps: ErasureDeps, req: ErasureRequest): Promise<ErasureResult> {
  const { store, writer, keys } = deps;
  const x = req.userId;
  // Rows still queued (audited reads, the writer's batch) would escape the scan.
  await deps.accessLog?.flush();
  await writer.barrier();
  const policies = await streamPolicies(store);
  const fallback = policyOf(streamParams(keys.mac.id, deps.currentPii.detailKeys, deps.currentPii.resourceTypes));

  const erasureId = uuidv7();
  const changes: RowChange[] = [];
  const counts = { as_actor: 0, as_resource: 0, as_mention: 0 };
  for await (const c of subjectCandidates(store, ACTIVITIES_TABLE, req.tenant, x)) {
    const plan = planRowErasure(keys.mac, policies.get(c.stream) ?? fallback, c, x, erasureId);
    if (!plan) continue;
    counts[`as_${plan.role}`]++;
    changes.push({ id: c.id, actor: plan.actor ? 1 : 0, resource: plan.resource ? 1 : 0, details: plan.after.details, mark: plan.mark, pii: plan.pii_mac });
  }
  // Archived events restored for investigation (archive restore) are copies: erased alike.
  const restored: RowChange[] = [];
  if (await tableExists(store, RESTORED_TABLE)) {
    for await (const c of subjectCandidates(store, RESTORED_TABLE, req.tenant, x)) {
      const plan = planRowErasure(keys.mac, fallback, c, x, erasureId);
      if (plan) restored.push({ id: c.id, actor: plan.actor ? 1 : 0, resource: plan.resource ? 1 : 0, details: plan.after.details, mark: plan.mark, pii: plan.pii_mac });
    }
  }

  const ref = subjectRef(keys.mac, req.tenant, x);
  const archiveCtx = { tenant: req.tenant, subject: x, erasureId, subjectRef: ref, mac: keys.mac, policies, fallback };
  const archived = deps.archives ? await findInArchives(deps.archives, archiveCtx) : [];

  // The record comes first: an erased row must always point at an existing erasure event.
  const now = Date.now();
  const self = req.actor.sub === x; // an admin erasing themself: the record must not name them either
  const archivedRows = archived.reduce((n, a) => n + a.rows, 0);
  const record: EventRow = {
    id: erasureId,
    tenant_id: req.tenant,
    timestamp: now,
    received_at: now,
    activity_type: ERASURE_ACTIVITY,
    severity: 'HIGH',
    action: 'erasure',
    outcome: 'success',
    resource_type: 'data_subject',
    resource_id: ref,
    user_id: self ? ERASED : req.actor.sub,
    ip_address: self ? ERASED : req.actor.ip,
    user_agent: self ? ERASED : req.actor.userAgent,
    request_id: req.actor.requestId,
    description: 'Personal data of a data subject erased (right to be forgotten)',
    details: JSON.stringify({ subject_ref: ref, rows: changes.length, ...counts, restored_rows: restored.length, archives: archived.length, archived_rows: archivedRows }),
  };
  await writer.write([record]);

  if (changes.length > 0) await applyRowChanges(store, ACTIVITIES_TABLE, req.tenant, changes, ERASED);
  if (restored.length > 0) await applyRowChanges(store, RESTORED_TABLE, req.tenant, restored, ERASED);
  // The dashboards' per-user and per-resource aggregates name the subject too.
  const personalTypes = new Set([...deps.currentPii.resourceTypes, ...[...policies.values()].flatMap((p) => [...p.resourceTypes])]);
  const aggregates = await eraseFromAggregates(store, req.tenant, x, [...personalTypes]);
  if (deps.archives && archived.length > 0) await rewriteArchives(deps.archives, archiveCtx, archived);
  deps.log?.info({ erasure_id: erasureId, tenant: req.tenant, rows: changes.length, aggregate_rows: aggregates, archives: archived.length }, 'data subject erased');
  return {
    erasure_id: erasureId, tenant_id: req.tenant, subject_ref: ref, rows_erased: changes.length, ...counts,
    aggregate_rows: aggregates, archives_rewritten: archived.length, archived_rows_erased: archivedRows, restored_rows_erased: restored.length,
  };
}

/**
 * audit_user_daily and audit_resource_daily (migrations 0012, 0013) key their rows by user_id and
 * resource_id. The subject's counts move to "[ERASED]" (so the aggregates keep agreeing with the
 * raw rows, which now say "[ERASED]" too): read, delete, then insert the sums. A failure between
 * the last two under-counts rather than keeps the subject. The subject is matched through a
 * lookup table, never a literal, for the same reason as above (mutation texts are kept).
 * audit_failures_minutely holds uniq states (hashes, not ids) that cannot be split per user.
 */
async function eraseFromAggregates(store: Store, tenant: string, subject: string, personalTypes: string[]): Promise<number> {
  const tmpName = `erasure_subject_${crypto.randomBytes(6).toString('hex')}`;
  const tmp = store.table(tmpName);
  const j = `${store.database}.${tmpName}`;
  await store.command(`CREATE TABLE ${tmp} (k String, v UInt8) ENGINE = Join(ANY, LEFT, k) SETTINGS persistent = 0`, {}, 'erasure');
  let moved = 0;
  try {
    await store.insertCompact(tmpName, ['k', 'v'], [[subject, 1]], 'erasure');
    const targets = [
      { table: 'audit_user_daily', keys: ['tenant_id', 'day'], match: `joinGet({j:String}, 'v', user_id) = 1`, column: 'user_id' },
      { table: 'audit_resource_daily', keys: ['tenant_id', 'day', 'resource_type'], match: `resource_type IN {types:Array(String)} AND joinGet({j:String}, 'v', resource_id) = 1`, column: 'resource_id' },
    ];
    const exists = new Set((await store.query<{ name: string }>(
      `SELECT name FROM system.tables WHERE database = {db:String} AND name IN {names:Array(String)}`,
      { db: store.database, names: targets.map((x) => x.table) }, 'erasure',
    )).map((r) => r.name));
    for (const target of targets) {
      if (!exists.has(target.table)) continue;
      const table = store.table(target.table);
      const where = `tenant_id = {tenant:String} AND ${target.match}`;
      const params = { j, tenant, types: personalTypes };
      const sums = await store.query<Record<string, string | number>>(
        `SELECT ${target.keys.join(', ')}, sum(events) AS events, sum(failures) AS failures, count() AS n FROM ${table}
         WHERE ${where} GROUP BY ${target.keys.join(', ')} SETTINGS output_format_json_quote_64bit_integers = 0`,
        params, 'erasure',
      );
      if (sums.length === 0) continue;
      moved += sums.reduce((a, r) => a + Number(r.n), 0);
      await store.alter(`ALTER TABLE ${table} DELETE WHERE ${where} SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1`, params, 'erasure');
      await store.insertCompact(target.table, [...target.keys, target.column, 'events', 'failures'],
        sums.map((r) => [...target.keys.map((k) => r[k]), ERASED, Number(r.events), Number(r.failures)]), 'erasure');
    }
  } finally {
    await store.command(`DROP TABLE IF EXISTS ${tmp}`, {}, 'erasure');
  }
  return moved;
}
