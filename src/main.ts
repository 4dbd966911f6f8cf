// Process entry: run the CLI and exit with its code.
import { main } from './index.ts';

// The embedded engine's allocator (jemalloc, inside libchdb) keeps freed pages for 10 s by
// default; under steady ingest that held ~60 MiB of RSS that no insert needed any more (single
// posts: peak RSS 464 → ~400-430 MiB). Give pages back after a second. Read when libchdb loads
// (first store use), so setting it here is in time; an operator's own value wins.
process.env.JE_MALLOC_CONF ??= 'dirty_decay_ms:1000,muzzy_decay_ms:0';

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`audithouse: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  },
);
