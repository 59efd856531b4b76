#!/usr/bin/env node
// npm run build's last step: `systrace run` as one file with a V8 code
// cache (bin/run-loader.cjs says why and how it is used).
//   1. esbuild bundles dist/tracer/cli/run-main.js (tsc's output) into
//      dist/tracer/cli/run-bundle.cjs;
//   2. one confined run through the loader writes the code cache beside it
//      (opens, stats and an exec, so the handlers are in it too);
//   3. the manifest records the bundle, the cache and every input.
// A failed cache run leaves the bundle without a cache (a warning, not a
// failed build): systrace then compiles at each start, as before.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const rel = 'dist/tracer/cli/run-bundle.cjs';
const bundle = path.join(root, rel);
const cache = `${bundle}.cache`;
const manifest = `${bundle}.json`;

for (const f of [manifest, cache]) fs.rmSync(f, { force: true });

const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints: ['dist/tracer/cli/run-main.js'],
  outfile: rel,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // import.meta has no meaning in CommonJS: native.ts finds the package
  // root (the addon, the exec helper) from this file's own URL.
  define: { 'import.meta.url': '__systraceModuleUrl' },
  // "use strict" first: esbuild's own comes after the banner, where it
  // would be an ordinary string and the bundle sloppy-mode code.
  banner: { js: "'use strict';\nconst __systraceModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  metafile: true,
  logLevel: 'warning',
});

const stamp = file => {
  const st = fs.statSync(path.join(root, file));
  return { file, mtimeMs: st.mtimeMs, size: st.size };
};
// Our own modules: node_modules change only with npm ci, which rebuilds.
const inputs = Object.keys(result.metafile.inputs).filter(f => f.startsWith('dist/')).sort().map(stamp);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'systrace-bundle-'));
let cached = false;
try {
  const policy = path.join(dir, 'policy.yaml');
  fs.writeFileSync(policy, `emulation: linux
default: permit
rules:
  fsread:
    - filename inpath "/" then permit
  newfstatat:
    - filename inpath "/" then permit
  execve:
    - filename inpath "/" then permit
`);
  // The manifest without the cache first: the loader uses the bundle only
  // when the manifest says it is current.
  fs.writeFileSync(manifest, JSON.stringify({ bundle: stamp(rel), inputs }));
  const r = spawnSync(process.execPath, [path.join(root, 'bin/run-loader.cjs'), 'run', '-a', '-f', policy, '--',
    '/bin/sh', '-c', 'cat /etc/hostname >/dev/null; ls -l / >/dev/null; /bin/true'], {
    env: { ...process.env, SYSTRACE_WRITE_CODE_CACHE: cache },
    encoding: 'utf8',
    timeout: 60_000,
  });
  cached = r.status === 0 && fs.existsSync(cache);
  if (!cached) {
    process.stderr.write(`bundle-run: no code cache (the confined run: exit ${r.status ?? r.signal}${r.error ? `, ${r.error.message}` : ''}): ${(r.stderr ?? '').trim().split('\n').slice(-2).join(' | ')}\n`);
    fs.rmSync(cache, { force: true });
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
fs.writeFileSync(manifest, JSON.stringify({ bundle: stamp(rel), ...(cached ? { cache: stamp(`${rel}.cache`) } : {}), inputs }, null, 1));
process.stdout.write(`bundle-run: ${rel} (${inputs.length} modules)${cached ? ', with its code cache' : ''}\n`);
