// The monitor's web interface: static assets from monitor/web/ and a small
// JSON + Server-Sent Events API, on node:http. Every request needs the
// token: in the query once (the printed URL), then in a cookie; anything
// else is 403. The cookie is HttpOnly and SameSite=Strict, and requests
// that change something must be JSON POSTs, so another site the operator
// visits can neither read the feed nor answer a question.
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { timingSafeEqual } from 'node:crypto';
import { ANSWER_KEYS } from './protocol.js';
import { randomToken, type MonitorServer, type MonitorUpdate } from './server.js';
import type { EventFilter } from './storage.js';

const ASSETS: Record<string, string> = {
  '/': 'index.html',
  '/app.js': 'app.js',
  '/style.css': 'style.css',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** monitor/web/ beside this file when run from the source, or from dist/monitor/ two levels up. */
function assetDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const dir of [path.join(here, 'web'), path.join(here, '..', '..', 'monitor', 'web')]) {
    if (fs.existsSync(path.join(dir, 'index.html'))) return dir;
  }
  throw new Error(`the web interface's files are missing (looked in ${here}/web)`);
}

const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

export interface WebOptions {
  host: string;
  port: number;
  /** The browser token; random if not given. */
  token?: string;
}

export class WebInterface {
  readonly token: string;
  private readonly server: http.Server;
  private readonly dir = assetDir();
  private readonly streams = new Set<http.ServerResponse>();
  private readonly onUpdate = (u: MonitorUpdate): void => this.broadcast(u);

  constructor(private readonly monitor: MonitorServer, private readonly opts: WebOptions) {
    this.token = opts.token ?? randomToken();
    this.server = http.createServer((req, res) => {
      try {
        this.handle(req, res);
      } catch (e) {
        if (!res.headersSent) this.json(res, 500, { error: (e as Error).message });
        else res.destroy();
      }
    });
    monitor.on('update', this.onUpdate);
  }

  /** Listens; resolves with the URL to open (with the token). */
  async start(): Promise<{ url: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host: this.opts.host, port: this.opts.port }, () => resolve());
    });
    const port = (this.server.address() as AddressInfo).port;
    // Cookies are per host, not per port: two monitors on one machine keep separate cookies.
    const host = this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host;
    return { url: `http://${host}:${port}/#token=${this.token}`, port };
  }

  async close(): Promise<void> {
    this.monitor.off('update', this.onUpdate);
    for (const s of this.streams) s.end();
    this.server.closeAllConnections();
    await new Promise<void>(r => this.server.close(() => r()));
  }

  /**
   * The token, and only the token, opens the API: in an X-Systrace-Token
   * header (the page keeps it in memory, from its URL's #fragment, which
   * no request carries), or in the query (the live stream, which cannot
   * set headers; a same-origin request). No cookie: browsers send cookies
   * to every port of 127.0.0.1, so a cookie would hand the token to any
   * other local server the operator's browser visits.
   */
  private authorised(req: http.IncomingMessage, url: URL): boolean {
    const ok = (v: string | null | undefined): boolean => {
      if (!v) return false;
      const a = Buffer.from(v);
      const b = Buffer.from(this.token);
      return a.length === b.length && timingSafeEqual(a, b);
    };
    const header = req.headers['x-systrace-token'];
    return ok(typeof header === 'string' ? header : undefined) || ok(url.searchParams.get('token'));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://monitor');
    // The page and its script hold no data: served to anyone, they ask the
    // API for everything with the token the operator's URL carries.
    const asset = ASSETS[url.pathname];
    if (req.method === 'GET' && asset) {
      const body = fs.readFileSync(path.join(this.dir, asset));
      res.writeHead(200, { 'Content-Type': TYPES[path.extname(asset)]!, ...SECURITY_HEADERS });
      res.end(body);
      return;
    }
    if (!this.authorised(req, url)) {
      res.writeHead(403, { 'Content-Type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS });
      res.end('403: this needs the token printed by `systrace monitor` (open the URL it printed)\n');
      return;
    }
    const q = url.searchParams;
    const num = (k: string): number | undefined => (q.get(k) ? Number(q.get(k)) : undefined);
    const str = (k: string): string | undefined => q.get(k) ?? undefined;
    const st = this.monitor.storage;
    if (req.method === 'GET') {
      switch (url.pathname) {
        case '/api/stream':
          this.stream(req, res);
          return;
        case '/api/events': {
          const f: EventFilter = { host: str('host'), session: str('session'), program: str('program'), kind: str('kind'), pid: num('pid'), before: num('before'), after: num('after'), limit: num('limit') };
          this.json(res, 200, st.events(f));
          return;
        }
        case '/api/questions':
          this.json(res, 200, this.monitor.pending());
          return;
        case '/api/alerts':
          this.json(res, 200, st.alerts({ session: str('session'), limit: num('limit') }));
          return;
        case '/api/denied':
          this.json(res, 200, st.denied(str('program')));
          return;
        case '/api/programs':
          this.json(res, 200, st.programs());
          return;
        case '/api/sessions':
          this.json(res, 200, {
            live: [...this.monitor.sessions.values()].map(s => ({ ...s.hello, peer: s.peer, since: s.since })),
            hellos: st.hellos(100),
          });
          return;
      }
    }
    if (req.method === 'POST' && url.pathname === '/api/answer') {
      // A JSON body only: a form on another site cannot send one without a CORS preflight we never grant.
      if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) {
        this.json(res, 415, { error: 'send application/json' });
        return;
      }
      readBody(req, 4096).then(body => {
        let a: { session?: unknown; question?: unknown; answer?: unknown; errno?: unknown; rule?: unknown };
        try {
          a = JSON.parse(body) as typeof a;
        } catch {
          this.json(res, 400, { error: 'not JSON' });
          return;
        }
        const question = Number(a.question);
        if (typeof a.session !== 'string' || !Number.isSafeInteger(question) || question <= 0
          || typeof a.answer !== 'string' || !(ANSWER_KEYS as readonly string[]).includes(a.answer)) {
          this.json(res, 400, { error: `need session, question and answer (one of ${ANSWER_KEYS.join(' ')})` });
          return;
        }
        const errno = typeof a.errno === 'string' ? a.errno.trim().toUpperCase() : '';
        if (errno && !/^E[A-Z0-9]{1,15}$/.test(errno)) {
          this.json(res, 400, { error: `${errno}: not an errno name (EPERM, ENOENT ...)` });
          return;
        }
        const result = this.monitor.answer(a.session, {
          question, answer: a.answer, errno: a.answer === 'D' ? errno || 'EPERM' : '', rule: typeof a.rule === 'string' ? a.rule : '',
        });
        const status = result === 'sent' ? 200 : result === 'no-such-question' ? 404 : 409;
        this.json(res, status, { result });
      }, () => this.json(res, 413, { error: 'body too large' }));
      return;
    }
    this.json(res, 404, { error: 'not found' });
  }

  private stream(req: http.IncomingMessage, res: http.ServerResponse): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', Connection: 'keep-alive', ...SECURITY_HEADERS });
    res.write(': systrace monitor\n\n');
    this.streams.add(res);
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    req.on('close', () => {
      clearInterval(ping);
      this.streams.delete(res);
    });
  }

  private broadcast(u: MonitorUpdate): void {
    if (this.streams.size === 0) return;
    const msg = `event: ${u.type}\ndata: ${JSON.stringify(u)}\n\n`;
    for (const s of this.streams) {
      // A browser that stopped reading is dropped, not buffered for without bound; it reloads the recent history on reconnect.
      if (s.writableLength > 4 * 1024 * 1024) s.destroy();
      else s.write(msg);
    }
  }

  private json(res: http.ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...SECURITY_HEADERS });
    res.end(JSON.stringify(body));
  }
}

function readBody(req: http.IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) { reject(new Error('too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
