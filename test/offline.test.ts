// svc preprocess / train / export: slicing, resumability, and bad input (empty folders, no audio,
// unreadable files, a dataset made for another model, an unfinished dataset). The end-to-end run
// (preprocess → train → kill → resume → export → convert) is in offline-e2e.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readMono } from '../src/audio/io.js';
import { parseNpy } from '../src/io/npy.js';
import { clippedFraction, loudnessGain, sliceAtSilences } from '../src/offline/slice.js';
import type { DatasetManifest } from '../src/offline/preprocess.js';
import { spawn, spawnSync } from 'node:child_process';
import { makeTempDir, repoRoot, runSvc, shared } from './helpers/index.js';

const kathleen = (n: number): string => shared('speech', 'kathleen_arctic_cc0_48k', `arctic_a${String(n).padStart(4, '0')}.wav`);
const temp = makeTempDir('svc-offline-');

/** Noise bursts ("words") of the given lengths separated by silences, at `rate`. */
function bursts(rate: number, pattern: Array<[soundSeconds: number, silenceSeconds: number]>): Float32Array {
  const total = pattern.reduce((a, [s, q]) => a + s + q, 0);
  const out = new Float32Array(Math.round(total * rate));
  let t = 0;
  let seed = 1;
  for (const [sound, silence] of pattern) {
    const start = Math.round(t * rate);
    const end = Math.round((t + sound) * rate);
    for (let i = start; i < end; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      out[i] = 0.3 * Math.sin((2 * Math.PI * 180 * i) / rate) + 0.05 * (seed / 2 ** 31 - 0.5);
    }
    t += sound + silence;
  }
  return out;
}

test('slicing: clips of 2–15 s cut inside pauses, silence-only detected, short pieces counted', () => {
  const rate = 16000;
  // 40 s of 1.5 s phrases with 0.5 s pauses, then a 20 s unbroken stretch.
  const samples = bursts(rate, [...Array.from({ length: 20 }, (): [number, number] => [1.5, 0.5]), [20, 1]]);
  const result = sliceAtSilences(samples, rate);
  assert.not.ok(result.silenceOnly);
  assert.ok(result.segments.length >= 5, `${result.segments.length} clips`);
  for (const seg of result.segments) {
    const seconds = (seg.endSample - seg.startSample) / rate;
    assert.ok(seconds >= 2 && seconds <= 15.3, `clip of ${seconds.toFixed(2)} s`);
  }
  // Cuts of the phrase part fall in pauses: the first and last samples of each early clip are quiet.
  for (const seg of result.segments.filter((s) => s.endSample < 40 * rate)) {
    assert.ok(Math.abs(samples[seg.startSample]!) < 0.01 && Math.abs(samples[seg.endSample - 1]!) < 0.01, 'cut inside sound');
  }
  // Nothing is lost: the clips cover all 50 s of sound (30 s of phrases + the 20 s stretch, split)
  // plus the pauses inside them, but not the final 1 s of silence.
  const covered = result.segments.reduce((a, seg) => a + (seg.endSample - seg.startSample), 0) / rate;
  assert.ok(covered >= 50 && covered <= 60, `clips cover ${covered.toFixed(1)} s`);
  const blip = sliceAtSilences(bursts(rate, [[0.5, 3]]), rate);
  assert.is(blip.segments.length, 0);
  assert.is(blip.droppedShortCount, 1, 'a lone 0.5 s blip cannot make a 2 s clip');
  assert.not.ok(blip.silenceOnly);
  assert.ok(sliceAtSilences(new Float32Array(rate * 5), rate).silenceOnly);
});

test('loudness: quiet and loud takes come out at the same level; clipping is measured', () => {
  const rate = 16000;
  const loud = bursts(rate, [[2, 0.5]]);
  const quiet = loud.map((v) => v * 0.05);
  const gLoud = loudnessGain(loud, rate);
  const gQuiet = loudnessGain(quiet, rate);
  assert.ok(Math.abs(gQuiet / gLoud - 20) < 0.5, `gains ${gLoud} and ${gQuiet}`);
  const clipped = loud.map((v) => Math.max(-0.1, Math.min(0.1, v)) * 10);
  assert.ok(clippedFraction(clipped) > 0.1);
  assert.is(clippedFraction(quiet), 0);
});

test('preprocess: speaker folders, an unreadable file skipped and reported, features match the clips', async () => {
  const input = join(temp.dir, 'in');
  mkdirSync(join(input, 'kathleen'), { recursive: true });
  mkdirSync(join(input, 'other'), { recursive: true });
  for (const n of [1, 2, 3]) symlinkSync(kathleen(n), join(input, 'kathleen', `a${n}.wav`));
  symlinkSync(shared('speech', 'misc', 'jfk.flac'), join(input, 'other', 'jfk.flac'));
  writeFileSync(join(input, 'kathleen', 'broken.wav'), Buffer.from('RIFF\x10\x00\x00\x00WAVEjunkjunkjunk'));
  writeFileSync(join(input, 'kathleen', 'notes.txt'), 'not audio');
  const out = join(temp.dir, 'ds');
  const r = await runSvc(['preprocess', input, '--out', out, '--f0', 'dsp', '--config', 'tiny', '--encoder', 'tiny']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /skipped 1 file/);
  assert.match(r.stdout, /kathleen\/broken\.wav: unreadable/);
  assert.match(r.stdout, /ignored 1 non-audio/);
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as DatasetManifest;
  assert.equal(manifest.speakers, { kathleen: 0, other: 1 });
  assert.is(manifest.sampling_rate, 16000);
  assert.is(manifest.encoder.dim, 256);
  assert.ok(manifest.clips.length >= 4, `${manifest.clips.length} clips`);
  assert.is(manifest.summary.skipped_files.length, 1);
  for (const clip of manifest.clips) {
    const base = join(out, 'clips', clip.id);
    const audio = await readMono(`${base}.wav`);
    assert.is(audio.sampleRate, 16000);
    const frames = Math.floor(audio.samples.length / 320);
    assert.is(clip.frames, frames);
    const f0 = parseNpy(readFileSync(`${base}.f0.npy`));
    const uv = parseNpy(readFileSync(`${base}.uv.npy`));
    const vol = parseNpy(readFileSync(`${base}.vol.npy`));
    const units = parseNpy(readFileSync(`${base}.units.npy`));
    assert.equal([f0.shape, uv.shape, vol.shape], [[frames], [frames], [frames]]);
    assert.is(units.shape[1], 256);
    assert.ok(Math.abs(units.shape[0]! - clip.seconds * 50) <= 2, `units ${units.shape[0]} rows for ${clip.seconds} s`);
    assert.ok((f0.data as Float32Array).every((v) => v > 40 && v < 1200), 'f0 interpolated, never 0');
    const voiced = (uv.data as Float32Array).reduce((a, v) => a + v, 0) / frames;
    assert.ok(voiced > 0.2 && voiced < 0.95, `voiced share ${voiced}`);
    // Loudness-normalised: peak at most −1 dBFS.
    assert.ok(audio.samples.every((v) => Math.abs(v) <= 0.9), 'peak limited');
  }
});

test('preprocess resumes: finished files are skipped, a clip lost in a kill is redone, the manifest comes last', async () => {
  const out = join(temp.dir, 'ds');
  const before = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as DatasetManifest;
  // Simulate a kill: the manifest is gone, one clip lost its .wav (its features were written), and
  // its source record was never written.
  rmSync(join(out, 'manifest.json'));
  const victim = before.clips.find((c) => c.speaker === 'kathleen')!;
  rmSync(join(out, 'clips', `${victim.id}.wav`));
  const records = readdirSync(join(out, '.progress')).filter((f) => f.endsWith('.json') && f !== 'settings.json');
  for (const f of records) {
    const rec = JSON.parse(readFileSync(join(out, '.progress', f), 'utf8')) as { clips: Array<{ id: string }> };
    if (rec.clips.some((c) => c.id === victim.id)) rmSync(join(out, '.progress', f));
  }
  const train = await runSvc(['train', out, '--out', join(temp.dir, 'run-unfinished'), '--steps', '1']);
  assert.is(train.code, 1);
  assert.match(train.stderr, /no manifest\.json.*not a finished svc dataset.*run the same `svc preprocess` command again/s);
  const input = join(temp.dir, 'in');
  const r = await runSvc(['preprocess', input, '--out', out, '--f0', 'dsp', '--config', 'tiny', '--encoder', 'tiny']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /\(done before\)/);
  const redone = r.stderr.split('\n').filter((l) => /clip\(s\)$/.test(l));
  assert.is(redone.length, 1, `only the file with the lost clip is processed again:\n${r.stderr}`);
  assert.ok(existsSync(join(out, 'clips', `${victim.id}.wav`)));
  const after = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as DatasetManifest;
  assert.equal(after.clips, before.clips);
  // Other settings on the same folder are refused instead of mixing features.
  const other = await runSvc(['preprocess', input, '--out', out, '--f0', 'swift', '--config', 'tiny', '--encoder', 'tiny']);
  assert.is(other.code, 1);
  assert.match(other.stderr, /was started with other settings: f0_method \("dsp" → "swift"\)/);
});

test('preprocess killed with SIGKILL mid-run: the rerun keeps finished files and ends with the same dataset', async () => {
  const input = join(temp.dir, 'kill-in');
  mkdirSync(input);
  for (let n = 1; n <= 8; n++) symlinkSync(kathleen(n), join(input, `a${n}.wav`));
  const out = join(temp.dir, 'kill-ds');
  const args = ['preprocess', input, '--out', out, '--speaker', 'k', '--f0', 'dsp', '--config', 'tiny', '--encoder', 'tiny'];
  const killed = await new Promise<string>((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src', 'cli', 'main.ts'), ...args], { cwd: repoRoot, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
      if (/\[3\/8\]/.test(stderr)) process.kill(-child.pid!, 'SIGKILL');
    });
    child.on('error', reject);
    child.on('close', () => resolvePromise(stderr));
  });
  assert.match(killed, /\[3\/8\]/);
  assert.not.ok(existsSync(join(out, 'manifest.json')), 'a killed run leaves no manifest');
  const rerun = await runSvc(args);
  assert.is(rerun.code, 0, rerun.stderr);
  const reused = rerun.stderr.split('\n').filter((l) => l.includes('(done before)')).length;
  assert.ok(reused >= 3, `${reused} files reused:\n${rerun.stderr}`);
  const clean = await runSvc([...args.slice(0, 3), join(temp.dir, 'kill-ds-clean'), ...args.slice(4)]);
  assert.is(clean.code, 0, clean.stderr);
  const a = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as DatasetManifest;
  const b = JSON.parse(readFileSync(join(temp.dir, 'kill-ds-clean', 'manifest.json'), 'utf8')) as DatasetManifest;
  assert.equal(a.clips, b.clips);
  for (const clip of a.clips) {
    assert.equal(readFileSync(join(out, 'clips', `${clip.id}.f0.npy`)), readFileSync(join(temp.dir, 'kill-ds-clean', 'clips', `${clip.id}.f0.npy`)), clip.id);
  }
});

test('bad input: empty folder, no audio, all files unreadable, missing folder', async () => {
  const empty = join(temp.dir, 'empty');
  mkdirSync(empty);
  let r = await runSvc(['preprocess', empty, '--out', join(temp.dir, 'x1')]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /input folder .*empty is empty/);
  const noAudio = join(temp.dir, 'noaudio');
  mkdirSync(noAudio);
  writeFileSync(join(noAudio, 'a.mp3'), 'ID3....');
  writeFileSync(join(noAudio, 'b.txt'), 'text');
  r = await runSvc(['preprocess', noAudio, '--out', join(temp.dir, 'x2')]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /2 file\(s\) but no audio svc reads \(found \.mp3, \.txt; expected \.wav, \.flac\)/);
  const broken = join(temp.dir, 'broken');
  mkdirSync(broken);
  writeFileSync(join(broken, 'a.wav'), '');
  writeFileSync(join(broken, 'b.flac'), 'fLaC garbage');
  r = await runSvc(['preprocess', broken, '--out', join(temp.dir, 'x3'), '--f0', 'dsp']);
  assert.is(r.code, 1);
  assert.match(r.stderr, /no usable clips .*unreadable/);
  assert.not.ok(existsSync(join(temp.dir, 'x3', 'manifest.json')), 'no manifest for a failed dataset');
  r = await runSvc(['preprocess', join(temp.dir, 'nope'), '--out', join(temp.dir, 'x4')]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /input folder not found/);
  r = await runSvc(['preprocess', empty, '--out', join(temp.dir, 'x5'), '--config', 'standard', '--encoder', 'tiny']);
  assert.is(r.code, 1);
});

test('a dataset made for another model is refused by train, naming the cause', async () => {
  const out = join(temp.dir, 'ds');
  const r = await runSvc(['train', out, '--out', join(temp.dir, 'run-std'), '--config', 'standard', '--steps', '1']);
  assert.is(r.code, 1);
  assert.match(r.stderr, /made for another model than config standard: sampling rate 16000 Hz vs 44100 Hz; hop 320 vs 512 samples; content encoder .* 256-d rows vs ssl_dim 768/);
  assert.not.ok(existsSync(join(temp.dir, 'run-std')), 'nothing written');
  // --encoder tiny with a 768-d config is caught before any audio is read.
  const enc = await runSvc(['preprocess', join(temp.dir, 'in'), '--out', join(temp.dir, 'x6'), '--config', 'standard', '--encoder', 'tiny']);
  assert.is(enc.code, 1);
  assert.match(enc.stderr, /--encoder tiny gives 256-d rows but the config takes 768-d/);
  // Resuming a run on a dataset whose units come from another encoder (same width) is refused.
  const otherRun = join(temp.dir, 'run-other-encoder');
  mkdirSync(otherRun);
  writeFileSync(join(otherRun, 'run.json'), JSON.stringify({ dataset: '/elsewhere', encoder: { name: 'contentvec', dim: 256, sha256: 'f'.repeat(64) } }));
  const resumed = await runSvc(['train', out, '--out', otherRun, '--resume', '--steps', '1']);
  assert.is(resumed.code, 1);
  assert.match(resumed.stderr, /the run in .* was trained on content units of encoder contentvec \(sha256 ffffffffffff\), this dataset on tiny_conv/);
  const exp = await runSvc(['export', join(temp.dir, 'nothing-here'), '--out', join(temp.dir, 'm')]);
  assert.is(exp.code, 1);
  assert.match(exp.stderr, /run folder not found/);
});

test('a dataset whose features an older svc made (no features.feed, or another feed) is refused by train, with the fix', async () => {
  const manifest = JSON.parse(readFileSync(join(temp.dir, 'ds', 'manifest.json'), 'utf8')) as DatasetManifest;
  assert.ok(manifest.features?.feed, 'preprocess records the feed its features came from');
  for (const [name, features] of [['old-none', undefined], ['old-q10', { feed: 'speex-q10-16k' }]] as const) {
    const dir = join(temp.dir, name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...manifest, features }));
    writeFileSync(join(dir, 'encoder.onnx'), readFileSync(join(temp.dir, 'ds', 'encoder.onnx')));
    const r = await runSvc(['train', dir, '--out', join(temp.dir, `run-${name}`), '--config', 'tiny', '--steps', '1']);
    assert.is(r.code, 1);
    assert.match(r.stderr, /preprocessed by an older svc/);
    assert.match(r.stderr, features ? /speex-q10-16k/ : /speex quality 10/);
    assert.match(r.stderr, /--overwrite/);
    assert.not.ok(existsSync(join(temp.dir, `run-${name}`)), 'nothing written');
  }
});

test('--base: a missing path, a base for another encoder and a base of another architecture are refused before training', async () => {
  const out = join(temp.dir, 'ds');
  const missing = await runSvc(['train', out, '--out', join(temp.dir, 'run-b1'), '--steps', '1', '--base', join(temp.dir, 'no-such-base')]);
  assert.is(missing.code, 1);
  assert.match(missing.stderr, /--base .*no-such-base: no such file or folder/);
  // A base whose base.json names another content encoder than the dataset's.
  const otherEncoder = join(temp.dir, 'base-other-encoder');
  mkdirSync(otherEncoder);
  writeFileSync(join(otherEncoder, 'G_0.pth'), '');
  writeFileSync(join(otherEncoder, 'base.json'), JSON.stringify({ trained_on: 'elsewhere', encoder: { name: 'contentvec', dim: 256, sha256: 'e'.repeat(64) } }));
  const enc = await runSvc(['train', out, '--out', join(temp.dir, 'run-b2'), '--steps', '1', '--base', otherEncoder]);
  assert.is(enc.code, 1);
  assert.match(enc.stderr, /--base .* was trained on content units of encoder contentvec \(sha256 eeeeeeeeeeee\), this dataset on tiny_conv/);
  // A G_0.pth of another architecture (one tensor that the tiny generator does not have).
  const otherArch = join(temp.dir, 'base-other-arch');
  mkdirSync(otherArch);
  const made = spawnSync('/usr/bin/python3', ['-c', `import torch; torch.save({"model": {"pre.weight": torch.zeros(3, 3, 7)}}, "${join(otherArch, 'G_0.pth')}")`]);
  assert.is(made.status, 0, String(made.stderr));
  const arch = await runSvc(['train', out, '--out', join(temp.dir, 'run-b3'), '--steps', '1', '--base', otherArch]);
  assert.is(arch.code, 1);
  assert.match(arch.stderr, /the generator was trained with another architecture than this config \(\d+ tensor\(s\) differ, e\.g\. pre\.weight \(3, 3, 7\) vs/);
  assert.not.ok(existsSync(join(temp.dir, 'run-b3', 'G_1.pth')), 'no checkpoint written');
});

test.after(() => temp.cleanup());
test.run();
