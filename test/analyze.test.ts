// `svc analyze`: the PNG decodes at the requested size, the F0 track is drawn at the rows of the
// known pitches of a synthetic two-tone file (linear and log axes), unvoiced gaps stay undrawn and
// unmarked, real speech gives a plausible summary, and bad input fails with one line and no file.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCanvas, loadImage } from '@napi-rs/canvas';
import { writeWav } from '../src/audio/io.js';
import { PLOT_COLORS, computePlotLayout } from '../src/plot/render.js';
import { makeTempDir, runSvc, shared } from './helpers/index.js';

const SAMPLE_RATE = 16000;
// 220 Hz for 1.0 s, 0.5 s of silence, 440 Hz for 1.0 s.
const SEGMENTS = [
  { fromS: 0, toS: 1.0, hz: 220 },
  { fromS: 1.0, toS: 1.5, hz: 0 },
  { fromS: 1.5, toS: 2.5, hz: 440 },
];
const DURATION_S = 2.5;

const temp = makeTempDir('svc-analyze-');
const tonePath = join(temp.dir, 'two-tones.wav');

test.before(async () => {
  const samples = new Float32Array(Math.round(DURATION_S * SAMPLE_RATE));
  for (const seg of SEGMENTS) {
    if (seg.hz === 0) continue;
    for (let i = Math.round(seg.fromS * SAMPLE_RATE); i < Math.round(seg.toS * SAMPLE_RATE); i++) {
      // A voice-like tone: fundamental plus two weaker harmonics.
      const t = i / SAMPLE_RATE;
      samples[i] = 0.4 * Math.sin(2 * Math.PI * seg.hz * t) + 0.15 * Math.sin(4 * Math.PI * seg.hz * t) + 0.08 * Math.sin(6 * Math.PI * seg.hz * t);
    }
  }
  await writeWav(tonePath, { sampleRate: SAMPLE_RATE, samples });
});

test.after(() => temp.cleanup());

function hexToRgb(hex: string): [number, number, number] {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

async function decodePng(path: string): Promise<{ width: number; height: number; pixel(x: number, y: number): [number, number, number] }> {
  const image = await loadImage(path);
  const canvas = createCanvas(image.width, image.height);
  const ctx = canvas.getContext('2d');
  ctx.drawImage(image, 0, 0);
  const data = ctx.getImageData(0, 0, image.width, image.height).data;
  return {
    width: image.width,
    height: image.height,
    pixel: (x, y) => {
      const o = (y * image.width + x) * 4;
      return [data[o], data[o + 1], data[o + 2]];
    },
  };
}

function near(a: [number, number, number], b: [number, number, number], tolerance: number): boolean {
  return Math.abs(a[0] - b[0]) <= tolerance && Math.abs(a[1] - b[1]) <= tolerance && Math.abs(a[2] - b[2]) <= tolerance;
}

const F0_RGB = hexToRgb(PLOT_COLORS.f0);
const VOICED_RGB = hexToRgb(PLOT_COLORS.voiced);

/** Rows of the spectrogram panel whose pixel is in the F0 colour, over the columns of [fromS, toS]. */
function f0Rows(png: Awaited<ReturnType<typeof decodePng>>, fromS: number, toS: number): number[] {
  const r = computePlotLayout(png.width, png.height).spectrogram;
  const rows: number[] = [];
  const x0 = Math.ceil(r.x + (r.width * fromS) / DURATION_S);
  const x1 = Math.floor(r.x + (r.width * toS) / DURATION_S);
  for (let x = x0; x <= x1; x++) {
    for (let y = r.y; y < r.y + r.height; y++) if (near(png.pixel(x, y), F0_RGB, 30)) rows.push(y);
  }
  return rows;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

test('PNG has the requested size; F0 line sits at 220 and 440 Hz on a linear axis; silence is a gap', async () => {
  const out = join(temp.dir, 'linear.png');
  const result = await runSvc(['analyze', tonePath, '--png', out, '--width', '900', '--height', '560', '--freq-scale', 'linear', '--max-freq', '1000', '--method', 'dsp']);
  assert.is(result.code, 0, result.stderr);
  assert.match(result.stdout, /two-tones\.wav: 2\.50 s, 16000 Hz, mono/);
  const png = await decodePng(out);
  assert.is(png.width, 900);
  assert.is(png.height, 560);
  const r = computePlotLayout(png.width, png.height).spectrogram;
  // Linear axis 0..1000 Hz: row of f = bottom - height * f / 1000.
  for (const seg of SEGMENTS.filter((s) => s.hz > 0)) {
    const rows = f0Rows(png, seg.fromS + 0.15, seg.toS - 0.15);
    assert.ok(rows.length > 50, `F0 pixels for the ${seg.hz} Hz tone: ${rows.length}`);
    const expectedRow = r.y + r.height * (1 - seg.hz / 1000);
    assert.ok(Math.abs(median(rows) - expectedRow) <= 3, `${seg.hz} Hz drawn at row ${median(rows)}, expected ${expectedRow.toFixed(1)}`);
  }
  const gapRows = f0Rows(png, 1.1, 1.4);
  assert.is(gapRows.length, 0, 'no F0 line over the silent gap');
});

test('log axis (default): F0 rows follow log(f); the voiced band marks the tones, not the silence', async () => {
  const out = join(temp.dir, 'log.png');
  const result = await runSvc(['analyze', tonePath, '--png', out, '--method', 'dsp']);
  assert.is(result.code, 0, result.stderr);
  const png = await decodePng(out);
  assert.is(png.width, 1200);
  assert.is(png.height, 720);
  const layout = computePlotLayout(png.width, png.height);
  const r = layout.spectrogram;
  // Default log axis 40 Hz .. min(8000, Nyquist = 8000) Hz.
  const rowOf = (hz: number): number => r.y + r.height * (1 - Math.log(hz / 40) / Math.log(8000 / 40));
  const row220 = median(f0Rows(png, 0.15, 0.85));
  const row440 = median(f0Rows(png, 1.65, 2.35));
  assert.ok(Math.abs(row220 - rowOf(220)) <= 3, `220 Hz at row ${row220}, expected ${rowOf(220).toFixed(1)}`);
  assert.ok(Math.abs(row440 - rowOf(440)) <= 3, `440 Hz at row ${row440}, expected ${rowOf(440).toFixed(1)}`);

  const band = layout.voicedBand;
  const bandY = Math.round(band.y + band.height / 2);
  const bandX = (s: number): number => Math.round(band.x + (band.width * s) / DURATION_S);
  assert.ok(near(png.pixel(bandX(0.5), bandY), VOICED_RGB, 10), 'band marks the 220 Hz tone as voiced');
  assert.ok(near(png.pixel(bandX(2.0), bandY), VOICED_RGB, 10), 'band marks the 440 Hz tone as voiced');
  assert.not.ok(near(png.pixel(bandX(1.25), bandY), VOICED_RGB, 40), 'band leaves the silence unmarked');
});

test('real speech (VCTK p225, female): summary gives a plausible F0 and the plot is written without temp files', async () => {
  const dir = join(temp.dir, 'speech');
  mkdirSync(dir);
  const out = join(dir, 'p225.png');
  const result = await runSvc(['analyze', shared('speech/vctk_autovc_16k/p225/p225_003.wav'), '--png', out, '--width', '640', '--height', '400']);
  assert.is(result.code, 0, result.stderr);
  const median = Number(/median (\d+) Hz/.exec(result.stdout)?.[1]);
  assert.ok(median > 140 && median < 260, `median F0 ${median} Hz for a female speaker`);
  const voiced = Number(/voiced (\d+)%/.exec(result.stdout)?.[1]);
  assert.ok(voiced > 20 && voiced < 90, `voiced ${voiced}%`);
  const png = await decodePng(out);
  assert.is(png.width, 640);
  assert.is(png.height, 400);
  assert.equal(readdirSync(dir), ['p225.png']);
});

test('stereo 48 kHz speech is mixed to mono and reported as stereo; without --png nothing is drawn', async () => {
  const result = await runSvc(['analyze', shared('speech/kathleen_arctic_cc0_48k/arctic_a0001.wav'), '--method', 'dsp']);
  assert.is(result.code, 0, result.stderr);
  assert.match(result.stdout, /48000 Hz, stereo/);
  assert.match(result.stdout, /--png/);
});

test('bad input: one-line error, exit 1, no output file', async () => {
  const out = join(temp.dir, 'bad.png');
  const missing = await runSvc(['analyze', join(temp.dir, 'nope.wav'), '--png', out]);
  assert.is(missing.code, 1);
  assert.is(missing.stderr.trim().split('\n').length, 1, missing.stderr);
  assert.match(missing.stderr, /^svc: .*not found/);
  assert.not.ok(existsSync(out));

  const notAudio = join(temp.dir, 'notes.wav');
  writeFileSync(notAudio, 'this is not audio, just text pretending to be a wav file\n');
  const garbage = await runSvc(['analyze', notAudio, '--png', out]);
  assert.is(garbage.code, 1);
  assert.is(garbage.stderr.trim().split('\n').length, 1, garbage.stderr);
  assert.match(garbage.stderr, /^svc: /);
  assert.not.ok(existsSync(out));

  const badWidth = await runSvc(['analyze', tonePath, '--png', out, '--width', '12']);
  assert.is(badWidth.code, 1);
  assert.match(badWidth.stderr, /--width must be an integer from 320/);
  assert.not.ok(existsSync(out));

  const noFolder = await runSvc(['analyze', tonePath, '--png', join(temp.dir, 'missing-folder', 'x.png')]);
  assert.is(noFolder.code, 1);
  assert.match(noFolder.stderr, /folder .* does not exist/);
  assert.equal(readdirSync(temp.dir).filter((f) => f.includes('.tmp-')), []);
});

test.run();
