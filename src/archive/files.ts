// Durable file primitives: a file is complete under its final name or not there at all.
// Write to "<name>.<random>.partial", fsync, rename, fsync the directory (so the rename itself
// survives a power loss). Anything still ending in .partial was never finished.
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { TEMP_SUFFIX } from './format.ts';

export function tempPathFor(finalPath: string): string {
  return `${finalPath}.${crypto.randomBytes(4).toString('hex')}${TEMP_SUFFIX}`;
}

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes `content` to a temp file, fsyncs it, and leaves it (not renamed) for the caller. */
export async function writeTempFile(finalPath: string, content: string | Uint8Array, mode = 0o644): Promise<string> {
  const tmp = tempPathFor(finalPath);
  const handle = await fsp.open(tmp, 'wx', mode);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return tmp;
}

/** Atomically replaces (or creates) `finalPath` with `content`, durably. */
export async function writeFileDurable(finalPath: string, content: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = await writeTempFile(finalPath, content, mode);
  await fsp.rename(tmp, finalPath);
  await fsyncDir(path.dirname(finalPath));
}

export function sha256Hex(data: string | Uint8Array): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

export async function sha256File(file: string): Promise<{ sha256: string; bytes: number }> {
  const hash = crypto.createHash('sha256');
  let bytes = 0;
  for await (const chunk of fs.createReadStream(file) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** Every regular file under `root` (relative, '/'-separated), skipping the directories named. */
export function listFiles(root: string, skipDirs: readonly string[] = []): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (!skipDirs.includes(child)) walk(child);
      } else if (entry.isFile()) {
        out.push(child);
      }
    }
  };
  if (fs.existsSync(root)) walk('');
  return out.sort();
}
