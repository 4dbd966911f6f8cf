// /docs in a real browser (headless Chromium, where installed): the API reference renders from
// this service's own assets under its Content-Security-Policy, with no violation and no request
// to another host. Skipped where no Chromium is installed (the CSP itself is checked in
// test/api/openapi.test.ts everywhere).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type RunningService } from '../support/running-service.ts';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => fs.existsSync(p));

describe.skipIf(!CHROMIUM)('/docs in headless Chromium', () => {
  let svc: RunningService;
  beforeAll(async () => {
    svc = await startService();
  });
  afterAll(() => svc?.close());

  it('renders the reference with no CSP violation and nothing loaded from another host', async () => {
    const args = [
      '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
      '--enable-logging=stderr', '--v=0', '--virtual-time-budget=20000', '--dump-dom', `${svc.url}/docs`,
    ];
    const { stdout, stderr } = await promisify(execFile)(CHROMIUM!, args, { timeout: 90_000, maxBuffer: 64 * 1024 * 1024 });
    const console = stderr.split('\n').filter((l) => l.includes(':CONSOLE'));
    expect(console.filter((l) => /Content Security Policy|Refused to/i.test(l))).toEqual([]);
    // Rendered: the operations of the document are in the page.
    expect(stdout).toContain('Post audit events');
    expect(stdout).toContain('id="scalar-style"');
    // Every resource the page loads is from this origin (no fonts, no telemetry, no CDN)...
    const resources = [...stdout.matchAll(/<(?:script|img|link|iframe|source|video|audio)\b[^>]*\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(resources.filter((u) => /^(https?:)?\/\//.test(u) && !u.startsWith(svc.url))).toEqual([]);
    // ...and no button hands this document's URL to Scalar's hosted client.
    expect(stdout).not.toContain('client.scalar.com');
  }, 120_000);
});
