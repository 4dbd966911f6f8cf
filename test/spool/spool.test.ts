// The spool on real files: frames survive restarts in order, torn and corrupted records are
// detected by checksum, skipped and counted, the size bound holds, drained segments go away.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventRow } from '../../src/event/model.ts';
import { createMetrics } from '../../src/metrics.ts';
import { SpoolLockedError, SpoolUnavailableError } from '../../src/spool/errors.ts';
import { FaultInjector } from '../support/faults.ts';
import { HEADER_BYTES } from '../../src/spool/frame.ts';
import { Spool, type SpoolOptions } from '../../src/spool/spool.ts';

const open: Spool[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audithouse-spool-'));
  dirs.push(dir);
  return dir;
}

async function openSpool(opts: Partial<SpoolOptions> & { dir: string }): Promise<Spool> {
  const s = await Spool.open({ maxBytes: 64 * 1024 * 1024, ...opts });
  open.push(s);
  return s;
}

async function closeSpool(s: Spool): Promise<void> {
  open.splice(open.indexOf(s), 1);
  await s.close();
}

function row(description: string): EventRow {
  const now = Date.now();
  return {
    id: crypto.randomUUID(), tenant_id: 'acme', timestamp: now, received_at: now, activity_type: 'user.login',
    severity: 'LOW', action: 'login', outcome: 'success', resource_type: '', user_agent: 'test', user_id: 'alice',
    resource_id: '', ip_address: '127.0.0.1', request_id: 'r', description, details: '{}',
  };
}

const group = (name: string, n: number) => Array.from({ length: n }, (_, i) => row(`${name}-${i}`));
const segments = (dir: string) => fs.readdirSync(dir).filter((f) => f.endsWith('.seg')).sort();
const names = (groups: EventRow[][]) => groups.map((g) => g[0]!.description.split('-')[0]);

async function readAll(s: Spool): Promise<EventRow[][]> {
  const out: EventRow[][] = [];
  for (let b = await s.read(1_000_000); b; b = await s.read(1_000_000)) {
    out.push(...b.groups);
    await s.commit(b);
  }
  return out;
}

async function counterValue(metrics: ReturnType<typeof createMetrics>, name: string, labels: Record<string, string> = {}) {
  const m = (await metrics.registry.getSingleMetric(name)!.get()).values;
  return m.filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val)).reduce((n, v) => n + v.value, 0);
}

/** Byte offsets of each frame in a segment file, in order. */
function frameOffsets(file: string): number[] {
  const buf = fs.readFileSync(file);
  const out: number[] = [];
  for (let pos = 0; pos + HEADER_BYTES <= buf.length; pos += HEADER_BYTES + buf.readUInt32LE(pos + 4)) out.push(pos);
  return out;
}

describe('spool', () => {
  it('replays acknowledged requests after a restart, in append order, and deletes them once committed', async () => {
    const dir = tmpDir();
    const s = await openSpool({ dir });
    expect(await s.append([group('a', 3), group('b', 1)])).toBe(2);
    expect(await s.append([group('c', 2)])).toBe(1);
    expect(s.pendingEvents).toBe(6);
    await closeSpool(s);

    const metrics = createMetrics({ defaultMetrics: false });
    const again = await openSpool({ dir, metrics });
    expect(again.pendingEvents).toBe(6);
    expect(await counterValue(metrics, 'audit_spool_events')).toBe(6);
    const groups = await readAll(again);
    expect(names(groups)).toEqual(['a', 'b', 'c']);
    expect(groups.map((g) => g.length)).toEqual([3, 1, 2]);
    expect(groups[2]![1]).toMatchObject({ description: 'c-1', tenant_id: 'acme', details: '{}' });
    expect(again.pendingEvents).toBe(0);
    expect(again.bytes).toBe(0);
    expect(segments(dir)).toEqual([]);
    expect(await counterValue(metrics, 'audit_spool_bytes')).toBe(0);
  });

  it('skips and counts a torn last record (a crash mid-append); the records before it replay', async () => {
    const dir = tmpDir();
    const s = await openSpool({ dir });
    await s.append([group('a', 2)]);
    await s.append([group('b', 2)]);
    await s.append([group('c', 5)]);
    await closeSpool(s);
    const [seg] = segments(dir);
    const file = path.join(dir, seg!);
    const last = frameOffsets(file)[2]!;
    fs.truncateSync(file, last + HEADER_BYTES + 10); // the header made it, most of the payload did not

    const metrics = createMetrics({ defaultMetrics: false });
    const again = await openSpool({ dir, metrics });
    expect(again.pendingEvents).toBe(4);
    expect(await counterValue(metrics, 'audit_spool_corrupt_records_total', { reason: 'torn' })).toBe(1);
    expect(names(await readAll(again))).toEqual(['a', 'b']);
    // Counted once, not again when the drainer reads past it.
    expect(await counterValue(metrics, 'audit_spool_corrupt_records_total')).toBe(1);
  });

  it('skips and counts a record whose bytes changed (checksum), and replays the records after it', async () => {
    const dir = tmpDir();
    const s = await openSpool({ dir });
    await s.append([group('a', 1), group('b', 3), group('c', 1)]);
    await closeSpool(s);
    const file = path.join(dir, segments(dir)[0]!);
    const buf = fs.readFileSync(file);
    const second = frameOffsets(file)[1]!;
    buf.writeUInt8(buf.readUInt8(second + HEADER_BYTES + 40) ^ 0x20, second + HEADER_BYTES + 40); // one flipped bit inside the payload of "b"
    fs.writeFileSync(file, buf);

    const metrics = createMetrics({ defaultMetrics: false });
    const again = await openSpool({ dir, metrics });
    expect(again.pendingEvents).toBe(2);
    expect(await counterValue(metrics, 'audit_spool_corrupt_records_total', { reason: 'checksum' })).toBe(1);
    expect(names(await readAll(again))).toEqual(['a', 'c']);
  });

  it('resynchronizes after a corrupted length field instead of losing the rest of the segment', async () => {
    const dir = tmpDir();
    const s = await openSpool({ dir });
    await s.append([group('a', 1), group('b', 1), group('c', 1), group('d', 1)]);
    await closeSpool(s);
    const file = path.join(dir, segments(dir)[0]!);
    const buf = fs.readFileSync(file);
    const second = frameOffsets(file)[1]!;
    buf.writeUInt32LE(0x7fffffff, second + 4); // length now points far past the end of the file
    fs.writeFileSync(file, buf);

    const metrics = createMetrics({ defaultMetrics: false });
    const again = await openSpool({ dir, metrics });
    expect(names(await readAll(again))).toEqual(['a', 'c', 'd']);
    expect(await counterValue(metrics, 'audit_spool_corrupt_records_total')).toBe(1);
  });

  it('treats a zero-filled tail (file extended, data never written) as torn, not as records', async () => {
    const dir = tmpDir();
    const s = await openSpool({ dir });
    await s.append([group('a', 2)]);
    await closeSpool(s);
    const file = path.join(dir, segments(dir)[0]!);
    fs.appendFileSync(file, Buffer.alloc(4096));

    const metrics = createMetrics({ defaultMetrics: false });
    const again = await openSpool({ dir, metrics });
    expect(again.pendingEvents).toBe(2);
    expect(names(await readAll(again))).toEqual(['a']);
    expect(await counterValue(metrics, 'audit_spool_corrupt_records_total', { reason: 'torn' })).toBe(1);
  });

  it('starts a new segment after a restart: a torn tail is never followed by new records in its file', async () => {
    const dir = tmpDir();
    const s = await openSpool({ dir });
    await s.append([group('a', 1)]);
    await closeSpool(s);
    fs.appendFileSync(path.join(dir, segments(dir)[0]!), Buffer.from('AHS1 torn garbage'));
    const again = await openSpool({ dir });
    await again.append([group('b', 1)]);
    expect(segments(dir)).toHaveLength(2);
    expect(names(await readAll(again))).toEqual(['a', 'b']);
  });

  it('accepts only the requests that fit under maxBytes, and has room again once drained', async () => {
    const dir = tmpDir();
    const s = await openSpool({ dir, maxBytes: 8 * 1024 });
    const big = () => group('x', 4); // ~1.6 KiB per frame
    let accepted = 0;
    for (let i = 0; i < 10; i++) accepted += await s.append([big()]);
    expect(accepted).toBeGreaterThan(2);
    expect(accepted).toBeLessThan(10);
    expect(s.bytes).toBeLessThanOrEqual(8 * 1024);
    expect(await s.append([big(), big()])).toBe(0);
    const drained = await readAll(s);
    expect(drained).toHaveLength(accepted);
    expect(s.bytes).toBe(0);
    expect(await s.append([big(), big()])).toBe(2);
  });

  it('rolls over into new segment files and unlinks each one once drained', async () => {
    const dir = tmpDir();
    const s = await openSpool({ dir, segmentBytes: 2048 });
    for (let i = 0; i < 12; i++) await s.append([group(`g${i}`, 3)]);
    const before = segments(dir);
    expect(before.length).toBeGreaterThan(3);
    const first = await s.read(3);
    expect(first!.groups).toHaveLength(1);
    await s.commit(first!);
    const bytesAfterOne = s.bytes;
    // Drain until the first segment file is gone: bytes fall by whole files.
    while (segments(dir)[0] === before[0]) await s.commit((await s.read(3))!);
    expect(s.bytes).toBeLessThan(bytesAfterOne);
    expect(segments(dir).length).toBeLessThan(before.length);
    expect((await readAll(s)).length).toBeGreaterThan(0);
    expect(segments(dir)).toEqual([]);
  });

  it('resumes after a restart at the saved read position, without re-reading what was committed', async () => {
    const dir = tmpDir();
    const s = await openSpool({ dir });
    await s.append([group('a', 1), group('b', 2), group('c', 3)]);
    const first = await s.read(1);
    expect(names(first!.groups)).toEqual(['a']);
    await s.commit(first!);
    await closeSpool(s);
    const again = await openSpool({ dir });
    expect(again.pendingEvents).toBe(5);
    expect(names(await readAll(again))).toEqual(['b', 'c']);
  });

  it('is owned by one process at a time; a lock left by a dead process is taken over', async () => {
    const dir = tmpDir();
    const s = await openSpool({ dir });
    await expect(Spool.open({ dir, maxBytes: 1 << 20 })).rejects.toBeInstanceOf(SpoolLockedError);
    await closeSpool(s);
    fs.writeFileSync(path.join(dir, 'LOCK'), String(process.pid + 1_000_000)); // no such process
    const again = await openSpool({ dir });
    await again.append([group('a', 1)]);
    expect(again.pendingEvents).toBe(1);
  });

  it('reports a failed disk write as unavailable, keeps nothing of it, and works again once the disk does', async () => {
    const dir = tmpDir();
    const faults = new FaultInjector();
    const s = await openSpool({ dir, faults });
    await s.append([group('a', 1)]);
    faults.failDisk();
    await expect(s.append([group('lost', 2)])).rejects.toBeInstanceOf(SpoolUnavailableError);
    expect(s.diskError).toBeDefined();
    expect(s.pendingEvents).toBe(1);
    faults.heal();
    await s.append([group('b', 1)]);
    expect(s.diskError).toBeUndefined();
    await closeSpool(s);
    const again = await openSpool({ dir });
    expect(names(await readAll(again))).toEqual(['a', 'b']);
  });
});
