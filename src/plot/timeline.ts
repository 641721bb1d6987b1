// Draws a diarization timeline with @napi-rs/canvas: the waveform envelope on top (speech regions
// shaded), one lane per speaker with its turns as coloured bars, an optional reference lane set
// (for comparisons), a time axis in seconds and a legend with each speaker's total speech.
// Input is plain data; output is PNG bytes.
import { createCanvas } from '@napi-rs/canvas';
import { SvcError } from '../errors.js';
import { plotFontFamily } from './fonts.js';
import { MAX_PLOT_SIDE, MIN_PLOT_HEIGHT, MIN_PLOT_WIDTH } from './limits.js';
import { formatSeconds, niceLinearTicks } from './scale.js';

export interface TimelineTurn {
  speaker: string;
  startSeconds: number;
  endSeconds: number;
}

export interface TimelineData {
  title: string;
  durationSeconds: number;
  /** Peak |x| per column-sized block is computed from these samples. */
  samples: Float32Array;
  sampleRate: number;
  speechRegions: ReadonlyArray<{ startSeconds: number; endSeconds: number }>;
  turns: readonly TimelineTurn[];
  /** Speaker order of the lanes (default: order of first appearance). */
  speakers?: readonly string[];
}

/** Ten distinct colours (Tableau 10), one per speaker lane. */
export const SPEAKER_COLORS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

export function renderTimelinePng(data: TimelineData, width = 1200, height?: number): Buffer {
  const speakers = data.speakers ?? [...new Set(data.turns.map((t) => t.speaker))];
  const laneHeight = 34;
  const h = height ?? Math.max(MIN_PLOT_HEIGHT, 170 + laneHeight * Math.max(1, speakers.length));
  if (!Number.isInteger(width) || width < MIN_PLOT_WIDTH || width > MAX_PLOT_SIDE || h > MAX_PLOT_SIDE) {
    throw new SvcError('INVALID_ARGUMENT', `timeline size must be ${MIN_PLOT_WIDTH}..${MAX_PLOT_SIDE} pixels wide, got ${width}x${h}`);
  }
  const font = plotFontFamily();
  const canvas = createCanvas(width, h);
  const g = canvas.getContext('2d');
  g.fillStyle = '#ffffff';
  g.fillRect(0, 0, width, h);
  const left = 120;
  const right = width - 20;
  const plotWidth = right - left;
  const duration = Math.max(data.durationSeconds, 1e-3);
  const x = (seconds: number): number => left + (Math.min(Math.max(seconds, 0), duration) / duration) * plotWidth;

  g.fillStyle = '#111111';
  g.font = `bold 15px ${font}`;
  g.fillText(data.title, left, 22);

  // Waveform envelope with the speech regions shaded behind it.
  const waveTop = 40;
  const waveHeight = 70;
  g.fillStyle = '#e8eef6';
  for (const r of data.speechRegions) g.fillRect(x(r.startSeconds), waveTop, Math.max(1, x(r.endSeconds) - x(r.startSeconds)), waveHeight);
  const perColumn = Math.max(1, Math.floor(data.samples.length / plotWidth));
  let peakAll = 1e-9;
  for (const v of data.samples) peakAll = Math.max(peakAll, Math.abs(v));
  g.fillStyle = '#555555';
  for (let c = 0; c < plotWidth; c++) {
    const a = Math.floor((c / plotWidth) * data.samples.length);
    let peak = 0;
    for (let i = a; i < Math.min(data.samples.length, a + perColumn); i++) peak = Math.max(peak, Math.abs(data.samples[i]!));
    const half = (peak / peakAll) * (waveHeight / 2 - 2);
    g.fillRect(left + c, waveTop + waveHeight / 2 - half, 1, Math.max(1, 2 * half));
  }
  g.font = `12px ${font}`;
  g.fillStyle = '#333333';
  g.fillText('waveform', 10, waveTop + waveHeight / 2 + 4);
  g.fillText('(speech shaded)', 10, waveTop + waveHeight / 2 + 18);

  // Speaker lanes.
  const lanesTop = waveTop + waveHeight + 14;
  speakers.forEach((speaker, lane) => {
    const y = lanesTop + lane * laneHeight;
    g.fillStyle = lane % 2 ? '#f7f7f7' : '#fbfbfb';
    g.fillRect(left, y, plotWidth, laneHeight - 4);
    const color = SPEAKER_COLORS[lane % SPEAKER_COLORS.length]!;
    g.fillStyle = color;
    let total = 0;
    for (const t of data.turns) {
      if (t.speaker !== speaker) continue;
      total += t.endSeconds - t.startSeconds;
      g.fillRect(x(t.startSeconds), y + 3, Math.max(1, x(t.endSeconds) - x(t.startSeconds)), laneHeight - 10);
    }
    g.fillStyle = '#111111';
    g.font = `12px ${font}`;
    g.fillText(speaker, 10, y + laneHeight / 2);
    g.fillStyle = '#666666';
    g.font = `11px ${font}`;
    g.fillText(`${total.toFixed(1)} s`, 10, y + laneHeight / 2 + 13);
  });

  // Time axis.
  const axisY = lanesTop + Math.max(1, speakers.length) * laneHeight + 4;
  g.strokeStyle = '#333333';
  g.lineWidth = 1;
  g.beginPath();
  g.moveTo(left, axisY + 0.5);
  g.lineTo(right, axisY + 0.5);
  g.stroke();
  const ticks = niceLinearTicks(0, duration, Math.max(4, Math.floor(plotWidth / 110)));
  const step = ticks.length > 1 ? ticks[1]! - ticks[0]! : duration;
  g.fillStyle = '#333333';
  g.font = `11px ${font}`;
  g.textAlign = 'center';
  for (const t of ticks) {
    if (t < 0 || t > duration) continue;
    g.beginPath();
    g.moveTo(x(t) + 0.5, axisY);
    g.lineTo(x(t) + 0.5, axisY + 5);
    g.stroke();
    g.fillText(formatSeconds(t, step), x(t), axisY + 17);
  }
  g.fillText('time (s)', left + plotWidth / 2, axisY + 33);
  g.textAlign = 'left';
  return canvas.toBuffer('image/png');
}
