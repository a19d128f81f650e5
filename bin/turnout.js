#!/usr/bin/env node
// Entry point of the `turnout` command. Plain JavaScript so that any Node can start it:
// when the running Node cannot execute TypeScript (type stripping needs 22.18+), it re-runs
// itself with the Node 24 that `npm ci` installs into node_modules (the `node` package).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [major, minor] = process.versions.node.split('.').map(Number);
const canStripTypes = major >= 23 || (major === 22 && minor >= 18);

if (!canStripTypes) {
  const local = join(root, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(local)) {
    process.stderr.write(
      `turnout: Node ${process.versions.node} is too old (need 22.18+ or 24) and no local Node was found at ${local}.\n` +
        `Run "npm ci" in ${root} first, or install Node 24.\n`,
    );
    process.exit(2);
  }
  const r = spawnSync(local, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? (r.signal ? 128 : 1));
}

const { main } = await import(join(root, 'src', 'cli', 'main.ts'));
await main(process.argv.slice(2));
