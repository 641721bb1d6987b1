// `svc say`: eSpeak NG speech through the built-in DSP voice lands where the voice puts it (the
// median f0 of the output is the raw synthesis moved by --pitch), the words still take speech-like
// time at the asked rate, the --png plot decodes, and bad input (empty text, both text and file,
// unknown voice, unknown eSpeak voice, --speaker without a model) fails with one line and no file.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadImage } from '@napi-rs/canvas';
import { readMono } from '../src/audio/io.js';
import { estimateF0 } from '../src/dsp/f0/index.js';
import { synthesizeEspeak } from '../src/tts/espeak.js';
import { makeTempDir, runSvc } from './helpers/index.js';

const temp = makeTempDir('svc-say-');
test.after(() => temp.cleanup());
const TEXT = 'Hello everyone, and welcome back to the stream. Today we are building a voice from scratch.';

async function medianF0(samples: Float32Array, sampleRate: number): Promise<number> {
  const track = await estimateF0(samples, sampleRate, { method: 'dsp', hopSamples: Math.round(sampleRate / 100) });
  const voiced = [...track.f0Hz].filter((f, i) => track.voiced[i] && f > 0).sort((a, b) => a - b);
  assert.ok(voiced.length > 50, `only ${voiced.length} voiced frames`);
  return voiced[Math.floor(voiced.length / 2)]!;
}

test('svc say: DSP voice moves eSpeak\'s pitch by --pitch; --png draws the result', async () => {
  const out = join(temp.dir, 'hello.wav');
  const png = join(temp.dir, 'hello.png');
  const r = await runSvc(['say', TEXT, '--out', out, '--pitch', '7', '--png', png]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /built-in DSP voice, pitch \+7 semitones/);
  const said = await readMono(out);
  const raw = await synthesizeEspeak(TEXT);
  assert.is(said.sampleRate, raw.sampleRate);
  // Same words, same timing: the DSP voice keeps the duration.
  assert.ok(Math.abs(said.samples.length - raw.samples.length) < raw.sampleRate * 0.05);
  const seconds = said.samples.length / said.sampleRate;
  // 16 words at 165 wpm ≈ 5.8 s plus pauses.
  assert.ok(seconds > 4 && seconds < 9, `${seconds} s`);
  const shift = 12 * Math.log2((await medianF0(said.samples, said.sampleRate)) / (await medianF0(raw.samples, raw.sampleRate)));
  assert.ok(Math.abs(shift - 7) < 1, `median f0 moved by ${shift.toFixed(2)} semitones, expected 7`);
  const image = await loadImage(readFileSync(png));
  assert.is(image.width, 1200);
  assert.is(image.height, 720);
});

test('svc say --text-file and --rate: a faster rate gives shorter speech', async () => {
  const textFile = join(temp.dir, 'script.txt');
  writeFileSync(textFile, `${TEXT}\n`);
  const slow = join(temp.dir, 'slow.wav');
  const fast = join(temp.dir, 'fast.wav');
  assert.is((await runSvc(['say', '--text-file', textFile, '--out', slow, '--rate', '120'])).code, 0);
  assert.is((await runSvc(['say', '--text-file', textFile, '--out', fast, '--rate', '300'])).code, 0);
  const a = await readMono(slow);
  const b = await readMono(fast);
  const ratio = a.samples.length / b.samples.length;
  assert.ok(ratio > 1.6, `120 wpm vs 300 wpm: duration ratio ${ratio.toFixed(2)}`);
});

test('bad input: one line, exit 1, no file', async () => {
  const out = join(temp.dir, 'bad.wav');
  const cases: Array<[string[], RegExp]> = [
    [['say', '   ', '--out', out], /the text to speak is empty/],
    [['say', 'hi', '--text-file', join(temp.dir, 'script.txt'), '--out', out], /either as an argument or with --text-file/],
    [['say', '--out', out], /nothing to say/],
    [['say', 'hi', '--voice', 'no-such-model', '--out', out], /no model named 'no-such-model'/],
    [['say', 'hi', '--tts-voice', 'xx-nothing', '--out', out], /eSpeak NG failed: .*voice does not exist/],
    [['say', 'hi', '--speaker', 'alice', '--out', out], /--speaker needs --voice MODEL/],
    [['say', 'hi', '--target-f0', '200', '--out', out], /--target-f0 needs --voice MODEL/],
    [['say', 'hi', '--target-f0', '20', '--voice', 'no-such-model', '--out', out], /--target-f0 must be a number from 50 to 1100/],
    [['say', 'hi', '--rate', '10', '--out', out], /--rate must be a number from 80 to 450/],
    [['say', 'x'.repeat(10_001), '--out', out], /at most 10000 are spoken/],
  ];
  for (const [args, pattern] of cases) {
    const r = await runSvc(args);
    assert.is(r.code, 1, `${args.join(' ').slice(0, 60)}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.not.ok(existsSync(out));
  }
});

test('missing eSpeak NG: a clear error naming the package', async () => {
  const r = await runSvc(['say', 'hello', '--out', join(temp.dir, 'x.wav')], { env: { SVC_ESPEAK: 'espeak-ng-not-installed' } });
  assert.is(r.code, 1);
  assert.match(r.stderr, /needs the eSpeak NG program .*apt-get install espeak-ng/);
});

test.run();
