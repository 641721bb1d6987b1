// The built-in voice on worker threads (svc serve --dsp-workers N, issue 16 point 7): sessions spread over
// the threads convert exactly what the in-process voice does (bit for bit), voice changes reach the
// thread, and closing the server ends the threads.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readAudio } from '../src/audio/io.js';
import { startServer } from '../src/server/server.js';
import { streamAudio } from '../src/stream/client.js';
import { convertWithDspVoice } from '../src/voices/dsp/index.js';
import { DspWorkerPool } from '../src/voices/dsp/pool.js';
import { DspVoiceStage } from '../src/voices/dsp/stage.js';
import { shared } from './helpers/index.js';

const SPEECH_16K = shared('speech', 'vctk_autovc_16k', 'p225', 'p225_003.wav');

test('three sessions on two DSP threads come back identical to the offline voice', async () => {
  const speech = (await readAudio(SPEECH_16K)).channels[0].subarray(0, 32000);
  // A queue long enough that a busy machine never triggers the behind-real-time policy (tested elsewhere).
  const server = await startServer({ port: 0, dspWorkers: 2, maxQueueMs: 10000 });
  try {
    const pitches = [5, -3, 0];
    const results = await Promise.all(pitches.map((pitch) => streamAudio({ sampleRate: 16000, channels: [speech] }, { url: server.url, voice: { pitch } })));
    results.forEach((r, i) => {
      const offline = convertWithDspVoice(speech, 16000, { pitchSemitones: pitches[i] });
      let maxError = 0;
      for (let j = 0; j < offline.length; j++) maxError = Math.max(maxError, Math.abs(offline[j] - r.audio.channels[0][j]));
      assert.ok(maxError < 1e-5, `pitch ${pitches[i]}: differs from the offline voice by ${maxError}`);
      assert.is(r.stats!.dropped.dryBlocks, 0);
    });
  } finally {
    await server.close();
  }
});

test('a pooled stage: same output as the local stage block by block, setVoice and reset reach the thread', async () => {
  const pool = new DspWorkerPool(2);
  try {
    await pool.ready();
    const factory = pool.stageFactory();
    const remote = factory({ clientSampleRate: 48000, voice: { pitch: 4, formant: 1.2 } });
    const local = new DspVoiceStage(48000, { pitch: 4, formant: 1.2 });
    assert.is(remote.lookaheadSamples, local.lookaheadSamples);
    assert.ok(remote.stateful);
    const other = factory({ clientSampleRate: 48000, voice: { pitch: 0, formant: 1 } });
    assert.equal(pool.load(), [1, 1], 'stages spread over the threads');
    for (let b = 0; b < 60; b++) {
      if (b === 20) for (const s of [remote, local]) s.setVoice({ pitch: -7 });
      if (b === 40) for (const s of [remote, local]) s.reset();
      const block = new Float32Array(960).map((_, i) => 0.4 * Math.sin((2 * Math.PI * 180 * (b * 960 + i)) / 48000));
      assert.equal(Array.from(await remote.process(block, { startSample: b * 960, discontinuity: b === 0 })), Array.from(local.process(block)), `block ${b}`);
    }
    remote.dispose();
    other.dispose();
    local.dispose();
    assert.equal(pool.load(), [0, 0]);
  } finally {
    await pool.close();
  }
});

test.run();
