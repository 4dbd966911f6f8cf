// The seed's file-storage routes (upload, download, delete), audited the audithouse way:
// audit() fills in who is calling and records every request as `api.request`; handlers log
// what happened to which file with c.var.audit.log — the seed's log_api_activity(...).
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { jwt } from 'hono/jwt';
import { requestId } from 'hono/request-id';
import type { AuditClient } from 'audithouse/client';
import { audit, type AuditVariables } from 'audithouse/hono';

export interface FileStorageOptions {
  /** Where audit events go. */
  auditClient: AuditClient;
  /** Verifies the users' bearer tokens (HS256): `sub` is the user, `tenant_id` the tenant. */
  userJwtSecret: string;
  /** Where files are kept, one folder per tenant. */
  storageDir: string;
}

interface StoredFile {
  file_id: string;
  filename: string;
  size: number;
  content_type: string;
}

const FILE_ID = /^[0-9a-f-]{36}$/;

export function createFileStorageApp(o: FileStorageOptions) {
  const app = new Hono<{ Variables: AuditVariables & { jwtPayload: { sub: string; tenant_id: string } } }>();

  app.use(requestId());
  // audit() first, so requests that fail authentication are recorded too.
  app.use('/files/*', audit({ client: o.auditClient }), jwt({ secret: o.userJwtSecret, alg: 'HS256' }));
  app.onError((err, c) => (err instanceof HTTPException ? err.getResponse() : c.json({ error: 'internal error' }, 500)));

  const tenantDir = (tenant: string) => path.join(o.storageDir, encodeURIComponent(tenant));
  const fileIdParam = (id: string) => {
    if (!FILE_ID.test(id)) throw new HTTPException(404, { message: 'no such file' });
    return id;
  };
  const readMeta = async (tenant: string, id: string): Promise<StoredFile> => {
    try {
      return JSON.parse(await fs.readFile(path.join(tenantDir(tenant), `${id}.json`), 'utf8')) as StoredFile;
    } catch {
      throw new HTTPException(404, { message: 'no such file' });
    }
  };

  app.post('/files/upload', async (c) => {
    const body = await c.req.parseBody();
    const file = body.file;
    if (!(file instanceof File)) throw new HTTPException(400, { message: 'send the file as multipart field "file"' });
    const tenant = c.var.jwtPayload.tenant_id;
    const stored: StoredFile = { file_id: crypto.randomUUID(), filename: file.name, size: file.size, content_type: file.type || 'application/octet-stream' };
    await fs.mkdir(tenantDir(tenant), { recursive: true });
    await fs.writeFile(path.join(tenantDir(tenant), stored.file_id), Buffer.from(await file.arrayBuffer()));
    await fs.writeFile(path.join(tenantDir(tenant), `${stored.file_id}.json`), JSON.stringify(stored));

    c.var.audit.log({
      activity_type: 'file.uploaded',
      action: 'file_upload',
      description: `Uploaded file: ${stored.filename}`,
      severity: 'LOW',
      resource_type: 'file',
      resource_id: stored.file_id,
      details: { filename: stored.filename, size: stored.size, content_type: stored.content_type },
    });
    return c.json(stored, 201);
  });

  app.get('/files/download/:fileId', async (c) => {
    const fileId = fileIdParam(c.req.param('fileId'));
    const tenant = c.var.jwtPayload.tenant_id;
    const meta = await readMeta(tenant, fileId);
    const data = await fs.readFile(path.join(tenantDir(tenant), fileId));

    c.var.audit.log({
      activity_type: 'file.downloaded',
      action: 'file_download',
      description: `Downloaded file: ${fileId}`,
      severity: 'LOW',
      resource_type: 'file',
      resource_id: fileId,
    });
    return c.body(data, 200, {
      'Content-Type': meta.content_type,
      'Content-Disposition': `attachment; filename="${meta.filename.replace(/["\\\r\n]/g, '_')}"`,
    });
  });

  app.delete('/files/:fileId', async (c) => {
    const fileId = fileIdParam(c.req.param('fileId'));
    const tenant = c.var.jwtPayload.tenant_id;
    await readMeta(tenant, fileId);
    await fs.rm(path.join(tenantDir(tenant), fileId), { force: true });
    await fs.rm(path.join(tenantDir(tenant), `${fileId}.json`), { force: true });

    c.var.audit.log({
      activity_type: 'file.deleted',
      action: 'file_delete',
      description: `Deleted file: ${fileId}`,
      severity: 'MEDIUM',
      resource_type: 'file',
      resource_id: fileId,
    });
    return c.json({ status: 'deleted' });
  });

  return app;
}
