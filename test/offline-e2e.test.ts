// End to end, as a user would run it: preprocess a small real dataset (12 utterances of CMU ARCTIC
// "kathleen", 48 kHz stereo) → train the tiny config for 400 steps, SIGKILL the trainer mid-run and
// resume it → export a bundle → convert a VCTK utterance with it. Asserts that the mel loss falls
// clearly (mean of the last 20 logged values < 0.8 × the first 20), that the resumed run continues
// from the checkpoint to the same final step with one continuous loss history, and that the
// converted file plays, keeps the source's duration and level, and reacts to the f0 it is given
// (pitch-following scores are printed; see the note in the conversion test). Also: --nproc 2
// (torchrun, 2 CPU processes, gloo). About 3–5 minutes on 2 cores.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { readMono } from '../src/audio/io.js';
import { scorePair } from '../src/eval/metrics.js';
import { readBundle } from '../src/models/bundle.js';
import type { DatasetManifest } from '../src/offline/preprocess.js';
import { makeTempDir, repoRoot, runSvc, shared } from './helpers/index.js';

const temp = makeTempDir('svc-e2e-');
const dataset = join(temp.dir, 'dataset');
const run = join(temp.dir, 'run');
const STEPS = 400;
const KILL_AFTER_CHECKPOINT = 200;

/** Starts `svc train` in its own process group and SIGKILLs the whole group (CLI + trainer) once the checkpoint at `killAt` is reported. */
function trainAndKill(args: string[], killAt: number): Promise<{ stderr: string; killed: boolean }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src', 'cli', 'main.ts'), ...args], { cwd: repoRoot, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let killed = false;
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 600_000);
    child.stderr.on('data', (d) => {
      stderr += d;
      if (!killed && stderr.includes(`G_${killAt}.pth`)) {
        killed = true;
        process.kill(-child.pid!, 'SIGKILL');
      }
    });
    child.stdout.resume();
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      resolvePromise({ stderr, killed });
    });
  });
}

test('preprocess a small real dataset', async () => {
  const input = join(temp.dir, 'recordings');
  mkdirSync(input);
  for (let n = 1; n <= 12; n++) {
    const name = `arctic_a${String(n).padStart(4, '0')}.wav`;
    symlinkSync(shared('speech', 'kathleen_arctic_cc0_48k', name), join(input, name));
  }
  const r = await runSvc(['preprocess', input, '--out', dataset, '--speaker', 'kathleen', '--config', 'tiny', '--encoder', 'tiny']);
  assert.is(r.code, 0, r.stderr);
  const manifest = JSON.parse(readFileSync(join(dataset, 'manifest.json'), 'utf8')) as DatasetManifest;
  assert.ok(manifest.clips.length >= 10, `${manifest.clips.length} clips`);
  assert.ok(manifest.clips.some((c) => c.split === 'val'));
  assert.ok(manifest.summary.hours_in * 3600 > 35, `${manifest.summary.hours_in * 3600} s in`);
});

test(`train tiny ${STEPS} steps; SIGKILL after step ${KILL_AFTER_CHECKPOINT}; resume to the same step; the mel loss falls`, async () => {
  const args = ['train', dataset, '--out', run, '--config', 'tiny', '--steps', String(STEPS), '--checkpoint-every', '100', '--log-every', '5'];
  const first = await trainAndKill(args, KILL_AFTER_CHECKPOINT);
  assert.ok(first.killed, `never saw checkpoint ${KILL_AFTER_CHECKPOINT}:\n${first.stderr.slice(-2000)}`);
  assert.ok(existsSync(join(run, `G_${KILL_AFTER_CHECKPOINT}.pth`)) && existsSync(join(run, `D_${KILL_AFTER_CHECKPOINT}.pth`)));
  assert.not.ok(existsSync(join(run, `G_${STEPS}.pth`)), 'the first run was stopped before the end');

  const resumed = await runSvc([...args, '--resume'], { timeoutMs: 600_000 });
  assert.is(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, new RegExp(`resumed from step (${KILL_AFTER_CHECKPOINT}|${KILL_AFTER_CHECKPOINT + 100})`));
  assert.match(resumed.stdout, new RegExp(`step ${STEPS},`));
  assert.ok(existsSync(join(run, `G_${STEPS}.pth`)));

  const history = JSON.parse(readFileSync(join(run, 'losses.json'), 'utf8')) as Array<{ step: number; losses: { mel: number } }>;
  assert.equal(history.map((h) => h.step), Array.from({ length: STEPS / 5 }, (_, i) => 5 * (i + 1)), 'one continuous history across the kill');
  const mel = history.map((h) => h.losses.mel);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const start = mean(mel.slice(0, 20));
  const end = mean(mel.slice(-20));
  console.log(`mel loss (×c_mel 45): first 20 logged ${start.toFixed(2)}, last 20 ${end.toFixed(2)} (ratio ${(end / start).toFixed(3)})`);
  assert.ok(end < 0.8 * start, `mel loss ${start.toFixed(2)} → ${end.toFixed(2)}`);
  assert.ok(existsSync(join(run, 'losses.png')) && existsSync(join(run, 'val', `step_${STEPS}.wav`)));
});

test('export the run and convert a VCTK utterance: it plays, keeps the duration and level, and reacts to f0', async () => {
  const bundleDir = join(temp.dir, 'model');
  const exp = await runSvc(['export', run, '--out', bundleDir]);
  assert.is(exp.code, 0, exp.stderr);
  const bundle = readBundle(bundleDir);
  assert.equal(Object.keys(bundle.manifest.speakers), ['kathleen']);
  assert.ok(bundle.encoderPath && existsSync(bundle.encoderPath));

  const source = shared('speech', 'vctk_autovc_16k', 'p225', 'p225_003.wav');
  const out = join(temp.dir, 'converted.wav');
  const conv = await runSvc(['convert', source, out, '--model', bundleDir]);
  assert.is(conv.code, 0, conv.stderr);
  const input = await readMono(source);
  const converted = await readMono(out);
  assert.is(converted.sampleRate, input.sampleRate);
  assert.ok(Math.abs(converted.samples.length - input.samples.length) <= 320, `${converted.samples.length} vs ${input.samples.length} samples`);
  let energy = 0;
  for (const v of converted.samples) {
    assert.ok(Number.isFinite(v));
    energy += v * v;
  }
  const rms = Math.sqrt(energy / converted.samples.length);
  assert.ok(rms > 0.005 && rms < 0.5, `rms ${rms}`);
  // Pitch following is measured and printed, not asserted: after 400 CPU steps the tiny model's
  // output is dominated by a buzz at multiples of its 50 Hz frame rate (early NSF-HiFiGAN
  // training); the harmonic source only takes over after thousands of steps (see docs/training.md).
  // What is asserted is that the f0 path reaches the generator: the same conversion an octave up
  // must not be the same signal.
  const scores = await scorePair(input, converted, { alignment: 'time', f0Method: 'dsp' });
  console.log(`converted vs source: f0 correlation ${scores.f0Correlation.toFixed(3)}, f0 RMSE ${scores.f0RmseCents.toFixed(0)} cents over ${scores.bothVoicedFrames} frames, voicing agreement ${(100 * scores.voicingAgreement).toFixed(0)} %, MCD ${scores.mcdDb.toFixed(2)} dB`);
  const up = join(temp.dir, 'converted-up.wav');
  const convUp = await runSvc(['convert', source, up, '--model', bundleDir, '--pitch', '12']);
  assert.is(convUp.code, 0, convUp.stderr);
  const shifted = await readMono(up);
  assert.is(shifted.samples.length, converted.samples.length);
  let diff = 0;
  for (let i = 0; i < shifted.samples.length; i++) diff += (shifted.samples[i]! - converted.samples[i]!) ** 2;
  const diffRms = Math.sqrt(diff / shifted.samples.length);
  assert.ok(diffRms > 0.05 * rms, `an octave up changed the output by only ${diffRms} (rms ${rms})`);

  // svc eval --model converts through the same CLI and scores converted vs source.
  const evaluated = await runSvc(['eval', source, '--model', bundleDir, '--f0', 'dsp', '--json']);
  assert.is(evaluated.code, 0, evaluated.stderr);
  const report = JSON.parse(evaluated.stdout) as { pairs: Array<{ name: string; alignment: string; mcdDb: number }> };
  assert.equal(report.pairs.map((p) => [p.name, p.alignment]), [['p225_003', 'time']]);
  assert.ok(Math.abs(report.pairs[0]!.mcdDb - scores.mcdDb) < 0.5, `eval CLI MCD ${report.pairs[0]!.mcdDb} vs ${scores.mcdDb}`);
});

test('--nproc 2 trains with two CPU processes (torchrun, DistributedDataParallel over gloo)', async () => {
  const ddpRun = join(temp.dir, 'run-ddp');
  const r = await runSvc(['train', dataset, '--out', ddpRun, '--config', 'tiny', '--steps', '4', '--checkpoint-every', '4', '--log-every', '2', '--nproc', '2'], { timeoutMs: 300_000 });
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /on cpu × 2 processes/);
  assert.match(r.stdout, /step 4,/);
  assert.ok(existsSync(join(ddpRun, 'G_4.pth')));
});

test.after(() => temp.cleanup());
test.run();
