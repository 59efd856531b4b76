import t from 'tap';
import { mangleProgramName } from '../../tracer/policy/mangle.js';

t.test('mangles like Systrace', async t => {
  t.equal(mangleProgramName('/usr/sbin/named'), 'usr_sbin_named');
  t.equal(mangleProgramName('/bin/ls'), 'bin_ls');
});
