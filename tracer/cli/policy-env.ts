// What a policy's $HOME, $USER and $CWD mean: the user who runs systrace.
import os from 'node:os';
import type { PolicyEnv } from '../policy/parse.js';

/** The user, also when the uid has no passwd entry (the name is then the number). */
function who(): { uid: number; gid: number; username: string; homedir: string } {
  try {
    return os.userInfo();
  } catch {
    const uid = process.getuid?.() ?? -1;
    return { uid, gid: process.getgid?.() ?? -1, username: String(uid), homedir: process.env.HOME ?? '/' };
  }
}

export function policyEnv(): PolicyEnv {
  const info = who();
  return { HOME: process.env.HOME || info.homedir, USER: info.username, CWD: process.cwd() };
}

export function currentUser(): { uid: number; gid: number; name: string; groups: string[] } {
  const info = who();
  const groups = process.getgroups?.().map(String) ?? [];
  return { uid: info.uid, gid: info.gid, name: info.username, groups };
}
