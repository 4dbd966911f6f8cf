// Command-line options of `npm run bench`. Two profiles: the full run (the table in
// BENCHMARKS.md, well under 20 minutes on 2 cores) and --quick (a smoke run of about a minute).
import { parseArgs } from 'node:util';

export interface BenchOptions {
  mode: 'full' | 'quick';
  /** Section ids to run (all by default). */
  sections: Set<string>;
  ingest: { eventsPerRound: number; rounds: number; batch: number; connections: number };
  single: { connections: number; seconds: number; rounds: number };
  /** §5: events posted through the service for the storage of rows as it writes them. */
  storage: { events: number; batch: number; connections: number };
  /** Row counts of the query data sets, ascending (each grows the previous one). */
  scales: number[];
  /** http: §3's reads also through the API (a service on the same data); httpIterations per read. */
  query: { iterations: number; budgetMs: number; cursorDepth: number; http: boolean; httpIterations: number };
  postgres: boolean;
  keep: boolean;
  profile: boolean;
  write: boolean;
}

const USAGE = `npm run bench [-- options]
  --quick              smoke run (~1 minute): small sizes, one round each
  --sections=1,2,3     run only these sections (1 ingest, 2 single posts, 3 queries, 4 views,
                       5 storage, 6 archive/verify, 7 memory, 8 Postgres peer,
                       9 OTLP ingest vs native, sink delivery)
  --scales=1e6,1e7     query data set sizes (default: 1e6,1e7; quick: 1e5)
  --no-postgres        skip the Postgres peer even where Postgres is installed
  --no-http            §3 at the store level only (no service on its data set)
  --profile            write V8 CPU profiles of the services and engine workers to bench/out/profiles
                       (named after what they ran; summarize with bench/profile-summary.ts)
  --keep               keep the temporary data directories
  --no-write           print the table, leave BENCHMARKS.md alone
`;

export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      sections: { type: 'string' },
      scales: { type: 'string' },
      'no-postgres': { type: 'boolean', default: false },
      'no-http': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      'no-write': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const quick = values.quick;
  const scales = values.scales
    ? values.scales.split(',').map((s) => Math.round(Number(s))).filter((n) => Number.isFinite(n) && n > 0).sort((a, b) => a - b)
    : quick ? [100_000] : [1_000_000, 10_000_000];
  return {
    mode: quick ? 'quick' : 'full',
    sections: new Set((values.sections ?? '1,2,3,4,5,6,7,8,9').split(',').map((s) => s.trim())),
    ingest: quick
      ? { eventsPerRound: 20_000, rounds: 1, batch: 1000, connections: 4 }
      : { eventsPerRound: 200_000, rounds: 3, batch: 1000, connections: 4 },
    single: quick ? { connections: 50, seconds: 5, rounds: 1 } : { connections: 50, seconds: 10, rounds: 3 },
    storage: { events: quick ? 50_000 : 1_000_000, batch: 1000, connections: 4 },
    scales,
    query: {
      ...(quick ? { iterations: 10, budgetMs: 1_500, cursorDepth: 20, httpIterations: 40 } : { iterations: 25, budgetMs: 4_000, cursorDepth: 100, httpIterations: 200 }),
      http: !values['no-http'],
    },
    postgres: !values['no-postgres'],
    keep: values.keep,
    profile: values.profile,
    write: !values['no-write'],
  };
}
