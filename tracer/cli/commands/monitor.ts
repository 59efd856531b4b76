// `systrace monitor`: the server tracers stream their events to, with the
// web interface for the operator. Thin: parse options, start MonitorServer
// and WebInterface, print where they are, stop on SIGINT/SIGTERM.
import type { Command } from 'commander';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { MonitorServer } from '../../../monitor/server.js';
import type { WebInterface } from '../../../monitor/web.js';

interface MonitorCliOptions {
  socket?: string;
  listen?: string;
  tlsCert?: string;
  tlsKey?: string;
  db: string;
  http: string;
  token?: string;
  syslog?: string;
  syslogFacility: string;
  jsonExport?: string;
  burst: string;
}

/** HOST:PORT or [V6]:PORT. */
function hostPort(flag: string, v: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(v);
  const port = Number(m?.[2]);
  if (!m || !(port >= 0 && port < 65536)) throw new Error(`${flag} ${v}: not HOST:PORT`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

function fail(message: string): never {
  process.stderr.write(`systrace: monitor: ${message}\n`);
  process.exit(125);
}

export function registerMonitor(program: Command): void {
  const home = path.join(os.homedir(), '.systrace');
  program
    .command('monitor')
    .description('collect events from tracers (systrace run --monitor ADDR), store them, raise alerts, and serve the web interface')
    .option('--socket <path>', 'Unix socket for tracers on this machine (default ~/.systrace/monitor.sock unless --listen)')
    .option('--listen <host:port>', 'TCP for tracers elsewhere: TLS only, needs --tls-cert and --tls-key')
    .option('--tls-cert <file>', 'PEM certificate for --listen')
    .option('--tls-key <file>', 'PEM private key for --listen')
    .option('--db <file>', 'the event database (SQLite)', path.join(home, 'monitor.db'))
    .option('--http <host:port>', 'the web interface (port 0: any free port)', '127.0.0.1:7469')
    .option('--token <token>', 'the tracers\' token (default: random, printed; or $SYSTRACE_MONITOR_TOKEN)')
    .option('--syslog <url>', 'forward events and alerts as RFC 5424 to udp://HOST:PORT or tcp://HOST:PORT')
    .option('--syslog-facility <name>', 'syslog facility', 'local0')
    .option('--json-export <file>', 'append every event and alert as a JSON line')
    .option('--burst <count/seconds>', 'a burst alert: this many denials from one session within this many seconds', '10/10')
    .action(async (o: MonitorCliOptions) => {
      let server: MonitorServer;
      let web: WebInterface;
      let where;
      let url;
      try {
        // Loaded here, not at the top: every other command (run above all) starts without SQLite.
        const { MonitorServer } = await import('../../../monitor/server.js');
        const { WebInterface } = await import('../../../monitor/web.js');
        const listen = o.listen === undefined ? undefined : hostPort('--listen', o.listen);
        if (listen && (!o.tlsCert || !o.tlsKey)) throw new Error('--listen is TLS only: give --tls-cert and --tls-key');
        const http = hostPort('--http', o.http);
        const burst = /^(\d+)\/(\d+(?:\.\d+)?)$/.exec(o.burst);
        if (!burst) throw new Error(`--burst ${o.burst}: not COUNT/SECONDS`);
        const socket = o.socket ?? (listen ? undefined : path.join(home, 'monitor.sock'));
        for (const f of [socket, o.db]) if (f && f !== ':memory:') fs.mkdirSync(path.dirname(f), { recursive: true, mode: 0o700 });
        server = new MonitorServer({
          socket, db: o.db, token: o.token ?? process.env.SYSTRACE_MONITOR_TOKEN, syslog: o.syslog, syslogFacility: o.syslogFacility,
          jsonExport: o.jsonExport, detector: { burstCount: Number(burst[1]), burstSeconds: Number(burst[2]) },
          ...(listen ? { listen: { ...listen, cert: o.tlsCert!, key: o.tlsKey! } } : {}),
        });
        where = await server.start();
        web = new WebInterface(server, http);
        url = (await web.start()).url;
      } catch (e) {
        fail((e as Error).message);
      }
      const out = [
        `systrace monitor: web interface: ${url}`,
        `systrace monitor: tracer token: ${server.token}`,
        where.socket && `systrace monitor: tracers on this machine: --monitor ${where.socket}`,
        where.tls && `systrace monitor: tracers elsewhere (TLS): --monitor ${where.tls.host}:${where.tls.port}`,
        `systrace monitor: database: ${o.db}`,
      ].filter(Boolean);
      process.stdout.write(`${out.join('\n')}\n`);
      let stopping = false;
      const stop = (): void => {
        if (stopping) return;
        stopping = true;
        void Promise.all([web.close(), server.close()]).finally(() => process.exit(0));
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
}
