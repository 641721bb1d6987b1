// svc live's reported latency against a click measured through a real (private) PulseAudio: clicks play
// into one channel of a null sink, svc live records that channel and plays into the other, parec records
// both (bench/live-latency.ts, which `npm run bench -- --only latency` uses for the precise figures).
// Tests run on a busy machine, where the delay a probe measures moves with the load (output underflows
// add gaps no buffer level shows; 541 ms reported for 780 ms measured in one CI run at load 4 while the
// same build gave 365 vs 425 ms quiet), so reported vs measured is compared in the bench, not asserted
// here. The tests assert what holds at any load: the probe comes back through a real PulseAudio, never
// sooner than the block allows, and the report has its parts (it once counted the block two or three
// times, 1017 ms for 735 ms measured; the bench shows 365 vs 425 ms now).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { measureLive, median } from '../bench/live-latency.js';
import { importShippedSmallBase, makeTempDir } from './helpers/index.js';

// Medians over the run's status lines (bench/live-latency.ts): the voice's own delay is a floor of the total.
const holdsVoice = (parts: Record<string, number>) => parts.voiceMs > 0 && parts.totalMs >= parts.voiceMs;

// The DSP voice's click case lives in the latency bench only: under load, clicks get lost in PulseAudio
// (1 of 8 came back in a CI run with other tests beside it); test/virtual-mic.test.ts covers svc live's
// DSP voice through a real PulseAudio with a pitch check.

test('svc live --model (the shipped small base): pitch steps come back through PulseAudio, and the report holds the voice', async () => {
  const temp = makeTempDir('svc-live-latency-');
  try {
    // The trained base follows the input's f0, so its pitch steps come back; the tiny reference's random
    // weights do not follow it (2 of 8 steps came back in a fresh-clone run at load 2.4).
    const bundle = join(temp.dir, 'small');
    await importShippedSmallBase(bundle);
    const m = await measureLive({ model: bundle, probe: 'pitch' });
    assert.ok(m.measuredMs.length >= 3, `${m.measuredMs.length} of ${m.clicks} steps came back: ${JSON.stringify(m.detail)}`);
    const measured = median(m.measuredMs);
    const reported = median(m.reportedMs.slice(1).filter(Number.isFinite));
    console.log(`  svc live, small base: reported ${reported.toFixed(0)} ms, measured ${measured.toFixed(0)} ms (figures only; the bench compares them)`);
    const parts = (m.detail as { parts: Record<string, number> }).parts;
    assert.ok(holdsVoice(parts), `the report holds the voice's own delay: ${JSON.stringify(parts)}`);
  } finally {
    temp.cleanup();
  }
});

test.run();
