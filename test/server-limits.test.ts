// The server's budgets and access checks as pure functions, with a fake clock: token buckets, the
// pending-connection gate (eviction of the oldest), Host names, and path removal from client errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hostName, isLoopbackHost } from '../src/server/access.js';
import { withoutPaths } from '../src/server/errors.js';
import { PendingGate, TokenBucket } from '../src/server/limits.js';
import { bundleFilePath } from '../src/voices/bundle-file.js';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from './helpers/index.js';

test('TokenBucket: a burst of capacity, then the rate', () => {
  let now = 0;
  const bucket = new TokenBucket(1.5 * 48000, 2 * 48000, () => now);
  assert.ok(bucket.take(96000), 'the 2 s burst');
  assert.not.ok(bucket.take(1));
  now = 1000;
  assert.ok(bucket.take(72000), '1.5 s of audio per second');
  assert.not.ok(bucket.take(960));
  now = 1000 + 20 / 1.5;
  assert.ok(bucket.take(960), 'refills continuously');
  now = 1e9;
  assert.ok(bucket.take(96000));
  assert.not.ok(bucket.take(1), 'never beyond the capacity');
});

test('PendingGate: per-address and total caps evict the oldest, so a newcomer always gets in', () => {
  const gate = new PendingGate<string>(2, 3);
  assert.is(gate.admit('a', 'a1'), null);
  assert.is(gate.admit('a', 'a2'), null);
  assert.equal(gate.admit('a', 'a3'), { evicted: 'a1', reason: 'address' });
  assert.is(gate.admit('b', 'b1'), null);
  assert.is(gate.size, 3);
  assert.equal(gate.admit('c', 'c1'), { evicted: 'a2', reason: 'total' });
  gate.release('a3');
  gate.release('a3');
  gate.release('nobody');
  assert.is(gate.size, 2);
  assert.is(gate.admit('a', 'a4'), null);
});

test('Host names: loopback names pass, others do not', () => {
  for (const h of ['localhost', 'LOCALHOST', 'app.localhost', '127.0.0.1', '127.1.2.3', '[::1]', '::1']) assert.ok(isLoopbackHost(h), h);
  for (const h of ['evil.example', '127.0.0.1.evil.example', 'localhost.evil.example', '0.0.0.0', '10.0.0.1', '[::2]']) assert.not.ok(isLoopbackHost(h), h);
  assert.is(hostName('127.0.0.1:8080'), '127.0.0.1');
  assert.is(hostName('[::1]:8080'), '[::1]');
  assert.is(hostName('Evil.Example'), 'evil.example');
});

test('client errors keep file names and drop the folders of absolute paths', () => {
  assert.is(withoutPaths("no model named 'x'; put bundles in /home/u/.local/share/svc/models or /opt/svc/models"), "no model named 'x'; put bundles in models or models");
  assert.is(withoutPaths('cannot load /srv/models/tiny/encoder.onnx: truncated'), 'cannot load encoder.onnx: truncated');
  assert.is(withoutPaths('C:\\Users\\me\\models\\tiny\\manifest.json is not JSON'), 'manifest.json is not JSON');
  assert.is(withoutPaths('ws://127.0.0.1:8080/ws, ratio 1/2, a/b'), 'ws://127.0.0.1:8080/ws, ratio 1/2, a/b');
});

test('manifest files stay inside their bundle: no .., no absolute path, no link out', () => {
  const temp = makeTempDir('svc-bundle-file-');
  try {
    const dir = join(temp.dir, 'voice');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    writeFileSync(join(dir, 'generator.onnx'), 'x');
    writeFileSync(join(temp.dir, 'outside.onnx'), 'x');
    symlinkSync(join(temp.dir, 'outside.onnx'), join(dir, 'link.onnx'));
    assert.equal(bundleFilePath(dir, 'generator.onnx', 'generator'), { path: join(dir, 'generator.onnx') });
    assert.equal(bundleFilePath(dir, 'sub/../generator.onnx', 'generator'), { path: join(dir, 'generator.onnx') });
    for (const bad of ['../outside.onnx', '../../../../etc/passwd', '/etc/passwd', 'link.onnx', '', 'a\0b', 42]) {
      const found = bundleFilePath(dir, bad, 'generator');
      assert.ok('problem' in found, `${JSON.stringify(bad)} refused`);
    }
  } finally {
    temp.cleanup();
  }
});

test.run();
