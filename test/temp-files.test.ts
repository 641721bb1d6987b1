// Stale temp files of killed writes are removed on the next start; live writers' and other files stay.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeStaleTempFiles } from '../src/io/temp-files.js';
import { makeTempDir } from './helpers/index.js';

test('removes temp files of dead writers and old pid-less ones; keeps live writers, fresh ones and real files', () => {
  const temp = makeTempDir('svc-temp-files-');
  try {
    const dir = temp.dir;
    mkdirSync(join(dir, 'clips'));
    // A pid that ran and is gone: a child that has exited.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    const files = {
      deadCheckpoint: join(dir, `G_20.pth.tmp-${dead}`),
      deadClip: join(dir, 'clips', `a_0001.wav.tmp-${dead}-0a1b2c3d`),
      liveClip: join(dir, 'clips', `a_0002.wav.tmp-${process.pid}-deadbeef`),
      oldOnnx: join(dir, 'generator.onnx.tmp.onnx'),
      freshOnnx: join(dir, 'encoder.onnx.tmp.onnx'),
      oldPlot: join(dir, 'loss.png.tmp.png'),
      real: join(dir, 'G_20.pth'),
      realClip: join(dir, 'clips', 'a_0001.wav'),
      lookalike: join(dir, 'notes.tmpl'),
    };
    for (const path of Object.values(files)) writeFileSync(path, 'x');
    const hourAgo = (Date.now() - 3600_000) / 1000;
    utimesSync(files.oldOnnx, hourAgo, hourAgo);
    utimesSync(files.oldPlot, hourAgo, hourAgo);
    const removed = removeStaleTempFiles(dir, { subfolders: ['clips', 'missing'] }).sort();
    assert.equal(removed, [files.deadCheckpoint, files.deadClip, files.oldOnnx, files.oldPlot].sort());
    for (const keep of [files.liveClip, files.freshOnnx, files.real, files.realClip, files.lookalike]) assert.ok(existsSync(keep), keep);
    assert.equal(removeStaleTempFiles(join(dir, 'nope')), []);
  } finally {
    temp.cleanup();
  }
});

test.run();
