// Runs the file-storage example as a service:
//   AUDITHOUSE_URL=http://localhost:8080 AUDITHOUSE_TOKEN=... USER_JWT_SECRET=... npx tsx examples/file-storage/server.ts
import type { Server } from 'node:http';
import { pathToFileURL } from 'node:url';
import { serve } from '@hono/node-server';
import { AuditClient } from 'audithouse/client';
import { createFileStorageApp } from './app.ts';

export interface FileStorageConfig {
  port: number;
  auditUrl: string;
  auditToken: string;
  userJwtSecret: string;
  storageDir: string;
}

export async function startFileStorage(config: FileStorageConfig): Promise<{ port: number; close(): Promise<void> }> {
  const auditClient = new AuditClient({
    url: config.auditUrl,
    token: config.auditToken,
    // Delivery problems must be visible, never fatal: the service keeps serving files.
    onError: (err) => {
      if (!err.willRetry) console.error(`audit: ${err.message}`);
    },
  });
  const app = createFileStorageApp({ auditClient, userJwtSecret: config.userJwtSecret, storageDir: config.storageDir });
  const server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: app.fetch, port: config.port, hostname: '127.0.0.1' }, () => resolve(s as Server));
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : config.port,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      // Deliver what is still buffered before the process goes.
      await auditClient.close({ timeoutMs: 10_000 });
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const need = (name: string) => {
    const v = process.env[name];
    if (!v) {
      console.error(`set ${name}`);
      process.exit(2);
    }
    return v;
  };
  const running = await startFileStorage({
    port: Number(process.env.PORT ?? 3000),
    auditUrl: process.env.AUDITHOUSE_URL ?? 'http://localhost:8080',
    auditToken: need('AUDITHOUSE_TOKEN'),
    userJwtSecret: need('USER_JWT_SECRET'),
    storageDir: process.env.STORAGE_DIR ?? './file-storage-data',
  });
  console.log(`file-storage example on http://127.0.0.1:${running.port}`);
  process.once('SIGTERM', () => void running.close().then(() => process.exit(0)));
  process.once('SIGINT', () => void running.close().then(() => process.exit(0)));
}
