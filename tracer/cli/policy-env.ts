// What a policy's $HOME, $USER and $CWD mean: the user who runs systrace.
import os from 'node:os';
import type { PolicyEnv } from '../policy/parse.js';

export function policyEnv(): PolicyEnv {
  const info = os.userInfo();
  return { HOME: process.env.HOME || info.homedir, USER: info.username, CWD: process.cwd() };
}

export function currentUser(): { uid: number; gid: number; name: string; groups: string[] } {
  const info = os.userInfo();
  const groups = process.getgroups?.().map(String) ?? [];
  return { uid: info.uid, gid: info.gid, name: info.username, groups };
}
