// A closed-loop HTTP load generator for batch posts: `connections` keep-alive sockets, each
// sending the next pre-serialized body as soon as its previous answer arrives.
import http from 'node:http';

export interface PostResult {
  ms: number;
  requests: number;
  failures: number;
  firstFailure?: string;
}

export async function postBodies(url: string, token: string, bodies: readonly Buffer[], connections: number, contentType = 'application/json', opts: { path?: string; okStatus?: number } = {}): Promise<PostResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const target = new URL(opts.path ?? '/api/v1/audit/activities', url);
  const ok = opts.okStatus ?? 202;
  let next = 0;
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
    while (next < bodies.length) await post(bodies[next++]!);
  }));
  const ms = performance.now() - start;
  agent.destroy();
  return { ms, requests: bodies.length, failures, ...(firstFailure ? { firstFailure } : {}) };
}
