// The API reference's browser bundle, served by the service itself from the installed (exactly
// pinned) @scalar/api-reference package: /docs is where users paste tokens, so it loads no script
// from another host and works offline. Read once, on first use; gzipped once for clients that take it.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import zlib from 'node:zlib';

const require = createRequire(import.meta.url);

/** dist/index.js of the package; its UMD standalone build sits beside it in dist/browser/. */
const distDir = path.dirname(require.resolve('@scalar/api-reference'));

export const SCALAR_VERSION = (JSON.parse(fs.readFileSync(path.join(distDir, '..', 'package.json'), 'utf8')) as { version: string }).version;

/** Versioned, so it can be cached for good: a new package version is a new URL. */
export const SCALAR_BUNDLE_PATH = `/docs/assets/api-reference-${SCALAR_VERSION}.js`;
export const DOCS_INIT_PATH = '/docs/assets/init.js';

/**
 * The two <style> elements the bundle injects without the page's nonce (the toast styles and the
 * default theme), allowed by hash. Measured in headless Chromium for the pinned version: a new
 * version may change them (test/api/docs-browser.test.ts then names the new hash); blocked, the page
 * still works, only toasts and theme colours fall back.
 */
export const SCALAR_STYLE_HASHES = [
  'sha256-l/2OpPg0d+2VLTLgwjf5mQo2CYwHDEqdj5TjbfEyVJI=',
  'sha256-T13Uev3xCax2N28XaoAE8DOzQZKvPp7ZQVAi1iRREjo=',
];

let bundle: { raw: Buffer; gzip: Buffer } | undefined;

export function scalarBundle(): { raw: Buffer; gzip: Buffer } {
  if (!bundle) {
    const raw = fs.readFileSync(path.join(distDir, 'browser', 'standalone.js'));
    bundle = { raw, gzip: zlib.gzipSync(raw, { level: 6 }) };
  }
  return bundle;
}

/**
 * Starts the reference (an external script, so the page needs no inline script). Fonts, telemetry,
 * the MCP/agent features and the developer toolbar stay off: each would call a Scalar host; so does
 * the "Open API Client" button (it hands this document's URL to Scalar's hosted client).
 */
export const DOCS_INIT_JS = `Scalar.createApiReference('#app', ${JSON.stringify({
  url: '/openapi.json',
  withDefaultFonts: false,
  telemetry: false,
  showDeveloperTools: 'never',
  hideClientButton: true,
  mcp: { disabled: true },
  agent: { disabled: true },
})});\n`;
