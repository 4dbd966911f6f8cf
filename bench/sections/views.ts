import type { BenchSection } from '../lib/context.ts';
export const viewsSection: BenchSection = { ids: ['4'], title: 'Views', async run() { return []; } };
