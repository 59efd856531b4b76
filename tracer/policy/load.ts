// Reading a policy file: the one place in tracer/policy that touches the file
// system. Everything else is parsePolicy over the text.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Policy } from './types.js';
import { parsePolicy, PolicyError, type PolicyEnv } from './parse.js';

export async function loadPolicyFile(path: string, env: PolicyEnv): Promise<Policy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw readError(path, e);
  }
  return parsePolicy(text, path, env);
}

/** The same, synchronously (for the CLI's start-up path). */
export function loadPolicyFileSync(path: string, env: PolicyEnv): Policy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw readError(path, e);
  }
  return parsePolicy(text, path, env);
}

function readError(path: string, e: unknown): PolicyError {
  const err = e as NodeJS.ErrnoException;
  const why =
    err.code === 'ENOENT'
      ? 'no such policy file'
      : err.code === 'EACCES'
        ? 'permission denied reading the policy file'
        : err.code === 'EISDIR'
          ? 'is a directory, not a policy file'
          : `cannot read the policy file: ${err.message}`;
  return new PolicyError({ file: path, line: 1, col: 1, reason: why });
}
