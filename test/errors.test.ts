// The error-code list is one definition (src/error-codes.json) shared by TypeScript, the Python jobs
// and docs/errors.md; I/O failures get their own codes and name the path.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SVC_ERROR_CODES, SvcError, ioError, isSvcErrorCode } from '../src/errors.js';
import { writeWav } from '../src/audio/io.js';
import { pythonExecutable } from '../src/paths.js';
import { repoRoot } from './helpers/index.js';

const codes = Object.keys(SVC_ERROR_CODES);

test('docs/errors.md documents exactly the codes of src/error-codes.json', () => {
  const doc = readFileSync(join(repoRoot, 'docs/errors.md'), 'utf8');
  const documented = [...doc.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
  assert.equal(documented, codes);
});

test('every code the Python jobs raise is in the shared list', () => {
  const dir = join(repoRoot, 'python/svc_py');
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(d, entry.name));
      else if (entry.name.endsWith('.py')) files.push(join(d, entry.name));
    }
  };
  walk(dir);
  const used = new Set<string>();
  for (const file of files) for (const m of readFileSync(file, 'utf8').matchAll(/SvcPyError\(\s*"([A-Z_]+)"/g)) used.add(m[1]);
  assert.ok(used.size >= 3, `found ${used.size} codes in Python`);
  for (const code of used) assert.ok(isSvcErrorCode(code), `Python raises ${code}, which src/error-codes.json lacks`);
});

test('Python refuses unknown codes and reports a full disk as DISK_FULL with the path', () => {
  const script = [
    'import errno, json',
    'from svc_py.events import SvcPyError, run_main, ERROR_CODES',
    'try:',
    '    SvcPyError("NOT_A_CODE", "x")',
    '    print("accepted")',
    'except ValueError:',
    '    print("refused")',
    'def job():',
    '    raise OSError(errno.ENOSPC, "No space left on device", "/data/G_20.pth")',
    'run_main(job)',
  ].join('\n');
  const run = spawnSync(pythonExecutable, ['-c', script], { cwd: join(repoRoot, 'python'), encoding: 'utf8' });
  const lines = run.stdout.trim().split('\n');
  assert.is(lines[0], 'refused', run.stderr);
  const event = JSON.parse(lines[lines.length - 1]);
  assert.is(event.event, 'error');
  assert.is(event.code, 'DISK_FULL');
  assert.match(event.message, /\/data\/G_20\.pth/);
});

test('ioError gives full disks, permissions and taken ports their own codes, naming the path', () => {
  const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code });
  const cases: [string, string][] = [['ENOSPC', 'DISK_FULL'], ['EACCES', 'PERMISSION_DENIED'], ['EROFS', 'PERMISSION_DENIED'], ['ENOENT', 'FILE_NOT_FOUND'], ['EADDRINUSE', 'ADDRESS_IN_USE']];
  for (const [code, expected] of cases) {
    const error = ioError(errno(code), '/srv/out/x.wav', 'write the output');
    assert.ok(error instanceof SvcError);
    assert.is(error.code, expected, code);
    assert.match(error.toUserString(), /\/srv\/out\/x\.wav/);
    assert.ok(error.hint, `${code} has a fix`);
  }
});

test('writing into a folder that does not exist is INVALID_ARGUMENT naming the folder', async () => {
  const audio = { sampleRate: 16000, channels: [new Float32Array(160)] };
  try {
    await writeWav('/nonexistent-svc-folder/sub/out.wav', audio);
    assert.unreachable('write should fail');
  } catch (error) {
    assert.instance(error, SvcError);
    assert.is((error as SvcError).code, 'INVALID_ARGUMENT');
    assert.match((error as SvcError).message, /nonexistent-svc-folder\/sub/);
  }
});

test.run();
