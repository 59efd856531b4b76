// Temporary files that user nobody can read: fixture files with distinct
// contents and policy files. Each lives in its own directory under /tmp
// (never under the repository, which nobody may not enter) and is removed
// by the test's teardown.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { NOBODY_UID, NOGROUP_GID } from './unpriv.js';

/** The part of a tap Test these helpers use. */
export interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

export interface MakeFilesOptions {
  /** Make the directory owned by nobody, so the confined program may create and remove entries. */
  writableByNobody?: boolean;
}

/**
 * A fresh directory containing the given files (names may contain '/'),
 * directories 0755 and files 0644 so nobody can read them. Returns the
 * directory's real path: the one a policy must name, since systrace
 * matches normalised paths.
 */
export function makeFiles(t: Teardown, files: Record<string, string>, opts: MakeFilesOptions = {}): string {
  const dir = fs.realpathSync(fs.mkdtempSync('/tmp/systrace-files-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.chmodSync(dir, 0o755);
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    if (!file.startsWith(dir + '/'))
      throw new Error(`makeFiles: ${name} escapes the directory`);
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
    fs.writeFileSync(file, content, { mode: 0o644 });
    fs.chmodSync(file, 0o644); // the umask may have narrowed it
  }
  if (opts.writableByNobody === true)
    fs.chownSync(dir, NOBODY_UID, NOGROUP_GID);
  return dir;
}

/**
 * Write a policy to a world-readable temporary file and return its path.
 * name is the file's base name (it appears in denial messages).
 */
export function writeTempPolicy(t: Teardown, yamlText: string, name = 'policy.yaml'): string {
  const dir = makeFiles(t, { [name]: yamlText });
  return path.join(dir, name);
}
