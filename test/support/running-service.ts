// End-to-end fixtures: the real service started with serve() on a loopback port (embedded engine,
// a database of its own), which can be stopped and started again on the same port and data;
// and a fake HTTP front (throttling, holding, losing answers) placed between a client and it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/config.ts';
import { serve } from '../../src/server.ts';
import { Store } from '../../src/store/client.ts';
import { testDatabase, testDataDir, testEnv, testToken } from './service.ts';

export interface RunningService {
  url: string;
  port: number;
  database: string;
  token(o?: { tenant?: string; scope?: string; sub?: string }): Promise<string>;
  /** Stored rows of a tenant, counted directly in ClickHouse once what was acknowledged is stored (duplicates would count twice). */
  rows(tenant?: string): Promise<number>;
  /** Stored ids of a tenant, one entry per row. */
  ids(tenant?: string): Promise<string[]>;
  /** Graceful stop (flushes the writer, closes the store), as on SIGTERM. */
  stop(): Promise<void>;
  /** Starts again on the same port, data directory and database. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startService(env: Record<string, string> = {}): Promise<RunningService> {
  const database = testDatabase();
  const dataDir = testDataDir();
  const config = (port: number) =>
    loadConfig(testEnv({
      PORT: String(port),
      HOST: '127.0.0.1',
      CLICKHOUSE_DATABASE: database,
      AUDIT_BATCH_LINGER_MS: '2',
      ...env,
    }));
  let server: Awaited<ReturnType<typeof serve>> | undefined = await serve(config(0));
  const port = server.port;
  // A second connection on the same engine directory, for counting behind the API's back.
  const store = await Store.open({ dataDir, database });
  const table = store.table('audit_activities');
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    database,
    token: (o = {}) => testToken({ sub: 'svc-files', ...o }),
    async rows(tenant = 'acme') {
      await server?.services.writer.flush({ timeoutMs: 15_000, failOnError: true }); // what was acknowledged is stored
      const r = await store.query<{ n: string }>(`SELECT count() AS n FROM ${table} WHERE tenant_id = {tenant:String}`, { tenant });
      return Number(r[0]!.n);
    },
    async ids(tenant = 'acme') {
      await server?.services.writer.flush({ timeoutMs: 15_000, failOnError: true });
      const r = await store.query<{ id: string }>(`SELECT toString(id) AS id FROM ${table} WHERE tenant_id = {tenant:String}`, { tenant });
      return r.map((x) => x.id);
    },
    async stop() {
      await server?.close();
      server = undefined;
    },
    async start() {
      if (!server) server = await serve(config(port));
    },
    async close() {
      await server?.close();
      server = undefined;
      await store.close();
    },
  };
}

/** What the fake front does with one request. */
export type FrontAction =
  | { kind: 'forward' }
  /** Answer without forwarding. */
  | { kind: 'respond'; status: number; headers?: Record<string, string>; body?: string }
  /** Forward (the service stores the events), then answer `status` instead of the real 202: a lost ack. */
  | { kind: 'forward-then-respond'; status: number; headers?: Record<string, string> }
  /** Hold the request unanswered until `until` settles, then forward it. */
  | { kind: 'hold'; until: Promise<void> };

export interface FrontRequest {
  n: number;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  /** Event ids in the NDJSON body (empty for other bodies). */
  ids: string[];
  arrivedAt: number;
  answeredAt?: number;
  status?: number;
  retryAfter?: string;
}

export interface Front {
  url: string;
  requests: FrontRequest[];
  close(): Promise<void>;
}

/** A loopback HTTP server in front of `target` that answers as `decide` says. Not a ClickHouse mock: an HTTP proxy. */
export async function startFront(target: string, decide: (req: FrontRequest) => FrontAction): Promise<Front> {
  const requests: FrontRequest[] = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const ids: string[] = [];
    for (const line of body.toString('utf8').split('\n')) {
      try {
        const id = (JSON.parse(line) as { id?: unknown }).id;
        if (typeof id === 'string') ids.push(id);
      } catch {
        // not NDJSON
      }
    }
    const r: FrontRequest = { n: requests.length, method: req.method!, url: req.url!, headers: req.headers, ids, arrivedAt: Date.now() };
    requests.push(r);
    const answer = (status: number, headers: Record<string, string>, text: string) => {
      r.answeredAt = Date.now();
      r.status = status;
      if (headers['Retry-After']) r.retryAfter = headers['Retry-After'];
      res.writeHead(status, headers).end(text);
    };
    const forward = async () => {
      const headers: Record<string, string> = {};
      for (const k of ['authorization', 'content-type', 'user-agent']) if (req.headers[k]) headers[k] = String(req.headers[k]);
      const upstream = await fetch(target + req.url, {
        method: req.method!,
        headers,
        ...(body.length > 0 ? { body } : {}),
      });
      return { status: upstream.status, type: upstream.headers.get('content-type') ?? 'application/json', text: await upstream.text() };
    };
    try {
      const action = decide(r);
      if (action.kind === 'respond') {
        answer(action.status, { 'Content-Type': 'application/problem+json', ...action.headers }, action.body ?? JSON.stringify({ type: 'about:blank', title: 'fake front', status: action.status, detail: 'answered by the test front' }));
        return;
      }
      if (action.kind === 'hold') await action.until;
      const up = await forward();
      if (action.kind === 'forward-then-respond') {
        answer(action.status, { 'Content-Type': 'application/problem+json', ...action.headers }, JSON.stringify({ type: 'about:blank', title: 'lost ack', status: action.status, detail: 'stored, but the answer was lost' }));
        return;
      }
      answer(up.status, { 'Content-Type': up.type }, up.text);
    } catch (err) {
      answer(502, { 'Content-Type': 'text/plain' }, `front: ${(err as Error).message}`);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
