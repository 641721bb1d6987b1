// Page fixes for live neural use, each through a real headless Chromium against the real server:
// the OBS page in an ordinary tab (audio needs a click) shows its start button instead of hanging on
// "starting…", and the main page's jitter buffer holds a whole block on top of its target (200 ms
// blocks, the README's advice for neural voices, used to lose the start of every block).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { readMono, writeWav } from '../src/audio/io.js';
import { startServer, type SvcServer } from '../src/server/server.js';
import { launchChromiumWithMic, pageStats, waitForStats } from './helpers/browser.js';
import { makeTempDir, shared } from './helpers/index.js';

const temp = makeTempDir('svc-web-live-');
const micWav = join(temp.dir, 'mic.wav');
let server: SvcServer;
let browser: BrowserContext;
let gestureBrowser: BrowserContext;

interface PageStats {
  state: string;
  sampleRate: number;
  receivedSamples: number;
  droppedSamples: number;
  jitter: { targetMs: number; maxMs: number; blockMs: number; capacityMs?: number } | null;
}

test.before(async () => {
  const speech = await readMono(shared('speech', 'kathleen_arctic_cc0_48k', 'arctic_a0001.wav'));
  await writeWav(micWav, speech, { format: 'pcm16' });
  server = await startServer({ host: '127.0.0.1', port: 0 });
  browser = await launchChromiumWithMic(temp.dir, micWav);
  // An ordinary tab: no autoplay without a user gesture.
  gestureBrowser = await launchChromiumWithMic(temp.dir, micWav, undefined, { autoplayWithoutGesture: false, profileName: 'profile-gesture' });
});

test.after(async () => {
  await browser?.close();
  await gestureBrowser?.close();
  await server?.close();
  temp.cleanup();
});

test('the OBS page in an ordinary tab shows "Click to start audio" and starts on the click', async () => {
  const page = gestureBrowser.pages()[0] ?? (await gestureBrowser.newPage());
  await page.goto(`${server.url}/obs?session=0000000000000000`);
  // Before the fix the page waited for AudioContext.resume(), which never settles without a gesture.
  await page.locator('#start').waitFor({ state: 'visible', timeout: 20_000 });
  assert.is((await pageStats<PageStats>(page)).state, 'starting');
  await page.locator('#start').click();
  // Then it connects: that session does not exist, so it waits for it (and retries).
  const s = await waitForStats<PageStats & { errors: string[] }>(page, (x) => x.state !== 'starting', 'the OBS page to start after the click', 20_000);
  assert.ok(['connecting', 'error', 'live'].includes(s.state), s.state);
  await waitForStats<PageStats & { errors: string[] }>(page, (x) => x.errors.some((e) => /UNKNOWN_SESSION/.test(e)), 'the page to ask for the session', 20_000);
  assert.not.ok(await page.locator('#start').isVisible(), 'the button goes away');
});

test('with 200 ms blocks the jitter buffer holds a whole block on top of its target', async () => {
  const page = browser.pages()[0] ?? (await browser.newPage());
  await page.goto(`${server.url}/?blockMs=200&autoconnect`);
  const s = await waitForStats<PageStats>(page, (x) => x.receivedSamples > 1 * x.sampleRate && x.jitter?.capacityMs !== undefined, 'a second of converted audio', 60_000);
  const j = s.jitter!;
  assert.is(j.blockMs, 200);
  assert.ok(j.maxMs >= j.targetMs + 200, `configured ${j.maxMs} ms for target ${j.targetMs} ms + 200 ms blocks`);
  assert.ok(j.capacityMs! >= j.targetMs + 200, `the worklet holds ${j.capacityMs} ms`);
});

test.run();
