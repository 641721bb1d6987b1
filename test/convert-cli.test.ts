// `svc convert` as a user runs it: the written file plays (readable WAV, right rate, channels and
// length, pitch actually changed), --rate/--format work, stereo and FLAC inputs are accepted, and
// bad input gives one `svc:` line naming the problem, a non-zero exit and no output file.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { readAudio, readMono } from '../src/audio/io.js';
import { makeTempDir, runSvc, shared } from './helpers/index.js';
import { measurePitchChange } from './helpers/voice-metrics.js';

const tmp = makeTempDir('svc-convert-');
test.after(() => tmp.cleanup());

const SPEECH_16K = shared('speech', 'vctk_autovc_16k', 'p225', 'p225_003.wav');
const STEREO_48K = shared('speech', 'kathleen_arctic_cc0_48k', 'arctic_a0003.wav');
const FLAC_16K = shared('speech', 'misc', 'jfk.flac');

function wavFormatTag(path: string): number {
  const bytes = readFileSync(path);
  assert.is(bytes.toString('ascii', 0, 4), 'RIFF');
  assert.is(bytes.toString('ascii', 8, 12), 'WAVE');
  // First chunk after the header is fmt in what svc writes.
  assert.is(bytes.toString('ascii', 12, 16), 'fmt ');
  return bytes.readUInt16LE(20);
}

test('convert --pitch 5 --formant 1.1: a mono WAV at the input rate, same length, pitch +5 st', async () => {
  const out = join(tmp.dir, 'up.wav');
  const r = await runSvc(['convert', SPEECH_16K, out, '--pitch', '5', '--formant', '1.1']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /wrote .*up\.wav/);
  const input = await readMono(SPEECH_16K);
  const written = await readAudio(out);
  assert.is(written.sampleRate, 16000);
  assert.is(written.channels.length, 1);
  assert.is(written.channels[0].length, input.samples.length);
  assert.is(wavFormatTag(out), 1, 'pcm16 by default');
  const change = await measurePitchChange(input.samples, written.channels[0], 16000, 5);
  assert.ok(Math.abs(change.medianErrorCents) <= 20, `pitch +5 st (median error ${change.medianErrorCents.toFixed(1)} cents)`);
});

test('convert negative pitch, stereo 48 kHz input, --rate 16000 --format float32', async () => {
  const out = join(tmp.dir, 'down.wav');
  const r = await runSvc(['convert', STEREO_48K, out, '--pitch', '-5', '--formant', '0.9', '--rate', '16000', '--format', 'float32']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /2 channels mixed to mono/);
  const input = await readAudio(STEREO_48K);
  assert.is(input.channels.length, 2, 'the fixture is stereo');
  const written = await readAudio(out);
  assert.is(written.sampleRate, 16000);
  assert.is(written.channels.length, 1);
  assert.is(written.channels[0].length, Math.round((input.channels[0].length * 16000) / 48000));
  assert.is(wavFormatTag(out), 3, 'IEEE float');
  let peak = 0;
  for (const v of written.channels[0]) peak = Math.max(peak, Math.abs(v));
  assert.ok(peak > 0.01 && peak <= 1, `audible, unclipped (peak ${peak})`);
});

test('convert reads FLAC and keeps its rate; defaults change nothing in length or rate', async () => {
  const out = join(tmp.dir, 'jfk.wav');
  const r = await runSvc(['convert', FLAC_16K, out]);
  assert.is(r.code, 0, r.stderr);
  const input = await readAudio(FLAC_16K);
  const written = await readAudio(out);
  assert.is(written.sampleRate, input.sampleRate);
  assert.is(written.channels[0].length, input.channels[0].length);
});

test('bad input: one svc: line naming the problem, exit 1, no output written', async () => {
  const notAudio = join(tmp.dir, 'notes.wav');
  writeFileSync(notAudio, 'this is not a wav file at all, just text');
  const empty = join(tmp.dir, 'empty.wav');
  writeFileSync(empty, '');
  const folder = join(tmp.dir, 'a-folder');
  mkdirSync(folder);
  const cases: Array<{ args: string[]; mention: RegExp }> = [
    { args: ['convert', join(tmp.dir, 'missing.wav'), 'OUT'], mention: /missing\.wav/ },
    { args: ['convert', notAudio, 'OUT'], mention: /notes\.wav/ },
    { args: ['convert', empty, 'OUT'], mention: /empty\.wav/ },
    { args: ['convert', SPEECH_16K, 'OUT', '--pitch', '30'], mention: /--pitch.*-24 to \+24.*30/ },
    { args: ['convert', SPEECH_16K, 'OUT', '--pitch', 'up'], mention: /--pitch.*"up"/ },
    { args: ['convert', SPEECH_16K, 'OUT', '--formant', '3'], mention: /--formant.*0\.5 to 2/ },
    { args: ['convert', SPEECH_16K, 'OUT', '--rate', '12345'], mention: /--rate.*12345/ },
    { args: ['convert', SPEECH_16K, 'OUT', '--format', 'mp3'], mention: /--format.*mp3/ },
    { args: ['convert', SPEECH_16K, folder], mention: /a-folder.*directory/ },
    { args: ['convert', SPEECH_16K, join(tmp.dir, 'no-such-dir', 'x.wav')], mention: /no-such-dir/ },
    { args: ['convert', SPEECH_16K, SPEECH_16K], mention: /input/ },
  ];
  for (const { args, mention } of cases) {
    const outName = `out-${Math.random().toString(36).slice(2)}.wav`;
    const full = args.map((a) => (a === 'OUT' ? join(tmp.dir, outName) : a));
    const r = await runSvc(full);
    const shown = `${args.slice(1).join(' ')} -> ${r.code} ${r.stderr.trim()}`;
    assert.is(r.code, 1, shown);
    const lines = r.stderr.trim().split('\n');
    assert.is(lines.length, 1, `one line: ${shown}`);
    assert.match(lines[0], /^svc: /, shown);
    assert.match(lines[0], mention, shown);
    assert.not.ok(existsSync(join(tmp.dir, outName)), `no output written: ${shown}`);
  }
  // No temp files left behind by the atomic writer either.
  assert.equal(readdirSync(tmp.dir).filter((f) => f.includes('.tmp-')), []);
});

test('convert --help documents every option with range and default', async () => {
  const r = await runSvc(['convert', '--help']);
  assert.is(r.code, 0);
  for (const needle of ['--pitch', '-24..+24', '--formant', '0.5..2', '--format', 'pcm16', 'float32', '--rate', "input's rate", 'mono']) {
    assert.ok(r.stdout.includes(needle), `help mentions ${needle}`);
  }
});

test.run();
