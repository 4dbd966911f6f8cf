// The one door to ClickHouse. Embedded (chDB in-process, through chdb/connection) and server
// (HTTP) are the same @clickhouse/client API; only the connection differs. Every value is bound
// as a {name:Type} query parameter; identifiers (database, table) come from validated config.
import fs from 'node:fs';
import { Readable } from 'node:stream';
import path from 'node:path';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { renderForCluster } from '../cluster/render.ts';
import type { Config } from '../config.ts';
import { timed, type Metrics } from '../metrics.ts';
import { toStoreError } from './errors.ts';
import { MutationGate } from './mutation-gate.ts';

export type QueryParams = Record<string, unknown>;

/** Rows of a compact insert: an array, or an iterable that knows its length. */
export type CompactRows = readonly unknown[][] | { readonly length: number; [Symbol.iterator](): Iterator<unknown[]> };

/** Inserts with more rows than this are encoded as a stream (see insertCompact). */
const STREAM_INSERT_ROWS = 1_000;

export interface StoreOptions {
  /** Embedded engine directory (ignored in server mode). */
  dataDir: string;
  url?: string | undefined;
  user?: string;
  password?: string;
  database: string;
  /** Cluster name: inserts into Distributed tables then wait until the shards have the rows. */
  cluster?: string | undefined;
  metrics?: Metrics;
}

/**
 * Server settings of the embedded engine, given to the process's first connection (they cannot
 * be SET later). chDB runs its merges and mutations on 2 background threads and lets 2 tasks per
 * thread be assigned at once (a server: 16 threads, ratio 2). So a mutation (retention's delete,
 * an erasure, MATERIALIZE TTL) was handed out four parts at a time, each round waiting for the
 * scheduler: 3.1 s for a delete over 24 small parts. With 16 tasks per thread every part is
 * queued at once and the same 2 threads rewrite them: 56 ms. (16 threads did as well for the
 * mutation but cost single-event ingest ~20%: more merges at once competing for the 2 cores.)
 */
export const ENGINE_ARGS = ['--background_merges_mutations_concurrency_ratio=16'];

/** Minimal shape of chDB's native streaming session, loaded lazily in embedded mode. */
interface ChdbSession {
  queryBindAsync(sql: string, params: object, opts?: { format?: string }): Promise<{ text(): string }>;
  queryStreamBind(sql: string, params: object, opts?: { format?: string; signal?: AbortSignal }): AsyncIterable<{ text(): string }>;
  close(): void;
}

export class Store {
  readonly kind: 'embedded' | 'server';
  readonly database: string;
  readonly client: ClickHouseClient;
  readonly enginePath: string | undefined;
  /** Set in cluster mode: ALTERs then go to every shard's local tables ON CLUSTER. */
  cluster: string | undefined;
  /** Every ALTER runs through it, so in-process read caches never outlive a mutation (src/query/tail.ts). */
  readonly gate = new MutationGate();
  private closed = false;
  /** The read path's own chDB session (embedded only), opened on first use. */
  private readSession: Promise<ChdbSession> | undefined;
  /** Embedded: the connection that started the engine with ENGINE_ARGS, held while the store is open. */
  private engineSession: ChdbSession | undefined;

  /**
   * Where inserts go. Embedded: a second connection to the same engine, because one chDB
   * connection runs one statement at a time; with inserts on their own, the writer's id lookup
   * and API reads run while an insert does (measured in bench/). Server: the same HTTP client.
   */
  private readonly insertClient: ClickHouseClient;

  private constructor(
    client: ClickHouseClient,
    kind: 'embedded' | 'server',
    database: string,
    enginePath: string | undefined,
    private readonly metrics: Metrics | undefined,
    insertClient?: ClickHouseClient,
  ) {
    this.client = client;
    this.insertClient = insertClient ?? client;
    this.kind = kind;
    this.database = database;
    this.enginePath = enginePath;
  }

  static async open(opts: StoreOptions): Promise<Store> {
    if (opts.url) {
      const client = createClient({
        url: opts.url,
        username: opts.user ?? 'default',
        password: opts.password ?? '',
        database: opts.database,
        application: 'audithouse',
        // Failures surface as typed StoreErrors and are logged by us (pino, once per outage),
        // not as multi-line stderr dumps on every retry.
        log: { level: ClickHouseLogLevel.OFF },
        request_timeout: 30_000,
        clickhouse_settings: {
          date_time_input_format: 'best_effort',
          // A 202 must mean "stored": a Distributed insert returns only once every shard has its rows.
          ...(opts.cluster ? { distributed_foreground_insert: 1 } : {}),
        },
      });
      const store = new Store(client, 'server', opts.database, undefined, opts.metrics);
      store.cluster = opts.cluster;
      return store;
    }
    const enginePath = path.join(path.resolve(opts.dataDir), 'clickhouse');
    fs.mkdirSync(enginePath, { recursive: true });
    // Same-path connections share the process's one engine; the first one to open decides its settings.
    const chdb = (await import('chdb')) as unknown as { Session: new (p: string, o?: { connectionArgs: string[] }) => ChdbSession };
    const engineSession = new chdb.Session(enginePath, { connectionArgs: ENGINE_ARGS });
    try {
      const { createChdbConnection } = await import('chdb/connection');
      const client = createClient({ connection: createChdbConnection({ path: enginePath }) } as never);
      const insertClient = createClient({ connection: createChdbConnection({ path: enginePath }) } as never);
      const store = new Store(client, 'embedded', opts.database, enginePath, opts.metrics, insertClient);
      store.engineSession = engineSession;
      return store;
    } catch (err) {
      engineSession.close();
      throw err;
    }
  }

  static fromConfig(config: Config, metrics?: Metrics): Promise<Store> {
    return Store.open({
      dataDir: config.dataDir,
      url: config.clickhouse.url,
      user: config.clickhouse.user,
      password: config.clickhouse.password,
      database: config.clickhouse.database,
      cluster: config.clickhouse.cluster,
      ...(metrics ? { metrics } : {}),
    });
  }

  /** Backquoted, database-qualified name. chDB ignores the client's `database`, so we always qualify. */
  table(name: string): string {
    return `\`${this.database}\`.\`${name}\``;
  }

  async query<T = Record<string, unknown>>(sql: string, params: QueryParams = {}, operation = 'query'): Promise<T[]> {
    return timed(this.metrics, operation, async () => {
      try {
        const rs = await this.client.query({ query: sql, query_params: params, format: 'JSONEachRow' });
        return (await rs.json()) as T[];
      } catch (err) {
        throw toStoreError(err, 'query');
      }
    });
  }

  /**
   * query() for the read path's small results (point reads, pages, cache loads, the summary).
   * Embedded: straight into a chDB session of its own (the same bound-parameter call that
   * @clickhouse/client's chDB connection makes, without its emulated HTTP response: result
   * stream, headers, per-row JSON stream), about 3 ms of CPU less per query (BENCHMARKS.md,
   * read path). Server: the same as query().
   */
  async read<T = Record<string, unknown>>(sql: string, params: QueryParams = {}, operation = 'query'): Promise<T[]> {
    if (this.kind !== 'embedded') return this.query<T>(sql, params, operation);
    return timed(this.metrics, operation, async () => {
      try {
        // Closed like the client: a read after close() must fail, not open a new session.
        if (this.closed) throw new Error('the store is closed');
        const session = await (this.readSession ??= this.nativeSession());
        const text = (await session.queryBindAsync(sql, params, { format: 'JSONEachRow' })).text();
        const out: T[] = [];
        for (let i = 0; i < text.length;) {
          let j = text.indexOf('\n', i);
          if (j < 0) j = text.length;
          if (j > i) out.push(JSON.parse(text.slice(i, j)) as T);
          i = j + 1;
        }
        return out;
      } catch (err) {
        throw toStoreError(err, 'query');
      }
    });
  }

  /**
   * Runs an ALTER/TRUNCATE on one of our tables: as is on one node; on a cluster rendered for the
   * shards' local tables ON CLUSTER (a Distributed table takes no mutation).
   */
  async alter(sql: string, params: QueryParams = {}, operation = 'alter'): Promise<void> {
    const statements = this.cluster ? renderForCluster([sql], { cluster: this.cluster, database: this.database }) : [sql];
    await this.gate.exclusive(async () => {
      for (const statement of statements) await this.command(statement, params, operation);
    });
  }

  async command(sql: string, params: QueryParams = {}, operation = 'command'): Promise<void> {
    return timed(this.metrics, operation, async () => {
      try {
        await this.client.command({ query: sql, query_params: params });
      } catch (err) {
        throw toStoreError(err, 'query');
      }
    });
  }

  /**
   * Inserts positional rows (JSONCompactEachRow: ~1.4x faster than JSONEachRow into chDB). `rows`
   * may be an array or any iterable that knows its length (built as the insert pulls it).
   */
  async insertCompact(table: string, columns: readonly string[], rows: CompactRows, operation = 'insert'): Promise<void> {
    if (rows.length === 0) return;
    return timed(this.metrics, operation, async () => {
      try {
        await this.insertClient.insert({
          table: this.table(table),
          columns: columns as [string, ...string[]],
          // A large batch is encoded as a stream, a row at a time between other work: encoding
          // 20,000 rows at once held the event loop (and every request waiting on it) for ~50 ms.
          values: rows.length > STREAM_INSERT_ROWS ? Readable.from(rows, { objectMode: true }) : Array.isArray(rows) ? rows : [...rows],
          format: 'JSONCompactEachRow',
          // Callers batch already (the writer's group commit); the engine's own insert buffering
          // (async_insert, on by default in chDB) would only add its 50–200 ms busy timeout to
          // every flush, and with it to every request's latency.
          clickhouse_settings: { async_insert: 0 },
        });
      } catch (err) {
        throw toStoreError(err, 'insert');
      }
    });
  }

  /**
   * Streams a result as text chunks of whole lines in `format` (e.g. JSONEachRow, CSVWithNames),
   * never holding the whole result in memory. chDB's client.query buffers, so embedded mode uses
   * chDB's native streaming session on the same data directory (same-path sessions coexist).
   */
  async *stream(sql: string, params: QueryParams = {}, format = 'JSONEachRow', signal?: AbortSignal, operation = 'stream'): AsyncGenerator<string> {
    // Timed from the first read to the last chunk (or the consumer's early return).
    const end = this.metrics?.queryDuration.startTimer({ operation });
    try {
      if (this.kind === 'embedded') {
        // A native session allows one active stream, so each stream gets its own session on the
        // same directory: concurrent exports never wait on, or break, each other.
        const session = await this.nativeSession();
        try {
          for await (const chunk of session.queryStreamBind(sql, params, { format, ...(signal ? { signal } : {}) })) {
            const text = chunk.text();
            if (text.length > 0) yield text;
          }
        } finally {
          session.close(); // the for-await has ended or cancelled the stream by now
        }
        return;
      }
      const rs = await this.client.query({ query: sql, query_params: params, format: format as 'JSONEachRow', ...(signal ? { abort_signal: signal } : {}) });
      for await (const rows of rs.stream()) {
        let text = '';
        for (const row of rows as Array<{ text: string }>) text += row.text + '\n';
        if (text.length > 0) yield text;
      }
    } catch (err) {
      throw toStoreError(err, 'query');
    } finally {
      end?.();
    }
  }

  /** The rows of a JSONEachRow stream, parsed, in the batches they arrive in. */
  async *rows<T>(sql: string, params: QueryParams = {}, operation = 'stream', signal?: AbortSignal): AsyncGenerator<T[]> {
    let rest = '';
    for await (const chunk of this.stream(sql, params, 'JSONEachRow', signal, operation)) {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop()!;
      const batch: T[] = [];
      for (const line of lines) if (line) batch.push(JSON.parse(line) as T);
      if (batch.length > 0) yield batch;
    }
    if (rest) yield [JSON.parse(rest) as T];
  }

  private async nativeSession(): Promise<ChdbSession> {
    const chdb = (await import('chdb')) as unknown as { Session: new (p: string) => ChdbSession };
    return new chdb.Session(this.enginePath!);
  }

  async ping(): Promise<boolean> {
    try {
      const r = await this.client.ping();
      return r.success;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.readSession) (await this.readSession.catch(() => undefined))?.close();
    if (this.insertClient !== this.client) await this.insertClient.close();
    await this.client.close();
    this.engineSession?.close();
  }
}
