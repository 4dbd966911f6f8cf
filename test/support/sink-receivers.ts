// Receivers for the sink tests on loopback sockets: an HTTP endpoint (webhook, Splunk HEC shape)
// and a syslog TCP listener that splits RFC 6587 octet-counted frames. Both can go down and come
// back on the same port, and the HTTP one answers what the test decides.
import http from 'node:http';
import net from 'node:net';

export interface ReceivedRequest {
  at: number;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  status: number;
}

/** A server on loopback that can go down and come back up on the port it got first. */
abstract class LoopbackReceiver<S extends net.Server> {
  private server: S | undefined;
  port = 0;

  protected abstract create(): S;
  /** Ends the open connections, so that close() does not wait for them. */
  protected abstract dropConnections(server: S): void;

  async up(): Promise<this> {
    const server = this.create();
    this.server = server;
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as net.AddressInfo).port;
    return this;
  }

  async down(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    this.dropConnections(s);
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

export class HttpReceiver extends LoopbackReceiver<http.Server> {
  requests: ReceivedRequest[] = [];
  /** Answer for a request: status and headers (default 200). */
  decide: (body: string, n: number) => { status: number; headers?: Record<string, string> } = () => ({ status: 200 });

  protected create(): http.Server {
    return http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const answer = this.decide(body, this.requests.length);
        this.requests.push({ at: Date.now(), path: req.url ?? '', headers: req.headers, body, status: answer.status });
        res.writeHead(answer.status, { 'Content-Type': 'application/json', ...answer.headers }).end('{}');
      });
    });
  }

  protected dropConnections(server: http.Server): void {
    server.closeAllConnections();
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Events of the 2xx-answered requests, in arrival order (a JSON array per webhook request). */
  delivered(): Array<Record<string, unknown>> {
    return this.requests.filter((r) => r.status < 300).flatMap((r) => JSON.parse(r.body) as Array<Record<string, unknown>>);
  }
}

export class SyslogReceiver extends LoopbackReceiver<net.Server> {
  messages: string[] = [];
  private sockets = new Set<net.Socket>();

  protected create(): net.Server {
    return net.createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => {});
      let buf = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        for (;;) {
          const space = buf.indexOf(0x20);
          if (space < 0) break;
          const len = Number(buf.subarray(0, space).toString('ascii'));
          if (!Number.isInteger(len) || len <= 0) throw new Error(`bad octet count: ${buf.subarray(0, space).toString('ascii')}`);
          if (buf.length < space + 1 + len) break;
          this.messages.push(buf.subarray(space + 1, space + 1 + len).toString('utf8'));
          buf = buf.subarray(space + 1 + len);
        }
      });
    });
  }

  protected dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
  }
}

/** Polls `check` until it holds or the (generous) deadline passes; returns its last value. */
export async function eventually<T>(probe: () => T | Promise<T>, check: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (check(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}
