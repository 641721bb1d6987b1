// `svc convert IN OUT [--pitch N] [--formant R] [--model NAME|PATH] [--format pcm16|float32] [--rate HZ]`: offline file
// conversion. Reads any supported audio (WAV/FLAC), mixes it to mono (explicitly: conversion is
// mono), converts it with a voice engine and writes a WAV atomically at the input rate or --rate.
// Engines: the built-in DSP voice (pitch + formant), or with `--model NAME|PATH` a So-VITS-SVC bundle
// (src/voices/sovits/convert.ts convertMono), through the same read → convert → resample → write path.
// All options are validated before any audio is read; on any error nothing is written.
import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { SvcError } from '../../errors.js';
import { mixToMono, readAudio, writeWav, type WavFormat } from '../../audio/io.js';
import { resample } from '../../audio/resample.js';
import { SUPPORTED_SAMPLE_RATES } from '../../audio/types.js';
import { convertWithDspVoice } from '../../voices/dsp/index.js';
import { DEFAULT_F0_METHOD, F0_CHOICES, type F0Choice } from '../../dsp/f0/index.js';
import { loadModel, loadRvcModel, modelDisplayName, resolveModelDir } from '../../voices/registry.js';
import { isRvcBundleDir } from '../../voices/rvc/bundle.js';
import { convertRvcMono } from '../../voices/rvc/convert.js';
import { DEFAULT_INDEX_RATE, DEFAULT_PROTECT, DEFAULT_RMS_MIX_RATE } from '../../voices/rvc/features.js';
import { convertMono } from '../../voices/sovits/convert.js';
import { DEFAULT_NOISE_SCALE, MODEL_PRECISIONS, type ModelPrecision } from '../../voices/sovits/model.js';
import type { OnnxProvider } from '../../onnx/session.js';
import {
  DSP_VOICE_RATE_RANGE,
  FORMANT_RATIO_RANGE,
  PITCH_SEMITONES_RANGE,
  validateFormantRatio,
  validatePitchSemitones,
} from '../../voices/dsp/params.js';
import { oneOf, parseNumberOption } from '../options.js';

interface ConvertCliOptions {
  pitch: string;
  formant: string;
  format: string;
  rate?: string;
  model?: string;
  speaker?: string;
  autoPitch?: boolean;
  targetF0?: string;
  f0?: string;
  noiseScale?: string;
  clusterRatio?: string;
  seed?: string;
  provider?: string;
  threads?: string;
  precision?: string;
  outputRate?: string;
  indexRate?: string;
  protect?: string;
  rmsMixRate?: string;
}

/** What to convert with; validated, ready to run. (A model engine will join the DSP voice here.) */
export type ConvertEngine =
  | { kind: 'dsp'; pitchSemitones: number; formantRatio: number }
  | {
      kind: 'model';
      model: string;
      speaker?: string;
      pitchSemitones: number;
      autoPitch: boolean;
      targetF0Hz?: number;
      f0Method: F0Choice;
      noiseScale: number;
      clusterRatio: number;
      seed: number;
      provider: OnnxProvider;
      threads?: number;
      precision: ModelPrecision;
      /** 'input': back at the input's rate (default); 'model': the model's own rate. */
      outputRate: 'input' | 'model';
      /** RVC models only (src/voices/rvc): retrieval share, consonant protection, loudness-envelope mix. */
      rvc: { indexRate?: number; protect?: number; rmsMixRate?: number };
    };

/** Validates the --model options into an engine (no model is loaded yet). */
function planModelEngine(options: ConvertCliOptions, pitchSemitones: number, formantRatio: number): ConvertEngine {
  if (formantRatio !== 1) {
    throw new SvcError('INVALID_ARGUMENT', `--formant applies to the built-in DSP voice only; a model speaks with its speaker's own timbre (got --formant ${formantRatio} with --model)`, { hint: 'drop --formant, or drop --model to use the DSP voice' });
  }
  const f0Method: F0Choice = oneOf('--f0', options.f0 ?? DEFAULT_F0_METHOD, F0_CHOICES);
  const noiseScale = parseNumberOption('--noise-scale', options.noiseScale ?? String(DEFAULT_NOISE_SCALE), { min: 0, max: 2 });
  const seed = parseNumberOption('--seed', options.seed ?? '0', { min: 0, integer: true });
  const clusterRatio = parseNumberOption('--cluster-ratio', options.clusterRatio ?? '0', { min: 0, max: 1 });
  const provider = (options.provider ?? 'cpu') as OnnxProvider;
  if (!['cpu', 'cuda', 'coreml', 'auto'].includes(provider)) throw new SvcError('INVALID_ARGUMENT', `--provider must be cpu, cuda, coreml or auto, got "${options.provider}"`);
  let threads: number | undefined;
  if (options.threads !== undefined) {
    threads = parseNumberOption('--threads', options.threads, { min: 1, max: 256, integer: true });
  }
  const precision: ModelPrecision = oneOf('--precision', options.precision ?? 'auto', MODEL_PRECISIONS);
  let targetF0Hz: number | undefined;
  if (options.targetF0 !== undefined) {
    targetF0Hz = parseNumberOption('--target-f0', options.targetF0, { min: 50, max: 1100, unit: 'Hz' });
  }
  const outputRate = options.outputRate ?? 'input';
  if (outputRate !== 'input' && outputRate !== 'model') throw new SvcError('INVALID_ARGUMENT', `--output-rate must be input or model, got "${outputRate}"`);
  const rvc = {
    indexRate: options.indexRate === undefined ? undefined : parseNumberOption('--index-rate', options.indexRate, { min: 0, max: 1 }),
    protect: options.protect === undefined ? undefined : parseNumberOption('--protect', options.protect, { min: 0, max: 0.5 }),
    rmsMixRate: options.rmsMixRate === undefined ? undefined : parseNumberOption('--rms-mix-rate', options.rmsMixRate, { min: 0, max: 1 }),
  };
  return {
    kind: 'model', model: options.model!, speaker: options.speaker, pitchSemitones, autoPitch: options.autoPitch ?? false, targetF0Hz,
    f0Method, noiseScale, clusterRatio, seed, provider, threads, precision, outputRate, rvc,
  };
}

export interface ConvertPlan {
  inputPath: string;
  outputPath: string;
  engine: ConvertEngine;
  format: WavFormat;
  /** Output rate in Hz; undefined = the input's rate. */
  outputRate?: number;
}

/** Validates the command line into a plan (no audio is read yet). */
export function planConvert(input: string, output: string, options: ConvertCliOptions): ConvertPlan {
  const pitchSemitones = validatePitchSemitones(parseNumberOption('--pitch', options.pitch, { unit: 'semitones' }), '--pitch');
  const formantRatio = validateFormantRatio(parseNumberOption('--formant', options.formant, { unit: 'ratio' }), '--formant');
  if (options.format !== 'pcm16' && options.format !== 'float32') {
    throw new SvcError('INVALID_ARGUMENT', `--format must be pcm16 or float32, got "${options.format}"`);
  }
  let outputRate: number | undefined;
  if (options.rate !== undefined) {
    outputRate = parseNumberOption('--rate', options.rate, { unit: 'Hz' });
    if (!(SUPPORTED_SAMPLE_RATES as readonly number[]).includes(outputRate)) {
      throw new SvcError('INVALID_ARGUMENT', `--rate must be one of ${SUPPORTED_SAMPLE_RATES.join(', ')} Hz, got "${options.rate}"`);
    }
  }
  const inputPath = resolve(input);
  const outputPath = resolve(output);
  if (inputPath === outputPath) {
    throw new SvcError('INVALID_ARGUMENT', `output ${output} is the input file; choose another output path`, { hint: 'e.g. svc convert in.wav in-converted.wav' });
  }
  if (existsSync(outputPath) && statSync(outputPath).isDirectory()) {
    throw new SvcError('INVALID_ARGUMENT', `output ${output} is a directory, expected a file name such as out.wav`);
  }
  const folder = dirname(outputPath);
  if (!existsSync(folder)) {
    throw new SvcError('FILE_NOT_FOUND', `cannot write ${output}: the folder ${folder} does not exist`, { hint: 'create the folder first or choose another output path' });
  }
  if (options.model === undefined) {
    for (const [flag, value] of [['--index-rate', options.indexRate], ['--protect', options.protect], ['--rms-mix-rate', options.rmsMixRate], ['--speaker', options.speaker], ['--auto-pitch', options.autoPitch || undefined], ['--f0', options.f0], ['--noise-scale', options.noiseScale], ['--cluster-ratio', options.clusterRatio], ['--output-rate', options.outputRate], ['--target-f0', options.targetF0], ['--precision', options.precision]] as const) {
      if (value !== undefined) throw new SvcError('INVALID_ARGUMENT', `${flag} needs --model NAME (it applies to model voices (So-VITS, RVC), not the DSP voice)`, { hint: 'list installed models with `svc models`' });
    }
  }
  const engine = options.model !== undefined ? planModelEngine(options, pitchSemitones, formantRatio) : { kind: 'dsp' as const, pitchSemitones, formantRatio };
  return { inputPath, outputPath, engine, format: options.format, outputRate };
}

export interface ConvertResult {
  sampleRate: number;
  samples: number;
  inputChannels: number;
  seconds: number;
  /** Model engine: the pitch shift applied (auto-pitch included) and the speaker id. */
  pitchSemitones?: number;
  speakerName?: string;
}

/** The --model path: load (checks + warm-up), convert, release the sessions on every path. */
async function runModelConvert(plan: ConvertPlan, engine: Extract<ConvertEngine, { kind: 'model' }>, samples: Float32Array, sampleRate: number): Promise<{ samples: Float32Array; sampleRate: number; pitchSemitones: number; speakerName: string }> {
  if (isRvcBundleDir(resolveModelDir(engine.model))) return runRvcConvert(plan, engine, samples, sampleRate);
  const model = await loadModel(engine.model, { provider: engine.provider, intraOpThreads: engine.threads, precision: engine.precision, log: (m) => console.error(`svc: ${m}`) });
  try {
    const result = await convertMono(model, samples, sampleRate, {
      speaker: engine.speaker, pitch: engine.pitchSemitones, autoPitch: engine.autoPitch, targetF0Hz: engine.targetF0Hz,
      f0Method: engine.f0Method, noiseScale: engine.noiseScale, clusterRatio: engine.clusterRatio, seed: engine.seed, outputRate: plan.outputRate !== undefined ? 'model' : engine.outputRate,
    });
    return result;
  } finally {
    await model.dispose();
  }
}

/** The --model path for an RVC bundle (src/voices/rvc/convert.ts). */
async function runRvcConvert(plan: ConvertPlan, engine: Extract<ConvertEngine, { kind: 'model' }>, samples: Float32Array, sampleRate: number): Promise<{ samples: Float32Array; sampleRate: number; pitchSemitones: number; speakerName: string }> {
  if (engine.autoPitch) throw new SvcError('INVALID_ARGUMENT', '--auto-pitch needs a So-VITS model with speaker f0 facts; RVC models take --pitch', { hint: 'pass --pitch N (semitones)' });
  const model = await loadRvcModel(engine.model, { provider: engine.provider, intraOpThreads: engine.threads });
  try {
    const result = await convertRvcMono(model, samples, sampleRate, {
      speaker: engine.speaker, pitch: engine.pitchSemitones, f0Method: engine.f0Method, seed: engine.seed, ...engine.rvc,
      outputRate: plan.outputRate !== undefined ? 'model' : engine.outputRate,
    });
    return { samples: result.samples, sampleRate: result.sampleRate, pitchSemitones: engine.pitchSemitones, speakerName: String(model.speakerId(engine.speaker)) };
  } finally {
    await model.dispose();
  }
}

/** Runs a plan: read → mono → convert → resample (if asked) → write atomically. */
export async function runConvert(plan: ConvertPlan, inputName = plan.inputPath): Promise<ConvertResult> {
  const audio = await readAudio(plan.inputPath);
  const length = audio.channels[0]?.length ?? 0;
  if (length === 0) throw new SvcError('FILE_EMPTY', `${inputName} holds no audio samples`, { hint: 'record or export the audio again' });
  if (plan.engine.kind === 'model') {
    const mono = mixToMono(audio);
    const result = await runModelConvert(plan, plan.engine, mono.samples, mono.sampleRate);
    let converted = result.samples;
    const outputRate = plan.outputRate ?? result.sampleRate;
    if (outputRate !== result.sampleRate) converted = await resample(converted, result.sampleRate, outputRate);
    await writeWav(plan.outputPath, { sampleRate: outputRate, samples: converted }, { format: plan.format });
    return { sampleRate: outputRate, samples: converted.length, inputChannels: audio.channels.length, seconds: converted.length / outputRate, pitchSemitones: result.pitchSemitones, speakerName: result.speakerName };
  }
  if (audio.sampleRate < DSP_VOICE_RATE_RANGE.min || audio.sampleRate > DSP_VOICE_RATE_RANGE.max) {
    throw new SvcError('UNSUPPORTED_RATE', `${inputName} has sample rate ${audio.sampleRate} Hz; the DSP voice needs ${DSP_VOICE_RATE_RANGE.min}..${DSP_VOICE_RATE_RANGE.max} Hz`, {
      hint: 'resample it first, e.g. `sox in.wav -r 44100 out.wav`',
    });
  }
  const mono = mixToMono(audio);
  let converted = convertWithDspVoice(mono.samples, mono.sampleRate, {
    pitchSemitones: plan.engine.pitchSemitones,
    formantRatio: plan.engine.formantRatio,
  });
  const outputRate = plan.outputRate ?? mono.sampleRate;
  if (outputRate !== mono.sampleRate) converted = await resample(converted, mono.sampleRate, outputRate);
  await writeWav(plan.outputPath, { sampleRate: outputRate, samples: converted }, { format: plan.format });
  return { sampleRate: outputRate, samples: converted.length, inputChannels: audio.channels.length, seconds: converted.length / outputRate };
}

export function register(program: Command): void {
  program
    .command('convert')
    .summary('convert an audio file with the built-in DSP voice (pitch + formant) or a So-VITS-SVC model (--model)')
    .description(
      'Convert an audio file offline. The input (WAV or FLAC, any channel count) is mixed to mono and converted with ' +
        'the built-in DSP voice — pitch change in semitones and formant (voice-colour) change as a ratio, independently ' +
        '(pitch-synchronous overlap-add with spectral-envelope scaling; unvoiced sounds are not made periodic) — or, with ' +
        '--model, with a So-VITS-SVC model: the voice becomes the model speaker\'s, --pitch shifts it (--auto-pitch ' +
        'picks the shift), and the features are those the live engine and training compute. ' +
        'The output is a mono WAV of the same duration, written atomically (nothing is written on error).',
    )
    .argument('<input>', 'audio file to convert (.wav or .flac; stereo/multichannel is mixed to mono)')
    .argument('<output>', 'WAV file to write (replaced atomically if it exists; must differ from the input)')
    .option('--pitch <semitones>', `pitch change in semitones, ${PITCH_SEMITONES_RANGE.min}..+${PITCH_SEMITONES_RANGE.max} (12 = one octave up; fractions allowed)`, '0')
    .option('--formant <ratio>', `formant (spectral envelope) scale, ${FORMANT_RATIO_RANGE.min}..${FORMANT_RATIO_RANGE.max}; >1 sounds smaller/brighter, <1 larger/darker, 1 = unchanged`, '1')
    .option('--format <format>', 'output sample format: pcm16 (16-bit integer) or float32 (32-bit IEEE float)', 'pcm16')
    .option('--rate <hz>', `output sample rate in Hz, one of ${SUPPORTED_SAMPLE_RATES.join(', ')} (default: the input's rate)`)
    .option('--model <name|path>', 'convert with a So-VITS-SVC or RVC model bundle instead of the DSP voice: an installed name (`svc models`) or a bundle folder')
    .option('--speaker <spec>', 'model speaker: a name (speakers.json) or id (default: the first speaker); a mix "a:0.7,b:0.3" (speaker-mix graphs); or a schedule of mixes "a:1,b:0@0s; a:0,b:1@4s" (keyframes MIX@TIME in s or ms, interpolated linearly per frame, as so-vits-svc\'s use_spk_mix)')
    .option('--auto-pitch', "model only: add the whole-semitone shift that moves the input's median f0 to the speaker's typical f0 (manifest speaker_f0_hz, or --target-f0); --pitch is added on top")
    .option('--target-f0 <hz>', "model only: the target voice's typical f0 for --auto-pitch, in Hz (50..1100), e.g. 120 low / 220 high")
    .option('--f0 <method>', `model only: f0 estimator, one of ${F0_CHOICES.join(', ')} (default ${DEFAULT_F0_METHOD}: RPA 98.0-100 % with 1.8-3.9 % voicing false alarms on singing and speech re-synthesised from real recordings, bench f0truth; dsp = YIN, no model; rmvpe and fcpe after 'svc import-f0')`)
    .option('--cluster-ratio <r>', 'model only: so-vits-svc\'s cluster_infer_ratio, 0..1 (default 0): pull the content toward the speaker\'s kmeans centres or, with a feature index (feature_and_index.pkl; upstream\'s --feature_retrieval), toward its nearest training rows (needs a bundle imported with --cluster, or `svc train-index RUN --bundle`)')
    .option('--noise-scale <x>', `model only: scale of the prior noise, 0..2 (default ${DEFAULT_NOISE_SCALE}, as so-vits-svc); 0 = deterministic`)
    .option('--seed <n>', 'model only: seed of the prior noise (integer; same seed = same output)')
    .option('--provider <name>', 'model only: ONNX execution provider cpu|cuda|coreml|auto (auto: best available, falls back to cpu)')
    .option('--threads <n>', 'model only: ONNX threads per operator (default: 1 for small models such as the tiny reference, else up to 2)')
    .option('--index-rate <r>', `RVC models: share of features retrieved from the model's .index, 0..1 (default ${DEFAULT_INDEX_RATE}, as RVC)`)
    .option('--protect <p>', `RVC models: unvoiced consonants and breaths keep 1-p of their own features, 0..0.5 (default ${DEFAULT_PROTECT}; 0.5 = off)`)
    .option('--rms-mix-rate <r>', `RVC models: 1 keeps the model's loudness envelope, 0 takes the input's (default ${DEFAULT_RMS_MIX_RATE}, as RVC)`)
    .option('--precision <p>', 'model only: int8 (quantized graphs), float32, or auto (default: int8 when the bundle has it and the provider is cpu)')
    .option('--output-rate <which>', "model only: 'input' = back at the input's rate (default), 'model' = the model's own rate (no second resampling); --rate overrides both")
    .addHelpText('after', '\nExamples:\n  svc convert voice.wav up.wav --pitch 5\n  svc convert voice.flac girl.wav --pitch 12 --formant 1.2 --rate 48000\n  svc convert song.wav deep.wav --pitch -7 --formant 0.85 --format float32\n  svc convert voice.wav sung.wav --model my-voice --speaker alice --auto-pitch\n')
    .action(async (input: string, output: string, options: ConvertCliOptions) => {
      const plan = planConvert(input, output, options);
      const result = await runConvert(plan, input);
      const mixed = result.inputChannels > 1 ? `, ${result.inputChannels} channels mixed to mono` : '';
      if (plan.engine.kind === 'model') {
        const shift = result.pitchSemitones ?? 0;
        console.log(
          `wrote ${output} (${result.seconds.toFixed(2)} s, ${result.sampleRate} Hz, ${plan.format}${mixed}): ` +
            `model ${modelDisplayName(plan.engine.model)}, speaker ${result.speakerName}, pitch ${shift >= 0 ? '+' : ''}${shift} semitones${plan.engine.autoPitch ? ' (auto)' : ''} (from ${basename(input)})`,
        );
        return;
      }
      const { pitchSemitones, formantRatio } = plan.engine;
      console.log(
        `wrote ${output} (${result.seconds.toFixed(2)} s, ${result.sampleRate} Hz, ${plan.format}${mixed}): ` +
          `DSP voice, pitch ${pitchSemitones >= 0 ? '+' : ''}${pitchSemitones} semitones, formant ${formantRatio} (from ${basename(input)})`,
      );
    });
}
