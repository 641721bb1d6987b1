// Headless Chromium (Debian's /usr/bin/chromium) for the web-client tests: a WAV file as the fake
// microphone, no network chatter, and polling of the page's `window.svcStats` debug object.
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Chromium with a fresh profile in `profileParentDir` whose microphone plays `micWav` (16-bit PCM WAV). */
export async function launchChromiumWithMic(
  profileParentDir: string,
  micWav: string,
  viewport = { width: 1280, height: 900 },
  options: { autoplayWithoutGesture?: boolean; profileName?: string } = {},
): Promise<BrowserContext> {
  const autoplay = options.autoplayWithoutGesture ?? true;
  return chromium.launchPersistentContext(join(profileParentDir, options.profileName ?? 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${micWav}`,
      // Without it, audio needs a click first, as in an ordinary browser tab.
      ...(autoplay ? ['--autoplay-policy=no-user-gesture-required'] : []),
    ],
    viewport,
  });
}

/** The page's `window.svcStats` (clients/web exposes it for tests and the console). */
export function pageStats<T>(page: Page): Promise<T> {
  return page.evaluate(() => (window as unknown as { svcStats: unknown }).svcStats) as Promise<T>;
}

/** Polls `window.svcStats` every 200 ms until `predicate` holds; throws with the last stats after `timeoutMs`. */
export async function waitForStats<T>(page: Page, predicate: (stats: T) => boolean, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await pageStats<T>(page);
    if (predicate(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what}; page stats: ${JSON.stringify(last)}`);
}
