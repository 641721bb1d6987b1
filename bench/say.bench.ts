// Intelligibility of `svc say`: pocketsphinx (Debian pocketsphinx + pocketsphinx-en-us, the CMU
// en-us acoustic model) decodes phones (allphone mode) from eSpeak NG's raw speech and from the
// same speech after the built-in DSP voice (pitch 0, +5 and −5 semitones, formant 1.1); the phone
// error rate (edit distance to the CMU-dictionary pronunciation of the text, stress removed, over
// its length) of each is reported side by side. The issue's bar: the voice at most 10 points
// worse than the raw synthesis. pocketsphinx's own error is high on synthetic speech; the
// difference is the figure that matters.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeWav } from '../src/audio/io.js';
import { resample } from '../src/audio/resample.js';
import type { MonoAudio } from '../src/audio/types.js';
import { convertWithDspVoice } from '../src/voices/dsp/index.js';
import { synthesizeEspeak } from '../src/tts/espeak.js';
import type { BenchContext, BenchRow } from './lib.js';

const MODEL_DIR = '/usr/share/pocketsphinx/model/en-us';
const SENTENCES = [
  'The quick brown fox jumps over the lazy dog.',
  'Please call Stella and ask her to bring these things with her from the store.',
  'Six spoons of fresh snow peas, five thick slabs of blue cheese, and maybe a snack for her brother Bob.',
  'We also need a small plastic snake and a big toy frog for the kids.',
  'The rainbow is a division of white light into many beautiful colors.',
  'She can scoop these things into three red bags, and we will go meet her Wednesday at the train station.',
];

/** word → phones (first pronunciation, stress-free) from the CMU dictionary pocketsphinx ships. */
function loadDictionary(): Map<string, string[]> {
  const dict = new Map<string, string[]>();
  for (const line of readFileSync(join(MODEL_DIR, 'cmudict-en-us.dict'), 'utf8').split('\n')) {
    const [word, ...phones] = line.trim().split(/\s+/);
    if (word && !word.includes('(') && !dict.has(word)) dict.set(word, phones.map((p) => p.replace(/\d/g, '')));
  }
  return dict;
}

export function editDistance(a: readonly string[], b: readonly string[]): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = row;
  }
  return previous[b.length]!;
}

/** pocketsphinx allphone decoding; `contextIndependent` (-allphone_ci) is ~10× faster, for long lists of utterances. */
export async function recognisePhones(audio: MonoAudio, dir: string, name: string, options: { contextIndependent?: boolean } = {}): Promise<string[]> {
  const path = join(dir, `${name}.wav`);
  await writeWav(path, { sampleRate: 16000, samples: audio.sampleRate === 16000 ? audio.samples : await resample(audio.samples, audio.sampleRate, 16000) });
  const r = spawnSync('pocketsphinx_continuous', ['-infile', path, '-hmm', join(MODEL_DIR, 'en-us'), '-allphone', join(MODEL_DIR, 'en-us-phone.lm.bin'), ...(options.contextIndependent ? ['-allphone_ci', 'yes'] : []), '-backtrace', 'yes', '-beam', '1e-20', '-pbeam', '1e-20', '-lw', '2.0', '-logfn', '/dev/null'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pocketsphinx_continuous failed: ${r.stderr}`);
  return r.stdout.trim().split(/\s+/).filter((p) => p && p !== 'SIL' && !p.startsWith('+'));
}

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const live = await liveFirstAudio(ctx);
  const per = await phoneErrorRates(ctx);
  return [...live, ...per, ...(await neuralSay(ctx))];
}

/** Reference phones of a sentence: the CMU-dictionary pronunciation of its words. */
function referencePhonesOf(sentence: string, dict: Map<string, string[]>): string[] {
  return sentence.toLowerCase().replace(/[^a-z' ]/g, ' ').split(/\s+/).filter(Boolean).flatMap((w) => dict.get(w) ?? []);
}

/**
 * `svc say` through a trained neural voice (issue 18, point 1 "Measured"): the quality bench's fine-tuned
 * VCC 2016 voices (TF1, TM1; trained by its own code path, or taken from .cache/bench-quality) speak the
 * sentences through `say()` — the code `svc say --voice MODEL` runs, pitch moved automatically onto the
 * speaker's typical f0. Scored by the quality bench's speaker verifier (python/svc_py/quality.py, same
 * UBM, enrolment and equal-error threshold): the share of says accepted as the model's speaker, next to
 * eSpeak's raw output and the DSP voice at the same shift (both should be rejected). Intelligibility:
 * pocketsphinx's phone error rate of each against the raw synthesis (bar: ≤ +10 points).
 */
export async function neuralSay(ctx: BenchContext): Promise<BenchRow[]> {
  const { medianF0Of, qualityVoices, verificationJob, TARGETS } = await import('./quality.bench.js');
  const { say } = await import('../src/tts/say.js');
  const { runPythonModule } = await import('../src/python.js');
  const voices = await qualityVoices(ctx);
  // `svc export` records each speaker's typical f0 (manifest speaker_f0_hz) for the automatic pitch; a bundle
  // exported before it did gets the median f0 of the target's real enrolment speech instead (as --target-f0).
  const targetF0 = new Map<string, number | undefined>();
  for (const target of TARGETS) {
    const manifest = JSON.parse(readFileSync(join(voices.models.get(target)!, 'manifest.json'), 'utf8')) as { speaker_f0_hz?: Record<string, number> };
    const enrolment = Array.from({ length: 20 }, (_, i) => ctx.shared('speech', 'vcc2016_16k', target, `${100001 + i}.wav`));
    targetF0.set(target, manifest.speaker_f0_hz ? undefined : await medianF0Of(enrolment));
  }
  const dict = loadDictionary();
  const sentences = ctx.quick ? SENTENCES.slice(0, 2) : SENTENCES;
  // Context-independent decoding (~10x faster, as the quality bench decodes): 3 decodes per sentence and target.
  const FAST = { contextIndependent: true };
  const dir = mkdtempSync(join(tmpdir(), 'svc-say-neural-'));
  const rows: BenchRow[] = [];
  try {
    const trials: Record<string, Record<string, string[]>> = {};
    // Phone errors per variant: eSpeak raw once, then per target the neural say and the DSP voice at its shift.
    const errors = new Map<string, number>();
    const add = (name: string, value: number): void => void errors.set(name, (errors.get(name) ?? 0) + value);
    let referencePhones = 0;
    const shifts = new Map<string, Set<number>>();
    for (const [index, sentence] of sentences.entries()) {
      const reference = referencePhonesOf(sentence, dict);
      referencePhones += reference.length;
      const raw = await synthesizeEspeak(sentence);
      add('eSpeak NG raw', editDistance(reference, await recognisePhones(raw, dir, `raw-${index}`, FAST)));
      for (const target of TARGETS) {
        const result = await say({ text: sentence, model: voices.models.get(target)!, targetF0Hz: targetF0.get(target) });
        shifts.set(target, (shifts.get(target) ?? new Set<number>()).add(result.pitchSemitones));
        const dsp = { sampleRate: raw.sampleRate, samples: convertWithDspVoice(raw.samples, raw.sampleRate, { pitchSemitones: result.pitchSemitones, formantRatio: 2 ** (result.pitchSemitones / 48) }) };
        const variants: Array<[string, MonoAudio]> = [[`say → ${target} (neural voice)`, result.audio], [`say, DSP voice at ${target}'s shift`, dsp], ['eSpeak NG raw (unconverted)', raw]];
        trials[target] ??= {};
        for (const [v, [name, audio]] of variants.entries()) {
          const path = join(dir, `${target}-${index}-${v}.wav`);
          await writeWav(path, audio);
          (trials[target]![name] ??= []).push(path);
          if (v < 2) add(name, editDistance(reference, await recognisePhones(audio, dir, `${target}-${index}-${v}-phones`, FAST)));
        }
      }
      ctx.log(`say: neural, sentence ${index + 1}/${sentences.length}: ${[...errors].map(([name, e]) => `${name} ${((100 * e) / referencePhones).toFixed(1)} %`).join(', ')}`);
    }
    const jobPath = join(dir, 'say-asv-job.json');
    writeFileSync(jobPath, JSON.stringify({ asv: verificationJob(ctx, trials) }));
    ctx.log('say: speaker verification of the neural says (GMM-UBM, python/svc_py/quality.py)');
    const scored = await runPythonModule<{ asv: Record<string, { threshold: number; eer: number; accepted: Record<string, number> }> }>('quality', [jobPath]);
    const voiceNote = `quality bench voice, ${voices.steps} fine-tune steps from ${voices.base === 'none' ? 'random weights' : voices.base.replace(/.*\/models\//, 'models/')} (${voices.trainSeconds.join(', ')})`;
    for (const target of TARGETS) {
      const asv = scored.asv[target]!;
      for (const [trial, accepted] of Object.entries(asv.accepted)) {
        const neural = trial.includes('neural');
        rows.push({ group: 'say', name: `ASV accepts as ${target}: ${trial}`, value: 100 * accepted, unit: '%', note: neural ? `${sentences.length} says, auto pitch ${[...shifts.get(target)!].map((x) => `${x >= 0 ? '+' : ''}${x}`).join('/')} (typical f0 ${targetF0.get(target) === undefined ? 'from the manifest' : `${targetF0.get(target)!.toFixed(0)} Hz, the target's real speech: bundle predates speaker_f0_hz`}); EER on real speech ${(100 * asv.eer).toFixed(0)} %; bar ≥ 90 %${100 * accepted >= 90 ? ' (met)' : ' (short)'}; ${voiceNote}` : 'reference (should be rejected)' });
      }
    }
    const rawPer = (100 * errors.get('eSpeak NG raw')!) / referencePhones;
    for (const [name, e] of errors) {
      const per = (100 * e) / referencePhones;
      rows.push({ group: 'say', name: `phone error rate (neural section), ${name}`, value: per, unit: '%', note: name === 'eSpeak NG raw' ? `pocketsphinx allphone (context-independent), ${referencePhones} CMU-dict phones` : `${per - rawPer >= 0 ? '+' : ''}${(per - rawPer).toFixed(1)} points vs raw (bar: ≤ +10${per - rawPer <= 10 ? ', met' : ', short'})` });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

/**
 * Live say (protocol {"type":"say"}) on a real server with the DSP voice: wall time from sending the
 * message to the first converted binary frame at the client (48 kHz f32, 20 ms blocks, a text-only
 * session, a fresh connection per say so the per-minute budget never applies), and the server's own
 * figure (eSpeak started + first clause + into the session). The issue's bar: first audio ≤ 300 ms.
 */
export async function liveFirstAudio(ctx: BenchContext): Promise<BenchRow[]> {
  const { startServer } = await import('../src/server/server.js');
  const { default: WebSocket } = await import('ws');
  const server = await startServer({ port: 0 });
  const clientMs: number[] = [];
  const serverMs: number[] = [];
  try {
    const says = ctx.quick ? 3 : 10;
    for (let i = 0; i < says; i++) {
      const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/ws`);
      await new Promise<void>((resolve, reject) => {
        let sentMs = 0;
        const timer = setTimeout(() => reject(new Error('live say: no done within 20 s')), 20000);
        ws.on('error', reject);
        ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', version: 1, sampleRate: 48000, blockMs: 20 })));
        ws.on('message', (data, isBinary) => {
          if (isBinary) {
            if (clientMs.length === i) clientMs.push(performance.now() - sentMs);
            return;
          }
          const m = JSON.parse(data.toString());
          if (m.type === 'ready') {
            sentMs = performance.now();
            ws.send(JSON.stringify({ type: 'say', text: SENTENCES[i % SENTENCES.length] }));
          } else if (m.type === 'say' && m.state === 'speaking') serverMs.push(m.firstAudioMs);
          else if (m.type === 'say' && m.state !== 'queued') {
            clearTimeout(timer);
            if (m.state === 'done') resolve();
            else reject(new Error(`live say ended ${m.state}`));
          } else if (m.type === 'error') reject(new Error(`live say: ${m.code} ${m.message}`));
        });
      });
      ws.close();
    }
  } finally {
    await server.close();
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  ctx.log(`say: live first audio at the client ${clientMs.map((x) => x.toFixed(0)).join(', ')} ms`);
  return [
    { group: 'say', name: 'live say: first converted audio at the client, median', value: median(clientMs), unit: 'ms', note: `DSP voice, 48 kHz, 20 ms blocks, ${clientMs.length} says; max ${Math.max(...clientMs).toFixed(0)} ms (bar: ≤ 300)` },
    { group: 'say', name: 'live say: first audio into the session (server), median', value: median(serverMs), unit: 'ms', note: 'eSpeak NG start + first clause' },
  ];
}

async function phoneErrorRates(ctx: BenchContext): Promise<BenchRow[]> {
  if (!existsSync(join(MODEL_DIR, 'en-us-phone.lm.bin'))) throw new Error('pocketsphinx-en-us is not installed (apt-get install pocketsphinx pocketsphinx-en-us, or scripts/setup.sh)');
  const dict = loadDictionary();
  const variants: Array<{ name: string; apply: (a: MonoAudio) => MonoAudio }> = [
    { name: 'eSpeak NG raw', apply: (a) => a },
    { name: 'DSP voice, pitch 0', apply: (a) => ({ sampleRate: a.sampleRate, samples: convertWithDspVoice(a.samples, a.sampleRate, { pitchSemitones: 0, formantRatio: 1 }) }) },
    { name: 'DSP voice, pitch +5, formant 1.1', apply: (a) => ({ sampleRate: a.sampleRate, samples: convertWithDspVoice(a.samples, a.sampleRate, { pitchSemitones: 5, formantRatio: 1.1 }) }) },
    { name: 'DSP voice, pitch -5', apply: (a) => ({ sampleRate: a.sampleRate, samples: convertWithDspVoice(a.samples, a.sampleRate, { pitchSemitones: -5, formantRatio: 1 }) }) },
  ];
  const errors = variants.map(() => 0);
  let referencePhones = 0;
  const dir = mkdtempSync(join(tmpdir(), 'svc-say-bench-'));
  try {
    const sentences = ctx.quick ? SENTENCES.slice(0, 2) : SENTENCES;
    for (const [index, sentence] of sentences.entries()) {
      const reference = referencePhonesOf(sentence, dict);
      referencePhones += reference.length;
      const raw = await synthesizeEspeak(sentence);
      for (const [v, variant] of variants.entries()) {
        const phones = await recognisePhones(variant.apply(raw), dir, `s${index}-v${v}`);
        errors[v] += editDistance(reference, phones);
      }
      ctx.log(`say: sentence ${index + 1}/${sentences.length}: ${variants.map((v, i) => `${v.name} ${((100 * errors[i]!) / referencePhones).toFixed(1)} %`).join(', ')}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const rawPer = (100 * errors[0]!) / referencePhones;
  return variants.map((variant, i) => {
    const per = (100 * errors[i]!) / referencePhones;
    return { group: 'say', name: `phone error rate, ${variant.name}`, value: per, unit: '%', note: i === 0 ? `pocketsphinx allphone (context-independent), ${referencePhones} CMU-dict phones` : `${per - rawPer >= 0 ? '+' : ''}${(per - rawPer).toFixed(1)} points vs raw (bar: ≤ +10)` };
  });
}
