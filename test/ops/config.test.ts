import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { Store } from '../../src/store/client.ts';

describe('configuration', () => {
  it('has the contract defaults', () => {
    const c = loadConfig({});
    expect(c.port).toBe(8080);
    expect(c.dataDir).toMatch(/\/data$/);
    expect(c.clickhouse).toEqual({ url: undefined, user: 'default', password: '', database: 'audit', cluster: undefined });
    expect(c.retention.days).toEqual({ LOW: 30, MEDIUM: 60, HIGH: 90, CRITICAL: 365 });
    expect(c.retention.archiveEnabled).toBe(true);
    expect(c.retention.archiveLocation).toBe(`${c.dataDir}/archive`);
    expect(c.retention.schedule).toBe('0 2 * * *');
    expect(c.log.level).toBe('info');
  });

  it('AUDIT_RETENTION_DAYS fills severities without their own setting', () => {
    expect(loadConfig({ AUDIT_RETENTION_DAYS: '45', AUDIT_RETENTION_CRITICAL: '400' }).retention.days).toEqual({ LOW: 45, MEDIUM: 45, HIGH: 45, CRITICAL: 400 });
  });

  it('treats an empty variable as unset (its default applies)', () => {
    const c = loadConfig({ PORT: '', AUDIT_SPOOL_MAX_BYTES: '', AUDIT_RETENTION_LOW: '', AUDIT_LOG_LEVEL: '' });
    expect(c.port).toBe(8080);
    expect(c.spool.maxBytes).toBe(1024 * 1024 * 1024);
    expect(c.retention.days.LOW).toBe(30);
    expect(c.log.level).toBe('info');
  });

  it('names every bad variable', () => {
    const bad = { PORT: 'eighty', AUDIT_RETENTION_LOW: '-1', AUDIT_LOG_LEVEL: 'LOUD', CLICKHOUSE_URL: 'not a url', AUDIT_ARCHIVE_ENABLED: 'maybe', CLICKHOUSE_DATABASE: 'a;drop', AUDIT_JWT_SECRET: 'short' };
    let err: unknown;
    try {
      loadConfig(bad);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    for (const name of Object.keys(bad)) expect(msg).toContain(name);
  });

  it('maps CLICKHOUSE_* onto the server client, as seen on the wire by a loopback listener', async () => {
    // No ClickHouse server exists here; a loopback HTTP listener records what the client sends.
    const seen: Array<{ url: string; headers: http.IncomingHttpHeaders }> = [];
    const listener = http.createServer((req, res) => {
      seen.push({ url: req.url ?? '', headers: req.headers });
      req.resume();
      req.on('end', () => res.writeHead(200, { 'X-ClickHouse-Summary': '{}' }).end(''));
    });
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    const port = (listener.address() as AddressInfo).port;
    const c = loadConfig({ CLICKHOUSE_URL: `http://127.0.0.1:${port}`, CLICKHOUSE_USER: 'audit_rw', CLICKHOUSE_PASSWORD: 'pw', CLICKHOUSE_DATABASE: 'audit_prod' });
    const store = await Store.fromConfig(c);
    try {
      expect(store.kind).toBe('server');
      expect(store.table('audit_activities')).toBe('`audit_prod`.`audit_activities`');
      await store.command('SELECT 1');
      expect(seen).toHaveLength(1);
      const url = new URL(seen[0]!.url, 'http://x');
      expect(url.searchParams.get('database')).toBe('audit_prod');
      const auth = seen[0]!.headers.authorization ?? '';
      expect(Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString()).toBe('audit_rw:pw');
    } finally {
      await store.close();
      listener.close();
    }
  });
});
