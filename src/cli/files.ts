/** Reading a file or a whole folder from disk into the engine's NamedBytes, for the CLIs. */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import type { NamedBytes } from '../engine/io/named-bytes';

export async function readPath(path: string): Promise<NamedBytes[]> {
  const info = await stat(path).catch(() => null);
  if (!info) throw new Error(`${path}: no such file or folder`);
  if (info.isDirectory()) {
    const out: NamedBytes[] = [];
    for (const entry of await readdir(path, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || entry.name.startsWith('.')) continue;
      const full = join(entry.parentPath, entry.name);
      out.push({ name: relative(dirname(path), full), bytes: new Uint8Array(await readFile(full)) });
    }
    return out;
  }
  const files: NamedBytes[] = [{ name: basename(path), bytes: new Uint8Array(await readFile(path)) }];
  // An Analyze-style NIfTI pair: bring the .img along with its .hdr.
  const pair = /\.hdr(\.gz)?$/i.test(path) ? path.replace(/\.hdr(\.gz)?$/i, (_, gz) => `.img${gz ?? ''}`) : null;
  if (pair) {
    const bytes = await readFile(pair).catch(() => null);
    if (bytes) files.push({ name: basename(pair), bytes: new Uint8Array(bytes) });
  }
  return files;
}

/** Runs a CLI body; any failure prints one line to stderr and exits non-zero. */
export function runCli(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
