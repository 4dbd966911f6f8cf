// The README's syslog-ng recipe, for real: Debian's syslog-ng (http() destination, NDJSON batches
// as application/jsonlines) tails a file of audit events, one of them invalid, and posts them to
// the running service with ?partial=true. The valid events are stored exactly once, the bad one
// is refused on its own, and the batch holding it is not lost. Skipped, loudly, without syslog-ng
// (Debian: syslog-ng-core syslog-ng-mod-http; bash .ci/run installs them).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/event/ids.ts';
import { eventually } from '../support/sink-receivers.ts';
import { startService, type RunningService } from '../support/running-service.ts';

const BIN = ['/usr/sbin/syslog-ng', '/usr/bin/syslog-ng'].find((p) => fs.existsSync(p));
const version = BIN ? spawnSync(BIN, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] : undefined;
const httpModule = BIN ? spawnSync(BIN, ['--module-registry'], { encoding: 'utf8' }).stdout.includes('http') : false;
const SKIP = !BIN ? 'syslog-ng is not installed' : !httpModule ? 'the syslog-ng http module is missing (syslog-ng-mod-http)' : undefined;
if (SKIP) process.stderr.write(`\n[syslog-ng] SKIPPED: ${SKIP}; install Debian syslog-ng-core syslog-ng-mod-http (bash .ci/run does)\n\n`);

/** The recipe of README "Shipping with syslog-ng", with the test's URL, token and paths. */
export function syslogNgConfig(o: { input: string; url: string; token: string }): string {
  return `@version: 3.38
options { stats-freq(0); };
source s_audit { file("${o.input}" flags(no-parse) follow-freq(0.2)); };
destination d_audithouse {
  http(
    url("${o.url}/api/v1/audit/activities?partial=true")
    method("POST")
    headers("Authorization: Bearer ${o.token}", "Content-Type: application/jsonlines")
    body("$MSG")
    delimiter("\\n")
    batch-lines(200)
    batch-bytes(1048576)
    batch-timeout(500)
    time-reopen(1)
  );
};
log { source(s_audit); destination(d_audithouse); };
`;
}

describe.skipIf(SKIP !== undefined)(`syslog-ng → POST /api/v1/audit/activities?partial=true (${version ?? 'absent'})`, () => {
  let svc: RunningService;
  let child: ChildProcess | undefined;
  let dir: string;
  afterAll(async () => {
    child?.kill('SIGTERM');
    await svc?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('stores every valid event of a batch holding one bad line, each once, and refuses only that line', async () => {
    svc = await startService();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audithouse-syslog-ng-'));
    const ids = Array.from({ length: 300 }, () => uuidv7());
    const BAD = 137;
    const lines = ids.map((id, i) => JSON.stringify({
      id, activity_type: 'file.uploaded', action: 'file_upload', resource_type: 'file', resource_id: `f-${i}`,
      ...(i === BAD ? { severity: 'URGENT' } : {}),
    }));
    const input = path.join(dir, 'audit.ndjson');
    fs.writeFileSync(input, lines.join('\n') + '\n');
    const conf = path.join(dir, 'syslog-ng.conf');
    fs.writeFileSync(conf, syslogNgConfig({ input, url: svc.url, token: await svc.token({ scope: 'audit:write' }) }));
    const stderr: string[] = [];
    child = spawn(BIN!, ['-F', '-f', conf, `--persist-file=${dir}/persist`, `--pidfile=${dir}/pid`, `--control=${dir}/ctl`, '--no-caps'], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (c: Buffer) => stderr.push(c.toString()));

    const expected = ids.filter((_, i) => i !== BAD);
    const stored = await eventually(() => svc.ids(), (x) => x.length >= expected.length, 60_000);
    expect(stored.length, stderr.join('')).toBe(expected.length);
    expect(new Set(stored)).toEqual(new Set(expected));
    // syslog-ng got 202s: nothing is retried, nothing more arrives.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await svc.rows()).toBe(expected.length);
  });
});
