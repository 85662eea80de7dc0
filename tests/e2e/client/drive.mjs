#!/usr/bin/env node
// Drives an already built KumiAI web client in headless Chromium against `kumiai serve`
// and reports every API call it makes that fails. See the README ("The current web
// client, in a browser") for how to run it.
import { existsSync, mkdtempSync, mkdirSync, writeFileSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

import { Backend } from './lib/backend.mjs';
import { CallRecorder } from './lib/calls.mjs';
import { Blocked, JOURNEYS } from './lib/journeys.mjs';
import { serveClient } from './lib/static.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(HERE, '..', '..', '..');
// The flags this machine's Chromium needs to start headless and stay off the network.
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const USAGE = `usage: node drive.mjs --client <folder of the built client | URL it is served at> [options]

  --client PATH|URL        the built client: its dist folder (served here) or a URL
                           where it is already served (env KUMIAI_CLIENT)
  --api-port N             where the client expects the API (default 7892, the
                           client's own default; a build made with VITE_API_PORT=N
                           needs the same N)
  --client-port N          where a folder is served (default 1420, the client's dev port)
  --database-server URL    a PostgreSQL admin URL to create a fresh database on
                           (default: kumiai's embedded PostgreSQL in a fresh home)
  --runtime NAME           who runs agent turns: anthropic (default) or claude-code;
                           both talk to the scripted Claude
  --python PATH            the Python with kumiai installed (default .venv/bin/python
                           of this repository, else python3)
  --chromium PATH          default /usr/bin/chromium (env CHROMIUM)
  --only a,b               run only these journeys (later ones may be blocked)
  --artifacts DIR          screenshots, the server log and report.json (default a new
                           folder in the temp folder)
  --timeout SECONDS        per journey (default 120)

Journeys: ${JOURNEYS.map((journey) => journey.name).join(', ')}`;

function options() {
  const { values } = parseArgs({
    options: {
      client: { type: 'string', default: process.env.KUMIAI_CLIENT },
      'api-port': { type: 'string', default: '7892' },
      'client-port': { type: 'string', default: '1420' },
      'database-server': { type: 'string' },
      python: { type: 'string' },
      runtime: { type: 'string', default: 'anthropic' },
      chromium: { type: 'string', default: process.env.CHROMIUM ?? '/usr/bin/chromium' },
      only: { type: 'string' },
      artifacts: { type: 'string' },
      timeout: { type: 'string', default: '120' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help || !values.client) {
    console.log(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  const venvPython = join(REPO_ROOT, '.venv', 'bin', 'python');
  return {
    client: values.client,
    apiPort: Number(values['api-port']),
    clientPort: Number(values['client-port']),
    databaseServer: values['database-server'],
    runtime: values.runtime,
    python: values.python ?? (existsSync(venvPython) ? venvPython : 'python3'),
    chromium: values.chromium,
    only: values.only ? new Set(values.only.split(',')) : null,
    artifacts: values.artifacts ?? mkdtempSync(join(tmpdir(), 'kumiai-client-e2e-run-')),
    journeyTimeoutMs: Number(values.timeout) * 1000,
  };
}

function isLoopback(url) {
  return ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname);
}

function isUrl(text) {
  return /^https?:\/\//.test(text);
}

function checkClientFolder(folder) {
  if (!existsSync(join(folder, 'index.html')) || !statSync(folder).isDirectory()) {
    throw new Error(`${folder} is not a built client (no index.html); build it first (npm run build in its frontend/) and pass its dist folder`);
  }
  const scripts = readFileSync(join(folder, 'index.html'), 'utf8');
  if (!scripts.includes('<script')) throw new Error(`${folder}/index.html loads no script`);
}

async function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000}s`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The error's first line, and for Playwright's, what it was waiting for. */
function describe(error) {
  const lines = error.message.replace(/\u001b\[[0-9;]*m/g, '').split('\n').map((line) => line.trim());
  const waiting = lines.find((line) => line.startsWith('- waiting for'));
  return waiting ? `${lines[0]} (${waiting.slice(2)})` : lines[0];
}

async function runJourneys(ctx, opts) {
  const results = [];
  for (const journey of JOURNEYS) {
    if (opts.only && !opts.only.has(journey.name)) continue;
    ctx.calls.enter(journey.name);
    const started = Date.now();
    let outcome = 'passed';
    let detail = '';
    try {
      await withTimeout(journey.run(ctx), opts.journeyTimeoutMs, journey.name);
    } catch (error) {
      outcome = error instanceof Blocked ? 'blocked' : 'failed';
      detail = describe(error);
      await ctx.page.screenshot({ path: join(opts.artifacts, `${journey.name}.png`), fullPage: true }).catch(() => {});
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(`  ${outcome.padEnd(7)} ${journey.name} (${seconds}s)${detail ? `: ${detail}` : ''}`);
    results.push({ name: journey.name, title: journey.title, outcome, detail, seconds: Number(seconds) });
  }
  return results;
}

function table(rows, headers) {
  const widths = headers.map((header, index) => Math.max(header.length, ...rows.map((row) => String(row[index]).length)));
  const line = (cells) => cells.map((cell, index) => String(cell).padEnd(widths[index])).join('  ');
  return [line(headers), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

function report({ results, summary, endpoints, backendState, pageErrors, notes, opts, ready }) {
  const failedGroups = CallRecorder.groupByEndpoint(summary.failed);
  console.log(`\nJourneys: ${results.filter((r) => r.outcome === 'passed').length}/${results.length} passed`);
  console.log(table(results.map((r) => [r.outcome, r.name, r.detail || r.title]), ['result', 'journey', 'detail']));
  console.log(`\nAPI calls: ${summary.total} made to ${Object.keys(endpoints).length} endpoints, ${summary.failed.length} failed, ${summary.expected.length} failed as a journey expected, ${summary.aborted.length} cancelled by the page`);
  if (failedGroups.length) {
    console.log(`\nFailed calls (${summary.failed.length} across ${failedGroups.length} endpoint/outcome pairs):`);
    console.log(table(failedGroups.map((g) => [g.count, g.method, g.endpoint, g.outcome, [...g.journeys].join(', ')]), ['calls', 'method', 'endpoint', 'answer', 'journeys']));
  }
  if (backendState.unscripted) console.log(`\nModel requests with no scripted reply: ${backendState.unscripted} (the backend asked Claude when no journey expected it)`);
  if (pageErrors.length) {
    console.log(`\nErrors in the page (${pageErrors.length}, first 10):`);
    for (const error of pageErrors.slice(0, 10)) console.log(`  [${error.journey}] ${error.text.slice(0, 300)}`);
  }
  for (const note of notes) console.log(`note: ${note}`);
  console.log(`\nArtifacts: ${opts.artifacts} (server log: ${ready?.serve_log ?? 'none'})`);
  const reportFile = join(opts.artifacts, 'report.json');
  writeFileSync(
    reportFile,
    JSON.stringify({ journeys: results, calls: summary, endpoints, failedByEndpoint: failedGroups.map((g) => ({ ...g, journeys: [...g.journeys] })), modelRequests: backendState, pageErrors, notes }, null, 2),
  );
}

async function main() {
  const opts = options();
  mkdirSync(opts.artifacts, { recursive: true });
  const serving = isUrl(opts.client) ? null : resolve(opts.client);
  if (serving) checkClientFolder(serving);
  const clientOrigin = serving ? `http://127.0.0.1:${opts.clientPort}` : new URL(opts.client).origin;
  const apiUrl = `http://127.0.0.1:${opts.apiPort}`;
  // The client calls the API on the host it is served from; localhost and 127.0.0.1 both work.
  const apiOrigins = [apiUrl, `http://localhost:${opts.apiPort}`, clientOrigin];
  const corsOrigins = [clientOrigin, clientOrigin.replace('127.0.0.1', 'localhost')];

  const database = opts.databaseServer ? 'a fresh database' : 'embedded PostgreSQL';
  console.log(`Starting kumiai serve on ${apiUrl} (${database}, ${opts.runtime} runtime) ...`);
  const backend = await Backend.start({
    python: opts.python,
    repoRoot: REPO_ROOT,
    port: opts.apiPort,
    corsOrigins,
    databaseServer: opts.databaseServer,
    runtime: opts.runtime,
    serveLog: join(opts.artifacts, 'serve.log'),
    startupTimeoutSeconds: 180,
  });
  let site = null;
  let context = null;
  let exitCode = 1;
  try {
    site = serving ? await serveClient({ root: serving, port: opts.clientPort, apiUrl }) : null;
    const clientUrl = site ? site.url : opts.client.replace(/\/$/, '');
    console.log(`Client at ${clientUrl}, API at ${apiUrl}, scripted Claude at ${backend.ready.anthropic_url}`);
    context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'kumiai-client-e2e-chromium-')), {
      executablePath: opts.chromium,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1440, height: 900 },
    });
    context.setDefaultTimeout(15_000);
    const page = context.pages()[0] ?? (await context.newPage());
    // The welcome dialog and deletes ask with confirm(); a user says yes.
    page.on('dialog', (dialog) => dialog.accept());
    const calls = new CallRecorder({ apiOrigins });
    calls.attach(page);
    const pageErrors = [];
    page.on('pageerror', (error) => pageErrors.push({ journey: calls.journey, text: `uncaught: ${error.message}` }));
    page.on('console', (message) => {
      if (message.type() !== 'error') return;
      calls.noteConsole(message.text());
      const where = message.location()?.url;
      // The client links web fonts; this machine (and the harness) stays on loopback.
      if (where && !isLoopback(where)) return;
      pageErrors.push({ journey: calls.journey, text: where ? `${message.text()} (${where})` : message.text() });
    });
    const ctx = { page, backend, calls, clientUrl, apiUrl, state: {}, notes: [], artifacts: opts.artifacts };

    console.log('Journeys:');
    const results = await runJourneys(ctx, opts);
    calls.enter('(after)');
    const summary = calls.summary();
    const backendState = await backend.requests();
    report({ results, summary, endpoints: calls.endpoints(), backendState, pageErrors, notes: ctx.notes, opts, ready: backend.ready });
    const allPassed = results.length > 0 && results.every((result) => result.outcome === 'passed');
    exitCode = allPassed && summary.failed.length === 0 ? 0 : 1;
  } finally {
    await context?.close().catch(() => {});
    await site?.close();
    await backend.stop();
  }
  return exitCode;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`client e2e: ${error.message}`);
    process.exit(2);
  },
);
