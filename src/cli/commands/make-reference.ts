// `svc make-reference --size tiny|standard --out DIR`: builds a random-weight So-VITS-SVC bundle of
// the real architecture (python/svc_py/make_reference.py) for tests, benchmarks and latency work.
// It converts to noise-like speech, not a voice. Prints parameter counts and export times.
import type { Command } from 'commander';
import { SvcError } from '../../errors.js';
import { parseNumberOption } from '../options.js';
import { makeReference, type ReferenceSize } from '../../voices/sovits/bundle.js';

function millions(n: number): string {
  return `${(n / 1e6).toFixed(2)} M`;
}

export function register(program: Command): void {
  program
    .command('make-reference')
    .description('Build a random-weight So-VITS-SVC reference bundle (real architecture, untrained) for tests and benchmarks')
    .requiredOption('--size <size>', 'tiny: 16 kHz, hop 320, small widths, tiny conv encoder (seconds to build); standard: the so-vits-svc 4.1 44.1 kHz template (hop 512, 768-d vec768l12) with a HuBERT-base-size encoder (about a minute, ~600 MB)')
    .requiredOption('--out <dir>', 'output folder for the bundle (created; must be empty unless --force)')
    .option('--seed <n>', 'random seed for the weights (integer)', '1234')
    .option('--checkpoint', 'also write G_0.pth, the weights in so-vits-svc checkpoint layout', false)
    .option('--speaker-mix', 'export the speaker-mix graph (sid float32 [T, speakers]) so its two speakers can be mixed (--speaker "tiny_a:0.5,tiny_b:0.5")', false)
    .option('--force', 'write into a non-empty --out folder, replacing bundle files', false)
    .action(async (opts: { size: string; out: string; seed: string; checkpoint: boolean; speakerMix: boolean; force: boolean }) => {
      if (opts.size !== 'tiny' && opts.size !== 'standard') {
        throw new SvcError('INVALID_ARGUMENT', `--size must be tiny or standard, got "${opts.size}"`);
      }
      const seed = parseNumberOption('--seed', opts.seed, { min: 0, integer: true });
      const result = await makeReference(opts.size, opts.out, {
        seed, force: opts.force, checkpoint: opts.checkpoint, speakerMix: opts.speakerMix,
        onProgress: (message) => console.error(`make-reference: ${message}`),
      });
      const m = result.manifest;
      console.log(`${opts.size} reference bundle: ${result.out}`);
      console.log(`  so-vits-svc ${m.sovits_version}, ${m.sampling_rate} Hz, hop ${m.hop_length}, ${m.ssl_dim}-d ${m.speech_encoder} content, vol_embedding ${m.vol_embedding}`);
      console.log(`  parameters: generator ${millions(result.parameters.generator)} (${millions(result.parameters.generator_inference)} in the inference graph), encoder ${millions(result.parameters.encoder)}`);
      console.log(`  export time: generator ${result.export_seconds.generator.toFixed(1)} s, encoder ${result.export_seconds.encoder.toFixed(1)} s`);
    });
}
