// The web page's shown latency against a click measured through a real Chromium whose microphone and
// speakers are a private PulseAudio: clicks play into one channel of a null sink (the browser's default
// source), the page's output goes to the other channel (its default sink), parec records both
// (bench/live-latency.ts measurePage; `npm run bench -- --only latency` gives the precise figures). The
// page's total must be the right size (jitter buffer and AudioContext output latency included); the
// margin is wide because the machine running tests is busy.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { measurePage, median } from '../bench/live-latency.js';
import { startServer, type SvcServer } from '../src/server/server.js';

let server: SvcServer;

test.before(async () => {
  server = await startServer({ host: '127.0.0.1', port: 0 });
});

test.after(async () => {
  await server?.close();
});

test('the page shows the latency a click through Chromium and PulseAudio measures (DSP voice)', async () => {
  const m = await measurePage(server.url);
  assert.ok(m.measuredMs.length >= m.clicks / 2, `${m.measuredMs.length} of ${m.clicks} clicks came back: ${JSON.stringify(m.detail)}`);
  const measured = median(m.measuredMs);
  const reported = median(m.reportedMs);
  const parts = m.detail.parts as Record<string, number>;
  // The figure has the parts a click goes through after the server: the jitter buffer and the output.
  assert.ok(parts.jitterMs > 0 && parts.outputMs > 0, `parts ${JSON.stringify(parts)}`);
  assert.ok(Math.abs(reported - measured) <= Math.max(150, 0.5 * measured), `page shows ${reported.toFixed(0)} ms, measured ${measured.toFixed(0)} ms (${m.measuredMs.map((x) => x.toFixed(0)).join(', ')}); parts ${JSON.stringify(parts)}`);
});

test.run();
