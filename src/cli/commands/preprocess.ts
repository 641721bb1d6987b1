// `svc preprocess IN_DIR --out DATASET`: recordings → training dataset (src/offline/preprocess.ts,
// format in docs/dataset.md). Shows a progress bar with ETA (by bytes) on a terminal, one line per
// file otherwise, and a summary at the end: hours in, clips out, what was skipped and why.
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { SvcError } from '../../errors.js';
import { DEFAULT_F0_METHOD, F0_CHOICES, type F0Choice } from '../../dsp/f0/types.js';
import { preprocessDataset, type PreprocessEvent, type PreprocessSummary } from '../../offline/preprocess.js';
import { oneOf, parseNumberOption } from '../options.js';

interface PreprocessCliOptions {
  out: string;
  speaker?: string;
  encoder: string;
  f0: string;
  config: string;
  spec: boolean;
  val: string;
  minSeconds: string;
  maxSeconds: string;
  overwrite: boolean;
  diarize?: boolean;
  keepSpeaker?: string;
}

/** Multi-line summary for the terminal. */
export function formatSummary(s: PreprocessSummary): string {
  const lines = [
    `input: ${s.files_in} file(s), ${(s.hours_in * 60).toFixed(1)} min of audio (${s.files_used} used)`,
    `output: ${s.clips_out} clip(s), ${(s.hours_out * 60).toFixed(1)} min`,
    `time: ${s.seconds.toFixed(1)} s (${s.realtime_factor.toFixed(1)}× real time)`,
  ];
  const d = s.dropped_clips;
  if (d.clipped || d.unvoiced || d.too_short) lines.push(`dropped clips: ${d.clipped} clipped, ${d.unvoiced} without voiced speech, ${d.too_short} too short`);
  if (s.ignored_non_audio) lines.push(`ignored ${s.ignored_non_audio} non-audio file(s)`);
  if (s.skipped_files.length) {
    lines.push(`skipped ${s.skipped_files.length} file(s):`);
    for (const f of s.skipped_files.slice(0, 20)) lines.push(`  ${f.file}: ${f.reason}`);
    if (s.skipped_files.length > 20) lines.push(`  ... and ${s.skipped_files.length - 20} more (see manifest.json summary)`);
  }
  return lines.join('\n');
}

export function register(program: Command): void {
  program
    .command('preprocess')
    .description('Turn a folder of recordings into a training dataset: mono, resampled to the model rate, loudness-normalised, sliced at silences into 2-15 s clips, with content units, f0, voicing and volume cached per clip (docs/dataset.md). Resumable: run it again to continue.')
    .argument('<in_dir>', 'folder of .wav/.flac recordings: one subfolder per speaker, or any layout with --speaker')
    .requiredOption('--out <dataset>', 'dataset folder to write (created; an unfinished one is resumed)')
    .option('--speaker <name>', 'put every recording under this one speaker (default: one speaker per top-level subfolder; files directly in IN_DIR use the folder name)')
    .option('--encoder <encoder>', 'content encoder: an .onnx file (source [1,1,N] → embed [1,T,D], or audio [1,N] → units), a model bundle folder or name holding encoder.onnx, "tiny" (random 256-d test encoder for --config tiny) or auto (the config\'s own: svc_phone_encoder for small, tiny for tiny)', 'auto')
    .option('--f0 <method>', `f0 estimator: ${F0_CHOICES.join(' | ')}`, DEFAULT_F0_METHOD)
    .option('--config <config>', 'model the features are for: small (the default voice: 16 kHz, hop 320, svc\'s 40-d phone encoder), tiny (CI/test model: 16 kHz, 256-d), standard (so-vits-svc 4.1: 44.1 kHz, hop 512, 768-d) or a so-vits-svc config.json', 'small')
    .option('--spec', 'also cache the linear spectrogram per clip (.spec.npy; faster training start, more disk)', false)
    .option('--val <n>', 'validation clips per speaker (at most a fifth of its clips)', '2')
    .option('--min-seconds <s>', 'shortest clip, seconds (shorter pieces are merged or dropped)', '2')
    .option('--max-seconds <s>', 'longest clip, seconds (longer sound is split at its quietest point)', '15')
    .option('--diarize', 'diarize each recording first (svc diarize) and keep one speaker\'s turns only (--keep-speaker)')
    .option('--keep-speaker <name|largest>', 'with --diarize: the speaker to keep per recording, SPEAKER_00… as `svc diarize` names them, or largest (the one with most speech; default)')
    .option('--overwrite', 'start the dataset again instead of resuming (removes its clips and manifest)', false)
    .action(async (inDir: string, opts: PreprocessCliOptions) => {
      oneOf('--f0', opts.f0, F0_CHOICES);
      const minSeconds = parseNumberOption('--min-seconds', opts.minSeconds, { min: 0.5, max: 30, unit: 's' });
      const maxSeconds = parseNumberOption('--max-seconds', opts.maxSeconds, { min: 1, max: 60, unit: 's' });
      if (minSeconds >= maxSeconds) throw new SvcError('INVALID_ARGUMENT', `--min-seconds (${minSeconds}) must be below --max-seconds (${maxSeconds})`);
      const valPerSpeaker = parseNumberOption('--val', opts.val, { min: 0, max: 1000, unit: 'clips' });
      if (opts.keepSpeaker !== undefined && !opts.diarize) throw new SvcError('INVALID_ARGUMENT', '--keep-speaker needs --diarize');
      if (opts.diarize) {
        // The kept turns go to a folder beside the dataset, which is then preprocessed as one speaker.
        const { keepOneSpeaker } = await import('../../diarize/keep.js');
        const { basename, dirname, join, resolve } = await import('node:path');
        const kept = join(dirname(resolve(opts.out)), `.${basename(resolve(opts.out))}.diarized`);
        const reports = await keepOneSpeaker(inDir, kept, opts.keepSpeaker ?? 'largest');
        for (const r of reports) {
          console.error(`preprocess: ${r.file}: ${r.speakers} speaker(s), kept ${r.kept} (${r.seconds.toFixed(1)} s)`);
          for (const note of r.notes) console.error(`preprocess: ${r.file}: note: ${note}`);
        }
        opts.speaker = opts.speaker ?? basename(resolve(inDir));
        inDir = kept;
      }
      const tty = process.stderr.isTTY === true;
      const bar = tty ? new cliProgress.SingleBar({ format: 'preprocess |{bar}| {percentage}% | {file} | ETA {eta_formatted}', etaBuffer: 20, stream: process.stderr }, cliProgress.Presets.shades_classic) : undefined;
      let done = 0;
      let total = 0;
      const onEvent = (e: PreprocessEvent): void => {
        if (e.type === 'start') {
          total = e.files;
          bar?.start(e.bytes, 0, { file: '' });
          if (!tty) console.error(`preprocess: ${e.files} file(s)${e.resumable ? `, ${e.resumable} already done` : ''}`);
        } else {
          done++;
          bar?.increment(e.bytes, { file: e.file.slice(-40) });
          if (!tty) console.error(`preprocess: [${done}/${total}] ${e.file}: ${e.skipped ? `skipped (${e.skipped})` : `${e.clips} clip(s)${e.reused ? ' (done before)' : ''}`}`);
        }
      };
      try {
        const result = await preprocessDataset({
          inputDir: inDir, outDir: opts.out, speaker: opts.speaker, encoder: opts.encoder, f0Method: opts.f0 as F0Choice,
          config: opts.config, spectrogram: opts.spec, valPerSpeaker, slice: { minSeconds, maxSeconds }, overwrite: opts.overwrite, onEvent,
        });
        bar?.stop();
        const m = result.manifest;
        console.log(`dataset: ${result.outDir} (${Object.keys(m.speakers).length} speaker(s): ${Object.keys(m.speakers).join(', ')}; ${m.clips.filter((c) => c.split === 'val').length} validation clip(s))`);
        console.log(formatSummary(m.summary));
      } finally {
        bar?.stop();
      }
    });
}
