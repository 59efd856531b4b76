import t from 'tap';
import * as path from 'node:path';
import { Storage } from '../../monitor/storage.js';
import { completeEvent } from '../../monitor/protocol.js';

const origin = { host: 'h1', session: 's1', user: 'nobody', policy: '/p.yaml', program: '/bin/sh' };

t.test('events, answers, alerts round trip through a file and a reopen', async t => {
  const file = path.join(t.testdir(), 'monitor.db');
  const st = new Storage(file);
  const ask = completeEvent({ seq: 1, time: '2025-01-31T12:00:00.000Z', kind: 'ask', pid: 7, syscall: 'linux-openat', args: { filename: '/etc/hosts' }, question: 1 });
  const stored = st.addEvent(origin, ask);
  t.match(stored, { ...ask, host: 'h1', session: 's1', program: '/bin/sh', policy: '/p.yaml', user: 'nobody' }, 'the program defaults to the Hello\'s');
  st.addEvent({ ...origin, host: 'h2', session: 's2' }, completeEvent({ seq: 1, kind: 'deny', program: '/usr/bin/cat', syscall: 'linux-openat', args: { filename: '/etc/shadow' }, errno: 'EACCES' }));
  st.addEvent({ ...origin, host: 'h2', session: 's2' }, completeEvent({ seq: 2, kind: 'deny', program: '/usr/bin/cat', syscall: 'linux-openat', args: { filename: '/etc/shadow' }, errno: 'EACCES' }));
  st.addAlert({ type: 'denial', severity: 'warning', time: ask.time, host: 'h2', session: 's2', program: '/usr/bin/cat', pid: 0, seq: 1, message: 'm' }, 2);
  st.addHello({ time: ask.time, peer: 'unix', host: 'h3', session: 'x', program: '', policy: '', user: '', version: 1, ok: false, reason: 'wrong token' });
  st.close();

  const again = new Storage(file);
  t.teardown(() => again.close());
  t.same(again.event(stored.id), stored, 'read back as written');
  t.same(again.pendingQuestions().map(e => e.id), [stored.id], 'the question is pending');
  t.same(again.pendingQuestions(['s2']), [], 'only the sessions asked for');
  t.ok(again.addAnswer({ session: 's1', question: 1, answer: 'P', errno: '', rule: '', source: 'web' }));
  t.notOk(again.addAnswer({ session: 's1', question: 1, answer: 'd', errno: '', rule: '', source: 'web' }), 'answered once only');
  t.same(again.pendingQuestions(), []);
  t.equal(again.answer('s1', 1)?.answer, 'P');
  t.same(again.events({ host: 'h2' }).map(e => e.seq), [2, 1], 'newest first');
  t.same(again.events({ kind: 'ask' }).length, 1);
  t.same(again.events({ session: 's2', limit: 1 }).map(e => e.seq), [2]);
  t.same(again.sessionEvents('s2').map(e => e.seq), [1, 2]);
  t.match(again.denied('/usr/bin/cat'), [{ syscall: 'linux-openat', args: { filename: '/etc/shadow' }, count: 2 }]);
  t.match(again.alerts(), [{ type: 'denial', eventId: 2, session: 's2' }]);
  t.match(again.hellos(), [{ ok: false, reason: 'wrong token', host: 'h3' }]);
  t.match(again.programs().find(p => p.program === '/usr/bin/cat'), { denials: 2, events: 2, sessions: 1 });
  const idx = (again.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'").all() as { name: string }[]).map(r => r.name);
  t.ok(['events_host', 'events_session', 'events_pid'].every(i => idx.includes(i)), 'host, session and pid are indexed');
});
