#!/usr/bin/env node
// Regenerates docs/cli.md from the CLI's own --help output, so the usage page cannot drift from
// the code: `svc --help`, then `svc <command> --help` for every command it lists.
// Usage: node scripts/gen-cli-docs.mjs [--check]   (--check: exit 1 if docs/cli.md is out of date)
import { spawnSync } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outPath = join(root, 'docs', 'cli.md');

function help(args) {
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), ...args, '--help'], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, COLUMNS: '100', FORCE_COLOR: '0' },
  });
  if (run.status !== 0) throw new Error(`svc ${args.join(' ')} --help failed (exit ${run.status}): ${run.stderr}`);
  return run.stdout.trimEnd();
}

const top = help([]);
// Command names: the first word of each line in the "Commands:" block (indented by two spaces).
const commandBlock = top.split('\nCommands:\n')[1] ?? '';
const commands = commandBlock
  .split('\n')
  .map((line) => /^ {2}([a-z][\w-]*)/.exec(line)?.[1])
  .filter((name) => name && name !== 'help');

const sections = [
  '# svc command reference',
  '',
  'Generated from the CLI\'s own `--help` output by `node scripts/gen-cli-docs.mjs`; do not edit by hand (run the script after changing an option).',
  '',
  '```',
  top,
  '```',
  '',
  ...commands.map((name) => `- [\`svc ${name}\`](#svc-${name})`),
  '',
];
for (const name of commands) {
  sections.push(`## svc ${name}`, '', '```', help([name]), '```', '');
}
const markdown = sections.join('\n');

if (process.argv.includes('--check')) {
  const current = existsSync(outPath) ? readFileSync(outPath, 'utf8') : '';
  if (current !== markdown) {
    console.error('docs/cli.md is out of date: run node scripts/gen-cli-docs.mjs');
    process.exit(1);
  }
  console.log('docs/cli.md is up to date');
} else {
  const tmp = `${outPath}.tmp-${process.pid}`;
  writeFileSync(tmp, markdown);
  renameSync(tmp, outPath);
  console.log(`wrote ${outPath} (${commands.length} commands: ${commands.join(', ')})`);
}
