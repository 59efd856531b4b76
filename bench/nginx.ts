// nginx serving one static file (4 KiB) on 127.0.0.1 to wrk (-t1 -c16,
// 5 s, after a 1 s warm-up), under every variant: requests per second and
// p99 latency. With two CPUs or more, nginx's worker is pinned to CPU 1 and
// wrk to CPU 0: unpinned, the two moved between the CPUs from run to run
// and native alone spread by 15% in requests/s and 3x in p99 (79-91k/s,
// 0.35-1.1 ms); pinned, by 1%.
// One master and one worker, no access log, no open-file cache,
// so every request opens the file (and glibc fstat()s it). Each trial starts
// a fresh nginx. nginx runs as root here (the worker drops to nobody).
//
// The systrace policies are learned at the start of the scenario
// (`systrace run -A` while wrk runs against it): "confining" is the learned
// policy with nginx's own directory folded into `inpath` rules (its files
// and its one port confined); "in-kernel" permits every learned call
// unconditionally.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as net from 'node:net';
import * as path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { median, type BenchContext, type Launch, type Row, type ScenarioResult } from './measure.js';
import { confining, foldRules, kernelOnly, landlockDocs, programPath, readPolicy, variants, writePolicy } from './peers.js';
import { underSystrace } from './measure.js';

const PORT = Number(process.env.BENCH_NGINX_PORT ?? 18080);
const SECONDS = Number(process.env.BENCH_NGINX_SECONDS ?? 5);

/** Two CPUs or more: the worker on CPU 1, wrk on CPU 0. */
const PINNED = os.cpus().length >= 2;
const WRK = `wrk${PINNED ? ' (pinned to CPU 0; nginx\'s worker to CPU 1)' : ''} -t1 -c16 -d${SECONDS}s`;

const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms));

function listening(): Promise<boolean> {
  return new Promise(resolve => {
    const s = net.connect({ host: '127.0.0.1', port: PORT });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

interface Server { child: ChildProcess; exited: Promise<number | null>; log: string }

async function start(dir: string, launch: Launch): Promise<Server> {
  if (await listening())
    throw new Error(`port ${PORT} is already in use`);
  const log = path.join(dir, 'launch.log');
  const err = fs.openSync(log, 'w');
  const fd3 = launch.fd3 === undefined ? undefined : fs.openSync(launch.fd3, 'r');
  const [file, ...args] = launch.argv;
  // Its own process group, so that whatever is left can be killed by the group's id.
  const child = spawn(file!, args, {
    detached: true,
    stdio: fd3 === undefined ? ['ignore', 'ignore', err] : ['ignore', 'ignore', err, fd3],
  });
  fs.closeSync(err);
  if (fd3 !== undefined)
    fs.closeSync(fd3);
  const exited = new Promise<number | null>(resolve => {
    child.once('exit', code => resolve(code));
    child.once('error', () => resolve(-1));
  });
  let gone = false;
  void exited.then(() => { gone = true; });
  for (let i = 0; i < 200; i++) {
    if (gone)
      throw new Error(`exited before listening: ${fs.readFileSync(log, 'utf8').trim().split('\n').slice(-2).join(' | ')}`);
    if (await listening())
      return { child, exited, log };
    await sleep(50);
  }
  await stop(dir, { child, exited, log });
  throw new Error(`not listening on ${PORT} after 10 s`);
}

async function stop(dir: string, server: Server): Promise<void> {
  const pidFile = path.join(dir, 'nginx.pid');
  try {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    if (pid > 0)
      process.kill(pid, 'SIGTERM'); // nginx's master: fast shutdown
  } catch {
    server.child.kill('SIGTERM');
  }
  const timeout = sleep(10_000).then(() => 'timeout' as const);
  if (await Promise.race([server.exited, timeout]) === 'timeout') {
    try { process.kill(-server.child.pid!, 'SIGKILL'); } catch { /* already gone */ }
    await server.exited;
  }
  fs.rmSync(pidFile, { force: true });
  for (let i = 0; i < 100 && await listening(); i++)
    await sleep(50);
}

interface Load { rps: number; p99ms: number }

function wrk(seconds: number): Promise<Load> {
  return new Promise((resolve, reject) => {
    const args = ['wrk', '-t1', '-c16', `-d${seconds}s`, '--latency', `http://127.0.0.1:${PORT}/index.html`];
    const argv = PINNED ? ['taskset', '-c', '0', ...args] : args;
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    child.once('error', reject);
    child.once('close', code => {
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
      const p99 = /^\s+99%\s+([\d.]+)(us|ms|s)\s*$/m.exec(out);
      const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: .*/.exec(out);
      if (code !== 0 || rps === null || p99 === null)
        return reject(new Error(`wrk exit ${code}: ${out.trim().split('\n').slice(-2).join(' | ')}`));
      if (errors !== null && errors[1] !== undefined)
        return reject(new Error(`wrk: ${errors[0]}`));
      const scale = p99[2] === 'us' ? 1e-3 : p99[2] === 's' ? 1e3 : 1;
      resolve({ rps: Number(rps[1]), p99ms: Number(p99[1]) * scale });
    });
  });
}

function config(dir: string): string {
  return `daemon off;
master_process on;
worker_processes 1;
${PINNED ? 'worker_cpu_affinity 10;\n' : ''}pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  server {
    listen 127.0.0.1:${PORT};
    root ${dir}/www;
  }
}
`;
}

const LANDLOCKED = 'systrace confining+fast-fstat+landlock';

function skipped(why: string): ScenarioResult[] {
  return [{ name: `nginx + wrk (not run: ${why})`, short: 'nginx rps', unit: 'req/s', rows: [], targets: [] }];
}

export async function nginxScenario(ctx: BenchContext): Promise<ScenarioResult[]> {
  for (const tool of ['nginx', 'wrk'])
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0)
      return skipped(`${tool} is not installed`);
  const dir = path.join(ctx.tmp, 'nginx');
  fs.mkdirSync(path.join(dir, 'www'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  fs.chmodSync(ctx.tmp, 0o755); // the worker (nobody) reads www/
  fs.writeFileSync(path.join(dir, 'www/index.html'), 'x'.repeat(4095) + '\n');
  fs.writeFileSync(path.join(dir, 'nginx.conf'), config(dir));
  const nginx = ['nginx', '-c', path.join(dir, 'nginx.conf'), '-p', dir + '/'];
  const trials = Math.min(ctx.trials, 3);

  // Learn the policy under load.
  const learnedFile = path.join(ctx.tmp, 'nginx-learned.yaml');
  let kernel: string;
  let conf: string;
  let confFast: string;
  let confLandlock: string;
  try {
    const server = await start(dir, { argv: [ctx.systrace, 'run', '-A', '-o', learnedFile, '--', ...nginx] });
    try { await wrk(1); } finally { await stop(dir, server); }
    const learned = readPolicy(learnedFile);
    kernel = writePolicy(ctx, 'nginx-kernel', kernelOnly(learned), 'nginx: every learned call permitted unconditionally (in the kernel)');
    const confDoc = confining(learned, {
      fsread: foldRules(learned, 'fsread', [dir]),
      fswrite: foldRules(learned, 'fswrite', [dir]),
    });
    conf = writePolicy(ctx, 'nginx-confining', confDoc, `nginx: the learned policy, files confined to ${dir}`);
    // The same with the explicit fstat trade-off (README: fast-fstat).
    confFast = writePolicy(ctx, 'nginx-confining-fast-fstat', { ...confDoc, 'fast-fstat': true },
      'nginx: the confining policy, with fast-fstat: true');
    // And with its open in the kernel too (README: landlock).
    confLandlock = writePolicy(ctx, 'nginx-confining-landlock', { ...landlockDocs(confDoc, [programPath('nginx')]).landlock, 'fast-fstat': true },
      'nginx: the confining policy, with fast-fstat: true and landlock: true');
  } catch (err) {
    return skipped(`learning failed: ${(err as Error).message}`);
  }

  const rps: Row[] = [];
  const p99: Row[] = [];
  const all = [
    ...variants(ctx, { kernel, confining: conf }),
    { name: 'systrace confining+fast-fstat', slow: true, wrap: (cmd: string[]) => ({ argv: underSystrace(ctx, confFast, cmd) }) },
    { name: LANDLOCKED, slow: true, wrap: (cmd: string[]) => ({ argv: underSystrace(ctx, confLandlock, cmd) }) },
  ];
  for (const v of all) {
    const loads: Load[] = [];
    let error: string | undefined;
    try {
      for (let i = 0; i < trials; i++) {
        const server = await start(dir, v.wrap(nginx));
        try {
          await wrk(1);
          loads.push(await wrk(SECONDS));
        } finally {
          await stop(dir, server);
        }
      }
    } catch (err) {
      error = (err as Error).message;
    }
    const row = (xs: number[]): Row => error !== undefined
      ? { variant: v.name, samples: xs, error }
      : { variant: v.name, value: median(xs), samples: xs };
    rps.push(row(loads.map(l => l.rps)));
    p99.push(row(loads.map(l => l.p99ms)));
  }
  const what = `nginx, 4 KiB static file, ${WRK} (${trials} trials)`;
  return [
    {
      name: `${what}: requests/s (higher is better)`, short: 'nginx rps', unit: 'req/s', rows: rps,
      targets: [
        { label: 'systrace in-kernel / seccomp-allow-all', numerator: 'systrace in-kernel', denominator: 'seccomp-allow-all', min: 0.95 },
        { label: 'systrace confining / native', numerator: 'systrace confining', denominator: 'native', min: 0.95 },
        { label: `${LANDLOCKED} / native`, numerator: LANDLOCKED, denominator: 'native', min: 0.95 },
      ],
    },
    {
      name: `${what}: p99 latency`, short: 'nginx p99', unit: 'ms', rows: p99,
      targets: [
        { label: 'systrace confining / native', numerator: 'systrace confining', denominator: 'native', max: 1.2 },
        { label: `${LANDLOCKED} / native`, numerator: LANDLOCKED, denominator: 'native', max: 1.2 },
      ],
    },
  ];
}
