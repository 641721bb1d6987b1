// `svc say "TEXT" --out FILE.wav [--voice builtin|MODEL] [--speaker S] [--pitch N] [--rate WPM]
// [--png PLOT.png]` (or --text-file): text spoken by eSpeak NG, then converted by the built-in DSP
// voice or a So-VITS-SVC model (src/tts). Options are validated before anything runs; the WAV (and
// the PNG) are written only once both are ready, each atomically.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { SvcError, errorMessage } from '../../errors.js';
import { writeFileAtomic, encodeWav } from '../../audio/io.js';
import { FORMANT_RATIO_RANGE, PITCH_SEMITONES_RANGE, validateFormantRatio, validatePitchSemitones } from '../../voices/dsp/params.js';
import { MAX_TEXT_CHARACTERS, TTS_RATE_WPM, checkText } from '../../tts/espeak.js';
import { BUILTIN_VOICE } from '../../tts/say.js';
import { parseNumberOption } from '../options.js';
import { checkOutputFile } from './diarize.js';

interface SayCliOptions {
  out: string;
  textFile?: string;
  voice: string;
  speaker?: string;
  pitch?: string;
  targetF0?: string;
  formant?: string;
  rate: string;
  ttsVoice: string;
  png?: string;
}

function readText(text: string | undefined, textFile: string | undefined): string {
  if (text !== undefined && textFile !== undefined) throw new SvcError('INVALID_ARGUMENT', 'give the text either as an argument or with --text-file, not both');
  if (textFile !== undefined) {
    let content: string;
    try {
      content = readFileSync(textFile, 'utf8');
    } catch (error) {
      throw new SvcError('FILE_NOT_FOUND', `cannot read --text-file ${textFile}: ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}`);
    }
    return checkText(content);
  }
  if (text === undefined) throw new SvcError('INVALID_ARGUMENT', 'nothing to say: give the text as an argument or with --text-file', { hint: 'e.g. svc say "hello there" --out hello.wav' });
  return checkText(text);
}

export function register(program: Command): void {
  program
    .command('say')
    .summary('speak typed text in a voice (eSpeak NG → built-in DSP voice or a model)')
    .description(
      'Text to speech in a voice: eSpeak NG (Debian package espeak-ng) speaks the text, then the built-in DSP voice ' +
        '(--pitch, --formant) or a So-VITS-SVC model (--voice MODEL: f0 and content are taken from the synthesised speech, and ' +
        `its pitch is moved onto the speaker's typical f0 unless --pitch is given) converts it. At most ${MAX_TEXT_CHARACTERS} characters.`,
    )
    .argument('[text]', 'the text to speak (or use --text-file)')
    .requiredOption('--out <file.wav>', 'WAV file to write (mono PCM16; written atomically)')
    .option('--text-file <file>', 'read the text from this UTF-8 file instead')
    .option('--voice <builtin|model>', 'builtin (the DSP voice) or an installed model name / bundle folder (`svc models`)', BUILTIN_VOICE)
    .option('--speaker <name|id>', 'model speaker (default: the first)')
    .option('--pitch <semitones>', `pitch change in semitones, ${PITCH_SEMITONES_RANGE.min}..+${PITCH_SEMITONES_RANGE.max} (builtin default 0; model default: automatic, onto the speaker's typical f0)`)
    .option('--target-f0 <hz>', "model only: the speaker's typical f0 that the automatic pitch aims at, for a model that records none (50-1100 Hz)")
    .option('--formant <ratio>', `builtin only: formant scale ${FORMANT_RATIO_RANGE.min}..${FORMANT_RATIO_RANGE.max} (>1 smaller/brighter)`)
    .option('--rate <wpm>', `speaking rate, words per minute (${TTS_RATE_WPM.min}-${TTS_RATE_WPM.max})`, String(TTS_RATE_WPM.default))
    .option('--tts-voice <name>', 'eSpeak NG voice that speaks first (en-us, en-gb, de, fr, en-us+f3, ...; `espeak-ng --voices` lists them)', 'en-us')
    .option('--png <file>', 'also draw the analysis plot of the result (spectrogram, f0, volume) as PNG')
    .addHelpText('after', '\nExamples:\n  svc say "Hello, and welcome to the stream." --out hello.wav --pitch 4\n  svc say --text-file script.txt --voice my-voice --out script.wav --png script.png\n')
    .action(async (text: string | undefined, options: SayCliOptions) => {
      const spoken = readText(text, options.textFile);
      const outPath = checkOutputFile('--out', options.out);
      const pngPath = options.png === undefined ? undefined : checkOutputFile('--png', options.png);
      const rateWpm = parseNumberOption('--rate', options.rate, { min: TTS_RATE_WPM.min, max: TTS_RATE_WPM.max, unit: 'words per minute' });
      const pitchSemitones = options.pitch === undefined ? undefined : validatePitchSemitones(parseNumberOption('--pitch', options.pitch, { unit: 'semitones' }), '--pitch');
      const builtin = options.voice === BUILTIN_VOICE;
      const targetF0Hz = options.targetF0 === undefined ? undefined : parseNumberOption('--target-f0', options.targetF0, { min: 50, max: 1100, unit: 'Hz' });
      if (builtin && targetF0Hz !== undefined) throw new SvcError('INVALID_ARGUMENT', '--target-f0 needs --voice MODEL (the built-in voice shifts by --pitch)');
      if (builtin && options.speaker !== undefined) throw new SvcError('INVALID_ARGUMENT', '--speaker needs --voice MODEL (the built-in voice has no speakers)', { hint: 'list installed models with `svc models`' });
      if (!builtin && options.formant !== undefined) throw new SvcError('INVALID_ARGUMENT', '--formant applies to the built-in voice only; a model speaks with its speaker\'s own timbre');
      const formantRatio = options.formant === undefined ? 1 : validateFormantRatio(parseNumberOption('--formant', options.formant, { unit: 'ratio' }), '--formant');
      if (!builtin) {
        // An unknown model fails here, before eSpeak runs, with the registry's own message.
        const { resolveModelDir } = await import('../../voices/registry.js');
        resolveModelDir(options.voice);
      }

      const { say } = await import('../../tts/say.js');
      const result = await say({ text: spoken, model: options.voice, speaker: options.speaker, pitchSemitones, targetF0Hz, formantRatio, rateWpm, voice: options.ttsVoice, log: (m) => console.error(`svc: ${m}`) });
      const wav = encodeWav(result.audio);
      let png: Buffer | undefined;
      if (pngPath) {
        const { analyzeAudio, renderAnalysisPng } = await import('../../plot/index.js');
        const data = await analyzeAudio({ sampleRate: result.audio.sampleRate, channels: [result.audio.samples] }, basename(options.out), { hopSeconds: 0.01 });
        png = renderAnalysisPng(data, { width: 1200, height: 720, frequencyScale: { kind: 'log', minHz: 40, maxHz: Math.min(8000, result.audio.sampleRate / 2) }, colormap: 'magma', dynamicRangeDb: 80 }).png;
      }
      await writeFileAtomic(outPath, wav);
      if (png && pngPath) await writeFileAtomic(pngPath, png);
      const seconds = result.audio.samples.length / result.audio.sampleRate;
      const voice = builtin ? `built-in DSP voice, pitch ${result.pitchSemitones >= 0 ? '+' : ''}${result.pitchSemitones} semitones, formant ${formantRatio}` : `model ${basename(options.voice)}, speaker ${result.speakerName}, pitch ${result.pitchSemitones >= 0 ? '+' : ''}${result.pitchSemitones} semitones${result.autoPitch ? ' (auto)' : ''}`;
      console.log(`wrote ${options.out}${png ? ` and ${options.png}` : ''} (${seconds.toFixed(2)} s, ${result.audio.sampleRate} Hz): ${spoken.length} characters at ${rateWpm} wpm, ${voice}`);
    });
}
