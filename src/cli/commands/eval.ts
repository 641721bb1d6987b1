// `svc eval REF TEST` / `svc eval SOURCE --model NAME [--target DIR]`: objective scores
// (src/eval): mel-cepstral distortion with DTW, f0 RMSE in cents, f0 correlation and voicing
// agreement. Two files, or two folders paired by file name; with --model each source file is
// converted first and scored against its source (pitch following) and the --target recordings (MCD).
import type { Command } from 'commander';
import { VOICE_LIMITS } from '../../voices/stage.js';
import { SvcError } from '../../errors.js';
import { oneOf, parseNumberOption } from '../options.js';
import { F0_CHOICES, type F0Choice } from '../../dsp/f0/types.js';
import { evaluateModel, evaluatePaths, type EvalReport, type PairResult } from '../../eval/index.js';

interface EvalCliOptions {
  model?: string;
  speaker?: string;
  pitch: string;
  target?: string;
  align: string;
  f0: string;
  keep?: string;
  json: boolean;
}

function fmt(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

function pairLine(p: PairResult): string {
  return `${p.name}: MCD ${fmt(p.mcdDb, 2)} dB | f0 RMSE ${fmt(p.f0RmseCents, 0)} cents | f0 corr ${fmt(p.f0Correlation, 3)} | voicing agreement ${fmt(100 * p.voicingAgreement, 1)} % (${p.alignment}, ${p.bothVoicedFrames} voiced frames)`;
}

function meanLine(label: string, r: EvalReport): string {
  return `${label} (${r.pairs.length} pair(s)): MCD ${fmt(r.mean.mcdDb, 2)} dB | f0 RMSE ${fmt(r.mean.f0RmseCents, 0)} cents | f0 corr ${fmt(r.mean.f0Correlation, 3)} | voicing agreement ${fmt(100 * r.mean.voicingAgreement, 1)} %`;
}

export function register(program: Command): void {
  program
    .command('eval')
    .description('Objective scores: mel-cepstral distortion with DTW (dB), f0 RMSE (cents), f0 correlation and voicing agreement, between two files or two folders of same-named files, or of a model\'s conversions (--model)')
    .argument('<reference>', 'reference audio file or folder (with --model: the source recordings to convert)')
    .argument('[test]', 'audio file or folder to score against the reference (files paired by name); not used with --model')
    .option('--model <name>', 'convert each reference file with this model (name or bundle folder) and score the conversions')
    .option('--speaker <name>', 'speaker of the model to convert to (with --model)')
    .option('--pitch <semitones>', 'pitch shift for the conversion (with --model); removed before the f0 error', '0')
    .option('--target <path>', 'the target speaker\'s recordings of the same sentences (with --model): MCD of the conversions against them')
    .option('--align <mode>', 'auto (time when durations match within 2 %, else DTW) | time | dtw', 'auto')
    .option('--f0 <method>', `f0 estimator for the pitch scores: ${F0_CHOICES.join(' | ')}`, 'hybrid')
    .option('--keep <dir>', 'keep the converted files in this folder (with --model)')
    .option('--json', 'print the full report as JSON', false)
    .action(async (reference: string, test: string | undefined, opts: EvalCliOptions) => {
      if (!['auto', 'time', 'dtw'].includes(opts.align)) throw new SvcError('INVALID_ARGUMENT', `--align must be auto, time or dtw, got "${opts.align}"`);
      const alignment = opts.align as 'auto' | 'time' | 'dtw';
      const f0Method: F0Choice = oneOf('--f0', opts.f0, F0_CHOICES);
      const pitch = parseNumberOption('--pitch', opts.pitch, { ...VOICE_LIMITS.pitch, unit: 'semitones' });
      const onPair = opts.json ? undefined : (p: PairResult): void => console.log(pairLine(p));
      if (opts.model !== undefined) {
        if (test !== undefined) throw new SvcError('INVALID_ARGUMENT', `with --model give only the source recordings (got a second path "${test}")`, { hint: 'use --target DIR for the target speaker\'s recordings' });
        const report = await evaluateModel(reference, { model: opts.model, speaker: opts.speaker, pitchSemitones: pitch, targetPath: opts.target, keepDir: opts.keep, f0Method, onPair });
        if (opts.json) return console.log(JSON.stringify(report, null, 2));
        console.log(meanLine('converted vs source', report));
        if (report.target) console.log(meanLine('converted vs target', report.target));
        return;
      }
      if (test === undefined) throw new SvcError('INVALID_ARGUMENT', 'svc eval needs a reference and a test path (or --model NAME to convert the reference first)', { hint: 'e.g. svc eval original/ converted/' });
      if (pitch !== 0 || opts.target || opts.speaker || opts.keep) throw new SvcError('INVALID_ARGUMENT', '--pitch, --target, --speaker and --keep apply with --model only');
      const report = await evaluatePaths(reference, test, { alignment, f0Method, onPair });
      if (opts.json) return console.log(JSON.stringify(report, null, 2));
      console.log(meanLine('mean', report));
      if (report.unmatched.length) console.log(`unmatched (no same-named file on the other side): ${report.unmatched.join(', ')}`);
    });
}
