// The backend side of a run: `python -m tests.e2e.client.backend` (scripted Claude plus
// `kumiai serve`), driven over its stdin with one JSON command per line.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export class Backend {
  constructor(child, lines) {
    this.child = child;
    this.lines = lines;
    this.waiting = [];
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    lines.on('line', (line) => this.#answer(line));
  }

  static async start({ python, repoRoot, port, corsOrigins, databaseServer, runtime, serveLog, startupTimeoutSeconds }) {
    const args = ['-m', 'tests.e2e.client.backend', '--port', String(port), '--runtime', runtime, '--serve-log', serveLog];
    for (const origin of corsOrigins) args.push('--cors-origin', origin);
    if (databaseServer) args.push('--database-server', databaseServer);
    args.push('--startup-timeout', String(startupTimeoutSeconds));
    const child = spawn(python, args, { cwd: repoRoot, stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout });
    const backend = new Backend(child, lines);
    const first = await Promise.race([
      backend.#next(),
      backend.exited.then(({ code }) => ({ event: 'error', error: `the backend exited with ${code} before it was ready` })),
    ]);
    if (first.event !== 'ready') {
      await backend.stop();
      throw new Error(`backend did not start: ${first.error}`);
    }
    backend.ready = first;
    return backend;
  }

  #next() {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  #answer(line) {
    const resolve = this.waiting.shift();
    if (resolve) resolve(JSON.parse(line));
  }

  async command(op, fields = {}) {
    const answer = this.#next();
    this.child.stdin.write(`${JSON.stringify({ op, ...fields })}\n`);
    const result = await answer;
    if (!result.ok) throw new Error(`backend ${op}: ${result.error}`);
    return result;
  }

  /** Script Claude's next replies (see backend.py for the REPLY shapes). */
  enqueue(...replies) {
    return this.command('enqueue', { replies });
  }

  /** The model requests so far: {count, pending, unscripted, requests: [{tools, last_message}]}. */
  requests(since = 0) {
    return this.command('requests', { since });
  }

  waitForRequests(count, timeoutSeconds = 15, since = 0) {
    return this.command('wait_requests', { count, timeout: timeoutSeconds, since });
  }

  async stop() {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.stdin.end();
      const timer = setTimeout(() => this.child.kill('SIGTERM'), 30_000);
      await this.exited;
      clearTimeout(timer);
    }
  }
}
