import t from 'tap';
import { AlertDetector } from '../../monitor/alerts.js';
import { completeEvent, type MonitorEvent } from '../../monitor/protocol.js';

const src = { host: 'web1', session: 'sess-a', program: '/usr/sbin/nginx' };
const at = (s: number): string => new Date(Date.UTC(2025, 0, 31, 12, 0, 0) + s * 1000).toISOString();
const ev = (e: Partial<MonitorEvent>): MonitorEvent => completeEvent({ seq: 1, time: at(0), pid: 100, program: '/usr/sbin/nginx', ...e });

// kind, syscall, args -> the alert types and severities raised (no burst: one event each, fresh detector).
const table: [string, Partial<MonitorEvent>, [string, string][]][] = [
  ['a denial is a warning', { kind: 'deny', syscall: 'linux-openat', args: { filename: '/etc/shadow' }, rule: 'default' }, [['denial', 'warning']]],
  ['a denied execve: a program the policy does not name', { kind: 'deny', syscall: 'linux-execve', args: { filename: '/bin/sh' } }, [['exec-not-in-policy', 'alert']]],
  ['execveat too', { kind: 'deny', syscall: 'linux32-execveat', args: { filename: '/bin/sh' } }, [['exec-not-in-policy', 'alert']]],
  ['a denied connect: an address the policy does not name', { kind: 'deny', syscall: 'linux-connect', args: { sockaddr: 'inet-[10.0.0.9]:22' } }, [['connect-not-in-policy', 'alert']]],
  ['a permitted exec is no alert', { kind: 'exec', syscall: 'linux-execve', args: { filename: '/bin/ls' } }, []],
  ['a question is no alert', { kind: 'ask', syscall: 'linux-openat', question: 1 }, []],
  ['the tracer\'s own alert', { kind: 'alert', severity: 'alert', detail: 'killed on violation' }, [['tracer', 'alert']]],
  ['not a connect: "disconnect"-like names do not match', { kind: 'deny', syscall: 'linux-getsockopt' }, [['denial', 'warning']]],
];

for (const [name, e, want] of table) {
  t.test(name, async t => {
    const got = new AlertDetector({ burstCount: 3, burstSeconds: 10 }).check(src, ev(e));
    t.same(got.map(a => [a.type, a.severity]), want);
    for (const a of got) t.match(a, { host: 'web1', session: 'sess-a', program: '/usr/sbin/nginx', pid: 100, time: at(0) });
  });
}

t.test('the message names the call, its argument and the rule', async t => {
  const [a] = new AlertDetector().check(src, ev({ kind: 'deny', syscall: 'linux-openat', args: { filename: '/etc/shadow' }, rule: '/p.yaml:12' }));
  t.equal(a?.message, 'denied linux-openat /etc/shadow (/p.yaml:12)');
});

t.test('bursts: N denials from one session within T seconds, once per window', async t => {
  const d = new AlertDetector({ burstCount: 3, burstSeconds: 10 });
  const deny = (s: number, session = 'sess-a') => d.check({ ...src, session }, ev({ kind: 'deny', syscall: 'linux-openat', time: at(s) }))
    .filter(a => a.type === 'burst');
  t.same(deny(0).length, 0);
  t.same(deny(1).length, 0);
  t.same(deny(0, 'sess-b').length, 0, 'another session counts apart');
  const burst = deny(2);
  t.equal(burst.length, 1, 'the third within 10 s');
  t.equal(burst[0]?.severity, 'alert');
  t.equal(deny(3).length, 0, 'not again within the window');
  t.equal(deny(12).length, 0, 'at 12 s only 3 and 12 are in the last 10 s');
  t.equal(deny(20).length, 0, 'at 20 s only 12 and 20');
  t.equal(deny(21).length, 1, 'a new burst (12, 20, 21) after the window has passed');
  const slow = new AlertDetector({ burstCount: 3, burstSeconds: 10 });
  const n = [0, 6, 12, 18, 24].flatMap(s => slow.check(src, ev({ kind: 'deny', syscall: 'linux-openat', time: at(s) }))).filter(a => a.type === 'burst');
  t.equal(n.length, 0, 'denials 6 s apart are no burst');
});

t.test('an event without a valid time uses now', async t => {
  const now = new Date(Date.UTC(2030, 1, 2));
  const [a] = new AlertDetector().check(src, ev({ kind: 'deny', syscall: 'linux-openat', time: 'yesterday' }), now);
  t.equal(a?.time, now.toISOString());
});

t.test('bad options are refused', async t => {
  t.throws(() => new AlertDetector({ burstCount: 1, burstSeconds: 10 }), RangeError);
  t.throws(() => new AlertDetector({ burstCount: 5, burstSeconds: 0 }), RangeError);
});
