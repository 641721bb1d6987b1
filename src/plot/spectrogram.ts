// Plot-oriented spectral features: a dBFS magnitude spectrogram (Hann STFT of the spectral core,
// src/dsp/stft.ts) and RMS volume per hop, both on frames centred at i * hop (the so-vits-svc
// frame convention that the F0 module uses). Pure functions over mono Float32 samples.
import { linearSpectrogram } from '../dsp/stft.js';
import { makeWindow } from '../dsp/window.js';
import type { SpectrogramData, VolumeTrack } from './render.js';

/** FFT size for plots: ~40 ms rounded up to a power of two (1024 at 16 kHz, 2048 at 44.1/48 kHz). */
export function plotWindowSamples(sampleRate: number): number {
  let n = 256;
  while (n < 0.04 * sampleRate) n *= 2;
  return n;
}

/**
 * Magnitude spectrogram in dBFS from the spectral core's STFT (torch conventions, frame i centred
 * at sample i * hopSamples, zero padding at the edges), periodic Hann window of windowSamples;
 * scaled so a full-scale sine at a bin centre reads 0 dB.
 */
export function spectrogramDb(samples: Float32Array, sampleRate: number, hopSamples: number, windowSamples: number): SpectrogramData {
  const window = makeWindow('hann', windowSamples);
  let windowSum = 0;
  for (let i = 0; i < windowSamples; i++) windowSum += window[i];
  const amplitudeScale = 2 / windowSum;
  const spec = linearSpectrogram(samples, { nFft: windowSamples, hopSamples, window: 'hann', padding: 'center', padMode: 'constant' });
  const db = spec.data;
  for (let i = 0; i < db.length; i++) db[i] = 20 * Math.log10(db[i] * amplitudeScale + 1e-10);
  return { frameCount: spec.frames, binCount: spec.bins, binHz: sampleRate / windowSamples, hopSeconds: hopSamples / sampleRate, startSeconds: 0, db, windowSamples };
}

/** RMS in dBFS of the hop-long stretch centred at each frame i * hopSamples. */
export function rmsDbPerHop(samples: Float32Array, sampleRate: number, hopSamples: number): VolumeTrack {
  const frameCount = Math.max(1, Math.floor(samples.length / hopSamples));
  const db = new Float32Array(frameCount);
  const half = Math.floor(hopSamples / 2);
  for (let f = 0; f < frameCount; f++) {
    const from = Math.max(0, f * hopSamples - half);
    const to = Math.min(samples.length, f * hopSamples - half + hopSamples);
    let sum = 0;
    for (let i = from; i < to; i++) sum += samples[i] * samples[i];
    const rms = to > from ? Math.sqrt(sum / (to - from)) : 0;
    db[f] = rms > 0 ? 20 * Math.log10(rms) : -Infinity;
  }
  return { db, hopSeconds: hopSamples / sampleRate, startSeconds: 0 };
}
