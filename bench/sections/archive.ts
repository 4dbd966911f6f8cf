import type { BenchSection } from '../lib/context.ts';
export const archiveSection: BenchSection = { ids: ['6'], title: 'Archive', async run() { return []; } };
