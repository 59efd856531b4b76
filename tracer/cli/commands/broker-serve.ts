// `systrace broker serve [--socket PATH] [--policy FILE]`: the broker as a
// root daemon (peer identity from SO_PEERCRED), for services that run with
// NoNewPrivileges=yes, where a setuid launcher cannot gain root.
import type { Command } from 'commander';
import { DEFAULT_POLICY, DEFAULT_SOCKET, serve } from '../../../broker/main.js';
import { writeStderr } from '../stderr.js';

export function registerBrokerServe(broker: Command): void {
  broker
    .command('serve')
    .description('run the broker as a root daemon on a Unix socket (anyone may connect; who they are comes from the kernel)')
    .option('--socket <path>', 'the socket to listen on (without it: fd 3, from systemd socket activation)', DEFAULT_SOCKET)
    .option('--systemd', 'listen on fd 3, passed by systemd socket activation', false)
    .option('--policy <file>', 'the admin elevation policy (root-owned, or the broker will not start)', DEFAULT_POLICY)
    .action(async (o: { socket: string; systemd: boolean; policy: string }) => {
      try {
        await serve({ policyFile: o.policy, socket: o.systemd ? undefined : o.socket });
      } catch (e) {
        writeStderr(`systrace broker: ${(e as Error).message}\n`);
        process.exit(125);
      }
    });
}
