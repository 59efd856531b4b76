// The broker's operations are the files in broker/ops/: a closed set, each
// naming the calls it carries out, by name and by x86_64 number.
import t from 'tap';
import { loadOperations, operationFor } from '../../broker/ops/index.js';
import { syscallNumber } from '../../tracer/policy/syscalls.js';

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
