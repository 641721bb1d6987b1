// svc live's reported latency against a click measured through a real (private) PulseAudio: clicks play
// into one channel of a null sink, svc live records that channel and plays into the other, parec records
// both (bench/live-latency.ts, which `npm run bench -- --only latency` uses for the precise figures).
// Without a target the delay a probe measures moves with the machine's load (output underflows add gaps;
// 541 ms reported for 780 ms measured in one CI run at load 4 while the same build gave 365 vs 425 ms
// quiet), so that comparison stays in the bench. With --latency-ms the delay is held on a sample clock
// whatever the load, so there the test compares target, measurement and report, unless svc live said the
// target cannot be held on this machine now (its measured floor) or the machine did not keep real time;
// the model case asserts what holds at any load: the probe comes back and the report holds the voice's
// own delay.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { measureLive, median } from '../bench/live-latency.js';
import { cpuWaitMeter } from './helpers/cpu-wait.js';
import { importShippedSmallBase, makeTempDir } from './helpers/index.js';

// Medians over the run's status lines (bench/live-latency.ts): the voice's own delay is a floor of the total.
const holdsVoice = (parts: Record<string, number>) => parts.voiceMs > 0 && parts.totalMs >= parts.voiceMs;

// --latency-ms holds the delay on a sample clock (capture clock to the device's consumption clock,
// padding and cutting at the output), so the measured delay no longer moves with the load, and what svc
// live prints in that mode is the figure held. Measured with this build (bench/README.md and this test,
// 2026-12-06 22:00–23:00 UTC, load 3.2–5.4): at 400, 408–437 measured, printed 9–31 ms below it; at 200,
// 196–216 measured, printed within 11–19 ms. 50 ms holds those with a margin, and fails the reverted
// hold's 200 ms case (154 measured, 211 printed).
const HELD_TOLERANCE_MS = 50;

// A machine that cannot keep real time (load 10 on 2 cores: the sound server's stream underran 39 times
// in 14 s) makes the hold cut and pad seconds of audio, and then no delay holds: a run that padded and
// cut more than 10 % of its length is reported, not judged (at load 4–5.4: 0.2–0.5 s of 14; at load 7
// with two busy loops: 2.1 s, 21 output underflows, 392–593 ms measured for 400; at load 10: 7–10 s). On a machine that keeps real time
// that many corrections are the failure itself: the hold fighting a clock that reads wrong (at
// --latency-ms 200 the native-queue estimate read 60–80 ms high and the hold padded 3.0 s and cut 4.6 s
// of 14, 106 output underflows, 154 ms measured, 211 printed, on a quiet machine).
const RUN_S = 14;
const MOST_CORRECTED_MS = 0.1 * RUN_S * 1000;
// Other work keeps the machine from real time when the load average is 4 or more, or when runnable tasks
// waited for a CPU a quarter of the run or more (helpers/cpu-wait.ts: 0.10 alone, 0.15–0.16 beside one
// busy loop, 0.37–0.40 beside two). The load average alone trails by a minute: beside two busy loops it read
// 3.1–3.7 while PortAudio's thread missed its turn 10–47 times in 14 s (a fresh-clone CI run of 3eb94d3
// failed there: 452–540 ms measured, 403–429 printed, for 400), and in other runs of the same set-up none.
const QUIET_LOAD = 4;
const CONTENDED_WAIT_SHARE = 0.25;

async function heldLatency(asked: number | 'auto'): Promise<void> {
  const loadBefore = loadavg()[0];
  const waitMeter = cpuWaitMeter();
  const m = await measureLive({ latencyMs: asked === 'auto' ? undefined : asked });
  const load = Math.max(loadBefore, loadavg()[0]);
  const waitShare = waitMeter.share();
  const busy = load >= QUIET_LOAD || (waitShare ?? 0) >= CONTENDED_WAIT_SHARE;
  const machine = `load ${load.toFixed(1)}, CPU waited ${waitShare === null ? 'unknown' : `${Math.round(100 * waitShare)} %`} of the run`;
  const detail = m.detail as { latencyControl?: { padMs?: number; dropMs?: number; autoRaises?: number }; latencyFloorMs?: number; warnings?: string[]; targetsMs?: (number | null)[] };
  // auto: the target it held most of the run (the status lines' median; it may rise once at 5 s, to the
  // measured floor).
  const targetMs = asked === 'auto' ? median((detail.targetsMs ?? []).filter((t): t is number => t !== null)) : asked;
  assert.ok(Number.isFinite(targetMs), `svc live holds a target: ${JSON.stringify(m.detail)}`);
  const label = asked === 'auto' ? `auto (held at ${targetMs})` : String(targetMs);
  const correctedMs = (detail.latencyControl?.padMs ?? 0) + (detail.latencyControl?.dropMs ?? 0);
  const text = `measured ${m.measuredMs.map(Math.round).join(', ')} ms; reported ${m.reportedMs.map(Math.round).join(', ')} ms; ${JSON.stringify(m.detail)}`;
  // Where svc live measured that blocks reach its output too late for the target (the machine's load:
  // at load 6.5, 246 ms p95 from capture to the output queue), it says so with a target that holds; the
  // run is reported, not judged. A warning must name a floor above the target, and on a machine that keeps
  // real time the DSP voice's floor is far below 200 ms (100–150 ms measured).
  const warning = detail.warnings?.[0];
  if (warning !== undefined) {
    assert.ok((detail.latencyFloorMs ?? 0) > targetMs && warning.includes(`try --latency-ms ${detail.latencyFloorMs}`), `the warning names a floor above ${targetMs}: ${text}`);
    assert.ok(busy, `svc live --latency-ms ${label} said it cannot be held (${machine}): ${text}`);
    console.log(`  svc live --latency-ms ${label}: svc live said it cannot hold it here (${machine}; floor ${detail.latencyFloorMs} ms), not judged: measured ${m.measuredMs.map(Math.round).join(', ')} ms`);
    return;
  }
  // Output underflows say the machine did not keep real time (auto then rises: none at load 0.8–3.8
  // here). At load 4.4 (two busy loops beside a fresh-clone CI run) --latency-ms 200 ran the output dry
  // 7 times and the hold padded and cut 618 ms to make up for it (under MOST_CORRECTED_MS), and the
  // clicks came back 216–303 ms late. On a quiet machine they are judged like everything else.
  const outputUnderflows = (m.detail as { device?: { output?: { outputUnderflows?: number } } }).device?.output?.outputUnderflows ?? 0;
  if (outputUnderflows > 0 && busy) {
    console.log(`  svc live --latency-ms ${label}: the output ran dry ${outputUnderflows}× (${machine}), not judged: measured ${m.measuredMs.map(Math.round).join(', ')} ms`);
    return;
  }
  if (correctedMs > MOST_CORRECTED_MS) {
    assert.ok(busy, `svc live --latency-ms ${label} padded and cut ${Math.round(correctedMs)} ms of a ${RUN_S} s run (${machine}): ${text}`);
    console.log(`  svc live --latency-ms ${label}: the machine did not keep real time (${machine}; ${Math.round(correctedMs)} ms padded and cut), not judged: measured ${m.measuredMs.map(Math.round).join(', ')} ms`);
    return;
  }
  // Each click against the target held around it and the figure printed for its second (aroundClicks:
  // auto may rise within a run, at 3.9 load from 190 to 265 ms, and its clicks met both); a click next to
  // a rise is left out.
  const around = m.detail as { clickTargetsMs?: (number | null)[]; clickReportedMs?: (number | null)[] };
  const judged = m.measuredMs.flatMap((ms, i) => {
    const target = around.clickTargetsMs?.[i] ?? null;
    const reported = around.clickReportedMs?.[i] ?? null;
    return target === null || reported === null || !Number.isFinite(reported) ? [] : [{ ms, target, reported }];
  });
  assert.ok(judged.length >= 3, `${judged.length} of ${m.clicks} clicks came back with a target held around them: ${text}`);
  const offTargetMs = median(judged.map((j) => j.ms - j.target));
  const misreportMs = median(judged.map((j) => j.reported - j.ms));
  console.log(
    `  svc live --latency-ms ${label}: measured ${median(judged.map((j) => j.ms)).toFixed(0)} ms, ${offTargetMs.toFixed(0)} ms from the target; printed ${misreportMs.toFixed(0)} ms from the measured (${machine}; ${Math.round(correctedMs)} ms padded and cut; floor ${detail.latencyFloorMs} ms)`,
  );
  assert.ok(Math.abs(offTargetMs) <= HELD_TOLERANCE_MS, `the measured delay is ${offTargetMs.toFixed(0)} ms from the target held (± ${HELD_TOLERANCE_MS}): ${text}`);
  assert.ok(Math.abs(misreportMs) <= HELD_TOLERANCE_MS, `the printed latency is ${misreportMs.toFixed(0)} ms from the measured (± ${HELD_TOLERANCE_MS}): ${text}`);
}

test('svc live --latency-ms 400 (DSP voice): the measured click delay is the target, and is what svc live prints', () => heldLatency(400));

// Near the DSP voice's floor here (100–150 ms measured on a machine that keeps real time): the device's
// queues are nearly empty, where a wrong estimate of what they hold shows first.
test('svc live --latency-ms 200 (DSP voice, near its floor): the same, with few corrections on a machine that keeps real time', () => heldLatency(200));

// The default: the target found by svc live itself (on PulseAudio the floor on paper + 100 ms, higher
// when the device keeps running dry). Before it, svc live without a target printed 156–167 ms for 65–79 ms
// measured, with 9–14 output underflows in 14 s (bench/README.md); with it, 197–214 ms measured, printed
// 200–210, but 158–171 for 196–214 held in 1 run of 3 (the hold's clock read high once the queue it owns was
// under naudiodon's native capacity: HELD_NATIVE_QUEUE_PIECES in svc live). Since (2026-12-07, load 0.3–2.4,
// 7 runs): 185–211 measured, printed within 2–13 ms of it.
test('svc live (default --latency-ms auto, DSP voice): it holds a delay of its own, and prints what a click measures', () => heldLatency('auto'));

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
