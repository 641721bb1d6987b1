// The web page's Say box, in headless Chromium against a real server on port 0: with a silent fake
// microphone, typing text and pressing Say makes the server speak it into the session (the status line
// follows the say's progress), and what the page plays back is speech: voiced, at eSpeak's pitch moved
// by the page's pitch setting.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { writeWav } from '../src/audio/io.js';
import { startServer, type SvcServer } from '../src/server/server.js';
import { synthesizeEspeak } from '../src/tts/espeak.js';
import { launchChromiumWithMic, pageStats, waitForStats } from './helpers/browser.js';
import { makeTempDir } from './helpers/index.js';
import { medianF0, semitonesBetween } from './helpers/pitch.js';

const TEXT = 'Hello chat, thanks for the follow. This is my typed voice.';
const temp = makeTempDir('svc-web-say-');
let server: SvcServer;
let browser: BrowserContext;
let page: Page;

interface PageStats {
  state: string;
  sampleRate: number;
  receivedSamples: number;
  errors: string[];
}

test.before(async () => {
  const micWav = join(temp.dir, 'silence.wav');
  await writeWav(micWav, { sampleRate: 48000, samples: new Float32Array(48000 * 2) }, { format: 'pcm16' });
  server = await startServer({ host: '127.0.0.1', port: 0, maxQueueMs: 3000 });
  browser = await launchChromiumWithMic(temp.dir, micWav);
  page = browser.pages()[0] ?? (await browser.newPage());
});

test.after(async () => {
  await browser?.close();
  await server?.close();
  temp.cleanup();
});

test('typed text is spoken into the session and played back at the page\'s pitch', async () => {
  await page.goto(`${server.url}/?debug=1&pitch=4`);
  assert.ok(await page.isDisabled('#say-send'), 'Say is disabled before connecting');
  await page.click('#connect');
  await waitForStats<PageStats>(page, (s) => s.state === 'live' || s.errors.length > 0, 'the page to go live');
  await page.fill('#say-text', TEXT);
  await page.click('#say-send');
  await page.waitForFunction(() => /Say 1: done/.test(document.getElementById('say-status')?.textContent ?? ''), null, { timeout: 60_000 });
  assert.is(await page.inputValue('#say-text'), '', 'the box is cleared after sending');
  // The tail (one block + the voice's delay) and the page's jitter buffer.
  await new Promise((r) => setTimeout(r, 800));
  const audio = await page.evaluate(() => (window as unknown as { svcDebug: { receivedAudio(): { sampleRate: number; base64: string } } }).svcDebug.receivedAudio());
  const bytes = Buffer.from(audio.base64, 'base64');
  const received = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const back = medianF0(received, audio.sampleRate);
  assert.ok(back.frames > 50, `voiced frames played back: ${back.frames}`);
  const raw = await synthesizeEspeak(TEXT);
  const shift = semitonesBetween(medianF0(raw.samples, raw.sampleRate).hz, back.hz);
  assert.ok(Math.abs(shift - 4) < 1, `played back ${back.hz.toFixed(1)} Hz, ${shift.toFixed(2)} semitones from eSpeak's, asked 4`);
  assert.is((await pageStats<PageStats>(page)).errors.length, 0);
});

test.run();
