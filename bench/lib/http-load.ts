// A closed-loop HTTP load generator for batch posts: `connections` keep-alive sockets, each
// sending the next pre-serialized body as soon as its previous answer arrives. Bodies come from
// an array (serialized before the clock starts) or, for runs too big to hold in memory (§5's
// million events), from an iterator that builds them as they are needed.
import http from 'node:http';

export interface PostResult {
  ms: number;
  requests: number;
  failures: number;
  firstFailure?: string;
}

export async function postBodies(url: string, token: string, bodies: readonly Buffer[] | Iterator<Buffer>, connections: number, contentType = 'application/json', opts: { path?: string; okStatus?: number } = {}): Promise<PostResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const target = new URL(opts.path ?? '/api/v1/audit/activities', url);
  const ok = opts.okStatus ?? 202;
  let requests = 0;
  const source = Array.isArray(bodies) ? (bodies as readonly Buffer[]).values() : (bodies as Iterator<Buffer>);
  const take = () => {
    const r = source.next();
    return r.done ? undefined : r.value;
  };
  let failures = 0;
  let firstFailure: string | undefined;
  const post = (body: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const req = http.request(target, {
        method: 'POST',
        agent,
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': contentType, 'Content-Length': body.length },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if (res.statusCode !== ok) {
            failures++;
            firstFailure ??= `${res.statusCode}: ${Buffer.concat(chunks).toString('utf8').slice(0, 300)}`;
          }
          resolve();
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  const start = performance.now();
  await Promise.all(Array.from({ length: connections }, async () => {
    for (let body = take(); body; body = take()) {
      requests++;
      await post(body);
    }
  }));
  const ms = performance.now() - start;
  agent.destroy();
  return { ms, requests, failures, ...(firstFailure ? { firstFailure } : {}) };
}
