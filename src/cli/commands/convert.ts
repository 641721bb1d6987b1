// `svc convert IN OUT [--pitch N] [--formant R] [--format pcm16|float32] [--rate HZ]`: offline file
// conversion. Reads any supported audio (WAV/FLAC), mixes it to mono (explicitly: conversion is
// mono), converts it with a voice engine and writes a WAV atomically at the input rate or --rate.
// Today the only engine is the built-in DSP voice (pitch + formant); a later `--model NAME` selects a
// So-VITS-SVC model and goes through the same read → convert → resample → write path.
// All options are validated before any audio is read; on any error nothing is written.
import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { SvcError } from '../../errors.js';
import { mixToMono, readAudio, writeWav, type WavFormat } from '../../audio/io.js';
import { resample } from '../../audio/resample.js';
import { SUPPORTED_SAMPLE_RATES } from '../../audio/types.js';
import { convertWithDspVoice } from '../../dsp/voice/index.js';
import {
  DSP_VOICE_RATE_RANGE,
  FORMANT_RATIO_RANGE,
  PITCH_SEMITONES_RANGE,
  validateFormantRatio,
  validatePitchSemitones,
} from '../../dsp/voice/params.js';

interface ConvertCliOptions {
  pitch: string;
  formant: string;
  format: string;
  rate?: string;
}

/** What to convert with; validated, ready to run. (A model engine will join the DSP voice here.) */
export type ConvertEngine = { kind: 'dsp'; pitchSemitones: number; formantRatio: number };

export interface ConvertPlan {
  inputPath: string;
  outputPath: string;
  engine: ConvertEngine;
  format: WavFormat;
  /** Output rate in Hz; undefined = the input's rate. */
  outputRate?: number;
}

function parseNumber(name: string, raw: string, unit: string): number {
  const value = raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isFinite(value)) throw new SvcError('INVALID_ARGUMENT', `${name} must be a number (${unit}), got "${raw}"`);
  return value;
}

/** Validates the command line into a plan (no audio is read yet). */
export function planConvert(input: string, output: string, options: ConvertCliOptions): ConvertPlan {
  const pitchSemitones = validatePitchSemitones(parseNumber('--pitch', options.pitch, 'semitones'), '--pitch');
  const formantRatio = validateFormantRatio(parseNumber('--formant', options.formant, 'ratio'), '--formant');
  if (options.format !== 'pcm16' && options.format !== 'float32') {
    throw new SvcError('INVALID_ARGUMENT', `--format must be pcm16 or float32, got "${options.format}"`);
  }
  let outputRate: number | undefined;
  if (options.rate !== undefined) {
    outputRate = parseNumber('--rate', options.rate, 'Hz');
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
  return { inputPath, outputPath, engine: { kind: 'dsp', pitchSemitones, formantRatio }, format: options.format, outputRate };
}

export interface ConvertResult {
  sampleRate: number;
  samples: number;
  inputChannels: number;
  seconds: number;
}

/** Runs a plan: read → mono → convert → resample (if asked) → write atomically. */
export async function runConvert(plan: ConvertPlan, inputName = plan.inputPath): Promise<ConvertResult> {
  const audio = await readAudio(plan.inputPath);
  const length = audio.channels[0]?.length ?? 0;
  if (length === 0) throw new SvcError('FILE_EMPTY', `${inputName} holds no audio samples`, { hint: 'record or export the audio again' });
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
    .summary('convert an audio file with the built-in DSP voice (pitch + formant)')
    .description(
      'Convert an audio file offline. The input (WAV or FLAC, any channel count) is mixed to mono and converted with the ' +
        'built-in DSP voice: pitch change in semitones and formant (voice-colour) change as a ratio, independently ' +
        '(pitch-synchronous overlap-add with spectral-envelope scaling; unvoiced sounds are not made periodic). ' +
        'The output is a mono WAV of the same duration, written atomically (nothing is written on error).',
    )
    .argument('<input>', 'audio file to convert (.wav or .flac; stereo/multichannel is mixed to mono)')
    .argument('<output>', 'WAV file to write (replaced atomically if it exists; must differ from the input)')
    .option('--pitch <semitones>', `pitch change in semitones, ${PITCH_SEMITONES_RANGE.min}..+${PITCH_SEMITONES_RANGE.max} (12 = one octave up; fractions allowed)`, '0')
    .option('--formant <ratio>', `formant (spectral envelope) scale, ${FORMANT_RATIO_RANGE.min}..${FORMANT_RATIO_RANGE.max}; >1 sounds smaller/brighter, <1 larger/darker, 1 = unchanged`, '1')
    .option('--format <format>', 'output sample format: pcm16 (16-bit integer) or float32 (32-bit IEEE float)', 'pcm16')
    .option('--rate <hz>', `output sample rate in Hz, one of ${SUPPORTED_SAMPLE_RATES.join(', ')} (default: the input's rate)`)
    .addHelpText('after', '\nExamples:\n  svc convert voice.wav up.wav --pitch 5\n  svc convert voice.flac girl.wav --pitch 12 --formant 1.2 --rate 48000\n  svc convert song.wav deep.wav --pitch -7 --formant 0.85 --format float32\n')
    .action(async (input: string, output: string, options: ConvertCliOptions) => {
      const plan = planConvert(input, output, options);
      const result = await runConvert(plan, input);
      const { pitchSemitones, formantRatio } = plan.engine;
      const mixed = result.inputChannels > 1 ? `, ${result.inputChannels} channels mixed to mono` : '';
      console.log(
        `wrote ${output} (${result.seconds.toFixed(2)} s, ${result.sampleRate} Hz, ${plan.format}${mixed}): ` +
          `DSP voice, pitch ${pitchSemitones >= 0 ? '+' : ''}${pitchSemitones} semitones, formant ${formantRatio} (from ${basename(input)})`,
      );
    });
}
