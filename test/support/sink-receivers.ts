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


/** Listens on loopback at `port` (0: any) and returns the port it got. */
async function listenLocal(server: net.Server, port: number): Promise<number> {
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

const closed = (server: net.Server) => new Promise<void>((resolve) => server.close(() => resolve()));

export class HttpReceiver {
  requests: ReceivedRequest[] = [];
  /** Answer for a request: status and headers (default 200). */
  decide: (body: string, n: number) => { status: number; headers?: Record<string, string> } = () => ({ status: 200 });
  private server: http.Server | undefined;
  port = 0;

  async up(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const answer = this.decide(body, this.requests.length);
        this.requests.push({ at: Date.now(), path: req.url ?? '', headers: req.headers, body, status: answer.status });
        res.writeHead(answer.status, { 'Content-Type': 'application/json', ...answer.headers }).end('{}');
      });
    });
    this.port = await listenLocal(this.server, this.port);
    return this;
  }

  async down(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await closed(s);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Events of the 2xx-answered requests, in arrival order (a JSON array per webhook request). */
  delivered(): Array<Record<string, unknown>> {
    return this.requests.filter((r) => r.status < 300).flatMap((r) => JSON.parse(r.body) as Array<Record<string, unknown>>);
  }
}

export class SyslogReceiver {
  messages: string[] = [];
  private server: net.Server | undefined;
  private sockets = new Set<net.Socket>();
  port = 0;

  async up(): Promise<this> {
    this.server = net.createServer((socket) => {
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
    this.port = await listenLocal(this.server, this.port);
    return this;
  }

  async down(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    for (const socket of this.sockets) socket.destroy();
    await closed(s);
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
