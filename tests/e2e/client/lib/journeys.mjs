// What a new user does with the current KumiAI web client (2026-03, 82fdb30), as steps
// in the browser. Each journey uses only what the client shows; the backend is read
// directly (never through the page) only to check what the screen cannot show.

export class Blocked extends Error {}

const TASK_NAME = 'Write the release notes';
const TASK_DESCRIPTION = 'Summarise what changed since the last release.';
const SESSION_DESCRIPTION = 'Draft the release notes for the task.';
// The client shows each finished text block as it arrives (V1_CONTRACT: content_block),
// not token deltas: a reply of two slow blocks shows the first while the second streams.
const STREAMED_FIRST = 'Hello from the scripted Claude: this is the first block of the reply.';
const STREAMED_SECOND = 'And this second block arrives a few seconds after the first one.';
const WORKING_REPLY = 'On it: reading the changelog first.';
const QUESTION_TOOL_ID = 'toolu_client_e2e_question';
const QUESTION = {
  question: 'Which format should the release notes use?',
  header: 'Format',
  multiSelect: false,
  options: [
    { label: 'Markdown', description: 'Headings and bullet lists.' },
    { label: 'Plain text', description: 'One paragraph per change.' },
  ],
};
const AFTER_ANSWER_REPLY = 'Great, Markdown it is. Drafting now.';

function check(condition, message) {
  if (!condition) throw new Error(message);
}

function needs(value, what) {
  if (value === undefined || value === null) throw new Blocked(`needs ${what} from an earlier journey`);
  return value;
}

function pathMatches(response, method, pattern) {
  return response.request().method() === method && pattern.test(new URL(response.url()).pathname);
}

/** Runs `trigger` and returns the answer to the first `method pattern` call it causes;
 *  a call that gets no answer at all (a network or CORS error) fails with its error. */
async function answerTo(page, method, pattern, trigger, timeout = 20_000) {
  const [request] = await Promise.all([
    page.waitForRequest((request) => request.method() === method && pattern.test(new URL(request.url()).pathname), { timeout }),
    trigger(),
  ]);
  const response = await request.response();
  check(response, `${method} ${new URL(request.url()).pathname} got no answer: ${request.failure()?.errorText ?? 'failed'}`);
  return response;
}

function expectStatus(response, wanted, what) {
  const status = response.status();
  const list = Array.isArray(wanted) ? wanted : [wanted];
  check(list.includes(status), `${what}: ${response.request().method()} ${new URL(response.url()).pathname} answered ${status}, wanted ${list.join(' or ')}`);
}

/** A board column: the droppable around its heading (Open, In Progress, Done, Archived). */
function column(page, label) {
  return page.locator('h4', { hasText: new RegExp(`^${label}$`) }).locator('xpath=ancestor::div[3]');
}

/** The task's card, wherever it is on the board (or in one column). */
function taskCard(scope) {
  // The card's own label; the mobile list's copy of it is hidden on a desktop screen.
  return scope.locator(`[aria-label^="Task: ${TASK_NAME},"]`).filter({ visible: true });
}

async function boardShown(page) {
  for (const label of ['Open', 'In Progress', 'Done', 'Archived']) {
    await column(page, label).waitFor({ timeout: 20_000 });
  }
}

async function openBoard(ctx) {
  const projectId = needs(ctx.state.projectId, 'a project (onboarding)');
  await ctx.page.goto(`${ctx.clientUrl}/?project=${projectId}`);
  await boardShown(ctx.page);
}

async function openSession(ctx) {
  const projectId = needs(ctx.state.projectId, 'a project (onboarding)');
  const sessionId = needs(ctx.state.sessionId, 'a session (session-for-task)');
  await ctx.page.goto(`${ctx.clientUrl}/?project=${projectId}&session=${sessionId}`);
  const input = ctx.page.locator('main').getByLabel('Chat message input');
  await input.waitFor({ timeout: 20_000 });
  return input;
}

/** The chat in the right-hand panel (opened if closed); returns its input. */
async function sideChat(page) {
  const opener = page.getByRole('button', { name: 'Open right sidebar' });
  if (await opener.count()) await opener.click();
  const input = page.locator('aside').getByLabel('Chat message input');
  await input.waitFor({ timeout: 20_000 });
  return input;
}

/** The board with the PM's chat beside it; returns the chat's input. */
async function openPmChat(ctx) {
  await openBoard(ctx);
  return sideChat(ctx.page);
}

/** The Agents or Skills page, once its assistant's session is loaded or launched. */
async function openAssistantPage(ctx, path) {
  await ctx.page.goto(`${ctx.clientUrl}${path}`);
  await sideChat(ctx.page);
}

async function pmSessionId(ctx) {
  const sessions = await apiJson(ctx, `/api/v1/sessions?project_id=${ctx.state.projectId}`);
  const pm = sessions.find((session) => session.session_type === 'pm');
  check(pm, 'the project has no PM session');
  return pm.id;
}

async function apiJson(ctx, path) {
  const response = await fetch(`${ctx.apiUrl}${path}`);
  check(response.ok, `GET ${path} answered ${response.status}`);
  return response.json();
}

/** Waits until the session rests (not thinking or working), as a paused turn must. */
async function sessionAtRest(ctx, sessionId, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let status;
  while (Date.now() < deadline) {
    status = (await apiJson(ctx, `/api/v1/sessions/${sessionId}`)).status;
    if (!['thinking', 'working', 'initializing'].includes(status)) return status;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`session ${sessionId} is still ${status} after ${timeoutMs / 1000}s`);
}

/** The name of the project's first team member other than its PM, as the client lists it. */
async function teamMemberName(ctx) {
  const project = await apiJson(ctx, `/api/v1/projects/${ctx.state.projectId}`);
  const member = project.team_member_ids?.find((id) => id !== project.pm_agent_id);
  check(member, `the project has no team member besides its PM: ${JSON.stringify(project).slice(0, 300)}`);
  return (await apiJson(ctx, `/api/v1/agents/${member}`)).name;
}

function textOf(content) {
  return typeof content === 'string' ? content : JSON.stringify(content);
}

async function sendChat(ctx, input, text) {
  await input.fill(text);
  const response = await answerTo(ctx.page, 'POST', /\/api\/v1\/sessions\/[^/]+\/enqueue$/, () => input.press('Enter'));
  expectStatus(response, [200, 201, 202], 'sending a message');
}

export const JOURNEYS = [
  {
    name: 'onboarding',
    title: 'Welcome dialog: pick the Development Team; its demo project opens on the task board',
    async run(ctx) {
      const { page } = ctx;
      await page.goto(`${ctx.clientUrl}/`);
      await page.getByRole('button', { name: 'Next' }).click({ timeout: 20_000 });
      await page.getByRole('button', { name: /Development Team/ }).click();
      const setup = await answerTo(page, 'POST', /\/api\/v1\/onboarding\/setup$/, () =>
        page.getByRole('button', { name: /Get Started/ }).click(),
      );
      expectStatus(setup, 200, 'setting up the team');
      // The client reloads the page, then opens the first project.
      const status = await page.waitForResponse((response) => pathMatches(response, 'GET', /\/api\/v1\/onboarding\/status$/), { timeout: 20_000 });
      check((await status.json()).completed === true, 'onboarding status is not completed after the setup');
      await page.waitForURL(/[?&]project=/, { timeout: 20_000 });
      ctx.state.projectId = new URL(page.url()).searchParams.get('project');
      await boardShown(page);
      check((await page.getByRole('button', { name: 'Next' }).count()) === 0, 'the welcome dialog shows again after the setup');
    },
  },
  {
    name: 'create-task',
    title: 'New Task dialog: the task appears in the Open column',
    async run(ctx) {
      const { page } = ctx;
      await openBoard(ctx);
      await page.getByRole('button', { name: 'New Task' }).click();
      await page.getByPlaceholder('Task name').fill(TASK_NAME);
      await page.getByPlaceholder('Optional description').fill(TASK_DESCRIPTION);
      const created = await answerTo(page, 'POST', /\/api\/v1\/projects\/[^/]+\/tasks$/, () =>
        page.getByRole('button', { name: 'Create Task' }).click(),
      );
      expectStatus(created, 201, 'creating a task');
      const task = await created.json();
      check(task.name === TASK_NAME && task.status === 'open', `the new task is ${JSON.stringify(task)}`);
      ctx.state.taskId = task.id;
      await taskCard(column(page, 'Open')).waitFor({ timeout: 10_000 });
    },
  },
  {
    name: 'task-after-reload',
    title: 'After a reload the task is still in the Open column',
    async run(ctx) {
      needs(ctx.state.taskId, 'a task (create-task)');
      await ctx.page.reload();
      await boardShown(ctx.page);
      await taskCard(column(ctx.page, 'Open')).waitFor({ timeout: 10_000 });
    },
  },
  {
    name: 'session-for-task',
    title: "Open the task, New Session: a team member's session bound to the task",
    async run(ctx) {
      const { page } = ctx;
      const taskId = needs(ctx.state.taskId, 'a task (create-task)');
      await openBoard(ctx);
      await taskCard(page).click();
      await page.getByRole('button', { name: 'New Session' }).click({ timeout: 10_000 });
      const member = await teamMemberName(ctx);
      await page.getByRole('button', { name: member }).first().click({ timeout: 10_000 });
      await page.getByPlaceholder('What should this agent do?').fill(SESSION_DESCRIPTION);
      const chosen = await page.locator('select').inputValue();
      check(chosen === taskId, `the dialog offers task ${chosen || '(none)'}, not the open task ${taskId}`);
      const created = await answerTo(page, 'POST', /\/api\/v1\/sessions$/, () =>
        page.getByRole('button', { name: 'Create Session' }).click(),
      );
      expectStatus(created, [200, 201], 'creating a session');
      const body = created.request().postDataJSON();
      check(body.task_id === taskId, `the client sent task_id ${body.task_id}`);
      const session = await created.json();
      check(session.task_id === taskId, `the session answered has task_id ${session.task_id}, not ${taskId}`);
      ctx.state.sessionId = session.id;
      await page.getByLabel('Chat message input').waitFor({ timeout: 10_000 });
      // Back on the board, the card counts the session.
      await openBoard(ctx);
      await taskCard(page).filter({ hasText: '1 session' }).waitFor({ timeout: 10_000 });
    },
  },
  {
    name: 'task-auto-progress',
    title: 'The session works on a message; its task moves to In Progress',
    async run(ctx) {
      const taskId = needs(ctx.state.taskId, 'a task (create-task)');
      const sessionId = needs(ctx.state.sessionId, 'a session (session-for-task)');
      const input = await openSession(ctx);
      await ctx.backend.enqueue({ text: WORKING_REPLY });
      // The chat logs each task_status event of the session stream as it refetches the tasks.
      const announced = ctx.page.waitForEvent('console', {
        predicate: (message) => message.text().includes('Task status changed') && message.text().includes(taskId),
        timeout: 20_000,
      });
      await sendChat(ctx, input, 'Begin, please.');
      await announced;
      await ctx.page.locator('main').getByText(WORKING_REPLY).first().waitFor({ timeout: 20_000 });
      await sessionAtRest(ctx, sessionId);
      await openBoard(ctx);
      await taskCard(column(ctx.page, 'In Progress')).waitFor({ timeout: 10_000 });
    },
  },
  {
    name: 'drag-task',
    title: 'Drag the task card to the Done column; it stays there after a reload',
    async run(ctx) {
      const { page } = ctx;
      const taskId = needs(ctx.state.taskId, 'a task (create-task)');
      await openBoard(ctx);
      const from = await taskCard(page).boundingBox();
      const to = await column(page, 'Done').boundingBox();
      check(from && to, 'the card or the Done column is not on screen');
      const moved = answerTo(page, 'PATCH', new RegExp(`/api/v1/tasks/${taskId}$`), async () => {
        await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
        await page.mouse.down();
        await page.mouse.move(from.x + from.width / 2 + 12, from.y + from.height / 2 + 12, { steps: 4 });
        await page.mouse.move(to.x + to.width / 2, to.y + to.height / 3, { steps: 20 });
        await page.mouse.up();
      });
      const response = await moved;
      expectStatus(response, 200, 'moving the task');
      check(response.request().postDataJSON().status === 'done', `the client sent ${response.request().postData()}`);
      check((await response.json()).status === 'done', 'the task answered is not done');
      await taskCard(column(page, 'Done')).waitFor({ timeout: 10_000 });
      await page.reload();
      await boardShown(page);
      await taskCard(column(page, 'Done')).waitFor({ timeout: 10_000 });
    },
  },
  {
    name: 'chat',
    title: "Chat with the PM in the board's side panel: the reply streams in, block by block",
    async run(ctx) {
      const { page } = ctx;
      const input = await openPmChat(ctx);
      await ctx.backend.enqueue({
        blocks: [{ text: STREAMED_FIRST, chunks: 2 }, { text: STREAMED_SECOND, chunks: 8 }],
        delay_per_event: 0.25,
      });
      await sendChat(ctx, input, 'Say hello, please.');
      await page.getByText(STREAMED_FIRST).first().waitFor({ timeout: 20_000 });
      check(
        (await page.getByText(STREAMED_SECOND).count()) === 0,
        'the first block showed only with the whole reply: it was not streamed live',
      );
      await page.getByText(STREAMED_SECOND).first().waitFor({ timeout: 20_000 });
      await sessionAtRest(ctx, await pmSessionId(ctx));
      await page.reload();
      await page.getByText(STREAMED_SECOND).first().waitFor({ timeout: 20_000 });
    },
  },
  {
    name: 'settings',
    title: 'Settings: versions, the AI Backends cards and usage, and Refresh',
    async run(ctx) {
      const { page } = ctx;
      await openBoard(ctx);
      const wanted = ['/api/v1/system/version', '/api/v1/system/cli-backends', '/api/v1/system/cli-usage', '/api/v1/system/cli-usage/live'];
      const answers = wanted.map((path) =>
        page.waitForResponse((response) => pathMatches(response, 'GET', new RegExp(`${path}$`)), { timeout: 20_000 }),
      );
      await page.locator('button[aria-label="Settings"]').click();
      for (const answer of await Promise.all(answers)) expectStatus(answer, 200, 'opening Settings');
      const versionRow = (label) =>
        page.locator('div.flex.justify-between', { has: page.locator('span', { hasText: new RegExp(`^${label}$`) }) }).locator('span.font-mono');
      await page.getByText('AI Backends').waitFor();
      const backendVersion = (await versionRow('Backend').textContent())?.trim();
      const appVersion = (await versionRow('App').textContent())?.trim();
      check(backendVersion && backendVersion !== '...', `Settings shows backend version "${backendVersion}"`);
      check(appVersion && appVersion !== '...', `Settings shows app version "${appVersion}"`);
      await page.getByText('Claude Code').first().waitFor({ timeout: 10_000 });
      // The subscription's usage windows, as the scripted Claude reports them.
      await page.getByText('5-hour').first().waitFor({ timeout: 10_000 });
      const refreshed = await answerTo(page, 'GET', /\/api\/v1\/system\/cli-usage\/live$/, () =>
        page.getByRole('button', { name: 'Refresh' }).click(),
      );
      expectStatus(refreshed, 200, 'refreshing usage');
      ctx.notes.push(`Settings shows backend ${backendVersion}, app ${appVersion}`);
    },
  },
  {
    name: 'agents-and-skills',
    title: 'The Agents and Skills pages list the team and its skills, each with its assistant chat',
    async run(ctx) {
      const { page } = ctx;
      needs(ctx.state.projectId, 'a project (onboarding)');
      const member = await teamMemberName(ctx);
      const [skill] = await apiJson(ctx, '/api/v1/skills');
      check(skill, 'the team came with no skill');
      await openAssistantPage(ctx, '/agents');
      await page.getByText(member).first().waitFor({ timeout: 20_000 });
      await openAssistantPage(ctx, '/skills');
      await page.getByText(skill.name).first().waitFor({ timeout: 20_000 });
    },
  },
  {
    name: 'ask-user-question',
    title: 'The PM asks with AskUserQuestion; the form is answered; the answer is the tool result',
    async run(ctx) {
      const { page, backend } = ctx;
      const input = await openPmChat(ctx);
      const sessionId = await pmSessionId(ctx);
      const before = (await backend.requests()).count;
      await backend.enqueue(
        { blocks: [{ text: 'One decision first.' }, { tool_use: 'AskUserQuestion', id: QUESTION_TOOL_ID, input: { questions: [QUESTION] } }] },
        { text: AFTER_ANSWER_REPLY },
      );
      await sendChat(ctx, input, 'Start on the release notes.');
      const asked = await backend.waitForRequests(before + 1, 20, before);
      check(asked.requests[0].tools.includes('AskUserQuestion'), `the model was not offered AskUserQuestion (tools: ${asked.requests[0].tools.join(', ')})`);
      await page.getByRole('button', { name: 'Submit Answers' }).waitFor({ timeout: 20_000 });
      const status = await sessionAtRest(ctx, sessionId);
      const waiting = await backend.requests();
      check(waiting.count === before + 1, `the turn went on to ${waiting.count - before} model requests instead of waiting for the answer (session ${status})`);
      check(status === 'waiting', `the session waiting for the answer is ${status}, not waiting`);

      await page.locator('label', { hasText: 'Markdown' }).click();
      const sent = await answerTo(page, 'POST', /\/api\/v1\/sessions\/[^/]+\/enqueue$/, () =>
        page.getByRole('button', { name: 'Submit Answers' }).click(),
      );
      expectStatus(sent, [200, 201, 202], 'submitting the answers');
      const answered = await backend.waitForRequests(before + 2, 20, before);
      const last = answered.requests[1].last_message;
      const result = Array.isArray(last?.content) ? last.content.find((block) => block.type === 'tool_result' && block.tool_use_id === QUESTION_TOOL_ID) : undefined;
      check(result, `the answer did not reach the model as the tool_result of the question; its last message was ${JSON.stringify(last).slice(0, 400)}`);
      check(textOf(result.content).includes('Markdown'), `the tool_result does not carry the answer: ${textOf(result.content).slice(0, 300)}`);
      await page.getByText(AFTER_ANSWER_REPLY).first().waitFor({ timeout: 20_000 });
      await sessionAtRest(ctx, sessionId);

      await page.reload();
      await page.getByText(AFTER_ANSWER_REPLY).first().waitFor({ timeout: 20_000 });
      await page.getByText('Question Answered').first().waitFor({ timeout: 10_000 });
      check((await page.getByRole('button', { name: 'Submit Answers' }).count()) === 0, 'after a reload the question shows unanswered');
    },
  },
];
