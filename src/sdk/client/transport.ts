// One HTTP helper for delivery and queries: base URL, bearer token, per-request timeout.
// Only the platform's fetch, AbortController and timers (Node 18+, browsers, Deno, Bun).
import { AuditHttpError } from './errors.ts';
import type { Problem } from './types.ts';

const USER_AGENT = 'audithouse-client';

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface TransportOptions {
  /** Base URL of the audithouse service, e.g. `http://audithouse:8080`. */
  url: string;
  token?: string;
  /** Called before every request (cache it yourself if it is expensive); wins over `token`. */
  getToken?: () => string | Promise<string>;
  /** Per-request timeout. Default 30 s. */
  timeoutMs?: number;
  /** Another fetch (tests, proxies, instrumented fetch). Default: globalThis.fetch. */
  fetch?: FetchLike;
}

export class Transport {
  readonly base: string;
  private readonly fetchImpl: FetchLike;
  private readonly timeoutMs: number;

  constructor(private readonly o: TransportOptions) {
    if (!o.url) throw new TypeError('AuditClient needs `url`, the base URL of the audithouse service');
    if (!o.token && !o.getToken) throw new TypeError('AuditClient needs `token` or `getToken`');
    this.base = o.url.replace(/\/+$/, '');
    const f = o.fetch ?? (globalThis.fetch as FetchLike | undefined);
    if (!f) throw new TypeError('no fetch available: use Node 18+ or pass `fetch`');
    this.fetchImpl = f;
    this.timeoutMs = o.timeoutMs ?? 30_000;
  }

  /** Whether a fresh token could differ from the last (so a 401 is worth one more try). */
  get refreshesTokens(): boolean {
    return this.o.getToken !== undefined;
  }

  async request(method: string, path: string, init: { query?: Record<string, unknown>; body?: string; contentType?: string; signal?: AbortSignal } = {}): Promise<Response> {
    const token = this.o.getToken ? await this.o.getToken() : this.o.token!;
    // A User-Agent of its own (where the platform lets it be set), so events posted without one
    // are not credited to whatever fetch calls itself.
    const headers: Record<string, string> = { Authorization: `Bearer ${token}`, Accept: 'application/json', 'User-Agent': USER_AGENT };
    if (init.contentType) headers['Content-Type'] = init.contentType;
    // AbortSignal.any is Node 20.3+; a controller fed by both signals works on Node 18.
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(new Error(`audithouse request timed out after ${this.timeoutMs} ms`)), this.timeoutMs);
    const onAbort = () => ctl.abort(init.signal!.reason);
    if (init.signal) {
      if (init.signal.aborted) onAbort();
      else init.signal.addEventListener('abort', onAbort, { once: true });
    }
    try {
      const res = await this.fetchImpl(this.base + path + queryString(init.query), {
        method,
        headers,
        ...(init.body !== undefined ? { body: init.body } : {}),
        signal: ctl.signal,
      });
      return res;
    } finally {
      clearTimeout(timer);
      init.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** GET returning JSON; anything but 2xx becomes an AuditHttpError carrying the problem+json. */
  async getJson<T>(path: string, query?: Record<string, unknown>): Promise<T> {
    const res = await this.request('GET', path, { query });
    if (!res.ok) throw await httpError(res);
    return (await res.json()) as T;
  }
}

function queryString(query: Record<string, unknown> | undefined): string {
  if (!query) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v)) {
      if (v.length > 0) p.set(k, v.join(','));
    } else if (v instanceof Date) {
      p.set(k, v.toISOString());
    } else {
      p.set(k, String(v));
    }
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** Reads an error answer (problem+json when the service sent one) into an AuditHttpError. */
export async function httpError(res: Response): Promise<AuditHttpError> {
  const text = await res.text().catch(() => '');
  let problem: Problem | undefined;
  try {
    const body = JSON.parse(text) as unknown;
    if (body && typeof body === 'object' && 'status' in body) problem = body as Problem;
  } catch {
    // not JSON: a proxy's HTML page, say
  }
  const detail = problem?.detail ?? (text.slice(0, 200) || res.statusText);
  return new AuditHttpError(res.status, problem, `audithouse answered ${res.status}: ${detail}`);
}
