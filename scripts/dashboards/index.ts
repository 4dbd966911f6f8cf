// Builds the provisioned dashboards and writes them to grafana/dashboards/ (committed).
//   npm run dashboards            regenerate the JSON files
//   npm run dashboards -- --check exit 1 if a committed file differs from what the code builds
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { feedDashboard } from './feed.ts';
import { healthDashboard } from './health.ts';
import type { Json } from './kit.ts';
import { overviewDashboard } from './overview.ts';

export const DASHBOARDS_DIR = fileURLToPath(new URL('../../grafana/dashboards/', import.meta.url));

/** File name → dashboard JSON. */
export function buildDashboards(): Record<string, Json> {
  return {
    'audit-overview.json': overviewDashboard(),
    'activity-feed.json': feedDashboard(),
    'service-health.json': healthDashboard(),
  };
}

export const render = (d: Json) => `${JSON.stringify(d, null, 2)}\n`;

/** Files whose committed content differs from the generated one (missing files included). */
export function staleDashboards(dir = DASHBOARDS_DIR): string[] {
  return Object.entries(buildDashboards())
    .filter(([file, d]) => {
      const p = path.join(dir, file);
      return !fs.existsSync(p) || fs.readFileSync(p, 'utf8') !== render(d);
    })
    .map(([file]) => file);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  if (process.argv.includes('--check')) {
    const stale = staleDashboards();
    if (stale.length) {
      process.stderr.write(`out of date: ${stale.join(', ')} (run: npm run dashboards)\n`);
      process.exit(1);
    }
    process.stdout.write('dashboards are up to date\n');
  } else {
    fs.mkdirSync(DASHBOARDS_DIR, { recursive: true });
    for (const [file, d] of Object.entries(buildDashboards())) fs.writeFileSync(path.join(DASHBOARDS_DIR, file), render(d));
    process.stdout.write(`wrote ${Object.keys(buildDashboards()).join(', ')} to grafana/dashboards/\n`);
  }
}
