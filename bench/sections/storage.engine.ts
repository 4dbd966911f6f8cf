// Engine side of §5 (rows as the service stores them) and of §2's insert count: both open the
// engine directory a stopped service left (libchdb binds one directory per process, so this runs
// in a worker of its own) as it is, without migrating, and read ClickHouse's own system tables.
// Nothing here names a column or an index: the schema is changing, the figures follow it.
import { SELECT_EVENT } from '../../src/store/activity-rows.ts';
import type { EngineOp } from '../lib/engine-worker.ts';

export interface TableStorage {
  table: string;
  engine: string;
  /** Set when a materialized view writes into this table: the view's name. */
  fedBy?: string;
  rows: number;
  parts: number;
  onDisk: number;
  columnsCompressed: number;
  columnsUncompressed: number;
  marks: number;
  primaryIndex: number;
  skipIndexes: number;
}

export interface ServiceStorage {
  database: string;
  /** Rows of audit_activities, counted by the engine. */
  events: number;
  tables: TableStorage[];
  columns: Array<{ name: string; type: string; compressed: number; uncompressed: number; marks: number }>;
  indexes: Array<{ name: string; type: string; expr: string; compressed: number; marks: number }>;
  /** What an NDJSON export of every row weighs (the API's field names and formats). */
  ndjson: number;
  /** Set when the parts were compact: per-column figures come from a wide copy of this size. */
  wideCopyBytes?: number;
  mergeMs: number;
}

const num = (x: unknown) => Number(x ?? 0);

export const storageOps: Record<string, EngineOp> = {
  /** Merges every table of the service's database (OPTIMIZE … FINAL), then measures all of them. */
  async serviceStorage(c, a): Promise<ServiceStorage> {
    const database = a.database as string;
    const s = await c.existing(database);
    const tables = await s.query<{ name: string; engine: string }>(
      `SELECT name, engine FROM system.tables WHERE database = {db:String} AND engine LIKE '%MergeTree%' ORDER BY name`, { db: database });
    const t = performance.now();
    // As history looks once background merges are done (the generated data set is measured so too).
    for (const tb of tables) await s.command(`OPTIMIZE TABLE ${s.table(tb.name)} FINAL`);
    for (let i = 0; i < 2400; i++) {
      const [m] = await s.query<{ n: string }>('SELECT count() AS n FROM system.merges WHERE database = {db:String}', { db: database });
      if (num(m?.n) === 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const mergeMs = performance.now() - t;
    const views = await s.query<{ name: string; target: string }>(
      `SELECT name, target_table AS target FROM system.tables WHERE database = {db:String} AND engine = 'MaterializedView' AND target_database = {db:String}`,
      { db: database }).catch(() => []);
    const parts = await s.query<Record<string, string>>(
      `SELECT table, sum(rows) AS n_rows, count() AS n_parts, sum(bytes_on_disk) AS on_disk,
              sum(data_compressed_bytes) AS compressed, sum(data_uncompressed_bytes) AS uncompressed,
              sum(marks_bytes) AS marks_total, sum(primary_key_size) AS pk,
              sum(secondary_indices_compressed_bytes) + sum(secondary_indices_marks_bytes) AS skip
       FROM system.parts WHERE database = {db:String} AND active GROUP BY table`, { db: database });
    const byTable = new Map(parts.map((p) => [p.table!, p]));
    const storage: TableStorage[] = tables.map((tb) => {
      const p = byTable.get(tb.name) ?? {};
      const fedBy = views.find((v) => v.target === tb.name)?.name;
      return {
        table: tb.name,
        engine: tb.engine,
        ...(fedBy ? { fedBy } : {}),
        rows: num(p.n_rows),
        parts: num(p.n_parts),
        onDisk: num(p.on_disk),
        columnsCompressed: num(p.compressed),
        columnsUncompressed: num(p.uncompressed),
        marks: num(p.marks_total),
        primaryIndex: num(p.pk),
        skipIndexes: num(p.skip),
      };
    });
    // Per column from system.parts_columns. Parts in compact format (small ones: below
    // min_bytes_for_wide_part, as in a quick run) keep all columns in one file and report no
    // per-column sizes; then the same rows are copied into a table of the same definition whose
    // parts are wide, and measured there (its total is given beside, to show it is the same data).
    const [compact] = await s.query<{ n: string }>(
      `SELECT countIf(part_type = 'Compact') AS n FROM system.parts WHERE database = {db:String} AND table = 'audit_activities' AND active`, { db: database });
    let columnsTable = 'audit_activities';
    if (num(compact?.n) > 0) {
      columnsTable = 'bench_wide_copy';
      await s.command(`DROP TABLE IF EXISTS ${s.table(columnsTable)}`);
      await s.command(`CREATE TABLE ${s.table(columnsTable)} AS ${s.table('audit_activities')}`);
      await s.command(`ALTER TABLE ${s.table(columnsTable)} MODIFY SETTING min_bytes_for_wide_part = 0, min_rows_for_wide_part = 0`);
      await s.command(`INSERT INTO ${s.table(columnsTable)} SELECT * FROM ${s.table('audit_activities')}`);
      await s.command(`OPTIMIZE TABLE ${s.table(columnsTable)} FINAL`);
    }
    const columns = await s.query<Record<string, string>>(
      `SELECT column AS col, any(type) AS col_type, sum(column_data_compressed_bytes) AS compressed,
              sum(column_data_uncompressed_bytes) AS uncompressed, sum(column_marks_bytes) AS col_marks
       FROM system.parts_columns WHERE database = {db:String} AND table = {t:String} AND active
       GROUP BY column ORDER BY sum(column_data_compressed_bytes) DESC`, { db: database, t: columnsTable });
    let wideCopyBytes: number | undefined;
    if (columnsTable !== 'audit_activities') {
      const [w] = await s.query<{ b: string }>(
        `SELECT sum(bytes_on_disk) AS b FROM system.parts WHERE database = {db:String} AND table = {t:String} AND active`, { db: database, t: columnsTable });
      wideCopyBytes = num(w?.b);
      await s.command(`DROP TABLE ${s.table(columnsTable)} SYNC`);
    }
    const indexes = await s.query<Record<string, string>>(
      `SELECT name AS idx, type_full AS idx_type, expr AS idx_expr, data_compressed_bytes AS compressed, marks_bytes AS idx_marks
       FROM system.data_skipping_indices WHERE database = {db:String} AND table = 'audit_activities'
       ORDER BY compressed DESC`, { db: database });
    const [nd] = await s.query<{ bytes: string }>(
      `SELECT sum(length(formatRow('JSONEachRow', ${SELECT_EVENT}))) AS bytes FROM ${s.table('audit_activities')}`);
    const [cnt] = await s.query<{ n: string }>(`SELECT count() AS n FROM ${s.table('audit_activities')}`);
    return {
      database,
      events: num(cnt?.n),
      tables: storage,
      columns: columns.map((r) => ({ name: r.col!, type: r.col_type ?? '', compressed: num(r.compressed), uncompressed: num(r.uncompressed), marks: num(r.col_marks) })),
      indexes: indexes.map((r) => ({ name: r.idx!, type: r.idx_type ?? '', expr: r.idx_expr ?? '', compressed: num(r.compressed), marks: num(r.idx_marks) })),
      ndjson: num(nd?.bytes),
      mergeMs,
      ...(wideCopyBytes !== undefined ? { wideCopyBytes } : {}),
    };
  },

  /**
   * §2's cross-check: the parts inserts created in a block-number window, from system.parts.
   * Parts merged away stay on disk as outdated (active = 0) for old_parts_lifetime (8 min), so
   * right after the run every level-0 part of the window is still there, with its rows and its
   * creation second. The engine loads outdated parts in the background after start:
   * SYSTEM WAIT LOADING PARTS makes system.parts list them (without it, only active ones show).
   */
  async insertParts(c, a) {
    const s = await c.existing(a.database as string);
    const p = { db: a.database, table: a.table, from: a.fromBlock, to: a.toBlock };
    await s.command(`SYSTEM WAIT LOADING PARTS ${s.table(a.table as string)}`);
    const [r] = await s.query<Record<string, string>>(
      `SELECT count() AS n_parts, sum(rows) AS n_rows, min(rows) AS min_rows, max(rows) AS max_rows,
              toUnixTimestamp(min(modification_time)) AS first, toUnixTimestamp(max(modification_time)) AS last
       FROM system.parts WHERE database = {db:String} AND table = {table:String} AND level = 0
         AND min_block_number > {from:UInt64} AND max_block_number <= {to:UInt64}`, p);
    const [m] = await s.query<{ max: string }>(
      'SELECT max(max_block_number) AS max FROM system.parts WHERE database = {db:String} AND table = {table:String}', p);
    return {
      parts: num(r?.n_parts),
      rows: num(r?.n_rows),
      minRows: num(r?.min_rows),
      maxRows: num(r?.max_rows),
      firstS: num(r?.first),
      lastS: num(r?.last),
      maxBlock: num(m?.max),
    };
  },
};
