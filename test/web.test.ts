// The browser client end to end: the real server on port 0, headless Chromium (Debian's) with a real
// speech WAV as its fake microphone. The page must stream the microphone to the server, play back
// the converted voice (pitch +5 asked → about 5 semitones higher comes back), follow voice changes,
// show server errors, and the OBS page must hear the same session as a listener.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { readMono, writeWav } from '../src/audio/io.js';
import { startServer, type SvcServer } from '../src/server/server.js';
import { launchChromiumWithMic, pageStats, waitForStats } from './helpers/browser.js';
import { makeTempDir, shared } from './helpers/index.js';
import { medianF0, semitonesBetween } from './helpers/pitch.js';

const TOKEN = 'web-test-token';
const SCREENSHOT = '/tmp/svc-web-client.png';
const temp = makeTempDir('svc-web-');
const micWav = join(temp.dir, 'mic.wav');
let micF0Hz = 0;
let server: SvcServer;
let browser: BrowserContext;
let page: Page;
let sessionId = '';

interface PageStats {
  state: string;
  sessionId: string | null;
  sampleRate: number;
  sentSamples: number;
  receivedSamples: number;
  outputRms: number;
  underruns: number;
  voice: { pitch: number; formant: number };
  latency: { totalMs: number; rttMs: number | null; algorithmicMs: number | null; outputMs: number | null } | null;
  errors: string[];
}

const stats = (p: Page): Promise<PageStats> => pageStats<PageStats>(p);
const waitFor = (p: Page, predicate: (s: PageStats) => boolean, what: string, timeoutMs?: number): Promise<PageStats> =>
  waitForStats<PageStats>(p, predicate, what, timeoutMs);

function inputSecondsFromMetrics(text: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^svc_session_input_seconds_total\{[^}]*\} ([0-9.eE+-]+)$/.exec(line);
    if (m) total += Number(m[1]);
  }
  return total;
}

test.before(async () => {
  // Chromium's fake microphone wants 16-bit PCM WAV: write real speech (mono 48 kHz) that way.
  const speech = await readMono(shared('speech', 'kathleen_arctic_cc0_48k', 'arctic_a0001.wav'));
  await writeWav(micWav, speech, { format: 'pcm16' });
  micF0Hz = medianF0(speech.samples, speech.sampleRate).hz;
  // A generous queue: this shared 2-core machine may stall the page or the server for a moment, and the
  // default policy then silences blocks (the policy is tested in no-leak.test.ts).
  server = await startServer({ host: '127.0.0.1', port: 0, token: TOKEN, maxQueueMs: 3000 });
  browser = await launchChromiumWithMic(temp.dir, micWav);
  page = browser.pages()[0] ?? (await browser.newPage());
  page.on('pageerror', (error) => console.error('page error:', error.message));
});

test.after(async () => {
  await browser?.close();
  await server?.close();
  temp.cleanup();
});

test('the page streams the fake microphone and plays back converted audio', async () => {
  await page.goto(`${server.url}/?debug=1&pitch=5&token=${TOKEN}`);
  await page.click('#connect');
  const live = await waitFor(page, (s) => s.state === 'live' || s.errors.length > 0, 'the page to go live');
  assert.is(live.errors.length, 0, `no errors: ${live.errors.join('; ')}`);
  assert.ok(live.sessionId, 'a session id is shown');
  sessionId = live.sessionId!;
  assert.is(await page.textContent('#session-id'), sessionId);

  // ~4 s of converted audio back (the fake microphone loops its 3 s file).
  const s = await waitFor(page, (x) => x.receivedSamples > 4 * x.sampleRate, 'four seconds of converted audio', 60_000);
  assert.ok(s.sentSamples > 4 * s.sampleRate, `page sent ${s.sentSamples} samples`);
  assert.ok(s.outputRms > 0.005, `received audio is not silent (RMS ${s.outputRms})`);
  assert.is(s.voice.pitch, 5, 'server confirmed pitch +5');

  // The server really got it: /metrics counts the session's input seconds.
  const metrics = await (await fetch(`${server.url}/metrics?token=${TOKEN}`)).text(); // /metrics needs the token when the server has one
  assert.ok(inputSecondsFromMetrics(metrics) > 2, `server input seconds: ${inputSecondsFromMetrics(metrics)}`);

  // Latency parts are shown and add up to something plausible for a local server.
  const latency = s.latency!;
  assert.ok(latency.rttMs !== null && latency.rttMs >= 0, 'round trip measured');
  assert.ok(latency.algorithmicMs !== null && latency.algorithmicMs > 0, 'server algorithmic delay shown');
  assert.ok(latency.totalMs >= 20, `total latency ${latency.totalMs} ms includes at least the 20 ms block`);
  assert.match((await page.textContent('#latency-total')) ?? '', /≈ \d+ ms/);
});

test('what comes back is about 5 semitones above the microphone', async () => {
  const audio = await page.evaluate(() => (window as unknown as { svcDebug: { receivedAudio(): { sampleRate: number; base64: string } } }).svcDebug.receivedAudio());
  const bytes = Buffer.from(audio.base64, 'base64');
  const received = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  assert.ok(received.length > 3 * audio.sampleRate, `kept ${received.length} samples`);
  const back = medianF0(received, audio.sampleRate);
  assert.ok(back.frames > 30, `voiced frames in returned audio: ${back.frames}`);
  const shift = semitonesBetween(micF0Hz, back.hz);
  assert.ok(Math.abs(shift - 5) < 0.7, `returned pitch ${back.hz.toFixed(1)} Hz vs microphone ${micF0Hz.toFixed(1)} Hz = ${shift.toFixed(2)} semitones, asked 5`);
});

test('moving the pitch slider changes the voice on the server', async () => {
  await page.evaluate(() => {
    const slider = document.getElementById('pitch') as HTMLInputElement;
    slider.value = '-3';
    slider.dispatchEvent(new Event('input', { bubbles: true }));
  });
  const s = await waitFor(page, (x) => x.voice.pitch === -3, 'the server to confirm pitch -3', 10_000);
  assert.is(s.voice.pitch, -3);
  assert.is(await page.textContent('#pitch-value'), '-3 st');
});

test('the OBS page listens to the same session', async () => {
  const obsUrl = await page.inputValue('#obs-url');
  assert.match(obsUrl, new RegExp(`/obs\\?session=${sessionId}&token=${TOKEN}$`));
  const obs = await browser.newPage();
  try {
    await obs.goto(obsUrl);
    const s = await waitFor(obs, (x) => x.receivedSamples > 1 * x.sampleRate, 'the OBS page to receive a second of audio', 30_000);
    assert.is(s.state, 'live');
    assert.ok(s.outputRms > 0.005, `OBS page hears the voice (RMS ${s.outputRms})`);
    // No UI chrome: only the tiny status line.
    assert.is(await obs.locator('button:visible, input, select').count(), 0);
  } finally {
    await obs.close();
  }
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  assert.ok(existsSync(SCREENSHOT));
});

test('disconnect stops streaming and a wrong token shows the server error', async () => {
  await page.click('#disconnect');
  await waitFor(page, (x) => x.state === 'idle', 'the page to disconnect');
  await page.fill('#token', 'not-the-token');
  await page.click('#connect');
  const s = await waitFor(page, (x) => x.errors.length > 0, 'an error to be shown');
  assert.match(s.errors.join('\n'), /UNAUTHORIZED|401|token/i);
  assert.ok(await page.isVisible('#error'), 'the error banner is visible');
  assert.is((await stats(page)).state, 'error');
});

test.run();
