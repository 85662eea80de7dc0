// Records every API call the page makes (method, path, status, or the network error)
// and sorts them into failed, expected, aborted and fine.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NAMED_COLLECTIONS = new Set(['agents', 'skills']);
const COLLECTION_VERBS = new Set(['search', 'import', 'tools', 'prompt-edit']);

/** `/api/v1/tasks/3f2…` → `/api/v1/tasks/{id}`; agent and skill slugs too. */
export function endpointOf(path) {
  const parts = path.split('/');
  return parts
    .map((part, index) => {
      if (UUID.test(part)) return '{id}';
      const parent = parts[index - 1];
      if (NAMED_COLLECTIONS.has(parent) && parts[index - 2] === 'v1' && !COLLECTION_VERBS.has(part)) return '{id}';
      return part;
    })
    .join('/');
}

export class CallRecorder {
  constructor({ apiOrigins }) {
    this.apiOrigins = new Set(apiOrigins);
    this.calls = [];
    this.byRequest = new Map();
    this.expected = [];
    this.corsBlocked = new Set();
    this.journey = '(start)';
  }

  attach(page) {
    page.on('request', (request) => this.#started(request));
    page.on('response', (response) => this.#answered(response));
    page.on('requestfailed', (request) => this.#failed(request));
  }

  /** Calls from now on belong to this journey (for the report). */
  enter(journey) {
    this.journey = journey;
  }

  /** Chromium logs why it refused an answer to the page; the call only sees ERR_FAILED. */
  noteConsole(text) {
    const blocked = /Access to fetch at '([^']+)' from origin '[^']+' has been blocked by CORS policy/.exec(text);
    if (blocked) this.corsBlocked.add(blocked[1]);
  }

  /** A failure a journey provokes on purpose: not counted as failed. */
  expectFailure({ method, path, status }) {
    this.expected.push({ method, path, status, journey: this.journey });
  }

  #isApi(url) {
    const parsed = new URL(url);
    return this.apiOrigins.has(parsed.origin) && parsed.pathname.startsWith('/api/');
  }

  #started(request) {
    if (!this.#isApi(request.url())) return;
    const url = new URL(request.url());
    const call = {
      method: request.method(),
      path: url.pathname,
      query: url.search,
      endpoint: endpointOf(url.pathname),
      journey: this.journey,
      startedAt: Date.now(),
      status: null,
      error: null,
    };
    this.calls.push(call);
    this.byRequest.set(request, call);
  }

  #answered(response) {
    const call = this.byRequest.get(response.request());
    if (call) call.status = response.status();
  }

  #failed(request) {
    const call = this.byRequest.get(request);
    if (!call) return;
    call.error = request.failure()?.errorText ?? 'failed';
    call.url = request.url();
  }

  #isExpected(call) {
    return this.expected.some(
      (expected) =>
        expected.method === call.method &&
        expected.status === call.status &&
        (expected.path instanceof RegExp ? expected.path.test(call.path) : expected.path === call.path),
    );
  }

  /** Sorts the calls. A stream the page closes after its answer began is fine. */
  summary() {
    for (const call of this.calls) {
      if (call.error === 'net::ERR_FAILED' && this.corsBlocked.has(call.url)) call.error += ' (CORS)';
    }
    const failed = [];
    const expected = [];
    const aborted = [];
    for (const call of this.calls) {
      if (call.status !== null && call.status >= 400) {
        (this.#isExpected(call) ? expected : failed).push(call);
      } else if (call.error && call.status === null) {
        // The page navigated or cancelled the call before any answer: not the backend's doing.
        (call.error === 'net::ERR_ABORTED' ? aborted : failed).push(call);
      }
    }
    return { total: this.calls.length, failed, expected, aborted };
  }

  /** Every endpoint called, with how many calls got each answer: {"GET /api/v1/agents": {"200": 4}}. */
  endpoints() {
    const seen = {};
    for (const call of this.calls) {
      const answers = (seen[`${call.method} ${call.endpoint}`] ??= {});
      const outcome = String(call.status ?? call.error ?? 'open');
      answers[outcome] = (answers[outcome] ?? 0) + 1;
    }
    return Object.fromEntries(Object.entries(seen).sort(([a], [b]) => a.localeCompare(b)));
  }

  /** The failed calls grouped by endpoint, most frequent first. */
  static groupByEndpoint(calls) {
    const groups = new Map();
    for (const call of calls) {
      const key = `${call.method} ${call.endpoint} → ${call.status ?? call.error}`;
      const group = groups.get(key) ?? { key, method: call.method, endpoint: call.endpoint, outcome: call.status ?? call.error, count: 0, journeys: new Set() };
      group.count += 1;
      group.journeys.add(call.journey);
      groups.set(key, group);
    }
    return [...groups.values()].sort((a, b) => b.count - a.count || a.key.localeCompare(b.key));
  }
}
