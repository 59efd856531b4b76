// The broker's operations are the files in broker/ops/: a closed set, each
// naming the calls it carries out, by name and by x86_64 number.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadOperations, operationFor } from '../../broker/ops/index.js';
import { syscallNumber } from '../../tracer/policy/syscalls.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

t.test('the registry: every operation file in broker/ops is named in it', async t => {
  const files = fs.readdirSync(path.join(repoRoot, 'broker/ops'))
    .filter(f => f.endsWith('.ts') && !f.endsWith('.d.ts') && f !== 'index.ts' && f !== 'types.ts').map(f => f.replace(/\.ts$/, ''));
  const ops = await loadOperations();
  t.same([...ops.keys()].sort(), files.sort(), 'one operation per file, named as its file');
});

t.test('the registry', async t => {
  const ops = await loadOperations();
  t.same([...ops.keys()].sort(), ['bind', 'open', 'raw-socket']);
  for (const op of ops.values()) {
    t.equal(op.calls.length, op.nrs.length, `${op.name}: calls and numbers pair up`);
    op.calls.forEach((c, i) => t.equal(syscallNumber('linux', c), op.nrs[i], `${op.name}: ${c} is ${op.nrs[i]}`));
  }
  t.equal(operationFor(ops, 'openat')?.name, 'open');
  t.equal(operationFor(ops, 'bind')?.name, 'bind');
  t.equal(operationFor(ops, 'socket')?.name, 'raw-socket');
  t.equal(operationFor(ops, 'mount'), undefined, 'nothing else');
});
