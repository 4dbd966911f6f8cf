// AuditClient: log() events without waiting (buffered, batched, retried) and read them back
// with typed helpers over the query API.
import { Delivery } from './delivery.ts';
import type { DeliveryOptions, DeliveryStats } from './options.ts';
import { Transport, httpError, type TransportOptions } from './transport.ts';
import type {
  ActivityFilters,
  AuditEvent,
  AuditEventInput,
  AuditSummary,
  EventPage,
  ListOptions,
  RecentOptions,
  SummaryOptions,
} from './types.ts';

export interface AuditClientOptions extends TransportOptions, DeliveryOptions {}

const ACTIVITIES = '/api/v1/audit/activities';

export class AuditClient {
  private readonly transport: Transport;
  private readonly delivery: Delivery;

  /**
   * @example
   * const audit = new AuditClient({ url: 'http://audithouse:8080', token: process.env.AUDIT_TOKEN });
   * audit.log({ activity_type: 'file.uploaded', action: 'file_upload', resource_type: 'file', resource_id: id });
   * await audit.close(); // at shutdown
   */
  constructor(options: AuditClientOptions) {
    this.transport = new Transport(options);
    this.delivery = new Delivery(this.transport, options);
  }

  /**
   * Buffers an event and returns its id at once (never waits for the network, never throws,
   * except with `whenFull: 'throw'`). Problems reach `onError`.
   */
  log(event: AuditEventInput): string {
    return this.delivery.log(event);
  }

  /**
   * Sends everything logged so far and resolves once it is settled: true, or false when
   * `timeoutMs` passed first (the events stay buffered and keep being retried).
   */
  flush(options: { timeoutMs?: number } = {}): Promise<boolean> {
    return this.delivery.flush(options.timeoutMs);
  }

  /**
   * Call at shutdown: stops accepting events and delivers the buffer, giving up after
   * `timeoutMs` (default 10 s); what is left is reported to onError as 'abandoned'.
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    return this.delivery.close(options.timeoutMs);
  }

  /** Counters: buffered, in flight, sent, dropped, rejected, abandoned, retries. */
  get stats(): DeliveryStats {
    return this.delivery.stats;
  }

  /** One page of events, newest first (`next_cursor` continues it). */
  list(options: ListOptions = {}): Promise<EventPage> {
    return this.transport.getJson<EventPage>(ACTIVITIES, { ...options });
  }

  /** Events of the last `days` days (default 7), newest first. */
  recent(options: RecentOptions = {}): Promise<AuditEvent[]> {
    return this.transport.getJson<AuditEvent[]>(`${ACTIVITIES}/recent`, { ...options });
  }

  /** One event by id, or undefined when this tenant has none with that id. */
  async get(id: string, options: { tenant_id?: string } = {}): Promise<AuditEvent | undefined> {
    const res = await this.transport.request('GET', `${ACTIVITIES}/${encodeURIComponent(id)}`, { query: { ...options } });
    if (res.status === 404) {
      await res.body?.cancel().catch(() => {});
      return undefined;
    }
    if (!res.ok) throw await httpError(res);
    return (await res.json()) as AuditEvent;
  }

  /** Totals by severity and type, a daily series, top users and resources over `days`. */
  summary<T = AuditSummary>(options: SummaryOptions = {}): Promise<T> {
    return this.transport.getJson<T>('/api/v1/audit/summary', { ...options });
  }

  /** Every page matching the filters, following `next_cursor` to the end. */
  async *pages(filters: ActivityFilters & { limit?: number } = {}): AsyncGenerator<EventPage> {
    let cursor: string | undefined;
    do {
      const page = await this.list({ ...filters, ...(cursor ? { cursor } : {}) });
      yield page;
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
  }

  /** Every event matching the filters, newest first, fetched page by page as you iterate. */
  async *iterate(filters: ActivityFilters & { limit?: number } = {}): AsyncGenerator<AuditEvent> {
    for await (const page of this.pages(filters)) yield* page.data;
  }
}
