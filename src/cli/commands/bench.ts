// `svc bench`: runs the benchmark harness (bench/index.ts, the same as `npm run bench`). The benches
// are TypeScript outside src/, so this spawns `node --import tsx bench/index.ts` in the checkout and
// passes its table and exit status through.
import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SvcError } from '../../errors.js';
import { repoRoot } from '../../paths.js';

interface BenchCliOptions {
  only?: string;
  quick?: boolean;
  json?: string;
  dir?: string;
  list?: boolean;
}

/** Arguments for bench/index.ts; paths are made absolute against the user's working directory. */
export function benchHarnessArgs(options: BenchCliOptions, cwd: string = process.cwd()): string[] {
  const args: string[] = [];
  if (options.only) args.push('--only', options.only);
  if (options.quick) args.push('--quick');
  if (options.json) args.push('--json', resolve(cwd, options.json));
  if (options.dir) args.push('--dir', resolve(cwd, options.dir));
  if (options.list) args.push('--list');
  return args;
}

async function runBench(options: BenchCliOptions): Promise<void> {
  const harness = join(repoRoot, 'bench', 'index.ts');
  if (!existsSync(harness)) {
    throw new SvcError('FILE_NOT_FOUND', `the benchmark harness is missing: expected ${harness}`, {
      hint: 'svc bench runs from a source checkout of svc (git clone), not from an installed package',
    });
  }
  if (!existsSync(join(repoRoot, 'node_modules', 'tsx', 'package.json'))) {
    throw new SvcError('INVALID_ARGUMENT', `svc bench needs the dev dependency tsx, which is not installed in ${repoRoot}`, {
      hint: `run \`npm install\` (without --omit=dev) in ${repoRoot}`,
    });
  }
  const args = ['--import', 'tsx', harness, ...benchHarnessArgs(options)];
  const code = await new Promise<number>((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (status, signal) => resolvePromise(status ?? (signal ? 128 : 1)));
  });
  // The harness has already printed its table and any failures; only pass the status on.
  if (code !== 0) process.exitCode = code;
}

export function register(program: Command): void {
  program
    .command('bench')
    .description(
      'Run the benchmarks (bench/*.bench.ts: audio I/O, DSP, F0, models, streaming) one after another and print one table ' +
        'of all figures with the machine info (CPU, cores, Node, onnxruntime). Same as `npm run bench`. Exit status 1 if a bench failed.',
    )
    .option('--only <areas>', 'run only these benches, comma-separated area names (file name without .bench.ts, e.g. "dsp,f0"); see --list')
    .option('--quick', 'smoke mode: 1 warm-up + 2 timed runs per figure and short inputs; figures are indicative only', false)
    .option('--json <file>', 'also write the report (machine info, rows, failures) as JSON to this file')
    .option('--dir <folder>', 'folder holding the *.bench.ts files (default: bench/ of the svc checkout)')
    .option('--list', 'print the available benches and exit', false)
    .action(async (options: BenchCliOptions) => {
      await runBench(options);
    });
}
