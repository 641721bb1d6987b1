// Where a new voice starts when `svc train` fine-tunes the shipped multi-speaker small base
// (python/svc_py/train/voice_start.py): each dataset speaker the base does not know by name starts
// from the base speaker that converts its clips closest to the real recordings, not from whichever
// base speaker happened to have the same id. Two voices under new names, recorded by speakers the
// base learned (CMU ARCTIC slt, a woman; VCTK p226, a man): each must start from a base voice of the
// same sex, and the one step of training that follows must run. No timing assertions.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { makeTempDir, repoRoot, runSvc, shared } from './helpers/index.js';

const temp = makeTempDir('svc-voice-start-');
const base = join(repoRoot, 'models', 'sovits_small_base');
const dataset = join(temp.dir, 'dataset');
// The base's 28 speakers by sex (CMU ARCTIC's and VCTK's speaker notes, LibriSpeech's SPEAKERS.TXT).
const WOMEN = ['axb', 'clb', 'kathleen', 'lj', 'slt', 'ls1998', 'ls3080', 'ls533', 'p225', 'p228', 'p230', 'p233', 'p236', 'p244'];
const MEN = ['aew', 'awb', 'ls1688', 'ls2033', 'ls2414', 'ls2609', 'ls3005', 'p226', 'p227', 'p243', 'p254', 'p258', 'p259', 'p273'];

test('preprocess two new voices (small config, svc phone encoder)', async () => {
  const input = join(temp.dir, 'recordings');
  const voices = {
    alice: readdirSync(shared('speech', 'cmu_arctic_16k', 'slt')).filter((f) => f.endsWith('.wav')).sort().slice(0, 6).map((f) => shared('speech', 'cmu_arctic_16k', 'slt', f)),
    bob: readdirSync(shared('speech', 'vctk_autovc_16k', 'p226')).filter((f) => f.endsWith('.wav')).sort().slice(0, 6).map((f) => shared('speech', 'vctk_autovc_16k', 'p226', f)),
  };
  for (const [voice, files] of Object.entries(voices)) {
    assert.is(files.length, 6, `${voice}: 6 recordings in the shared data`);
    mkdirSync(join(input, voice), { recursive: true });
    for (const file of files) symlinkSync(file, join(input, voice, basename(file)));
  }
  const r = await runSvc(['preprocess', input, '--out', dataset, '--config', 'small', '--val', '0'], { timeoutMs: 600_000 });
  assert.is(r.code, 0, r.stderr);
  const manifest = JSON.parse(readFileSync(join(dataset, 'manifest.json'), 'utf8')) as { speakers: Record<string, number> };
  assert.equal(Object.keys(manifest.speakers).sort(), ['alice', 'bob']);
});

test('each new voice starts from a base speaker of the same sex', async () => {
  assert.ok(existsSync(join(base, 'G_0.pth')), 'models/sovits_small_base/G_0.pth is shipped');
  const run = join(temp.dir, 'run');
  const r = await runSvc(['train', dataset, '--out', run, '--steps', '1', '--log-every', '1', '--threads', '1'], { timeoutMs: 600_000 });
  assert.is(r.code, 0, r.stderr);
  const start = (voice: string): string => {
    const match = new RegExp(`voice ${voice} starts from base speaker (\\S+) \\(`).exec(r.stderr);
    assert.ok(match, `no start line for ${voice} in:\n${r.stderr}`);
    return match![1]!;
  };
  const alice = start('alice');
  const bob = start('bob');
  assert.ok(WOMEN.includes(alice), `alice (CMU ARCTIC slt) starts from ${alice}`);
  assert.ok(MEN.includes(bob), `bob (VCTK p226) starts from ${bob}`);
  assert.ok(existsSync(join(run, 'G_1.pth')), 'the step after the choice ran and saved');
});

test.after(() => temp.cleanup());
test.run();
