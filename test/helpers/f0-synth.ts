// Synthetic voices with known f0 for f0 tests and benches: a band-limited glottal source (harmonic
// sum with −12 dB/octave tilt) with vibrato, per-cycle jitter and shimmer, through a cascade of
// vowel formant resonators, with breath noise, raised-cosine onsets/offsets, unvoiced fricatives,
// inhalations, background noise and optional room reverb. The ground truth is the generator's own
// f0 at every frame centre; a frame is voiced where the voiced envelope is ≥ 0.25 (−12 dB) and
// unvoiced elsewhere (silence, fricatives, breaths, reverb tails).
import { seededRandom } from '../../src/dsp/random.js';

export type Vowel = 'a' | 'e' | 'i' | 'o' | 'u';
const FORMANTS: Record<Vowel, Array<[number, number]>> = {
  a: [[800, 80], [1150, 90], [2900, 120]],
  e: [[400, 60], [2000, 100], [2550, 120]],
  i: [[270, 60], [2300, 100], [3000, 120]],
  o: [[450, 70], [800, 80], [2830, 100]],
  u: [[300, 60], [870, 80], [2240, 100]],
};

export type Segment =
  | { kind: 'note'; seconds: number; startHz: number; endHz?: number; vowel?: Vowel; vibratoHz?: number; vibratoCents?: number; level?: number }
  | { kind: 'silence'; seconds: number }
  | { kind: 'fricative'; seconds: number; level?: number }
  | { kind: 'breath'; seconds: number; level?: number };

export interface SynthOptions {
  sampleRate: number;
  seed?: number;
  /** Per-cycle f0 jitter, relative std (default 0.005). */
  jitter?: number;
  /** Per-cycle amplitude shimmer, relative std (default 0.05). */
  shimmer?: number;
  /** Breath (aspiration) noise in voiced parts, dB relative to the voice (default −25). */
  breathDb?: number;
  /** Background noise level, dBFS (default −65). */
  noiseFloorDb?: number;
  /** Reverb wet level in dB (default: none); RT60 0.35 s. */
  reverbDb?: number;
  /** Onset/offset ramp, seconds (default 0.04 / 0.08). */
  attackSeconds?: number;
  releaseSeconds?: number;
}

export interface SynthResult {
  samples: Float32Array;
  sampleRate: number;
  /** Instantaneous f0 (Hz) per sample, 0 where no voice. */
  f0AtSample: Float32Array;
  /** Voiced-source envelope per sample (0..1). */
  envelope: Float32Array;
}

/** Small deterministic PRNG (mulberry32) so tests are reproducible. */
export const rng = seededRandom;

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
}

/** Two-pole resonator coefficients for a formant at `hz` with bandwidth `bw`. */
function resonator(hz: number, bw: number, sr: number): [number, number, number] {
  const r = Math.exp((-Math.PI * bw) / sr);
  const a1 = 2 * r * Math.cos((2 * Math.PI * hz) / sr);
  const a2 = -r * r;
  return [1 - r, a1, a2];
}

export function synthesizeVoice(segments: Segment[], options: SynthOptions): SynthResult {
  const sr = options.sampleRate;
  const random = rng(options.seed ?? 1);
  const jitter = options.jitter ?? 0.005;
  const shimmer = options.shimmer ?? 0.05;
  const breath = 10 ** ((options.breathDb ?? -25) / 20);
  const floor = 10 ** ((options.noiseFloorDb ?? -65) / 20);
  const attack = options.attackSeconds ?? 0.04;
  const release = options.releaseSeconds ?? 0.08;
  const total = Math.round(segments.reduce((s, g) => s + g.seconds, 0) * sr);
  const out = new Float32Array(total);
  const f0AtSample = new Float32Array(total);
  const envelope = new Float32Array(total);
  let pos = 0;
  for (const seg of segments) {
    const n = Math.round(seg.seconds * sr);
    if (seg.kind === 'note') {
      const level = seg.level ?? 0.25;
      const endHz = seg.endHz ?? seg.startHz;
      const vib = seg.vibratoCents ?? 0;
      const vibHz = seg.vibratoHz ?? 5.5;
      const vibPhase = random() * 2 * Math.PI;
      let phase = 0;
      let cycleJitter = 1;
      let cycleGain = 1;
      const source = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const t = i / sr;
        const glide = seg.startHz * (endHz / seg.startHz) ** (i / n);
        const f0 = glide * 2 ** ((vib / 1200) * Math.sin(2 * Math.PI * vibHz * t + vibPhase)) * cycleJitter;
        f0AtSample[pos + i] = f0;
        const prev = phase;
        phase += f0 / sr;
        if (Math.floor(phase) !== Math.floor(prev)) {
          cycleJitter = 1 + jitter * gaussian(random);
          cycleGain = 1 + shimmer * gaussian(random);
        }
        // Band-limited source: harmonics below 0.45·sr with 1/k² amplitude (−12 dB/oct glottal tilt).
        let s = 0;
        const maxK = Math.floor((0.45 * sr) / f0);
        const x = 2 * Math.PI * phase;
        for (let k = 1; k <= maxK; k++) s += Math.sin(k * x) / (k * k);
        const env = Math.min(1, t / attack, (n - i) / sr / release);
        const shaped = env < 1 ? 0.5 - 0.5 * Math.cos(Math.PI * env) : 1;
        envelope[pos + i] = shaped;
        source[i] = shaped * cycleGain * (s + breath * gaussian(random) * 2);
      }
      // Formants: parallel-to-cascade of three resonators.
      let y = source;
      for (const [hz, bw] of FORMANTS[seg.vowel ?? 'a']) {
        const [g, a1, a2] = resonator(hz, bw, sr);
        const z = new Float64Array(n);
        let y1 = 0;
        let y2 = 0;
        for (let i = 0; i < n; i++) {
          const v = g * y[i]! + a1 * y1 + a2 * y2;
          z[i] = v;
          y2 = y1;
          y1 = v;
        }
        y = z;
      }
      let peak = 0;
      for (let i = 0; i < n; i++) peak = Math.max(peak, Math.abs(y[i]!));
      for (let i = 0; i < n; i++) out[pos + i] = (level * y[i]!) / (peak || 1);
    } else if (seg.kind === 'fricative') {
      const level = seg.level ?? 0.05;
      let prev = 0;
      for (let i = 0; i < n; i++) {
        const w = gaussian(random);
        const env = Math.sin((Math.PI * i) / n);
        out[pos + i] = level * env * (w - prev) * 0.7; // first difference: high-passed hiss
        prev = w;
      }
    } else if (seg.kind === 'breath') {
      const level = seg.level ?? 0.02;
      let lp = 0;
      for (let i = 0; i < n; i++) {
        lp = 0.7 * lp + 0.3 * gaussian(random);
        out[pos + i] = level * Math.sin((Math.PI * i) / n) * lp;
      }
    }
    pos += n;
  }
  if (options.reverbDb !== undefined) {
    // Exponentially decaying noise impulse response (RT60 0.35 s), added wet.
    const irLength = Math.round(0.4 * sr);
    const ir = new Float32Array(irLength);
    const decay = Math.log(1000) / (0.35 * sr);
    for (let i = 0; i < irLength; i++) ir[i] = gaussian(random) * Math.exp(-decay * i);
    let norm = 0;
    for (let i = 0; i < irLength; i++) norm += ir[i]! * ir[i]!;
    const gain = 10 ** (options.reverbDb / 20) / Math.sqrt(norm);
    const wet = new Float32Array(total);
    // direct convolution on a decimated IR is too slow; do block FFT-free overlap via sparse taps
    for (let k = 0; k < irLength; k += 7) {
      const h = ir[k]! * gain * Math.sqrt(7);
      for (let i = 0; i + k < total; i++) wet[i + k] = wet[i + k]! + h * out[i]!;
    }
    for (let i = 0; i < total; i++) out[i] = out[i]! + wet[i]!;
  }
  for (let i = 0; i < total; i++) out[i] = out[i]! + floor * gaussian(random);
  return { samples: out, sampleRate: sr, f0AtSample, envelope };
}

/**
 * Ground truth on the f0 frame grid (frame i at sample i·hop): voiced where the voice envelope is
 * ≥ 0.1 (−20 dB), unvoiced where there is no voice at all (silence, consonants, breaths, reverb
 * tails); frames in the first/last −20 dB of a fade are ambiguous and get mask 0.
 */
export function referenceTrack(s: SynthResult, hopSamples: number): { f0Hz: Float32Array; voiced: Uint8Array; mask: Uint8Array } {
  const n = Math.floor(s.samples.length / hopSamples);
  const f0Hz = new Float32Array(n);
  const voiced = new Uint8Array(n);
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const k = i * hopSamples;
    const env = s.f0AtSample[k]! > 0 ? s.envelope[k]! : 0;
    voiced[i] = env >= 0.1 ? 1 : 0;
    mask[i] = env >= 0.1 || env === 0 ? 1 : 0;
    f0Hz[i] = voiced[i] ? s.f0AtSample[k]! : 0;
  }
  return { f0Hz, voiced, mask };
}

/** A sung phrase: notes with vibrato and glides, consonants, a breath, silences. */
export function singingPhrase(sampleRate: number, seed = 1, options: Partial<SynthOptions> = {}): SynthResult {
  const segs: Segment[] = [
    { kind: 'silence', seconds: 0.3 },
    { kind: 'note', seconds: 0.8, startHz: 262, vowel: 'a', vibratoCents: 40, vibratoHz: 5.5 },
    { kind: 'fricative', seconds: 0.08 },
    { kind: 'note', seconds: 0.6, startHz: 294, endHz: 330, vowel: 'e', vibratoCents: 30 },
    { kind: 'note', seconds: 1.0, startHz: 392, vowel: 'o', vibratoCents: 70, vibratoHz: 6 },
    { kind: 'breath', seconds: 0.35 },
    { kind: 'note', seconds: 0.7, startHz: 523, endHz: 440, vowel: 'i', vibratoCents: 50 },
    { kind: 'silence', seconds: 0.15 },
    { kind: 'note', seconds: 0.9, startHz: 196, vowel: 'u', vibratoCents: 25 },
    { kind: 'fricative', seconds: 0.12, level: 0.08 },
    { kind: 'note', seconds: 1.2, startHz: 175, endHz: 220, vowel: 'a', vibratoCents: 60, vibratoHz: 5 },
    { kind: 'silence', seconds: 0.4 },
  ];
  return synthesizeVoice(segs, { sampleRate, seed, ...options });
}

/** A spoken-like phrase: low, gliding f0 (80-250 Hz), short syllables, consonants. */
export function speechPhrase(sampleRate: number, seed = 2, baseHz = 120, options: Partial<SynthOptions> = {}): SynthResult {
  const random = rng(seed);
  const segs: Segment[] = [{ kind: 'silence', seconds: 0.25 }];
  const vowels: Vowel[] = ['a', 'e', 'i', 'o', 'u'];
  for (let k = 0; k < 10; k++) {
    const start = baseHz * 2 ** ((random() - 0.3) * 0.6);
    segs.push({ kind: 'note', seconds: 0.12 + 0.18 * random(), startHz: start, endHz: start * 2 ** ((random() - 0.6) * 0.5), vowel: vowels[k % 5]!, vibratoCents: 0 });
    segs.push(random() < 0.5 ? { kind: 'fricative', seconds: 0.05 + 0.08 * random(), level: 0.04 } : { kind: 'silence', seconds: 0.04 + 0.1 * random() });
  }
  segs.push({ kind: 'silence', seconds: 0.3 });
  return synthesizeVoice(segs, { sampleRate, seed, attackSeconds: 0.02, releaseSeconds: 0.04, jitter: 0.01, shimmer: 0.08, ...options });
}

/** A voiced test signal with a slow pitch wobble (140 ± 40 Hz, three harmonics) at `rate`. */
export function voiceLike(seconds: number, rate: number): Float32Array {
  const out = new Float32Array(Math.round(seconds * rate));
  let phase = 0;
  for (let i = 0; i < out.length; i++) {
    phase += (2 * Math.PI * (140 + 40 * Math.sin((2 * Math.PI * i) / rate))) / rate;
    out[i] = 0.3 * Math.sin(phase) + 0.1 * Math.sin(2 * phase) + 0.05 * Math.sin(3 * phase);
  }
  return out;
}
