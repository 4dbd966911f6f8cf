// Getting a batch to a receiver, and what its answer means. HTTP (webhook, Splunk HEC): 2xx is
// delivered; 408, 429, 5xx and network failures are worth retrying (Retry-After honoured); any
// other 4xx refuses the batch for good. Syslog (syslog-transport.ts) has no answers at all.
import http from 'node:http';
import https from 'node:https';
import type { AuditEvent } from '../event/model.ts';
import type { SinkDefinition } from './config.ts';
import { PRODUCT_VERSION, toOcsf } from './ocsf.ts';
import os from 'node:os';

/** The bounded set of `reason` label values of audit_sink_failures_total. */
export type FailureReason = 'network' | 'timeout' | 'http_408' | 'http_429' | 'http_5xx' | 'rejected' | 'store';

export class DeliveryError extends Error {
  constructor(
    readonly reason: FailureReason,
    message: string,
    /** The receiver refused the content for good: retrying the same events cannot succeed. */
    readonly permanent = false,
    /** The receiver's Retry-After, in ms. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

export interface Transport {
  /** Resolves once the receiver has the events; throws a DeliveryError otherwise. */
  send(events: readonly AuditEvent[]): Promise<void>;
  /** Called when the sink is idle: a transport without acknowledgements repairs a broken connection here. */
  flush?(): Promise<void>;
  close(): Promise<void>;
}

/** Retry-After: delay-seconds or an HTTP date (RFC 9110 §10.2.3), in ms; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const HOST = os.hostname();

/** The request body for a batch: a JSON array (webhook) or concatenated HEC events (Splunk). */
export function httpBody(def: SinkDefinition, events: readonly AuditEvent[]): string {
  const shape = (e: AuditEvent) => (def.format === 'ocsf' ? toOcsf(e) : e);
  if (def.type === 'webhook') return JSON.stringify(events.map(shape));
  return events.map((e) => JSON.stringify({
    time: Date.parse(e.timestamp) / 1000,
    host: HOST,
    source: def.splunk.source,
    sourcetype: def.splunk.sourcetype,
    ...(def.splunk.index ? { index: def.splunk.index } : {}),
    fields: { tenant_id: e.tenant_id, event_id: e.id },
    event: shape(e),
  })).join('\n');
}

/** Splunk HEC's event endpoint under the configured base URL (kept when given in full). */
export function hecUrl(base: URL): URL {
  if (base.pathname.endsWith('/services/collector/event')) return base;
  return new URL(`${base.pathname.replace(/\/$/, '')}/services/collector/event${base.search}`, base);
}

export class HttpTransport implements Transport {
  private readonly agent: http.Agent;
  private readonly target: URL;

  constructor(private readonly def: SinkDefinition) {
    this.target = def.type === 'splunk-hec' ? hecUrl(def.url) : def.url;
    this.agent = this.target.protocol === 'https:'
      ? new https.Agent({ keepAlive: true, maxSockets: 1, ...(def.tls.ca ? { ca: def.tls.ca } : {}), rejectUnauthorized: !def.tls.insecure })
      : new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  send(events: readonly AuditEvent[]): Promise<void> {
    const body = Buffer.from(httpBody(this.def, events));
    const headers: Record<string, string | number> = {
      'Content-Type': 'application/json',
      'Content-Length': body.length,
      'User-Agent': `audithouse/${PRODUCT_VERSION}`,
      'X-Audithouse-Sink': this.def.name,
      ...this.def.headers,
      ...(this.def.type === 'splunk-hec' ? { Authorization: `Splunk ${this.def.token}` } : {}),
    };
    const lib = this.target.protocol === 'https:' ? https : http;
    return new Promise<void>((resolve, reject) => {
      const req = lib.request(this.target, { method: 'POST', agent: this.agent, headers, timeout: this.def.timeoutMs }, (res) => {
        res.resume(); // the answer's body is not needed (and may echo our events)
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve();
          const retryAfter = parseRetryAfter(res.headers['retry-after'] as string | undefined);
          const what = `the receiver answered ${status}`;
          if (status === 408) reject(new DeliveryError('http_408', what, false, retryAfter));
          else if (status === 429) reject(new DeliveryError('http_429', what, false, retryAfter));
          else if (status >= 500 || status < 200 || (status >= 300 && status < 400)) reject(new DeliveryError('http_5xx', what, false, retryAfter));
          else reject(new DeliveryError('rejected', what, true));
        });
        res.on('error', (err) => reject(new DeliveryError('network', `reading the answer failed: ${err.message}`)));
      });
      req.on('timeout', () => req.destroy(new DeliveryError('timeout', `no answer within ${this.def.timeoutMs} ms`)));
      req.on('error', (err) => reject(err instanceof DeliveryError ? err : new DeliveryError('network', networkMessage(err))));
      req.end(body);
    });
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}

/** A network error without anything from the request (URLs may carry credentials). */
export function networkMessage(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code ? `${code}` : err.message.replace(/https?:\/\/\S+/g, '<url>');
}
