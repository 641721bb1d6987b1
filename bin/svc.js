#!/usr/bin/env node
// Entry point of the `svc` command: runs the compiled CLI (built by `npm install` / `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'src', 'cli', 'main.js');
if (!existsSync(compiled)) {
  console.error(`svc: the compiled CLI is missing (${compiled}). Run \`npm install\` (or \`npm run build\`) in ${root} first.`);
  process.exit(2);
}
await import(pathToFileURL(compiled).href);
