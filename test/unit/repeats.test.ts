import t from 'tap';
import { RepeatFilter } from '../../tracer/supervisor/repeats.js';

t.test('identical lines past three are counted, not written', async t => {
  const out: string[] = [];
  const f = new RepeatFilter(l => out.push(l));
  for (let i = 0; i < 25000; i++) f.line('deny x');
  f.line('deny y');
  f.line('deny y');
  f.flush();
  t.same(out, [
    'deny x', 'deny x', 'deny x', 'deny x',
    'systrace: last message repeated 10000 more times',
    'systrace: last message repeated 10000 more times',
    'systrace: last message repeated 4996 more times',
    'deny y', 'deny y',
  ]);
});
