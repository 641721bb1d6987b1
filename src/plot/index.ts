// Analysis plots (`svc analyze`): read a file, compute spectrogram + F0 + volume, draw a PNG and
// write it atomically; plus a numeric summary for the terminal. The parts (analysis, rendering,
// scales, colour maps) are exported for reuse.
import { basename } from 'node:path';
import { readAudio, writeFileAtomic } from '../audio/io.js';
import type { F0Choice } from '../dsp/f0/types.js';
import { analyzeAudio } from './analysis.js';
import type { ColormapName } from './colormap.js';
import { renderAnalysisPng, type AnalysisData, type PlotLayout } from './render.js';
import type { FrequencyScaleKind } from './scale.js';

export * from './render.js';
export * from './scale.js';
export * from './colormap.js';
export * from './limits.js';
export { analyzeAudio, type AnalyzeOptions } from './analysis.js';
export { spectrogramDb, rmsDbPerHop, plotWindowSamples } from './spectrogram.js';

export interface AnalyzeFileOptions {
  method?: F0Choice;
  hopSeconds: number;
  /** Where to write the PNG; no file is written when absent. */
  pngPath?: string;
  width: number;
  height: number;
  frequencyScale: FrequencyScaleKind;
  minHz: number;
  /** Top of the frequency axis, Hz (clamped to the file's Nyquist frequency). */
  maxHz: number;
  colormap: ColormapName;
  dynamicRangeDb: number;
}

export interface AnalysisSummary {
  durationSeconds: number;
  sampleRate: number;
  channelCount: number;
  /** Share of F0 frames that are voiced, 0..1. */
  voicedFraction: number;
  /** Median / 5th / 95th percentile F0 over voiced frames, Hz (NaN when nothing is voiced). */
  f0MedianHz: number;
  f0P5Hz: number;
  f0P95Hz: number;
  /** Loudest hop, RMS dBFS. */
  peakRmsDb: number;
}

function percentileOf(sorted: Float32Array, fraction: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(fraction * (sorted.length - 1))))];
}

/** Voicing share, F0 percentiles and peak volume of an analysis. */
export function summarizeAnalysis(data: AnalysisData): AnalysisSummary {
  const voicedHz: number[] = [];
  for (let i = 0; i < data.f0.hz.length; i++) if (data.f0.voiced[i] === 1 && data.f0.hz[i] > 0) voicedHz.push(data.f0.hz[i]);
  const sorted = Float32Array.from(voicedHz).sort();
  let peakRmsDb = -Infinity;
  for (const db of data.volume.db) if (db > peakRmsDb) peakRmsDb = db;
  return {
    durationSeconds: data.durationSeconds,
    sampleRate: data.sampleRate,
    channelCount: data.channelCount,
    voicedFraction: data.f0.hz.length ? voicedHz.length / data.f0.hz.length : 0,
    f0MedianHz: percentileOf(sorted, 0.5),
    f0P5Hz: percentileOf(sorted, 0.05),
    f0P95Hz: percentileOf(sorted, 0.95),
    peakRmsDb,
  };
}

export interface AnalyzeFileResult {
  data: AnalysisData;
  summary: AnalysisSummary;
  /** Present when a PNG was written. */
  layout?: PlotLayout;
  /** Top of the frequency axis actually used (after clamping to Nyquist), Hz. */
  maxHzUsed: number;
}

/** Reads `inputPath`, analyses it and (with pngPath) writes the figure; nothing is written on error. */
export async function analyzeFile(inputPath: string, options: AnalyzeFileOptions): Promise<AnalyzeFileResult> {
  const audio = await readAudio(inputPath);
  const data = await analyzeAudio(audio, basename(inputPath), { method: options.method, hopSeconds: options.hopSeconds });
  const maxHzUsed = Math.min(options.maxHz, audio.sampleRate / 2);
  const result: AnalyzeFileResult = { data, summary: summarizeAnalysis(data), maxHzUsed };
  if (options.pngPath) {
    const { png, layout } = renderAnalysisPng(data, {
      width: options.width,
      height: options.height,
      frequencyScale: { kind: options.frequencyScale, minHz: options.minHz, maxHz: maxHzUsed },
      colormap: options.colormap,
      dynamicRangeDb: options.dynamicRangeDb,
    });
    await writeFileAtomic(options.pngPath, png);
    result.layout = layout;
  }
  return result;
}
