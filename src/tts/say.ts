// Text → voice: eSpeak NG speaks the text, then the chosen voice converts that speech like any
// other input — the built-in DSP voice (pitch + formant), or a So-VITS-SVC model, which takes f0
// and content from the synthesised speech and, unless a pitch is given, moves eSpeak's pitch onto
// the speaker's typical f0 (manifest speaker_f0_hz; --pitch overrides).
import type { MonoAudio } from '../audio/types.js';
import { convertWithDspVoice } from '../voices/dsp/index.js';
import { SvcError } from '../errors.js';
import { synthesizeEspeak, type EspeakOptions } from './espeak.js';

export const BUILTIN_VOICE = 'builtin';

export interface SayOptions extends EspeakOptions {
  text: string;
  /** 'builtin' (DSP voice) or a model name/path. */
  model: string;
  speaker?: string;
  /** Semitones; for a model, undefined = automatic (speaker's typical f0). */
  pitchSemitones?: number;
  /** Model only: the speaker's typical f0 (Hz) for the automatic pitch, when the model records none (manifest speaker_f0_hz). */
  targetF0Hz?: number;
  /** DSP voice only. Default 1. */
  formantRatio?: number;
  log?: (message: string) => void;
}

export interface SayResult {
  /** The converted speech. */
  audio: MonoAudio;
  /** eSpeak's own output, before the voice. */
  raw: MonoAudio;
  pitchSemitones: number;
  /** True when the pitch shift was chosen automatically. */
  autoPitch: boolean;
  speakerName?: string;
}

export async function say(options: SayOptions): Promise<SayResult> {
  const raw = await synthesizeEspeak(options.text, options);
  if (options.model === BUILTIN_VOICE) {
    const pitchSemitones = options.pitchSemitones ?? 0;
    const samples = convertWithDspVoice(raw.samples, raw.sampleRate, { pitchSemitones, formantRatio: options.formantRatio ?? 1 });
    return { audio: { sampleRate: raw.sampleRate, samples }, raw, pitchSemitones, autoPitch: false };
  }
  const { loadModel, loadRvcModel, resolveModelDir } = await import('../voices/registry.js');
  const { isRvcBundleDir } = await import('../voices/rvc/bundle.js');
  if (isRvcBundleDir(resolveModelDir(options.model))) {
    // RVC bundles record no typical f0 of their speaker, so the shift has to be given.
    if (options.pitchSemitones === undefined) throw new SvcError('INVALID_ARGUMENT', `model ${options.model} is an RVC voice, which does not record its speaker's typical pitch`, { hint: 'give --pitch N (semitones; e.g. 0 for eSpeak\'s pitch, +12 for a high voice)' });
    const { convertRvcMono } = await import('../voices/rvc/convert.js');
    const rvc = await loadRvcModel(options.model);
    try {
      const result = await convertRvcMono(rvc, raw.samples, raw.sampleRate, { speaker: options.speaker, pitch: options.pitchSemitones, outputRate: 'model' });
      return { audio: { sampleRate: result.sampleRate, samples: result.samples }, raw, pitchSemitones: options.pitchSemitones, autoPitch: false, speakerName: String(rvc.speakerId(options.speaker)) };
    } finally {
      await rvc.dispose();
    }
  }
  const { convertMono } = await import('../voices/sovits/convert.js');
  const model = await loadModel(options.model, { log: options.log });
  try {
    // Without --pitch the speaker's typical f0 decides (a model without one says so and names --pitch).
    const autoPitch = options.pitchSemitones === undefined;
    const result = await convertMono(model, raw.samples, raw.sampleRate, { speaker: options.speaker, pitch: options.pitchSemitones ?? 0, autoPitch, targetF0Hz: autoPitch ? options.targetF0Hz : undefined, outputRate: 'model' });
    return { audio: { sampleRate: result.sampleRate, samples: result.samples }, raw, pitchSemitones: result.pitchSemitones, autoPitch, speakerName: result.speakerName };
  } finally {
    await model.dispose();
  }
}
