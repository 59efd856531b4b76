// How bin/systrace starts `systrace run`: dist/tracer/cli/run-bundle.cjs
// (run-main.ts and all it imports in one file, written by
// scripts/bundle-run.mjs in npm run build), compiled with the V8 code cache
// the build wrote beside it. Node 20 has no compile cache for ES modules,
// and resolving and compiling some sixty of them was about a third of
// systrace's start (35 ms of 125 here), all of it before the confined
// program can run. The cache also holds the notification handlers as the
// build's own confined run compiled them, so a program's first calls wait
// less. A cache V8 rejects (another node, other flags) costs only the
// compile.
//
// A bundle older than its sources (a build that ran tsc alone) is not used:
// the build's manifest (run-bundle.cjs.json) lists the mtime and size of
// the bundle, its cache and each of its inputs, and any change sends this
// run to main.ts, the modules themselves.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');
const { pathToFileURL } = require('node:url');

const root = path.join(__dirname, '..');
const bundle = path.join(root, 'dist', 'tracer', 'cli', 'run-bundle.cjs');
const cacheFile = `${bundle}.cache`;

/** The build's manifest, when the bundle (and its cache) are what it wrote from the sources as they are now. */
function manifest() {
  let m;
  try {
    m = JSON.parse(fs.readFileSync(`${bundle}.json`, 'utf8'));
  } catch {
    return undefined;
  }
  const same = (file, was) => {
    try {
      const st = fs.statSync(path.join(root, file));
      // Within a millisecond: a copy that keeps mtimes (the tests' copy
      // for the unprivileged user) rounds them.
      return Math.abs(st.mtimeMs - was.mtimeMs) < 1 && st.size === was.size;
    } catch {
      return false;
    }
  };
  if (!Array.isArray(m.inputs) || !m.bundle || !same(m.bundle.file, m.bundle)) return undefined;
  if (!m.inputs.every(i => same(i.file, i))) return undefined;
  // V8 checks a cache against its source's length only: a cache from
  // another bundle must never be offered.
  return { cache: m.cache && same(m.cache.file, m.cache) };
}

const built = manifest();
// SYSTRACE_DEBUG_START=1: say which start this was.
const say = what => process.env.SYSTRACE_DEBUG_START && process.stderr.write(`systrace: started from ${what}\n`);
const fromModules = why => {
  say(`the modules (${why})`);
  import(pathToFileURL(path.join(root, 'dist', 'tracer', 'cli', 'main.js')).href);
};

let script;
if (!built) {
  fromModules('no current run bundle');
} else {
  let source;
  let cachedData;
  try {
    source = fs.readFileSync(bundle, 'utf8');
    cachedData = built.cache ? fs.readFileSync(cacheFile) : undefined;
  } catch (e) {
    // A build replacing them at this moment.
    source = undefined;
    fromModules(`the run bundle cannot be read: ${e.code ?? e.message}`);
  }
  if (source !== undefined) {
    script = new vm.Script(Module.wrap(source), {
      filename: bundle,
      cachedData,
      // import() as in any module of the main context (the bundle has
      // none today); the constant is Node 20.12's.
      ...(vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER ? { importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER } : {}),
    });
    say(`the run bundle, ${!cachedData ? 'without a code cache' : script.cachedDataRejected ? 'its code cache rejected' : 'its code cache accepted'}`);
  }
}

// The build's cache run (scripts/bundle-run.mjs) names the file to write.
// Best effort: a cache that cannot be written changes nothing of the run.
if (script && process.env.SYSTRACE_WRITE_CODE_CACHE === cacheFile) {
  process.on('exit', () => {
    const tmp = `${cacheFile}.tmp`;
    try {
      fs.rmSync(tmp, { force: true });
      // The tracer's umask is 0 (it creates files for the program with the
      // program's own): the mode is set here, never writable by others;
      // 'wx' creates a new file and follows no symlink left there.
      const fd = fs.openSync(tmp, 'wx', 0o644);
      try {
        fs.writeSync(fd, script.createCachedData());
        fs.fchmodSync(fd, 0o644);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, cacheFile);
    } catch (e) {
      process.stderr.write(`systrace: code cache not written: ${e.message}\n`);
    }
  });
}

if (script) {
  const mod = new Module(bundle, module);
  mod.filename = bundle;
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(bundle), mod, bundle, path.dirname(bundle));
}
