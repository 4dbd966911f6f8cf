#!/usr/bin/env bash
# One-off (issue 17): moves the flat test/ folder into test/<capability>/ and the helpers into
# test/support/, then points every relative reference at the new places. Kept so the move can be
# re-applied after other branches changed test files: it only moves what is still in the old
# place and only rewrites references that no longer resolve, so running it twice changes nothing.
# Run from anywhere inside the repository; stage with git mv, commit by hand.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"

# old path (under test/) -> new path (under test/). One line each; the capability folders follow src/.
MAPPING='
ingest.test.ts                 ingest/ingest.test.ts
ingest-http.test.ts            ingest/ingest-http.test.ts
ingest-partial.test.ts         ingest/ingest-partial.test.ts
malformed.test.ts              ingest/malformed.test.ts
hardening.test.ts              ingest/hardening.test.ts
write-path.test.ts             ingest/write-path.test.ts
write-abuse.test.ts            ingest/write-abuse.test.ts
uuid.test.ts                   ingest/uuid.test.ts
reserved-types.test.ts         ingest/reserved-types.test.ts
redaction.test.ts              ingest/redaction.test.ts
redaction-gaps.test.ts         ingest/redaction-gaps.test.ts
syslog-ng.test.ts              ingest/syslog-ng.test.ts
query.test.ts                  query/query.test.ts
paging.test.ts                 query/paging.test.ts
export.test.ts                 query/export.test.ts
fast-paths.test.ts             query/fast-paths.test.ts
read-cache.test.ts             query/read-cache.test.ts
read-cache-concurrent.test.ts  query/read-cache-concurrent.test.ts
isolation.test.ts              query/isolation.test.ts
access-log.test.ts             query/access-log.test.ts
analytics-summary.test.ts      analytics/analytics-summary.test.ts
analytics-views.test.ts        analytics/analytics-views.test.ts
retention.test.ts              retention/retention.test.ts
retention-api.test.ts          retention/retention-api.test.ts
retention-crash.test.ts        retention/retention-crash.test.ts
retention-invariants.test.ts   retention/retention-invariants.test.ts
retention-ttl.test.ts          retention/retention-ttl.test.ts
retention-year.test.ts         retention/retention-year.test.ts
archive-verify.test.ts         archive/archive-verify.test.ts
integrity.test.ts              integrity/integrity.test.ts
integrity-archives.test.ts     integrity/integrity-archives.test.ts
integrity-erasure.test.ts      integrity/integrity-erasure.test.ts
integrity-fuzz.test.ts         integrity/integrity-fuzz.test.ts
tokens.test.ts                 auth/tokens.test.ts
scopes.test.ts                 auth/scopes.test.ts
jwt-cache.test.ts              auth/jwt-cache.test.ts
tenant-ids.test.ts             auth/tenant-ids.test.ts
sinks-delivery.test.ts         sinks/sinks-delivery.test.ts
sinks-lease.test.ts            sinks/sinks-lease.test.ts
sinks-syslog.test.ts           sinks/sinks-syslog.test.ts
sinks-unit.test.ts             sinks/sinks-unit.test.ts
otlp.test.ts                   otlp/otlp.test.ts
otlp-sdk.test.ts               otlp/otlp-sdk.test.ts
spool.test.ts                  spool/spool.test.ts
durability.test.ts             spool/durability.test.ts
crash.test.ts                  spool/crash.test.ts
outage.test.ts                 spool/outage.test.ts
outage-reads.test.ts           spool/outage-reads.test.ts
metrics.test.ts                ops/metrics.test.ts
prometheus-rules.test.ts       ops/prometheus-rules.test.ts
alerts-e2e.test.ts             ops/alerts-e2e.test.ts
grafana-interpolate.test.ts    ops/grafana-interpolate.test.ts
grafana-provisioning.test.ts   ops/grafana-provisioning.test.ts
grafana-queries.test.ts        ops/grafana-queries.test.ts
compose.test.ts                ops/compose.test.ts
cluster.test.ts                ops/cluster.test.ts
lease.test.ts                  ops/lease.test.ts
logging.test.ts                ops/logging.test.ts
log-secrets.test.ts            ops/log-secrets.test.ts
error-logs.test.ts             ops/error-logs.test.ts
config.test.ts                 ops/config.test.ts
migrate.test.ts                ops/migrate.test.ts
e2e.test.ts                    ops/e2e.test.ts
__snapshots__/cluster-ddl.sql  ops/__snapshots__/cluster-ddl.sql
client-buffer.test.ts          sdk/client-buffer.test.ts
client-delivery.test.ts        sdk/client-delivery.test.ts
hono-middleware.test.ts        sdk/hono-middleware.test.ts
package-exports.test.ts        sdk/package-exports.test.ts
example-file-storage.test.ts   sdk/example-file-storage.test.ts
openapi.test.ts                api/openapi.test.ts
contract.test.ts               api/contract.test.ts
hostile-params.test.ts         api/hostile-params.test.ts
docs-browser.test.ts           api/docs-browser.test.ts
limits.test.ts                 api/limits.test.ts
fixture.test.ts                support/service.test.ts
helpers.ts                     support/service.ts
retention-helpers.ts           support/retention.ts
integrity-helpers.ts           support/integrity.ts
otlp-helpers.ts                support/otlp.ts
analytics-seed.ts              support/analytics-seed.ts
contract-gen.ts                support/contract-gen.ts
endpoints.ts                   support/endpoints.ts
grafana-interpolate.ts         support/grafana-interpolate.ts
jwks-server.ts                 support/jwks-server.ts
running-service.ts             support/running-service.ts
service-process.ts             support/service-process.ts
sink-receivers.ts              support/sink-receivers.ts
'
export MAPPING

# 1. Moves. test/helpers.ts only re-exports test/support/service.ts: it is removed, its importers
#    are pointed at support/service.ts below. A file that appears in the flat folder again (a
#    branch merged after the move) is moved too, unless its new place is taken (then: reported).
moved=$(mktemp)
trap 'rm -f "$moved"' EXIT
while read -r old new; do
  [ -n "$old" ] || continue
  if [ -e "test/$old" ]; then
    if [ "$old" = helpers.ts ] && [ -e "test/$new" ]; then
      if grep -qv -e '^//' -e '^export \* from' -e '^$' "test/$old"; then
        echo "reorganise-tests: test/helpers.ts has more than a re-export; merge it into test/support/service.ts by hand" >&2
        exit 1
      fi
      git rm -q "test/$old"
    elif [ -e "test/$new" ]; then
      echo "reorganise-tests: both test/$old and test/$new exist; left as they are" >&2
    else
      mkdir -p "$(dirname "test/$new")"
      git mv "test/$old" "test/$new"
      echo "test/$new" >> "$moved"
    fi
  fi
done <<< "$MAPPING"
rmdir test/__snapshots__ 2>/dev/null || true
export MOVED_LIST="$moved"

# 2. References.
#    In test files (and bench/, examples/), import specifiers (from '...', import('...'), vi.mock('...')): kept when they
#    resolve from where the file is; otherwise resolved from where it was, followed through the
#    mapping, and written relative to where it is now. So imports other branches changed (a src/
#    module renamed) are carried over as they are, and a second run finds nothing to do.
#    In files moved by this run only (a directory such as '..' resolves from anywhere): paths
#    joined to import.meta.dirname, new URL(..., import.meta.url) and toMatchFileSnapshot().
#    Elsewhere (README, .ci/run, vitest config, bench, examples, tsconfig, test comments): each
#    mention of test/<old path> becomes test/<new path>. src/ is left to its owners.
node --input-type=module - <<'JS'
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

const pairs = process.env.MAPPING.trim().split('\n').map((l) => l.trim().split(/\s+/)).filter((p) => p.length === 2);
const toNew = new Map(pairs.map(([o, n]) => [path.join('test', o), path.join('test', n)]));
const toOld = new Map(pairs.map(([o, n]) => [path.join('test', n), path.join('test', o)]));
const movedNow = new Set(fs.readFileSync(process.env.MOVED_LIST, 'utf8').split('\n').filter(Boolean));
const exists = (p) => fs.existsSync(p);
const rel = (fromFile, target) => {
  const r = path.relative(path.dirname(fromFile), target).split(path.sep).join('/') || '.';
  return r.startsWith('.') ? r : `./${r}`;
};
const written = [];

const imports = /(\bfrom\s+|\bimport\s*\(\s*|\bvi\.mock\(\s*|^import\s+)(['"])(\.{1,2}\/[^'"]*)\2/gm;
const places = [
  /(import\.meta\.dirname,\s*)(['"])(\.{1,2}(?:\/[^'"]*)?)\2/g,
  /(new URL\(\s*)(['"])(\.{1,2}\/[^'"]*)\2(?=\s*,\s*import\.meta\.url)/g,
  /(toMatchFileSnapshot\(\s*)(['"])(\.{1,2}\/[^'"]*)\2/g,
];
// Test files, and the bench and examples modules that import test helpers (src/ never does).
const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', 'test', 'bench', 'examples'], { encoding: 'utf8' })
  .split('\n').filter((f) => /\.(ts|mts|js|mjs)$/.test(f) && exists(f));
for (const file of files) {
  const oldFile = toOld.get(file) ?? file;
  const fromOld = (lead, q, spec) => {
    const before = path.normalize(path.join(path.dirname(oldFile), spec));
    const target = toNew.get(before) ?? before;
    if (!exists(target)) {
      console.error(`reorganise-tests: ${file}: ${spec} resolves neither from here nor from ${oldFile}; left as it is`);
      return `${lead}${q}${spec}${q}`;
    }
    return `${lead}${q}${rel(file, target)}${q}`;
  };
  const src = fs.readFileSync(file, 'utf8');
  let out = src.replace(imports, (whole, lead, q, spec) => {
    const here = path.normalize(path.join(path.dirname(file), spec));
    if (exists(here) && !(toNew.has(here) && exists(toNew.get(here)))) return whole;
    return fromOld(lead, q, spec);
  });
  if (movedNow.has(file)) for (const re of places) out = out.replace(re, (whole, lead, q, spec) => fromOld(lead, q, spec));
  if (out !== src) {
    fs.writeFileSync(file, out);
    written.push(file);
  }
}

const docs = execFileSync('git', ['ls-files', '*.md', '.ci', 'vitest.config.ts', 'package.json', 'tsconfig.json', 'bench', 'examples', 'test'], { encoding: 'utf8' })
  .split('\n').filter((f) => f && exists(f) && /\.(md|ts|json|js|mjs|sh|ya?ml)$|(^|\/)run$/.test(f) && !f.endsWith('package-lock.json'));
const byLength = [...toNew].sort((a, b) => b[0].length - a[0].length);
for (const file of docs) {
  const src = fs.readFileSync(file, 'utf8');
  let out = src;
  for (const [o, n] of byLength) {
    // test/x.test.ts, not test/y/x.test.ts, not other-test/x.test.ts, not test/x.test.tsx.
    const re = new RegExp(`(?<![\\w./-])${o.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`, 'g');
    out = out.replace(re, n);
  }
  if (out !== src) {
    fs.writeFileSync(file, out);
    if (!written.includes(file)) written.push(file);
  }
}
if (written.length > 0) execFileSync('git', ['add', '--', ...written]);
console.log(`reorganise-tests: ${movedNow.size} file(s) moved, ${written.length} rewritten`);
JS
