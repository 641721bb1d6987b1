// `svc serve` and `svc stream` as a user runs them: real processes, real files.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { readAudio } from '../src/audio/io.js';
import { makeTempDir, repoRoot, runSvc, shared } from './helpers/index.js';
import { bestLag, envelope, medianPitchRatio } from './stream-utils.js';

const SPEECH_48K_STEREO = shared('speech', 'kathleen_arctic_cc0_48k', 'arctic_a0001.wav');
const SPEECH_16K = shared('speech', 'vctk_autovc_16k', 'p225', 'p225_003.wav');

interface ServeProcess {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function startServe(args: string[] = []): Promise<ServeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src', 'cli', 'main.ts'), 'serve', '--port', '0', ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`svc serve printed no URL in 20 s: ${stdout} ${stderr}`)), 20_000);
    child.stderr!.on('data', (d) => (stderr += d));
    child.stdout!.on('data', (d) => {
      stdout += d;
      const m = /listening on (http:\/\/\S+) \(voice: built-in DSP\)/.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1], stdout: () => stdout, stderr: () => stderr, exited });
      }
    });
    void exited.then((code) => reject(new Error(`svc serve exited (${code}): ${stderr}`)));
  });
}

test('svc stream round-trips a stereo file: same rate, channels and length, aligned with the input (pitch 0)', async () => {
  const serve = await startServe();
  const { dir, cleanup } = makeTempDir();
  try {
    const out = join(dir, 'out.wav');
    const r = await runSvc(['stream', '--url', serve.url, '--in', SPEECH_48K_STEREO, '--out', out, '--pitch', '0']);
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stderr, /algorithmic latency [\d.]+ ms/);
    const input = await readAudio(SPEECH_48K_STEREO);
    const output = await readAudio(out);
    assert.is(output.sampleRate, input.sampleRate);
    assert.is(output.channels.length, 2);
    assert.is(output.channels[0].length, input.channels[0].length);
    // Alignment: the envelopes line up within 1 ms (the voice's own waveform is not an identity).
    const { lag, correlation } = bestLag(envelope(input.channels[0]), envelope(output.channels[0]), 480);
    assert.ok(Math.abs(lag) <= 48, `output lags input by ${lag} samples`);
    assert.ok(correlation > 0.9, `envelope correlation ${correlation.toFixed(3)}`);
  } finally {
    serve.child.kill('SIGTERM');
    await serve.exited;
    cleanup();
  }
});

test('svc stream --pitch 12 with 16-bit frames on the wire: an octave up, same length', async () => {
  const serve = await startServe(['--token', 'abc']);
  const { dir, cleanup } = makeTempDir();
  try {
    const out = join(dir, 'octave.wav');
    const denied = await runSvc(['stream', '--url', serve.url, '--in', SPEECH_16K, '--out', out]);
    assert.is(denied.code, 1);
    assert.match(denied.stderr, /svc: .*UNAUTHORIZED.*--token/);
    const r = await runSvc(['stream', '--url', serve.url.replace('http://', 'ws://') + '/ws', '--token', 'abc', '--in', SPEECH_16K, '--out', out, '--pitch', '12', '--format', 's16', '--block-ms', '50', '--quiet']);
    assert.is(r.code, 0, r.stderr);
    const input = (await readAudio(SPEECH_16K)).channels[0];
    const output = await readAudio(out);
    assert.is(output.sampleRate, 16000);
    assert.is(output.channels[0].length, input.length);
    const { ratio, frames } = await medianPitchRatio(input, output.channels[0], 16000);
    assert.ok(frames > 30, `voiced frames ${frames}`);
    assert.ok(Math.abs(ratio / 2 - 1) < 0.03, `pitch ratio ${ratio.toFixed(3)}`);
  } finally {
    serve.child.kill('SIGINT');
    assert.is(await serve.exited, 0);
    assert.match(serve.stderr(), /SIGINT: closing sessions/);
  }
  cleanup();
});

test('svc serve and svc stream explain user errors', async () => {
  const serve = await startServe();
  try {
    const port = new URL(serve.url).port;
    const busy = await runSvc(['serve', '--port', port]);
    assert.is(busy.code, 1);
    assert.match(busy.stderr, /port \d+ .*already in use/);
    const noInput = await runSvc(['stream', '--url', serve.url, '--out', '/tmp/x.wav']);
    assert.is(noInput.code, 1);
    assert.match(noInput.stderr, /exactly one input/);
    const badPitch = await runSvc(['stream', '--url', serve.url, '--in', SPEECH_16K, '--out', '/tmp/x.wav', '--pitch', '40']);
    assert.not.equal(badPitch.code, 0);
    assert.match(badPitch.stderr, /--pitch must be a number from -24 to 24/);
    const missing = await runSvc(['stream', '--url', serve.url, '--in', '/nonexistent.wav', '--out', '/tmp/x.wav']);
    assert.is(missing.code, 1);
    assert.match(missing.stderr, /not found/);
  } finally {
    serve.child.kill('SIGTERM');
    assert.is(await serve.exited, 0);
  }
  const nobody = await runSvc(['stream', '--url', serve.url, '--in', SPEECH_16K, '--out', '/tmp/x.wav']);
  assert.is(nobody.code, 1);
  assert.match(nobody.stderr, /cannot connect .*svc serve/);
});

test.run();
