/** Systrace's policy file name for a program: `/usr/sbin/named` -> `usr_sbin_named`. */
export function mangleProgramName(program: string): string {
  return program.replace(/^\/+/, '').replace(/\//g, '_');
}
