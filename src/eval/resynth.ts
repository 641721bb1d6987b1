// Pitch ground truth from real recordings, as the MDB-stem-synth set builds it (Salamon et al. 2017):
// analyse a real voice, then re-synthesise it with a harmonic model driven by a known f0 track, so the
// true f0 is exact by construction while the timbre (the spectral envelope of every frame) stays the
// real singer's or speaker's.
//   analysis   f0 by an existing tracker (any: its errors only change which melody is synthesised),
//              median-smoothed, voiced runs shorter than `minRunFrames` dropped; per frame a Hann-windowed
//              spectrum (≈ 46 ms) gives each harmonic's amplitude: the largest |X| within ±1 bin of k·f0,
//              scaled by 4/N (a Hann-windowed sinusoid of amplitude A peaks at A·N/4);
//   synthesis  voiced: Σ_k a_k(t)·sin(φ_k(t)), φ_k advancing by 2π·k·f0(t)/sr per sample, f0 and a_k
//              linearly interpolated between frame centres, harmonics below 0.45·sr; unvoiced frames:
//              the frame's own magnitude spectrum with random phases, overlap-added (breaths, consonants
//              and room noise stay, without a pitch).
// The returned track (f0 where voiced, 0 elsewhere, one value per hop) is the reference.
import { estimateF0, type F0Choice } from '../dsp/f0/index.js';
import { RealFft } from '../dsp/fft.js';
import { makeWindow } from '../dsp/window.js';

export interface ResynthOptions {
  hopSamples: number;
  /** Tracker used for the analysis f0 (default crepe). */
  method?: F0Choice;
  /** Analysis window in samples (power of two; default ≈ 46 ms). */
  windowSamples?: number;
  minRunFrames?: number;
  seed?: number;
}

export interface ResynthResult {
  samples: Float32Array;
  sampleRate: number;
  hopSamples: number;
  /** True f0 per frame (frame i centred at i·hop), 0 = unvoiced. */
  f0Hz: Float32Array;
  voiced: Uint8Array;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** The analysis track, cleaned: 5-frame median within each voiced run, runs shorter than minRunFrames removed. */
export function cleanTrack(f0Hz: ArrayLike<number>, voiced: ArrayLike<number>, minRunFrames: number): Float32Array {
  const n = f0Hz.length;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (!voiced[i] || !(f0Hz[i]! > 0)) continue;
    // Neighbours within the same voiced run only (never across an unvoiced frame).
    const around = [f0Hz[i]!];
    for (let j = i - 1; j >= Math.max(0, i - 2) && voiced[j] && f0Hz[j]! > 0; j--) around.push(f0Hz[j]!);
    for (let j = i + 1; j <= Math.min(n - 1, i + 2) && voiced[j] && f0Hz[j]! > 0; j++) around.push(f0Hz[j]!);
    out[i] = median(around);
  }
  for (let i = 0; i < n; ) {
    if (out[i] === 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < n && out[j]! > 0) j++;
    if (j - i < minRunFrames) out.fill(0, i, j);
    i = j;
  }
  return out;
}

export async function resynthesize(samples: Float32Array, sampleRate: number, options: ResynthOptions): Promise<ResynthResult> {
  const hop = options.hopSamples;
  const track = await estimateF0(samples, sampleRate, { method: options.method ?? 'crepe', hopSamples: hop });
  const f0 = cleanTrack(track.f0Hz, track.voiced, options.minRunFrames ?? 5);
  const frames = f0.length;
  let N = options.windowSamples ?? 1;
  if (!options.windowSamples) while (N < 0.046 * sampleRate) N *= 2;
  const fft = new RealFft(N);
  const window = makeWindow('hann', N, true);
  const bins = N / 2 + 1;
  const re = new Float64Array(bins);
  const im = new Float64Array(bins);
  const frame = new Float64Array(N);
  const nyquistLimit = 0.45 * sampleRate;
  const maxHarmonics = Math.floor(nyquistLimit / 50);
  // Harmonic amplitudes per frame (0 where unvoiced).
  const amps: Float32Array[] = [];
  const out = new Float64Array(samples.length);
  const noiseOut = new Float64Array(samples.length + N);
  const windowSum = new Float64Array(samples.length + N);
  let seed = options.seed ?? 1;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const spectrum = new Float64Array(N);
  for (let i = 0; i < frames; i++) {
    const centre = i * hop;
    for (let j = 0; j < N; j++) {
      const s = centre - N / 2 + j;
      frame[j] = (s >= 0 && s < samples.length ? samples[s]! : 0) * window[j]!;
    }
    fft.forward(frame, re, im);
    const a = new Float32Array(maxHarmonics);
    if (f0[i]! > 0) {
      for (let k = 1; k * f0[i]! < nyquistLimit && k <= maxHarmonics; k++) {
        const bin = Math.round((k * f0[i]! * N) / sampleRate);
        let peak = 0;
        for (let b = Math.max(0, bin - 1); b <= Math.min(bins - 1, bin + 1); b++) peak = Math.max(peak, Math.hypot(re[b]!, im[b]!));
        a[k - 1] = (4 * peak) / N;
      }
    } else {
      // Random-phase copy of this frame's magnitude, windowed again and overlap-added.
      for (let b = 0; b < bins; b++) {
        const mag = Math.hypot(re[b]!, im[b]!);
        const phase = 2 * Math.PI * rand();
        re[b] = mag * Math.cos(phase);
        im[b] = mag * Math.sin(phase);
      }
      fft.inverse(re, im, spectrum);
      for (let j = 0; j < N; j++) {
        const s = centre - N / 2 + j;
        if (s < 0) continue;
        noiseOut[s] = noiseOut[s]! + spectrum[j]! * window[j]!;
      }
    }
    for (let j = 0; j < N; j++) {
      const s = centre - N / 2 + j;
      if (s >= 0) windowSum[s] = windowSum[s]! + window[j]! * window[j]!;
    }
    amps.push(a);
  }
  // Harmonic synthesis, sample by sample between frame centres.
  const phases = new Float64Array(maxHarmonics);
  for (let s = 0; s < samples.length; s++) {
    const pos = s / hop;
    const i0 = Math.min(frames - 1, Math.floor(pos));
    const i1 = Math.min(frames - 1, i0 + 1);
    const t = pos - i0;
    const fa = f0[i0]!;
    const fb = f0[i1]!;
    // Inside a voiced run f0 glides; at a voicing edge it holds the voiced side's value while the amplitude fades.
    const f = fa > 0 && fb > 0 ? fa * (1 - t) + fb * t : Math.max(fa, fb);
    if (f <= 0) continue;
    let v = 0;
    const a0 = amps[i0]!;
    const a1 = amps[i1]!;
    for (let k = 1; k <= maxHarmonics && k * f < nyquistLimit; k++) {
      phases[k - 1] = (phases[k - 1]! + (2 * Math.PI * k * f) / sampleRate) % (2 * Math.PI);
      const amp = a0[k - 1]! * (1 - t) + a1[k - 1]! * t;
      if (amp > 0) v += amp * Math.sin(phases[k - 1]!);
    }
    out[s] = v;
  }
  const result = new Float32Array(samples.length);
  for (let s = 0; s < samples.length; s++) result[s] = out[s]! + (windowSum[s]! > 1e-3 ? noiseOut[s]! / windowSum[s]! : 0);
  const voiced = new Uint8Array(frames);
  for (let i = 0; i < frames; i++) voiced[i] = f0[i]! > 0 ? 1 : 0;
  return { samples: result, sampleRate, hopSamples: hop, f0Hz: f0, voiced };
}
