// The administrator's elevation policy (broker/admin-policy.ts): which grant
// decides, every refusal cause, and the ownership checks on real files.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  AdminPolicyError,
  checkRootOwned,
  decideElevation,
  loadAdminPolicy,
  parseAdminPolicy,
  type AdminPolicy,
  type ElevationRequest,
} from '../../broker/admin-policy.js';
import type { CallView } from '../../tracer/engine/decide.js';

const ARGS = [0n, 0n, 0n, 0n, 0n, 0n];
const O_WRONLY = 1n;

const POLICY = `audit: /var/log/systrace/test.log
grants:
  - users: [www-data]
    program: /usr/sbin/nginx
    allow:
      bind:
        - sockaddr match "inet-*:80" then permit
        - sockaddr eq "inet-[0.0.0.0]:81" then deny
        - sockaddr match "inet-*:8*" then permit
      fsread:
        - filename inpath "/etc/ssl/private" then permit
  - groups: [webadm]
    allow:
      bind:
        - sockaddr match "inet6-*:443" then permit
        - sockaddr eq "inet-[0.0.0.0]:81" then permit
  - users: [alice, "1001"]
    groups: [netadm]
    program: /usr/bin/ping
    allow:
      socket: permit
      openat:
        - filename eq "/etc/shadow" then permit, if user = alice
      fswrite:
        - filename inpath "/srv/www" then permit
`;

const policy = parseAdminPolicy(POLICY, 'elevate.yaml');

const bind = (sockaddr: string): CallView => ({ emulation: 'linux', syscall: 'bind', args: ARGS, sockaddr });
const open = (file: string, flags = 0n): CallView => ({ emulation: 'linux', syscall: 'openat', args: [0n, 0n, flags, 0n, 0n, 0n], filenames: [file] });

function req(user: string, program: string, call: CallView, groups: string[] = [user], uid = 1000): ElevationRequest {
  return { uid, user, groups, program, call };
}

/** 'granted FILE:LINE' or 'refused FILE:LINE|-' */
function verdict(p: AdminPolicy, r: ElevationRequest): string {
  const d = decideElevation(p, r);
  return `${d.granted ? 'granted' : 'refused'} ${d.grant ?? '-'}`;
}

t.test('loading: grants in order, with users, groups, program and line', async t => {
  t.equal(policy.file, 'elevate.yaml');
  t.equal(policy.audit, '/var/log/systrace/test.log');
  t.same(
    policy.grants.map(g => ({ users: g.users, groups: g.groups, program: g.program, line: g.line })),
    [
      { users: ['www-data'], groups: [], program: '/usr/sbin/nginx', line: 3 },
      { users: [], groups: ['webadm'], program: undefined, line: 12 },
      { users: ['alice', '1001'], groups: ['netadm'], program: '/usr/bin/ping', line: 17 },
    ],
  );
  t.equal(policy.grants[0]!.policy.policy.default, 'deny', 'a grant denies what its rules do not permit');
  t.equal(parseAdminPolicy('grants:\n', 'e.yaml').audit, '/var/log/systrace/elevate.log', 'default audit path');
  t.same(parseAdminPolicy('audit: /x/y.log\n', 'e.yaml').grants, [], 'no grants: nothing is granted');
});

t.test('decisions, table-driven', async t => {
  const nginx = '/usr/sbin/nginx';
  const cases: [string, ElevationRequest, string][] = [
    // user + program match, sockaddr patterns
    ['user and program, port 80', req('www-data', nginx, bind('inet-[127.0.0.1]:80')), 'granted elevation.yaml:7'],
    ['user and program, port 8080 (second permit)', req('www-data', nginx, bind('inet-[0.0.0.0]:8080')), 'granted elevation.yaml:9'],
    ['port 443 not in the nginx grant', req('www-data', nginx, bind('inet-[0.0.0.0]:443')), 'refused -'],
    ['inet6 is not inet-*', req('www-data', nginx, bind('inet6-[::]:80')), 'refused -'],
    // first match wins: the deny at line 8 comes before the 8* permit; not granted by this grant
    ['deny rule decides within the grant', req('www-data', nginx, bind('inet-[0.0.0.0]:81')), 'refused elevation.yaml:8'],
    // ... but the next grant may still grant it (www-data in group webadm)
    ['next grant grants what the first refused', req('www-data', nginx, bind('inet-[0.0.0.0]:81'), ['www-data', 'webadm']), 'granted elevation.yaml:16'],
    // program must match exactly
    ['other program', req('www-data', '/usr/sbin/nginx2', bind('inet-[127.0.0.1]:80')), 'refused -'],
    ['other user', req('bob', nginx, bind('inet-[127.0.0.1]:80')), 'refused -'],
    // group match, any program
    ['group, any program', req('bob', '/opt/x', bind('inet6-[::1]:443'), ['bob', 'webadm']), 'granted elevation.yaml:15'],
    ['group, wrong address', req('bob', '/opt/x', bind('inet-[127.0.0.1]:443'), ['bob', 'webadm']), 'refused -'],
    // alias rules: fsread covers a read-only openat, not a write
    ['fsread alias: read-only open', req('www-data', nginx, open('/etc/ssl/private/key.pem')), 'granted elevation.yaml:11'],
    ['fsread alias: open for writing is fswrite', req('www-data', nginx, open('/etc/ssl/private/key.pem', O_WRONLY)), 'refused -'],
    ['fsread alias: outside the directory', req('www-data', nginx, open('/etc/ssl/private2')), 'refused -'],
    ['fsread via stat', req('www-data', nginx, { emulation: 'linux', syscall: 'newfstatat', args: ARGS, filenames: ['/etc/ssl/private'] }), 'granted elevation.yaml:11'],
    // users by name or uid, groups, unconditional rule, call rules before alias, `if user` conditions
    ['user by name, unconditional socket', req('alice', '/usr/bin/ping', { emulation: 'linux', syscall: 'socket', args: [2n, 3n, 1n, 0n, 0n, 0n] }), 'granted elevation.yaml:21'],
    ['user by uid', req('carol', '/usr/bin/ping', { emulation: 'linux', syscall: 'socket', args: ARGS }, ['carol'], 1001), 'granted elevation.yaml:21'],
    ['user by group', req('dave', '/usr/bin/ping', { emulation: 'linux', syscall: 'socket', args: ARGS }, ['netadm']), 'granted elevation.yaml:21'],
    ['call rule with if user = alice', req('alice', '/usr/bin/ping', open('/etc/shadow')), 'granted elevation.yaml:23'],
    ['if user = alice does not hold for dave', req('dave', '/usr/bin/ping', open('/etc/shadow'), ['netadm']), 'refused -'],
    ['fswrite alias', req('alice', '/usr/bin/ping', open('/srv/www/index.html', O_WRONLY)), 'granted elevation.yaml:25'],
    ['call not in any grant', req('alice', '/usr/bin/ping', { emulation: 'linux', syscall: 'setuid', args: ARGS }), 'refused -'],
    ['linux32 calls are not granted', req('alice', '/usr/bin/ping', { emulation: 'linux32', syscall: 'socket', args: ARGS }), 'refused -'],
  ];
  const p = parseAdminPolicy(POLICY, 'elevation.yaml');
  for (const [name, r, want] of cases) t.equal(verdict(p, r), want, name);
});

t.test('refusals say why', async t => {
  const none = decideElevation(policy, req('bob', '/bin/x', bind('inet-[127.0.0.1]:80')));
  t.equal(none.granted, false);
  t.match(none.reason, /^no grant in elevate\.yaml for user bob \(uid 1000\), program \/bin\/x$/);
  const notPermitted = decideElevation(policy, req('www-data', '/usr/sbin/nginx', bind('inet-[127.0.0.1]:22')));
  t.match(notPermitted.reason, /1 grant\(s\) in elevate\.yaml apply to user www-data .* but none permits bind inet-\[127\.0\.0\.1\]:22$/);
  const denied = decideElevation(policy, req('www-data', '/usr/sbin/nginx', bind('inet-[0.0.0.0]:81')));
  t.match(denied.reason, /elevate\.yaml:8 refuses it/);
  const granted = decideElevation(policy, req('www-data', '/usr/sbin/nginx', bind('inet-[0.0.0.0]:80')));
  t.same(granted, { granted: true, grant: 'elevate.yaml:7', reason: 'granted by elevate.yaml:7 (sockaddr match "inet-*:80" then permit)' });
});

t.test('every refusal of the file, with file:line:col', async t => {
  const cases: [string, string, RegExp][] = [
    ['bad YAML', 'grants: [\n', /^e\.yaml:\d+:\d+: YAML: /],
    ['empty', '', /^e\.yaml: empty admin policy/],
    ['not a mapping', '- a\n', /^e\.yaml:1:1: the admin policy must be a YAML mapping/],
    ['unknown top key', 'audit: /x.log\ngrant: []\n', /^e\.yaml:2:1: unknown key 'grant' \(expected audit, grants\)/],
    ['relative audit path', 'audit: log/x.log\n', /^e\.yaml:1:8: 'audit' must be an absolute, normalised file path/],
    ['audit not a string', 'audit: [a]\n', /^e\.yaml:1:8: 'audit' must be the audit log's path/],
    ['grants not a list', 'grants: {users: [a]}\n', /^e\.yaml:1:9: 'grants' must be a list/],
    ['grant not a mapping', 'grants:\n  - www-data\n', /^e\.yaml:2:5: a grant must be a mapping/],
    ['unknown grant key', 'grants:\n  - users: [a]\n    user: [b]\n    allow: {bind: permit}\n', /^e\.yaml:3:5: unknown grant key 'user'/],
    ['neither users nor groups', 'grants:\n  - program: /x\n    allow:\n      bind: permit\n', /^e\.yaml:2:5: a grant must name users or groups/],
    ['empty users', 'grants:\n  - users: []\n    allow:\n      bind: permit\n', /^e\.yaml:2:5: a grant must name users or groups/],
    ['no allow', 'grants:\n  - users: [a]\n', /^e\.yaml:2:5: a grant needs 'allow'/],
    ['allow not a mapping', 'grants:\n  - users: [a]\n    allow: [bind]\n', /^e\.yaml:3:12: 'allow' must be a mapping/],
    ['relative program', 'grants:\n  - users: [a]\n    program: nginx\n    allow:\n      bind: permit\n', /^e\.yaml:3:14: 'program' must be the absolute path/],
    ['bad user item', 'grants:\n  - users: [[a]]\n    allow:\n      bind: permit\n', /^e\.yaml:2:13: each of 'users' must be a name/],
    ['unknown system call', 'grants:\n  - users: [a]\n    allow:\n      bindx: permit\n', /^e\.yaml:4:7: unknown system call 'bindx'/],
    ['rule syntax error', 'grants:\n  - users: [a]\n    allow:\n      bind:\n        - sockaddr matchx "inet-*:80" then permit\n', /^e\.yaml:5:20: expected an operator/],
    ['rule error in flow style', 'grants:\n  - users: [a]\n    allow: {bind: ["sockaddr eq 80 then permit"]}\n', /^e\.yaml:3:\d+: /],
    ['variables', 'grants:\n  - users: [a]\n    allow:\n      fsread:\n        - filename inpath "$HOME/x" then permit\n', /^e\.yaml:5:28: \$HOME, \$USER and \$CWD have no meaning/],
    ['as another user', 'grants:\n  - users: [a]\n    allow:\n      bind:\n        - true then permit as www-data\n', /^e\.yaml:5:11: the broker performs calls as root only/],
  ];
  for (const [name, text, want] of cases) {
    const e = t.throws(() => parseAdminPolicy(text, 'e.yaml'), AdminPolicyError, name) as unknown as AdminPolicyError;
    if (e instanceof AdminPolicyError) {
      t.match(e.message, want, name);
      t.equal(e.code, 'EADMINPOLICY', name);
    }
  }
  // Several problems are all reported, in file order.
  const e = (() => {
    try {
      parseAdminPolicy('grants:\n  - users: [a]\n    allow:\n      bindx: permit\nzap: 1\n', 'e.yaml');
    } catch (x) {
      return x as AdminPolicyError;
    }
    return undefined;
  })();
  t.same(e?.message.split('\n').map(l => l.split(': ')[0]), ['e.yaml:4:7', 'e.yaml:5:1']);
  // `permit as root` and `elevate` are accepted (they are permits).
  const ok = parseAdminPolicy('grants:\n  - users: [a]\n    allow:\n      bind:\n        - true then permit as root\n      listen: elevate\n', 'e.yaml');
  t.equal(decideElevation(ok, req('a', '/x', bind('inet-[1.2.3.4]:80'))).granted, true);
});

t.test('the shipped template loads and grants nothing', async t => {
  const p = loadAdminPolicy('policies/elevate.yaml', { checkOwnership: false });
  t.equal(p.audit, '/var/log/systrace/elevate.log');
  t.same(p.grants, []);
  // Its commented example, uncommented, is a valid grant.
  const text = fs.readFileSync('policies/elevate.yaml', 'utf8');
  const example = text.split('\n').filter(l => /^ {2}# {1,3}(-| {2}|\s*$)/.test(l) && !/Example|Uncomment/.test(l)).map(l => l.replace(/^ {2}# ?/, '  ')).join('\n');
  const q = parseAdminPolicy(`grants:\n${example}\n`, 'example.yaml');
  t.equal(q.grants.length, 2);
  t.equal(decideElevation(q, req('www-data', '/usr/sbin/nginx', bind('inet6-[::]:443'))).granted, true);
});

// ---------------------------------------------------------------- ownership on real files

const isRoot = process.getuid?.() === 0;

t.test('checkRootOwned and loadAdminPolicy on files we create', { skip: isRoot ? false : 'needs root: files must be chown-ed to root and to others' }, async t => {
  // A root-owned 0755 chain: /usr/local/lib is root's and closed (checked
  // first), /var/tmp or /tmp would not be (world-writable, sticky).
  const base = '/usr/local/lib';
  checkRootOwned(base);
  const dir = path.join(base, `systrace-test-${randomBytes(4).toString('hex')}`);
  fs.mkdirSync(dir, { mode: 0o755 });
  fs.chmodSync(dir, 0o755);
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'elevate.yaml');
  fs.writeFileSync(file, 'audit: /var/log/systrace/elevate.log\ngrants: []\n', { mode: 0o644 });
  fs.chmodSync(file, 0o644);

  t.doesNotThrow(() => checkRootOwned(file), 'root-owned 0644 in a root 0755 chain');
  t.equal(loadAdminPolicy(file).grants.length, 0);

  const refuses = (what: string, want: RegExp, p = file) => {
    try {
      loadAdminPolicy(p);
      t.fail(`${what}: not refused`);
    } catch (e) {
      t.type(e, AdminPolicyError, what);
      t.match((e as Error).message, want, what);
    }
  };

  fs.chmodSync(file, 0o664);
  refuses('group-writable file', new RegExp(`^${file}: is writable by its group, gid \\d+ \\(mode 0664\\)$`));
  fs.chmodSync(file, 0o646);
  refuses('other-writable file', new RegExp(`^${file}: is writable by others \\(mode 0646\\)$`));
  fs.chmodSync(file, 0o644);
  fs.chownSync(file, 65534, 0);
  refuses('file owned by nobody', new RegExp(`^${file}: is owned by uid 65534, not root$`));
  fs.chownSync(file, 0, 0);

  fs.chmodSync(dir, 0o775);
  refuses('group-writable directory', new RegExp(`^${file}: ${dir} \\(above it\\): is writable by its group`));
  fs.chmodSync(dir, 0o1777);
  refuses('sticky world-writable directory, like /tmp', new RegExp(`^${file}: ${dir} \\(above it\\): is writable by others \\(mode 01777\\), sticky or not$`));
  fs.chmodSync(dir, 0o755);
  fs.chownSync(dir, 65534, 65534);
  refuses('directory owned by nobody', new RegExp(`^${file}: ${dir} \\(above it\\): is owned by uid 65534, not root$`));
  fs.chownSync(dir, 0, 0);

  const link = path.join(dir, 'link.yaml');
  fs.symlinkSync(file, link);
  refuses('symlink to a good file', new RegExp(`^${link}: is a symbolic link \\(to ${file}\\)`), link);
  const sub = path.join(dir, 'sub');
  fs.mkdirSync(sub, { mode: 0o755 });
  const dirLink = path.join(dir, 'sublink');
  fs.symlinkSync(sub, dirLink);
  fs.copyFileSync(file, path.join(sub, 'elevate.yaml'));
  refuses('symlink in the directory chain', new RegExp(`${dirLink} \\(above it\\): is a symbolic link`), path.join(dirLink, 'elevate.yaml'));
  t.doesNotThrow(() => loadAdminPolicy(path.join(sub, 'elevate.yaml')), 'the real path is fine');

  refuses('missing file', new RegExp(`^${path.join(dir, 'none.yaml')}: does not exist$`), path.join(dir, 'none.yaml'));
  t.throws(() => checkRootOwned('/tmp'), /\/tmp: is writable by others \(mode 01777\), sticky or not/);

  // Unsafe ownership is checked before anything is read: a bad file is refused for its mode first.
  fs.writeFileSync(file, 'zap: [\n');
  fs.chmodSync(file, 0o666);
  refuses('bad YAML in a writable file: the mode is reported', /is writable by others/);
  fs.chmodSync(file, 0o644);
  refuses('bad YAML', new RegExp(`^${file}:\\d+:\\d+: YAML: `));
  t.throws(() => loadAdminPolicy(file, { checkOwnership: false }), /YAML/);
});
