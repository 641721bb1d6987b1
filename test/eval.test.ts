// svc eval: MCD with DTW, f0 RMSE in cents, voicing agreement — on real parallel speech (CMU ARCTIC
// clb vs slt, the same sentences) and on signals whose answer is known by construction.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readMono } from '../src/audio/io.js';
import { dtwPath, melCepstrum, scorePair } from '../src/eval/metrics.js';
import { evaluatePaths } from '../src/eval/index.js';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, runSvc, shared } from './helpers/index.js';

const arctic = (speaker: string, n: string): string => shared('speech', 'cmu_arctic_16k', speaker, `arctic_a${n}.wav`);

/** A voiced, vowel-like signal: harmonics of f0Hz (gliding by glideCents over the signal) under a fixed envelope. */
function harmonicTone(f0Hz: number, seconds: number, glideCents = 0, rate = 16000): Float32Array {
  const n = Math.round(seconds * rate);
  const out = new Float32Array(n);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const f = f0Hz * 2 ** ((glideCents * i) / n / 1200);
    phase += (2 * Math.PI * f) / rate;
    let v = 0;
    for (let h = 1; h * f < 4000; h++) v += Math.sin(h * phase) / h;
    out[i] = 0.2 * v;
  }
  return out;
}

test('a file against itself scores 0 dB MCD, 0 cents and full voicing agreement', async () => {
  const audio = await readMono(arctic('clb', '0001'));
  const s = await scorePair(audio, audio);
  assert.is(s.mcdDb, 0);
  assert.is(s.f0RmseCents, 0);
  assert.is(s.voicingAgreement, 1);
  assert.ok(s.bothVoicedFrames > 100, `voiced frames ${s.bothVoicedFrames}`);
});

test('different speakers saying the same sentences: MCD in the published range (5–9 dB) with DTW', async () => {
  for (const n of ['0001', '0002']) {
    const s = await scorePair(await readMono(arctic('clb', n)), await readMono(arctic('slt', n)));
    assert.is(s.alignment, 'dtw');
    assert.ok(s.mcdDb > 5 && s.mcdDb < 9, `clb vs slt a${n}: MCD ${s.mcdDb.toFixed(2)} dB`);
    // Both are female voices of similar pitch: correlated contours, but not identical.
    assert.ok(s.f0RmseCents > 30, `f0 RMSE ${s.f0RmseCents.toFixed(0)} cents`);
    assert.ok(s.voicingAgreement > 0.7 && s.voicingAgreement < 1, `voicing agreement ${s.voicingAgreement}`);
  }
});

test('same speaker is closer than another speaker (MCD ranks voices)', async () => {
  const clb1 = await readMono(arctic('clb', '0003'));
  const slt1 = await readMono(arctic('slt', '0003'));
  const awb1 = await readMono(arctic('aew', '0003')); // a male voice
  const female = await scorePair(clb1, slt1);
  const male = await scorePair(clb1, awb1);
  assert.ok(male.mcdDb > female.mcdDb, `clb–aew ${male.mcdDb.toFixed(2)} dB should exceed clb–slt ${female.mcdDb.toFixed(2)} dB`);
});

test('a tone 100 cents sharp scores ≈ 100 cents f0 RMSE, and 0 once the offset is declared', async () => {
  const a = { sampleRate: 16000, samples: harmonicTone(200, 1.5, 300) };
  const b = { sampleRate: 16000, samples: harmonicTone(200 * 2 ** (100 / 1200), 1.5, 300) };
  const s = await scorePair(a, b, { alignment: 'time' });
  assert.ok(Math.abs(s.f0RmseCents - 100) < 15, `f0 RMSE ${s.f0RmseCents.toFixed(1)} cents`);
  assert.ok(s.f0Correlation > 0.95, `f0 correlation ${s.f0Correlation}`);
  const declared = await scorePair(a, b, { alignment: 'time', pitchOffsetSemitones: 1 });
  assert.ok(declared.f0RmseCents < 15, `with the offset declared: ${declared.f0RmseCents.toFixed(1)} cents`);
});

test('DTW recovers a known time warp', () => {
  // b is a with every frame repeated twice: the path must map b's frame 2k and 2k+1 to a's frame k.
  const a = melCepstrum(harmonicTone(150, 0.5, 1200));
  const b = { frames: a.frames * 2, data: new Float32Array(a.data.length * 2) };
  for (let t = 0; t < a.frames; t++) for (const r of [0, 1]) b.data.set(a.data.subarray(t * 24, t * 24 + 24), (2 * t + r) * 24);
  const path = dtwPath(a, b);
  const off = path.filter(([i, j]) => Math.floor(j / 2) !== i).length;
  assert.ok(off <= 2, `${off} of ${path.length} path points off the true warp`);
});

test('folders are paired by file name; unpaired names are listed', async () => {
  const { dir, cleanup } = makeTempDir();
  try {
    mkdirSync(join(dir, 'ref'));
    mkdirSync(join(dir, 'test'));
    for (const n of ['0004', '0005', '0006']) symlinkSync(arctic('clb', n), join(dir, 'ref', `arctic_a${n}.wav`));
    for (const n of ['0004', '0005']) symlinkSync(arctic('clb', n), join(dir, 'test', `arctic_a${n}.wav`));
    const report = await evaluatePaths(join(dir, 'ref'), join(dir, 'test'), { alignment: 'time' });
    assert.equal(report.pairs.map((p) => p.name), ['arctic_a0004', 'arctic_a0005']);
    assert.is(report.mean.mcdDb, 0);
    assert.equal(report.unmatched, ['arctic_a0006']);
  } finally {
    cleanup();
  }
});

test('svc eval CLI prints the scores; bad input is a clear error', async () => {
  const ok = await runSvc(['eval', arctic('clb', '0002'), arctic('slt', '0002'), '--json']);
  assert.is(ok.code, 0, ok.stderr);
  const report = JSON.parse(ok.stdout) as { mean: { mcdDb: number } };
  assert.ok(report.mean.mcdDb > 5 && report.mean.mcdDb < 9, `MCD ${report.mean.mcdDb}`);
  const missing = await runSvc(['eval', arctic('clb', '0002')]);
  assert.is(missing.code, 1);
  assert.match(missing.stderr, /needs a reference and a test path/);
  const badAlign = await runSvc(['eval', arctic('clb', '0002'), arctic('slt', '0002'), '--align', 'warp']);
  assert.is(badAlign.code, 1);
  assert.match(badAlign.stderr, /--align must be auto, time or dtw/);
});

test.run();
