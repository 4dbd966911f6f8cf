// Every /api endpoint the app declares in its OpenAPI document, as concrete requests. Security
// tests iterate over this list, so an endpoint added later is covered without editing them.
import type { createApp } from '../../src/app.ts';

export interface Endpoint {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Route template as in the OpenAPI document, e.g. /api/v1/audit/activities/{id}. */
  template: string;
  /** A concrete URL: path parameters filled with a well-formed value. */
  url: string;
}

const SAMPLE_PARAMS: Record<string, string> = { id: '00000000-0000-4000-8000-000000000001' };

export function apiEndpoints(app: ReturnType<typeof createApp>): Endpoint[] {
  const doc = app.getOpenAPI31Document({ openapi: '3.1.0', info: { title: 'audithouse', version: 'test' } });
  const out: Endpoint[] = [];
  for (const [template, item] of Object.entries(doc.paths ?? {})) {
    if (!template.startsWith('/api/')) continue;
    for (const method of Object.keys(item as object)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const url = template.replace(/\{(\w+)\}/g, (_m, name: string) => SAMPLE_PARAMS[name] ?? 'x');
      out.push({ method: method.toUpperCase() as Endpoint['method'], template, url });
    }
  }
  return out;
}

/** A request to an endpoint with a plausible body (a valid event for the ingest endpoint). */
export function requestFor(e: Endpoint, authorization: string | undefined, extraQuery = ''): [string, RequestInit] {
  const headers: Record<string, string> = {};
  if (authorization !== undefined) headers.Authorization = authorization;
  const init: RequestInit = { method: e.method, headers };
  if (e.method !== 'GET' && e.method !== 'DELETE') {
    headers['Content-Type'] = 'application/json';
    init.body = e.template === '/api/v1/audit/activities'
      ? JSON.stringify({ activity_type: 'user.login', action: 'login' })
      : '{}';
  }
  const sep = e.url.includes('?') ? '&' : '?';
  return [extraQuery ? `${e.url}${sep}${extraQuery}` : e.url, init];
}
