// §7 Memory: peak resident set of the service process during §1 and §2, read from the kernel
// (VmHWM of /proc/<pid>/status, reset between the two; sampled every 100 ms as a fallback).
import type { BenchSection } from '../lib/context.ts';
import { skipped } from '../lib/context.ts';
import { fmt } from '../lib/stats.ts';

const mib = (b: number) => b / 2 ** 20;

export const memorySection: BenchSection = {
  ids: ['7'],
  title: 'Service memory',
  async run(ctx) {
    const ingest = ctx.shared.peakRssIngest as number | undefined;
    const single = ctx.shared.peakRssSingle as number | undefined;
    if (ingest === undefined && single === undefined) return [skipped('7', this.title, 'sections 1 and 2 did not run')];
    return [{
      id: '7',
      title: this.title,
      rows: [
        ...(ingest !== undefined ? [{ section: '7', measure: 'Peak RSS of the service during §1 (batch ingest)', value: `${fmt(mib(ingest), 0)} MiB` }] : []),
        ...(single !== undefined ? [{ section: '7', measure: 'Peak RSS of the service during §2 (single-event POSTs)', value: `${fmt(mib(single), 0)} MiB`, target: '≤ 400 MiB', met: mib(single) <= 400 }] : []),
      ],
      data: { peakRssIngest: ingest, peakRssSingle: single },
    }];
  },
};
