// The program's stdio stays as it was given: systrace must not switch the
// pipes it shares with the program to non-blocking mode (Node does that to
// any pipe it writes through process.stdout/stderr), or the program's own
// writes to a full pipe would fail with EAGAIN and its output be lost.

import t from 'tap';
import { policyYaml } from '../helpers/policy.js';
import { runConfined, show } from '../helpers/systrace.js';
import { integrationSkip } from '../helpers/unpriv.js';

const skip = integrationSkip();

t.test('stdin, stdout and stderr stay blocking, even while denials are logged', { skip }, async t => {
  const policy = policyYaml({ default: 'permit', bare: true, rules: { fsread: ['filename eq "/etc/hostname" then deny'] } });
  const script = [
    'import os',
    // A denial first, so that systrace has written to the shared stderr.
    'try: open("/etc/hostname")',
    'except OSError: pass',
    'print(os.get_blocking(0), os.get_blocking(1), os.get_blocking(2))',
  ].join('\n');
  const r = await runConfined(t, policy, ['/usr/bin/python3', '-c', script], { input: '' });
  t.equal(r.stdout, 'True True True\n', show(r));
  t.match(r.stderr, /systrace: deny/, 'the denial was logged on the same stderr');
});
