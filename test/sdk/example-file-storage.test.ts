// End to end: the examples/file-storage service (real HTTP on loopback, real files) posting to a
// running audithouse (serve(), embedded ClickHouse); the events are read back through the API.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sign } from 'hono/jwt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditClient, type AuditEvent } from '../../src/sdk/client/index.ts';
import { startFileStorage } from '../../examples/file-storage/server.ts';
import { startService, type RunningService } from '../support/running-service.ts';

const USER_SECRET = 'file-storage-example-user-secret-0123456789';

let svc: RunningService;
let files: Awaited<ReturnType<typeof startFileStorage>> | undefined;
let base: string;
let storageDir: string;

beforeAll(async () => {
  svc = await startService();
  storageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'file-storage-'));
  files = await startFileStorage({
    port: 0,
    auditUrl: svc.url,
    auditToken: await svc.token({ tenant: 'acme', scope: 'audit:write', sub: 'svc-file-storage' }),
    userJwtSecret: USER_SECRET,
    storageDir,
  });
  base = `http://127.0.0.1:${files.port}`;
});
afterAll(async () => {
  await files?.close();
  await svc?.close();
  fs.rmSync(storageDir, { recursive: true, force: true });
});

const BROWSER = { 'User-Agent': 'test-browser/2.0' };
const user = (sub: string) => sign({ sub, tenant_id: 'acme', exp: Math.floor(Date.now() / 1000) + 600 }, USER_SECRET, 'HS256');

describe('examples/file-storage', () => {
  it('audits upload (LOW), download (LOW) and delete (MEDIUM) with the seed details, and every request', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const pdf = new Uint8Array(52_133).map((_, i) => i % 251);

    const form = new FormData();
    form.set('file', new File([pdf], 'q3.pdf', { type: 'application/pdf' }));
    const up = await fetch(`${base}/files/upload`, { method: 'POST', headers: { ...BROWSER, Authorization: `Bearer ${alice}` }, body: form });
    expect(up.status).toBe(201);
    const { file_id: fileId } = (await up.json()) as { file_id: string };

    const down = await fetch(`${base}/files/download/${fileId}`, { headers: { ...BROWSER, Authorization: `Bearer ${alice}` } });
    expect(down.status).toBe(200);
    expect(new Uint8Array(await down.arrayBuffer())).toEqual(pdf);

    const del = await fetch(`${base}/files/${fileId}`, { method: 'DELETE', headers: { ...BROWSER, Authorization: `Bearer ${bob}` } });
    expect(await del.json()).toEqual({ status: 'deleted' });
    expect((await fetch(`${base}/files/download/${fileId}`, { headers: { ...BROWSER, Authorization: `Bearer ${alice}` } })).status).toBe(404);
    expect((await fetch(`${base}/files/upload`, { method: 'POST', body: form })).status).toBe(401);

    // Stopping the example flushes its client: everything it logged is stored.
    await files!.close();
    files = undefined;

    const reader = new AuditClient({ url: svc.url, token: await svc.token({ tenant: 'acme', scope: 'audit:read' }) });
    const about = await reader.list({ resource_type: 'file', resource_id: fileId });
    const byType = (t: string) => about.data.filter((e) => e.activity_type === t);
    expect(byType('file.uploaded')).toHaveLength(1);
    expect(byType('file.uploaded')[0]).toMatchObject({
      severity: 'LOW', action: 'file_upload', user_id: 'alice', tenant_id: 'acme', outcome: 'success',
      description: 'Uploaded file: q3.pdf',
      details: { filename: 'q3.pdf', size: 52_133, content_type: 'application/pdf' },
    });
    expect(byType('file.downloaded')).toHaveLength(1);
    expect(byType('file.downloaded')[0]).toMatchObject({ severity: 'LOW', action: 'file_download', user_id: 'alice', description: `Downloaded file: ${fileId}` });
    expect(byType('file.deleted')).toHaveLength(1);
    expect(byType('file.deleted')[0]).toMatchObject({ severity: 'MEDIUM', action: 'file_delete', user_id: 'bob', description: `Deleted file: ${fileId}` });
    // The user's agent and address, not the file service's: filled in by the middleware.
    for (const e of about.data) expect(e).toMatchObject({ user_agent: 'test-browser/2.0', ip_address: '127.0.0.1' });

    const requests: AuditEvent[] = [];
    for await (const e of reader.iterate({ activity_type: 'api.request' })) requests.push(e);
    const seen = requests.map((e) => `${e.user_id} ${e.resource_id} ${e.details.status}`).sort();
    expect(seen).toEqual([
      'bob DELETE /files/:fileId 200',
      'alice GET /files/download/:fileId 200',
      'alice GET /files/download/:fileId 404',
      'alice POST /files/upload 201',
      'anonymous POST /files/* 401',
    ].sort());
    // The file service's own token never shows up as the actor.
    expect(requests.every((e) => e.user_id !== 'svc-file-storage')).toBe(true);
    await reader.close();
  });
});
