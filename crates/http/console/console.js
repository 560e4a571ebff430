// The admin console: one hand-written ES module, no framework, no build step.
// It is a client of the public JSON API only. Every text that came from a user
// or from the API is put into the page as text (textContent / text nodes);
// no HTML is ever built from data.

const TOKEN_KEY = 'integrations.console.token';
const RANK = { service: 0, viewer: 1, editor: 2, admin: 3, owner: 4 };
const PAGE_SIZE = 20;

const state = {
  token: null,
  me: null,
  catalog: null,
  stream: null,
  lastSeq: null,
  reauth: null,
  dirty: false,
  renderSeq: 0,
  refreshTimer: null,
};

// ---------------------------------------------------------------- errors seen
// Uncaught errors and console.error calls are recorded on <html data-console-errors>,
// so an automated check (and a curious person) can see them.
const seenErrors = [];
function recordError(message) {
  seenErrors.push(String(message));
  document.documentElement.dataset.consoleErrors = JSON.stringify(seenErrors);
}
window.addEventListener('error', (e) => recordError(e.message || 'error'));
window.addEventListener('unhandledrejection', (e) => recordError((e.reason && e.reason.message) || String(e.reason)));
const originalConsoleError = console.error.bind(console);
console.error = (...args) => {
  recordError(args.map(String).join(' '));
  originalConsoleError(...args);
};

// ---------------------------------------------------------------- DOM helpers
let idCounter = 0;
const uid = (prefix = 'f') => `${prefix}-${++idCounter}`;
const enc = encodeURIComponent;

/** An element: `props` are properties, attributes or `on…` listeners; children are nodes or text. */
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value == null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'value') el.value = value;
    else if (typeof value === 'boolean') {
      if (key in el) el[key] = value;
      else if (value) el.setAttribute(key, '');
    }
    else el.setAttribute(key, String(value));
  }
  appendAll(el, children);
  return el;
}

function appendAll(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** A labelled control: the label names the control through `for`. */
function field(label, control, { help, fieldName, required } = {}) {
  if (!control.id) control.id = uid();
  if (fieldName) control.dataset.field = fieldName;
  const wrap = h('div', { class: 'field' });
  const labelEl = h('label', { for: control.id }, label);
  if (required) labelEl.append(h('span', { 'aria-hidden': 'true' }, ' *'));
  if (required) control.setAttribute('aria-required', 'true');
  wrap.append(labelEl, control);
  if (help) {
    const helpEl = h('span', { class: 'help', id: uid('help') }, help);
    control.setAttribute('aria-describedby', helpEl.id);
    wrap.append(helpEl);
  }
  return wrap;
}

function checkbox(label, control) {
  if (!control.id) control.id = uid();
  return h('div', { class: 'field check' }, control, h('label', { for: control.id }, label));
}

/** A `<select>` of `[value, text]` options with `selected` chosen. */
function select(name, options, selected) {
  const el = h('select', { name });
  for (const [value, text] of options) {
    el.append(h('option', { value, selected: String(value) === String(selected ?? '') }, text));
  }
  return el;
}

function table(label, headers, rows) {
  return h('table', { 'aria-label': label },
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows));
}

const button = (text, onclick, cls, extra = {}) => h('button', { type: 'button', class: cls, onclick, ...extra }, text);
const badge = (text, cls = '') => h('span', { class: `badge ${cls}` }, text);
const link = (text, hash) => h('a', { href: `#${hash}` }, text);
const can = (role) => Boolean(state.me) && (RANK[state.me.role] ?? -1) >= RANK[role];

function when(ts) {
  if (!ts) return '';
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? ts : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

function notify(text) {
  const box = document.getElementById('status');
  box.replaceChildren(h('p', {}, text));
  clearTimeout(notify.timer);
  notify.timer = setTimeout(() => box.replaceChildren(), 6000);
}

/** Navigates to `path` with query `params` (empty values left out). */
function go(path, params = {}) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null && v !== '') qs.set(k, v);
  const hash = `#${path}${qs.toString() ? `?${qs}` : ''}`;
  if (location.hash === hash) route();
  else location.hash = hash;
}

// ---------------------------------------------------------------- the API
class ApiError extends Error {
  constructor(status, body, headers) {
    const e = (body && body.error) || {};
    super(e.message || `The service answered ${status}.`);
    this.status = status;
    this.code = e.code || '';
    this.details = Array.isArray(e.details) ? e.details : [];
    this.retryAfter = headers ? headers.get('retry-after') : null;
  }
}

function setToken(token) {
  state.token = token;
  sessionStorage.setItem(TOKEN_KEY, token);
}

function clearToken() {
  state.token = null;
  state.me = null;
  // Event numbers are per organisation: the next sign-in starts afresh.
  state.lastSeq = null;
  sessionStorage.removeItem(TOKEN_KEY);
}

/**
 * Calls `/v1/admin{path}`. On 401 it asks for a new token (keeping the page and
 * whatever was typed in it) and tries again; any other failure throws an ApiError.
 */
async function api(method, path, { body, ifMatch, signIn } = {}) {
  for (;;) {
    const headers = { Accept: 'application/json', Authorization: `Bearer ${state.token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (ifMatch) headers['If-Match'] = ifMatch;
    let res;
    try {
      res = await fetch(`/v1/admin${path}`, {
        method, headers, cache: 'no-store',
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, { error: { code: 'NETWORK', message: 'The service could not be reached.' } });
    }
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = null; }
    if (res.status === 401 && !signIn) {
      await askForToken();
      continue;
    }
    if (!res.ok) throw new ApiError(res.status, json, res.headers);
    if (method !== 'GET') state.lastOwnWrite = Date.now();
    return { body: json, headers: res.headers };
  }
}

async function loadCatalog() {
  if (!state.catalog) state.catalog = (await api('GET', '/integration-catalog')).body.vendors;
  return state.catalog;
}

async function loadVendor(key) {
  const vendors = await loadCatalog();
  return vendors.find((v) => v.key === key) || { key, name: key, config_fields: [], variants: [] };
}

// ---------------------------------------------------------------- errors in plain words
const PROBLEMS = {
  required: 'is required',
  taken: 'is already used by another one; choose another name',
  invalid_type: 'has the wrong type of value',
  not_an_option: 'is not one of the allowed options',
  malformed_placeholder: 'has a malformed {{pipeline_param.KEY}} placeholder',
  too_long: 'is too long',
  too_large: 'is too large',
  unknown_field: 'is not something this form can set',
  invalid_value: 'is not a valid value',
  invalid: 'is not valid',
  in_both: 'is both a parameter and a secret parameter; keep it in one of them',
  no_previous_secret: 'has no stored value to keep; type a value',
  unknown_vendor: 'is not a vendor of the catalog',
  unknown_variant: 'is not a variant of this vendor',
  not_attached: 'is not attached to this template',
  wrong_template: 'belongs to another template',
  not_found: 'was not found',
  invalid_key: 'is not a valid key (letters, digits and _ only, at most 64)',
  empty: 'must not be empty',
  no_targets: 'has no pipeline to move',
  missing_parameter: 'needs a pipeline parameter that is not set',
  invalid_json: 'is not valid JSON',
};

function fieldName(path) {
  if (!path) return 'This value';
  return path.replace(/^config\./, '').replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());
}

function problemText(detail) {
  const phrase = PROBLEMS[detail.problem] || (detail.problem ? detail.problem.replace(/_/g, ' ') : 'is not valid');
  return `${fieldName(detail.field)} ${phrase}.`;
}

function explain(err) {
  switch (err.status) {
    case 0: return 'The service could not be reached. Check the connection and try again.';
    case 401: return 'Your sign-in has ended. Paste a new token to continue.';
    case 403: return 'Your role does not allow this.';
    case 404: return 'This was not found. It may have been deleted, or the address is wrong.';
    case 409: return err.message.charAt(0).toUpperCase() + err.message.slice(1) + '.';
    case 412: return 'Someone else changed this while you were editing. Your input is kept: reload to see the latest version, then apply your change again.';
    case 413: return 'That is too large to save.';
    case 429: return `Too many requests. Wait ${err.retryAfter || 'a few'} seconds, then try again.`;
    case 503: return 'The service is unavailable right now. Try again in a moment.';
    case 400:
    case 422:
      return err.details.length ? 'Some values need fixing.' : `${err.message.charAt(0).toUpperCase()}${err.message.slice(1)}.`;
    default: return `Something went wrong (${err.status}). Try again; if it keeps happening, tell an administrator.`;
  }
}

/** Shows an error on a form: each detail next to the control it names, the rest on top. */
function showFormError(form, err) {
  clearFormError(form);
  const box = form.querySelector('.form-error');
  const unplaced = [];
  let first = null;
  for (const detail of err.details || []) {
    const control = detail.field ? form.querySelector(`[data-field="${CSS.escape(detail.field)}"]`) : null;
    // A control out of sight (the form's fields while the JSON editor is
    // shown) cannot show its message: it is listed on top instead.
    if (!control || control.closest('[hidden]')) { unplaced.push(detail); continue; }
    const msg = h('p', { class: 'field-error', id: uid('err') }, problemText(detail));
    control.setAttribute('aria-invalid', 'true');
    control.setAttribute('aria-describedby', `${control.getAttribute('aria-describedby') || ''} ${msg.id}`.trim());
    const wrap = control.closest('.field');
    if (wrap) wrap.append(msg); else control.after(msg);
    first = first || control;
  }
  if (!box) { notify(explain(err)); return; }
  const placed = (err.details || []).length - unplaced.length;
  if (placed && !unplaced.length && [400, 409, 422].includes(err.status)) {
    // Every problem sits by its field: the summary only counts them.
    box.replaceChildren(placed === 1 ? 'One value needs fixing: see the field marked below.' : `${placed} values need fixing: see the fields marked below.`);
  } else {
    box.replaceChildren(explain(err));
  }
  if (unplaced.length) box.append(h('ul', {}, unplaced.map((d) => h('li', {}, problemText(d)))));
  if (err.status === 412 || err.status === 404) box.append(' ', button('Reload the latest version', () => route(), 'secondary'));
  (first && first.focus ? first : box).focus();
}

function clearFormError(form) {
  form.querySelectorAll('.field-error').forEach((el) => {
    const owner = form.querySelector(`[aria-describedby~="${el.id}"]`);
    if (owner) {
      const rest = owner.getAttribute('aria-describedby').split(' ').filter((id) => id !== el.id).join(' ');
      if (rest) owner.setAttribute('aria-describedby', rest); else owner.removeAttribute('aria-describedby');
    }
    el.remove();
  });
  form.querySelectorAll('[aria-invalid]').forEach((el) => el.removeAttribute('aria-invalid'));
  const box = form.querySelector('.form-error');
  if (box) box.replaceChildren();
}

const formError = () => h('div', { class: 'form-error', role: 'alert', tabindex: '-1' });

/** A form whose submit runs `action`; errors are shown on the form, the button is busy meanwhile. */
function actionForm(props, children, action) {
  const form = h('form', { ...props, novalidate: true }, formError(), children);
  form.addEventListener('input', () => { state.dirty = true; });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const submit = form.querySelector('button[type="submit"]');
    if (submit) submit.disabled = true;
    clearFormError(form);
    try {
      await action(new FormData(form), form);
    } catch (err) {
      if (err instanceof ApiError) showFormError(form, err);
      else if (err instanceof FieldError) showFormError(form, { status: 422, details: [err.detail], message: err.message });
      else throw err;
    } finally {
      if (submit) submit.disabled = false;
    }
  });
  return form;
}

class FieldError extends Error {
  constructor(field, problem) {
    super(problem);
    this.detail = { field, problem };
  }
}

/** Runs a button's action; an error is told in the status line. */
async function run(action) {
  try {
    await action();
  } catch (err) {
    if (err instanceof ApiError) notify(explain(err));
    else throw err;
  }
}

function errorView(err) {
  const titles = { 403: 'Not allowed', 404: 'Not found', 409: 'Conflict', 412: 'Changed meanwhile', 429: 'Slow down', 503: 'Unavailable' };
  return h('section', { class: 'error-page' },
    h('h1', {}, titles[err.status] || 'Something went wrong'),
    h('p', {}, explain(err)),
    h('p', { class: 'actions' }, link('Back to templates', '/templates'), ' ', button('Try again', () => route(), 'secondary')));
}

// ---------------------------------------------------------------- sign-in
function readFragmentToken() {
  const m = location.hash.match(/^#token=([^&]+)/);
  if (!m) return;
  try {
    setToken(decodeURIComponent(m[1]));
  } catch {
    // A damaged link: the sign-in page asks for the token instead.
  }
  // The token leaves the address bar (and the history) at once.
  history.replaceState(null, '', location.pathname + location.search);
}

function pageSignIn(message) {
  document.getElementById('nav').hidden = true;
  document.getElementById('who').replaceChildren();
  document.title = 'Sign in · Integrations console';
  document.body.dataset.page = 'signin';
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'off', spellcheck: 'false' });
  const form = actionForm({ class: 'stack' }, [
    field('Access token', input, { help: 'A bearer token for your organisation: from your identity service, or minted with “integrations token”.' }),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Sign in')),
  ], async (data) => {
    const token = String(data.get('token') || '').trim();
    if (!token) throw new FieldError('token', 'required');
    setToken(token);
    await start();
  });
  input.dataset.field = 'token';
  const main = document.getElementById('main');
  main.replaceChildren(h('section', { class: 'signin panel' },
    h('h1', {}, 'Sign in'),
    h('p', { class: 'lead' }, 'Paste an access token. It is kept in this browser tab only and forgotten when the tab closes.'),
    message ? h('p', { class: 'form-error', role: 'alert' }, message) : null,
    form));
}

function askForToken() {
  if (state.reauth) return state.reauth;
  state.reauth = new Promise((resolve) => {
    const input = h('input', { type: 'password', autocomplete: 'off', spellcheck: 'false' });
    const dialog = h('dialog', { 'aria-labelledby': 'reauth-title', oncancel: (e) => e.preventDefault() });
    const form = h('form', { class: 'stack', novalidate: true, onsubmit: (e) => {
      e.preventDefault();
      const token = input.value.trim();
      if (!token) { input.setAttribute('aria-invalid', 'true'); input.focus(); return; }
      const before = state.me;
      setToken(token);
      dialog.close();
      dialog.remove();
      state.reauth = null;
      loadMe().then(() => {
        const same = before && state.me.org_id === before.org_id && state.me.sub === before.sub
          && state.me.role === before.role;
        if (!same) {
          // Another organisation, person or role: nothing typed for the
          // previous one is sent as this one; the console starts again.
          state.lastSeq = null;
          location.reload();
          return;
        }
        renderChrome();
        resolve();
      }).catch(() => askForToken().then(resolve));
    } },
    h('h2', { id: 'reauth-title' }, 'Your sign-in has ended'),
    h('p', {}, 'Paste a new token to go on. Nothing you typed on this page is lost: your change is sent once you are signed in again.'),
    field('New access token', input),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Continue'), button('Sign out', signOut, 'secondary')));
    dialog.append(form);
    document.body.append(dialog);
    dialog.showModal();
    input.focus();
  });
  return state.reauth;
}

async function loadMe() {
  state.me = (await api('GET', '/me', { signIn: true })).body;
}

function signOut() {
  stopStream();
  document.getElementById('status').replaceChildren();
  clearToken();
  document.querySelectorAll('dialog').forEach((d) => d.remove());
  state.reauth = null;
  pageSignIn();
}

async function start() {
  try {
    await loadMe();
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    // Only a refused token is forgotten: after an outage or a rate limit,
    // the same token works once the service answers again.
    if (err.status === 401) clearToken();
    pageSignIn(err.status === 401 ? 'That token was refused: it is not valid, or it has expired.' : explain(err));
    return;
  }
  if (state.me.role === 'service') {
    clearToken();
    pageSignIn('That is a service token, for event processors. Sign in with a token of a person: viewer, editor, admin or owner.');
    return;
  }
  renderChrome();
  startStream();
  if (!location.hash.startsWith('#/')) history.replaceState(null, '', '#/templates');
  await route();
}

function renderChrome() {
  const nav = document.getElementById('nav');
  nav.hidden = false;
  nav.querySelectorAll('[data-role]').forEach((a) => { a.hidden = !can(a.dataset.role); });
  const live = h('span', { class: `live${state.liveOn ? ' on' : ''}`, id: 'live' }, state.liveOn ? 'Live' : 'Offline');
  document.getElementById('who').replaceChildren(
    live,
    h('span', { title: state.me.exp ? `Signed in until ${when(state.me.exp)}` : null },
      state.me.sub, ' · ', state.me.role, ' · ', state.me.org_id),
    button('Sign out', signOut, 'secondary'));
}

// ---------------------------------------------------------------- live updates
function setLive(on) {
  state.liveOn = on;
  const el = document.getElementById('live');
  if (el) { el.className = `live${on ? ' on' : ''}`; el.textContent = on ? 'Live' : 'Offline'; }
}

function stopStream() {
  if (state.stream) state.stream.abort();
  state.stream = null;
  setLive(false);
}

async function startStream() {
  stopStream();
  const ctrl = new AbortController();
  state.stream = ctrl;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  let delay = 2000;
  while (!ctrl.signal.aborted) {
    try {
      if (state.lastSeq == null) {
        // Where the feed stands now (Event-Seq): the stream starts after it.
        const { headers } = await api('GET', '/events?limit=1');
        state.lastSeq = Number(headers.get('event-seq') || 0);
      }
      const res = await fetch('/v1/admin/events', {
        headers: { Accept: 'text/event-stream', Authorization: `Bearer ${state.token}`, 'Last-Event-ID': String(state.lastSeq) },
        signal: ctrl.signal, cache: 'no-store',
      });
      if (res.status === 401) { await askForToken(); continue; }
      if (res.status === 410) { state.lastSeq = null; continue; }
      if (res.status === 429 || res.status === 503) {
        // Told when to come back: no sooner.
        const after = Number(res.headers.get('retry-after'));
        delay = Math.max(delay, Number.isFinite(after) && after > 0 ? after * 1000 : delay * 2);
      }
      if (!res.ok || !res.body) throw new Error(`events: ${res.status}`);
      setLive(true);
      delay = 2000;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n?/g, '\n');
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          handleSse(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch {
      // A dropped stream is reopened below; an aborted one ends the loop.
    }
    if (ctrl.signal.aborted) return;
    setLive(false);
    await sleep(delay);
    delay = Math.min(delay * 2, 60000);
  }
}

function handleSse(block) {
  let id = null;
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('id:')) id = line.slice(3).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  if (id != null) state.lastSeq = Number(id);
  if (!data.length) return;
  let event;
  try { event = JSON.parse(data.join('\n')); } catch { return; }
  onEvent(event);
}

function onEvent(event) {
  // The page redraws itself after its own changes; a change made elsewhere
  // (another tab, curl with the same token, another person) is shown here.
  const ownEcho = state.me && event.actor === state.me.sub
    && Date.now() - (state.lastOwnWrite || 0) < 3000;
  if (ownEcho) return;
  const what = event.type.replace(/[._]/g, ' ');
  if (state.dirty) {
    notify(`Changed elsewhere by ${event.actor}: ${what}. Save or reload to see it.`);
    state.staleNotice = true;
    return;
  }
  notify(`Updated: ${what} by ${event.actor}.`);
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(() => { if (!state.dirty) route(); }, 250);
}

// ---------------------------------------------------------------- router
const ROUTES = [
  [/^\/templates$/, 'templates', pageTemplates],
  [/^\/templates\/([^/]+)$/, 'template', pageTemplate],
  [/^\/catalog$/, 'catalog', pageCatalog],
  [/^\/pipelines$/, 'pipelines', pagePipelines],
  [/^\/pipelines\/([^/]+)$/, 'pipeline', pagePipeline],
  [/^\/rollouts$/, 'rollouts', pageRollouts],
  [/^\/audit$/, 'audit', pageAudit],
];

async function route() {
  if (!state.token || !state.me) return;
  const hash = location.hash.startsWith('#/') ? location.hash.slice(1) : '/templates';
  const [path, query] = hash.split('?');
  const params = new URLSearchParams(query || '');
  const seq = ++state.renderSeq;
  const main = document.getElementById('main');
  const section = path.split('/')[1];
  document.querySelectorAll('#nav a').forEach((a) => {
    if (a.dataset.section === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  });
  main.setAttribute('aria-busy', 'true');
  let view;
  let name = 'notfound';
  try {
    const found = ROUTES.find(([re]) => re.test(path));
    if (!found) throw new ApiError(404, null);
    const [re, pageName, render] = found;
    name = pageName;
    let args;
    try {
      args = path.match(re).slice(1).map(decodeURIComponent);
    } catch {
      throw new ApiError(404, null); // a malformed address names nothing
    }
    view = await render(params, ...args);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    view = errorView(err);
    name = 'error';
  }
  if (seq !== state.renderSeq) return;
  const hadFocus = main.contains(document.activeElement) && document.activeElement !== main;
  main.replaceChildren(view);
  main.removeAttribute('aria-busy');
  state.dirty = false;
  if (state.staleNotice) {
    // The page now shows the latest data: the notice of a change elsewhere is stale.
    state.staleNotice = false;
    document.getElementById('status').replaceChildren();
  }
  document.body.dataset.page = name;
  const h1 = main.querySelector('h1');
  document.title = `${h1 ? h1.textContent : 'Console'} · Integrations console`;
  if (!hadFocus) main.focus({ preventScroll: true });
}

function pager(total, limit, offset, path, params) {
  const first = total ? offset + 1 : 0;
  const last = Math.min(offset + limit, total);
  const nav = h('nav', { class: 'pager', 'aria-label': 'Pages' }, h('span', { class: 'muted' }, `${first}–${last} of ${total}`));
  if (offset > 0) nav.append(link('Previous page', `${path}?${new URLSearchParams({ ...params, offset: Math.max(0, offset - limit) })}`));
  if (last < total) nav.append(link('Next page', `${path}?${new URLSearchParams({ ...params, offset: offset + limit })}`));
  return nav;
}

const cleanParams = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v));

// ---------------------------------------------------------------- templates
async function pageTemplates(params) {
  const q = params.get('q') || '';
  const vendor = params.get('vendor') || '';
  const offset = Math.max(0, Number(params.get('offset')) || 0);
  const qs = new URLSearchParams(cleanParams({ limit: PAGE_SIZE, offset, q, vendor }));
  const [list, vendors] = await Promise.all([api('GET', `/integration-templates?${qs}`), loadCatalog()]);
  const vendorName = (k) => (vendors.find((v) => v.key === k) || { name: k }).name;
  const { integrations, total, limit } = list.body;

  const search = h('form', { class: 'toolbar', role: 'search', onsubmit: (e) => {
    e.preventDefault();
    const data = new FormData(e.target);
    go('/templates', { q: data.get('q'), vendor: data.get('vendor') });
  } },
  field('Search by name', h('input', { type: 'search', name: 'q', value: q, maxlength: '200' })),
  field('Vendor', select('vendor', [['', 'All vendors'], ...vendors.map((v) => [v.key, v.name])], vendor)),
  h('button', { type: 'submit' }, 'Search'));

  const rows = integrations.map((t) => h('tr', {},
    h('td', {}, link(t.name, `/templates/${enc(t.id)}`)),
    h('td', {}, vendorName(t.vendor)),
    h('td', { class: 'num' }, t.latest_revision ? `Revision ${t.latest_revision}` : 'No revision yet'),
    h('td', { class: 'num' }, when(t.updated_at))));

  const content = [
    h('div', { class: 'head' },
      h('div', {}, h('h1', {}, 'Integration templates'), h('p', { class: 'lead' }, 'Vendor configurations, versioned by revision.')),
      can('editor') ? link('Install from the catalog', '/catalog') : null),
    search,
    integrations.length
      ? table('Integration templates', ['Name', 'Vendor', 'Latest', 'Updated'], rows)
      : h('p', { class: 'muted' }, q || vendor ? 'No template matches.' : 'No template yet.'),
    pager(total, limit, offset, '/templates', cleanParams({ q, vendor })),
  ];
  if (can('editor')) content.push(newTemplateForm(vendors));
  return h('section', {}, content);
}

function newTemplateForm(vendors) {
  return h('section', { class: 'panel' },
    h('h2', {}, 'New template'),
    actionForm({ class: 'grid' }, [
      field('Name', h('input', { type: 'text', name: 'name', maxlength: '200' }), { fieldName: 'name', required: true }),
      field('Vendor', select('vendor', vendors.map((v) => [v.key, v.name]), ''), { fieldName: 'vendor', required: true }),
      field('Description', h('input', { type: 'text', name: 'description' }), { fieldName: 'description' }),
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Create template')),
    ], async (data) => {
      const body = { name: data.get('name'), vendor: data.get('vendor') };
      if (data.get('description')) body.description = data.get('description');
      const { body: t } = await api('POST', '/integration-templates', { body });
      notify(`Template “${t.name}” created.`);
      go(`/templates/${enc(t.id)}`);
    }));
}

// ---------------------------------------------------------------- a template
async function pageTemplate(params, id) {
  const base = `/integration-templates/${enc(id)}`;
  // The timeline shows a page of revisions, newest first (a long history is
  // never read whole); the new-revision form starts from the latest.
  const roff = Math.max(0, Number(params.get('roff')) || 0);
  const [tplRes, revRes] = await Promise.all([
    api('GET', base),
    api('GET', `${base}/revisions?limit=${PAGE_SIZE}&offset=${roff}`),
  ]);
  const t = tplRes.body;
  const etag = tplRes.headers.get('etag');
  const revisions = revRes.body.revisions;
  const vendor = await loadVendor(t.vendor);
  const latest = roff === 0 || !t.latest_revision
    ? revisions[0] || null
    : (await api('GET', `${base}/revisions/${t.latest_revision}`)).body;
  const here = `/templates/${enc(id)}`;

  const header = h('div', { class: 'head' },
    h('div', {},
      h('p', { class: 'muted small' }, link('Templates', '/templates'), ' / ', vendor.name),
      h('h1', {}, t.name),
      h('p', { class: 'lead' }, t.description || 'No description.'),
      h('p', { class: 'small muted' },
        `${vendor.name} · latest revision ${t.latest_revision || 'none'}`,
        t.catalog_variant_key ? ` · installed from the “${t.catalog_variant_key}” variant` : '',
        ` · updated ${when(t.updated_at)}`)));

  const parts = [header];
  if (can('editor')) parts.push(detailsForm(t, etag, base));

  parts.push(h('h2', {}, 'Revisions'));
  if (!revisions.length) parts.push(h('p', { class: 'muted' }, 'No revision yet.'));
  else {
    parts.push(timeline(t, revisions, base, here));
    const total = revRes.body.total ?? t.latest_revision;
    if (total > PAGE_SIZE) {
      const kept = cleanParams({ from: params.get('from'), to: params.get('to') });
      const nav = h('nav', { class: 'pager', 'aria-label': 'Revision pages' },
        h('span', { class: 'muted' }, `${roff + 1}–${Math.min(roff + PAGE_SIZE, total)} of ${total}`));
      if (roff > 0) nav.append(link('Newer revisions', `${here}?${new URLSearchParams({ ...kept, roff: Math.max(0, roff - PAGE_SIZE) })}`));
      if (roff + PAGE_SIZE < total) nav.append(link('Older revisions', `${here}?${new URLSearchParams({ ...kept, roff: roff + PAGE_SIZE })}`));
      parts.push(nav);
    }
  }

  if (t.latest_revision > 1) parts.push(compareForm(t.latest_revision, params, here));

  const viewRev = params.get('rev');
  if (viewRev) parts.push(await revisionView(base, viewRev, vendor));
  if (params.get('from') && params.get('to')) parts.push(await diffView(base, params.get('from'), params.get('to')));
  parts.push(await pinsView(base));

  if (can('editor')) parts.push(revisionForm(t, vendor, latest, base, here));
  return h('section', {}, parts);
}

async function pinsView(base) {
  const { body } = await api('GET', `${base}/pipelines?limit=100`);
  const rows = body.pipelines.map((p) => h('tr', {},
    h('td', {}, link(p.pipeline_name, `/pipelines/${enc(p.pipeline_id)}`)),
    h('td', {}, `Revision ${p.revision_number}`, p.revision_number < p.latest_revision ? ' ' : '',
      p.revision_number < p.latest_revision ? badge(`newer revision ${p.latest_revision}`, 'new') : ''),
    h('td', {}, p.enabled ? badge('enabled', 'ok') : badge('disabled', 'off'))));
  return h('section', { 'aria-labelledby': 'pins-title' },
    h('h2', { id: 'pins-title' }, 'Used by'),
    rows.length ? table('Pipelines using this template', ['Pipeline', 'Pinned', 'State'], rows)
      : h('p', { class: 'muted' }, 'No pipeline uses this template.'),
    body.total > rows.length ? h('p', { class: 'muted small' }, `and ${body.total - rows.length} more`) : null);
}

function detailsForm(t, etag, base) {
  return h('details', { class: 'panel' },
    h('summary', {}, 'Edit name and description'),
    actionForm({ class: 'stack' }, [
      field('Name', h('input', { type: 'text', name: 'name', value: t.name, maxlength: '200' }), { fieldName: 'name', required: true }),
      field('Description', h('textarea', { name: 'description', value: t.description || '', rows: '3' }), { fieldName: 'description' }),
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save details')),
    ], async (data) => {
      const description = String(data.get('description') || '');
      await api('PUT', base, { ifMatch: etag, body: { name: data.get('name'), description: description || null } });
      notify('Details saved.');
      route();
    }));
}

function timeline(t, revisions, base, here) {
  return h('ol', { class: 'timeline', 'aria-label': 'Revision timeline, newest first' }, revisions.map((r) => h('li', {},
    h('h3', {}, `Revision ${r.revision_number}`, r.revision_number === t.latest_revision ? ' ' : '', r.revision_number === t.latest_revision ? badge('latest', 'ok') : ''),
    h('div', {}, r.change_summary || h('span', { class: 'muted' }, 'No summary')),
    h('div', { class: 'meta' }, `${r.delivery_mode.replace('_', '-')} · by ${r.created_by} · ${when(r.created_at)}`,
      r.restored_from ? ` · restored from revision ${r.restored_from}` : ''),
    h('div', { class: 'actions' },
      link(`View revision ${r.revision_number}`, `${here}?rev=${r.revision_number}`),
      can('editor') && r.revision_number !== t.latest_revision
        ? button(`Restore revision ${r.revision_number}`, () => run(async () => {
          const { body } = await api('POST', `${base}/revisions/${r.revision_number}/restore`, { ifMatch: `"${t.latest_revision}"`, body: {} });
          notify(`Revision ${r.revision_number} restored as revision ${body.revision_number}.`);
          go(here, { rev: body.revision_number });
        }), 'secondary')
        : null))));
}

function compareForm(latestNumber, params, here) {
  // Any two revisions: every number from the latest down, whatever page the
  // timeline shows.
  const numbers = Array.from({ length: latestNumber }, (_, i) => latestNumber - i)
    .map((n) => [n, `Revision ${n}`]);
  const from = params.get('from') || latestNumber - 1;
  const to = params.get('to') || latestNumber;
  return h('form', { class: 'toolbar', onsubmit: (e) => {
    e.preventDefault();
    const data = new FormData(e.target);
    go(here, { from: data.get('from'), to: data.get('to') });
  } },
  field('Compare revision', select('from', numbers, from)),
  field('with revision', select('to', numbers, to)),
  h('button', { type: 'submit' }, 'Compare'));
}

/** Leaves of a JSON value, as [JSON pointer, value] in document order. */
function flatten(value, pointer = '', out = []) {
  if (value && typeof value === 'object' && Object.keys(value).length) {
    for (const [k, v] of Object.entries(value)) flatten(v, `${pointer}/${String(k).replace(/~/g, '~0').replace(/\//g, '~1')}`, out);
  } else {
    out.push([pointer, value]);
  }
  return out;
}

const pointerLabel = (p) => p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')).join('.') || '(whole config)';
const show = (v) => (typeof v === 'string' ? v : JSON.stringify(v));

function configTable(label, config, vendor) {
  const secret = new Set((vendor.config_fields || []).filter((f) => f.type === 'secret').map((f) => `/${f.key}`));
  const rows = flatten(config).map(([p, v]) => h('tr', {},
    h('td', { class: 'mono' }, pointerLabel(p)),
    h('td', { class: 'mono' }, secret.has(p) && v != null ? '***' : show(v))));
  return table(label, ['Field', 'Value'], rows);
}

async function revisionView(base, number, vendor) {
  const { body: r } = await api('GET', `${base}/revisions/${enc(number)}`);
  return h('section', { class: 'panel', 'aria-labelledby': 'rev-view' },
    h('h2', { id: 'rev-view' }, `Revision ${r.revision_number}`),
    h('p', { class: 'muted small' }, `${r.delivery_mode} · by ${r.created_by} · ${when(r.created_at)} · secrets are shown as ***`),
    configTable(`Config of revision ${r.revision_number}`, r.config, vendor));
}

async function diffView(base, from, to) {
  const [a, b, d] = await Promise.all([
    api('GET', `${base}/revisions/${enc(from)}`),
    api('GET', `${base}/revisions/${enc(to)}`),
    api('GET', `${base}/revisions/${enc(from)}/diff/${enc(to)}`),
  ]);
  const patch = d.body.patch || [];
  const touched = patch.flatMap((op) => [op.path, op.from].filter((p) => p != null));
  const isTouched = (p) => touched.some((t) => t === '' || t === p || p.startsWith(`${t}/`) || t.startsWith(`${p}/`));
  const left = new Map(flatten(a.body.config));
  const right = new Map(flatten(b.body.config));
  const keys = [...new Set([...left.keys(), ...right.keys()])];
  const cell = (m, k, side) => h('td', { class: `v ${side}` }, m.has(k) ? show(m.get(k)) : h('span', { class: 'absent' }, 'absent'));
  const rows = keys.map((k) => {
    let kind = '';
    if (!left.has(k)) kind = 'added';
    else if (!right.has(k)) kind = 'removed';
    else if (isTouched(k) || show(left.get(k)) !== show(right.get(k))) kind = 'changed';
    return h('tr', { class: kind }, h('td', { class: 'key' }, pointerLabel(k)), cell(left, k, 'from'), cell(right, k, 'to'), h('td', { class: 'change' }, kind || 'same'));
  });
  const dm = d.body.delivery_mode;
  rows.unshift(h('tr', { class: dm ? 'changed' : '' }, h('td', { class: 'key' }, 'delivery mode'),
    h('td', { class: 'v from' }, a.body.delivery_mode), h('td', { class: 'v to' }, b.body.delivery_mode), h('td', { class: 'change' }, dm ? 'changed' : 'same')));
  const changes = rows.filter((r) => r.className).length;
  return h('section', { class: 'panel', 'aria-labelledby': 'diff-title' },
    h('h2', { id: 'diff-title' }, `Revision ${from} compared with revision ${to}`),
    h('p', { class: 'muted small' }, changes ? `${changes} changed ${changes === 1 ? 'value' : 'values'}, highlighted.` : 'No difference.'),
    h('table', { class: 'diff', 'aria-label': `Differences between revision ${from} and revision ${to}` },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Field'), h('th', { scope: 'col' }, `Revision ${from}`), h('th', { scope: 'col' }, `Revision ${to}`), h('th', { scope: 'col' }, 'Change'))),
      h('tbody', {}, rows)));
}

// ---------------------------------------------------------------- the new-revision form
const PLACEHOLDER = /^\s*\{\{.*\}\}\s*$/;

/** One control per catalog field; `get()` reads it back as JSON (undefined: leave the key out). */
function fieldControl(f, value) {
  const name = `config.${f.key}`;
  const text = (v) => (v == null ? '' : typeof v === 'string' ? v : JSON.stringify(v));
  let el;
  let get;
  switch (f.type) {
    case 'secret':
      el = h('input', { type: 'password', autocomplete: 'new-password', placeholder: f.placeholder });
      get = () => el.value || undefined;
      break;
    case 'textarea':
      el = h('textarea', { rows: '3', placeholder: f.placeholder });
      get = () => el.value || undefined;
      break;
    case 'number':
    case 'integer':
      el = h('input', { type: 'text', inputmode: f.type === 'integer' ? 'numeric' : 'decimal', placeholder: f.placeholder });
      get = () => {
        const v = el.value.trim();
        if (!v) return undefined;
        if (PLACEHOLDER.test(v)) return v;
        return Number.isFinite(Number(v)) ? Number(v) : v;
      };
      break;
    case 'boolean':
      el = h('select', {});
      get = () => (el.value === '' ? undefined : el.value === 'true' ? true : el.value === 'false' ? false : el.value);
      break;
    case 'select':
      el = h('select', {});
      get = () => {
        if (el.value === '') return undefined;
        const opt = (f.options || []).find((o) => String(o) === el.value);
        return opt === undefined ? el.value : opt;
      };
      break;
    case 'object':
    case 'array':
      el = h('textarea', { rows: '4', placeholder: f.placeholder || (f.type === 'array' ? '[ ]' : '{ }') });
      get = () => {
        const v = el.value.trim();
        if (!v) return undefined;
        try { return JSON.parse(v); } catch { throw new FieldError(name, 'invalid_json'); }
      };
      break;
    default:
      el = h('input', { type: 'text', placeholder: f.placeholder });
      get = () => el.value || undefined;
  }
  const set = (v) => {
    if (el.tagName === 'SELECT') {
      const options = f.type === 'boolean' ? [true, false] : (f.options || []);
      el.replaceChildren(h('option', { value: '' }, '(not set)'));
      for (const o of options) el.append(h('option', { value: String(o) }, String(o)));
      if (v != null && !options.some((o) => String(o) === String(v))) el.append(h('option', { value: String(v) }, String(v)));
      el.value = v == null ? '' : String(v);
    } else if (f.type === 'object' || f.type === 'array') {
      el.value = v == null ? '' : JSON.stringify(v, null, 2);
    } else {
      el.value = text(v);
    }
  };
  set(value);
  const help = [f.help_text, f.type === 'secret' ? 'Write-only: leave *** to keep the stored value.' : null,
    f.type === 'number' || f.type === 'integer' ? 'A number, or a {{pipeline_param.KEY}} placeholder.' : null].filter(Boolean).join(' ');
  return { key: f.key, el, get, set, node: field(f.label || f.key, el, { fieldName: name, required: f.required, help }) };
}

function revisionForm(t, vendor, latest, base, here) {
  const fields = vendor.config_fields || [];
  let config = latest ? structuredClone(latest.config) : {};
  if (!latest) for (const f of fields) if (f.default !== undefined) config[f.key] = f.default;
  const controls = fields.map((f) => fieldControl(f, config[f.key]));
  const json = h('textarea', { rows: '14', spellcheck: 'false' });
  const jsonField = field('Config as JSON', json, { fieldName: 'config', help: 'The whole config object. Secrets read "***": leave them so to keep the stored values.' });
  const formPart = h('div', { class: 'grid' }, controls.map((c) => c.node));
  jsonField.hidden = true;
  let mode = 'form';

  const collect = () => {
    if (mode === 'json') {
      try { return JSON.parse(json.value); } catch { throw new FieldError('config', 'invalid_json'); }
    }
    const out = structuredClone(config);
    for (const c of controls) {
      const v = c.get();
      if (v === undefined) delete out[c.key]; else out[c.key] = v;
    }
    return out;
  };
  const formButton = button('Form', () => switchTo('form'), 'secondary', { 'aria-pressed': 'true' });
  const jsonButton = button('JSON', () => switchTo('json'), 'secondary', { 'aria-pressed': 'false' });
  const switchTo = (next) => {
    if (next === mode) return;
    try {
      if (next === 'json') {
        json.value = JSON.stringify(collect(), null, 2);
      } else {
        const parsed = collect();
        if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new FieldError('config', 'invalid_json');
        config = parsed;
        for (const c of controls) c.set(config[c.key]);
      }
    } catch (err) {
      if (err instanceof FieldError) { showFormError(form, { status: 422, details: [err.detail] }); return; }
      throw err;
    }
    mode = next;
    formPart.hidden = mode !== 'form';
    jsonField.hidden = mode !== 'json';
    formButton.setAttribute('aria-pressed', String(mode === 'form'));
    jsonButton.setAttribute('aria-pressed', String(mode === 'json'));
  };

  const form = actionForm({ class: 'stack', 'aria-labelledby': 'new-rev' }, [
    h('div', { class: 'actions', role: 'group', 'aria-label': 'Edit with' }, h('span', { class: 'muted small' }, 'Edit with:'), formButton, jsonButton),
    formPart,
    jsonField,
    h('div', { class: 'grid' },
      field('Delivery mode', select('delivery_mode', [['server_side', 'Server-side'], ['client_side', 'Client-side']], latest ? latest.delivery_mode : 'server_side'), { fieldName: 'delivery_mode' }),
      field('Change summary', h('input', { type: 'text', name: 'change_summary', maxlength: '2000' }), { fieldName: 'change_summary' })),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, `Save as revision ${t.latest_revision + 1}`)),
  ], async (data) => {
    const body = { config: collect(), delivery_mode: data.get('delivery_mode') };
    if (data.get('change_summary')) body.change_summary = data.get('change_summary');
    const { body: r } = await api('POST', `${base}/revisions`, { body, ifMatch: `"${t.latest_revision}"` });
    notify(`Revision ${r.revision_number} saved.`);
    state.dirty = false;
    go(here, { rev: r.revision_number });
  });
  return h('section', { class: 'panel' },
    h('h2', { id: 'new-rev' }, 'New revision'),
    h('p', { class: 'muted small' }, latest ? `Starts from revision ${latest.revision_number}. Placeholders such as {{pipeline_param.KEY}} are filled from each pipeline's parameters.` : 'The first revision of this template.'),
    form);
}

// ---------------------------------------------------------------- catalog
const CATEGORIES = { advertising: 'Advertising', analytics: 'Analytics', attribution: 'Attribution', cdp: 'Customer data', cloud_storage: 'Cloud storage', other: 'Other' };

async function pageCatalog() {
  const vendors = await loadCatalog();
  const groups = new Map();
  for (const v of vendors) {
    if (!groups.has(v.category)) groups.set(v.category, []);
    groups.get(v.category).push(v);
  }
  const parts = [h('h1', {}, 'Catalog'), h('p', { class: 'lead' }, 'Every vendor a template can be for. Installing creates a template and its first revision from a variant.')];
  for (const [category, list] of groups) {
    parts.push(h('h2', {}, CATEGORIES[category] || category), h('div', { class: 'cards' }, list.map(vendorCard)));
  }
  return h('section', {}, parts);
}

function vendorCard(v) {
  const card = h('article', { class: 'card', 'aria-labelledby': `vendor-${v.key}` },
    h('h3', { id: `vendor-${v.key}` }, v.name, ' ', v.status === 'beta' ? badge('beta', 'new') : ''),
    h('p', {}, v.description),
    h('p', { class: 'small' }, `${(v.config_fields || []).length} fields · ${(v.variants || []).length} variants`));
  if (!can('editor')) return card;
  const form = actionForm({ class: 'stack', hidden: true }, [
    field('Template name', h('input', { type: 'text', name: 'name', value: v.name, maxlength: '200' }), { fieldName: 'name', required: true }),
    field('Variant', select('variant', (v.variants || []).map((x) => [x.key, x.name]), 'default'), { fieldName: 'variant' }),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, `Install ${v.name}`)),
  ], async (data) => {
    const { body } = await api('POST', `/integration-catalog/${enc(v.key)}/install`, { body: { name: data.get('name'), variant: data.get('variant') } });
    notify(`Installed “${body.template.name}” with revision 1.`);
    go(`/templates/${enc(body.template.id)}`);
  });
  const toggle = button(`Install ${v.name}…`, () => {
    form.hidden = !form.hidden;
    toggle.setAttribute('aria-expanded', String(!form.hidden));
    if (!form.hidden) form.querySelector('input').focus();
  }, 'secondary', { 'aria-expanded': 'false' });
  card.append(h('div', { class: 'actions' }, toggle), form);
  return card;
}

// ---------------------------------------------------------------- pipelines
async function pagePipelines(params) {
  const q = params.get('q') || '';
  const offset = Math.max(0, Number(params.get('offset')) || 0);
  const { body } = await api('GET', `/pipelines?${new URLSearchParams(cleanParams({ limit: PAGE_SIZE, offset, q }))}`);
  const rows = body.pipelines.map((p) => h('tr', {},
    h('td', {}, link(p.name, `/pipelines/${enc(p.id)}`)),
    h('td', {}, p.description || ''),
    h('td', { class: 'num' }, `${Object.keys(p.parameters || {}).length} + ${Object.keys(p.secret_parameters || {}).length} secret`),
    h('td', { class: 'num' }, when(p.updated_at))));
  const parts = [
    h('h1', {}, 'Pipelines'),
    h('p', { class: 'lead' }, 'Where templates run, each with its own parameters.'),
    h('form', { class: 'toolbar', role: 'search', onsubmit: (e) => { e.preventDefault(); go('/pipelines', { q: new FormData(e.target).get('q') }); } },
      field('Search by name', h('input', { type: 'search', name: 'q', value: q, maxlength: '200' })),
      h('button', { type: 'submit' }, 'Search')),
    body.pipelines.length ? table('Pipelines', ['Name', 'Description', 'Parameters', 'Updated'], rows) : h('p', { class: 'muted' }, q ? 'No pipeline matches.' : 'No pipeline yet.'),
    pager(body.total, body.limit, offset, '/pipelines', cleanParams({ q })),
  ];
  if (can('editor')) {
    parts.push(h('section', { class: 'panel' }, h('h2', {}, 'New pipeline'),
      actionForm({ class: 'grid' }, [
        field('Name', h('input', { type: 'text', name: 'name', maxlength: '200' }), { fieldName: 'name', required: true }),
        field('Description', h('input', { type: 'text', name: 'description' }), { fieldName: 'description' }),
        h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Create pipeline')),
      ], async (data) => {
        const req = { name: data.get('name') };
        if (data.get('description')) req.description = data.get('description');
        const { body: p } = await api('POST', '/pipelines', { body: req });
        notify(`Pipeline “${p.name}” created.`);
        go(`/pipelines/${enc(p.id)}`);
      })));
  }
  return h('section', {}, parts);
}

function paramRow(container, key, value, secret) {
  const keyInput = h('input', { type: 'text', class: 'mono', value: key, autocomplete: 'off' });
  const valueInput = h('input', {
    type: secret ? 'password' : 'text', value: value == null ? '' : String(value), autocomplete: secret ? 'new-password' : 'off',
  });
  const type = secret ? null : select('', [['string', 'Text'], ['number', 'Number'], ['boolean', 'True/false']],
    typeof value === 'number' ? 'number' : typeof value === 'boolean' ? 'boolean' : 'string');
  const kind = secret ? 'Secret' : 'Parameter';
  const row = h('div', { class: `row${secret ? ' secret' : ''}` },
    field(`${kind} key`, keyInput),
    type ? field('Type', type) : null,
    field(secret ? 'Value (write-only)' : 'Value', valueInput, { help: secret && key ? 'Leave *** to keep it.' : null }),
    button('Remove', () => row.remove(), 'danger', { 'aria-label': `Remove ${kind.toLowerCase()} ${key || 'row'}` }));
  const sync = () => {
    const group = secret ? 'secret_parameters' : 'parameters';
    valueInput.dataset.field = `${group}.${keyInput.value}`;
  };
  keyInput.addEventListener('input', sync);
  sync();
  row.read = () => {
    const k = keyInput.value.trim();
    if (!k) return null;
    let v = valueInput.value;
    if (type && type.value === 'number') v = Number.isFinite(Number(v)) && v.trim() !== '' ? Number(v) : v;
    if (type && type.value === 'boolean') v = v.trim().toLowerCase() === 'true' ? true : v.trim().toLowerCase() === 'false' ? false : v;
    return [k, v];
  };
  container.append(row);
}

function paramsReadOnly(p) {
  const rows = [
    ...Object.entries(p.parameters || {}).map(([k, v]) => h('tr', {}, h('td', { class: 'mono' }, k), h('td', { class: 'mono' }, show(v)), h('td', {}, 'parameter'))),
    ...Object.keys(p.secret_parameters || {}).map((k) => h('tr', {}, h('td', { class: 'mono' }, k), h('td', { class: 'mono' }, '***'), h('td', {}, 'secret (write-only)'))),
  ];
  return rows.length ? table('Parameters', ['Key', 'Value', 'Kind'], rows) : h('p', { class: 'muted' }, 'No parameter.');
}

function pipelineForm(p, base) {
  const plain = h('div', {});
  const secret = h('div', {});
  for (const [k, v] of Object.entries(p.parameters || {})) paramRow(plain, k, v, false);
  for (const k of Object.keys(p.secret_parameters || {})) paramRow(secret, k, '***', true);
  return actionForm({ class: 'stack' }, [
    h('div', { class: 'grid' },
      field('Name', h('input', { type: 'text', name: 'name', value: p.name, maxlength: '200' }), { fieldName: 'name', required: true }),
      field('Description', h('input', { type: 'text', name: 'description', value: p.description || '' }), { fieldName: 'description' })),
    h('fieldset', { 'data-field': 'parameters' }, h('legend', {}, 'Parameters'), plain,
      button('Add parameter', () => paramRow(plain, '', '', false), 'secondary')),
    h('fieldset', { 'data-field': 'secret_parameters' }, h('legend', {}, 'Secret parameters (write-only)'),
      h('p', { class: 'muted small' }, 'Credentials: their values are never shown again, to anyone.'), secret,
      button('Add secret parameter', () => paramRow(secret, '', '', true), 'secondary')),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save pipeline')),
  ], async (data) => {
    const read = (box) => Object.fromEntries([...box.children].map((r) => r.read && r.read()).filter(Boolean));
    const description = String(data.get('description') || '');
    await api('PUT', base, { body: {
      name: data.get('name'), description: description || null, parameters: read(plain), secret_parameters: read(secret),
    } });
    notify('Pipeline saved.');
    route();
  });
}

async function pagePipeline(params, pid) {
  const base = `/pipelines/${enc(pid)}`;
  const [pRes, aRes] = await Promise.all([api('GET', base), api('GET', `${base}/integrations`)]);
  const p = pRes.body;
  const attachments = aRes.body.integrations;
  const vendors = await loadCatalog();
  for (const a of attachments) a.vendorName = (vendors.find((v) => v.key === a.vendor) || { name: a.vendor }).name;
  const parts = [
    h('p', { class: 'muted small' }, link('Pipelines', '/pipelines')),
    h('h1', {}, p.name),
    h('p', { class: 'lead' }, p.description || 'No description.'),
    h('h2', {}, 'Parameters'),
    can('editor') ? pipelineForm(p, base) : paramsReadOnly(p),
    h('h2', {}, 'Integrations'),
  ];
  const preview = h('div', { id: 'upgrade-preview' });
  if (!attachments.length) parts.push(h('p', { class: 'muted' }, 'Nothing attached yet.'));
  else parts.push(table('Attached integrations', ['Template', 'Vendor', 'Pinned', 'State', 'Actions'], attachments.map((a) => attachmentRow(a, base, pid, preview))));
  parts.push(preview);
  if (can('editor')) parts.push(await attachForm(base, attachments));
  return h('section', {}, parts);
}

function attachmentRow(a, base, pid, preview) {
  const newer = a.revision_number < a.latest_revision;
  const actions = h('div', { class: 'actions' });
  if (newer) {
    actions.append(button(`Preview upgrade to revision ${a.latest_revision}`, () => run(() => upgradePreview(a, pid, preview)), 'secondary'));
  }
  if (can('editor')) {
    actions.append(button(a.enabled ? 'Disable' : 'Enable', () => run(async () => {
      await api('PUT', `${base}/integrations/${enc(a.id)}`, { body: { enabled: !a.enabled } });
      notify(`${a.integration_name} ${a.enabled ? 'disabled' : 'enabled'}.`);
      route();
    }), 'secondary', { 'aria-label': `${a.enabled ? 'Disable' : 'Enable'} ${a.integration_name}` }));
  }
  if (can('admin')) {
    actions.append(button('Detach', () => run(async () => {
      await api('DELETE', `${base}/integrations/${enc(a.id)}`);
      notify(`${a.integration_name} detached.`);
      route();
    }), 'danger', { 'aria-label': `Detach ${a.integration_name}` }));
  }
  return h('tr', {},
    h('td', {}, link(a.integration_name, `/templates/${enc(a.integration_id)}`)),
    h('td', {}, a.vendorName),
    h('td', {}, `Revision ${a.revision_number}`, newer ? ' ' : '', newer ? badge(`newer revision ${a.latest_revision}`, 'new') : ''),
    h('td', {}, a.enabled ? badge('enabled', 'ok') : badge('disabled', 'off')),
    h('td', {}, actions));
}

function opsList(ops) {
  if (ops == null) return h('p', { class: 'muted small' }, 'No diff available.');
  if (!ops.length) return h('p', { class: 'muted small' }, 'The rendered config does not change.');
  return h('ul', { class: 'ops' }, ops.map((op) => h('li', { class: 'mono' },
    `${op.op} ${pointerLabel(op.path)}`, op.value !== undefined ? ` → ${show(op.value)}` : '')));
}

async function upgradePreview(a, pid, box) {
  const tbase = `/integration-templates/${enc(a.integration_id)}`;
  const { body: rev } = await api('GET', `${tbase}/revisions/${a.latest_revision}`);
  const { body: ro } = await api('POST', `${tbase}/rollouts`, { body: { revision_id: rev.id, pipeline_ids: [pid], dry_run: true } });
  const row = ro.pipelines[0];
  const blocked = ro.pipelines.some((x) => x.status === 'blocked');
  const panel = h('section', { class: 'panel', 'aria-labelledby': 'preview-title' },
    h('h3', { id: 'preview-title' }, `Upgrade ${a.integration_name} from revision ${a.revision_number} to ${a.latest_revision}`),
    h('p', {}, blocked ? badge('blocked', 'bad') : badge('ready', 'ok'), ' ', blocked ? 'This upgrade cannot be applied yet.' : 'Nothing stands in the way.'),
    row && row.missing_parameters.length ? h('p', {}, `Missing parameters: ${row.missing_parameters.join(', ')}`) : null,
    row && row.problems.length ? h('ul', {}, row.problems.map((p) => h('li', {}, problemText(p)))) : null,
    h('p', { class: 'small muted' }, 'What the rendered config would change:'),
    opsList(row ? row.config_diff : null),
    h('div', { class: 'actions' },
      can('editor') && !blocked ? button(`Apply upgrade to revision ${a.latest_revision}`, () => run(async () => {
        const { body: applied } = await api('POST', `${tbase}/rollouts`, {
          body: { revision_id: rev.id, pipeline_ids: [pid], note: 'Upgrade from the console' }, ifMatch: `"${a.latest_revision}"`,
        });
        notify(`Moved to revision ${applied.to_revision}. It can be rolled back from Rollouts.`);
        route();
      })) : null,
      button('Close preview', () => box.replaceChildren(), 'secondary')));
  box.replaceChildren(panel);
  panel.querySelector('button').focus();
}

async function attachForm(base, attachments) {
  // The templates come from the API, searched by name there (never
  // filtered here): the newest 20, or those whose name holds the search.
  const attached = new Set(attachments.map((a) => a.integration_id));
  const search = h('input', { type: 'search', name: 'template_q', maxlength: '200' });
  const templateSelect = h('select', { name: 'integration_id' });
  const revisionSelect = select('revision_id', [], '');
  const loadRevisions = async () => {
    const chosen = templateSelect.selectedOptions[0];
    if (!chosen || chosen.disabled) { revisionSelect.replaceChildren(); return; }
    const { body: revs } = await api('GET', `/integration-templates/${enc(chosen.value)}/revisions?limit=100`);
    revisionSelect.replaceChildren(...revs.revisions.map((r) => h('option', { value: r.id }, `Revision ${r.revision_number}${r.change_summary ? ` — ${r.change_summary}` : ''}`)));
  };
  const find = async () => {
    const q = search.value.trim();
    const { body } = await api('GET', `/integration-templates?limit=20${q ? `&q=${enc(q)}` : ''}`);
    templateSelect.replaceChildren(...body.integrations.map((t) => {
      const taken = attached.has(t.id);
      const empty = t.latest_revision === 0;
      const text = taken ? `${t.name} (attached already)` : empty ? `${t.name} (no revision yet)` : t.name;
      return h('option', { value: t.id, disabled: taken || empty }, text);
    }));
    const first = [...templateSelect.options].find((o) => !o.disabled);
    if (first) first.selected = true;
    await loadRevisions();
  };
  templateSelect.addEventListener('change', () => run(loadRevisions));
  await find();
  const enabled = h('input', { type: 'checkbox', name: 'enabled', checked: true });
  return h('section', { class: 'panel' }, h('h2', {}, 'Attach a template'),
    actionForm({ class: 'grid' }, [
      field('Find a template by name', search),
      h('div', { class: 'actions' }, button('Find', () => run(find), 'secondary')),
      field('Template', templateSelect, { fieldName: 'integration_id' }),
      field('Revision', revisionSelect, { fieldName: 'revision_id' }),
      checkbox('Enabled', enabled),
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Attach')),
    ], async (data) => {
      await api('POST', `${base}/integrations`, { body: { integration_id: data.get('integration_id'), revision_id: data.get('revision_id'), enabled: enabled.checked } });
      notify('Attached.');
      route();
    }));
}

// ---------------------------------------------------------------- rollouts
async function pageRollouts(params) {
  const offset = Math.max(0, Number(params.get('offset')) || 0);
  const { body } = await api('GET', `/rollouts?limit=${PAGE_SIZE}&offset=${offset}`);
  // The names of this page's templates, each read by id (a deleted one
  // shows its id).
  const ids = [...new Set(body.rollouts.map((r) => r.template_id))];
  const names = new Map(await Promise.all(ids.map((id) => api('GET', `/integration-templates/${enc(id)}`)
    .then(({ body: t }) => [id, t.name], () => [id, id]))));
  const rows = body.rollouts.map((r) => h('tr', {},
    h('td', { class: 'num' }, when(r.created_at)),
    h('td', {}, link(names.get(r.template_id) || r.template_id, `/templates/${enc(r.template_id)}`)),
    h('td', {}, r.rolled_back_from ? 'Rollback' : `To revision ${r.to_revision}`, r.note ? h('div', { class: 'small muted' }, r.note) : null),
    h('td', {}, h('ul', { class: 'ops' }, r.pipelines.map((p) => h('li', {},
      `${p.pipeline_name}: ${p.from_revision ?? '—'} → ${p.to_revision ?? '—'} `, badge(p.status, p.status === 'moved' ? 'ok' : 'off'))))),
    h('td', {}, r.created_by),
    h('td', {}, can('editor') && r.pipelines.some((p) => p.status === 'moved')
      ? button('Roll back', () => run(async () => {
        await api('POST', `/integration-templates/${enc(r.template_id)}/rollouts/${enc(r.id)}/rollback`, { body: {} });
        notify('Rolled back.');
        route();
      }), 'danger', { 'aria-label': `Roll back the rollout of ${when(r.created_at)}` })
      : '')));
  return h('section', {},
    h('h1', {}, 'Rollouts'),
    h('p', { class: 'lead' }, 'Re-pins of many pipelines at once, newest first. A rollback returns each pipeline it can to where it was.'),
    body.rollouts.length ? table('Rollouts', ['When', 'Template', 'What', 'Pipelines', 'By', 'Actions'], rows) : h('p', { class: 'muted' }, 'No rollout yet.'),
    pager(body.total, body.limit, offset, '/rollouts', {}));
}

// ---------------------------------------------------------------- audit log
async function pageAudit(params) {
  if (!can('admin')) throw new ApiError(403, null);
  const offset = Math.max(0, Number(params.get('offset')) || 0);
  const resource = params.get('resource_id') || '';
  const { body } = await api('GET', `/audit-log?${new URLSearchParams(cleanParams({ limit: PAGE_SIZE, offset, resource_id: resource }))}`);
  const target = (e) => (e.resource_type === 'template' ? `/templates/${enc(e.resource_id)}` : e.resource_type === 'pipeline' ? `/pipelines/${enc(e.resource_id)}` : null);
  const rows = body.entries.map((e) => h('tr', {},
    h('td', { class: 'num' }, when(e.created_at)),
    h('td', {}, e.actor),
    h('td', { class: 'mono' }, e.action),
    h('td', {}, e.resource_type, ' ', target(e) ? link(e.resource_id, target(e)) : h('span', { class: 'mono' }, e.resource_id)),
    h('td', {}, h('details', {}, h('summary', {}, 'Before and after'),
      h('pre', {}, `before: ${JSON.stringify(e.old_value, null, 2)}\nafter: ${JSON.stringify(e.new_value, null, 2)}`)))));
  return h('section', {},
    h('h1', {}, 'Audit log'),
    h('p', { class: 'lead' }, 'Every change, who made it and when. Secrets never appear here.'),
    h('form', { class: 'toolbar', onsubmit: (e) => { e.preventDefault(); go('/audit', { resource_id: new FormData(e.target).get('resource_id') }); } },
      field('Resource id', h('input', { type: 'search', name: 'resource_id', value: resource, class: 'mono' })),
      h('button', { type: 'submit' }, 'Filter')),
    body.entries.length ? table('Audit log', ['When', 'Actor', 'Action', 'Resource', 'Change'], rows) : h('p', { class: 'muted' }, 'No entry.'),
    pager(body.total, body.limit, offset, '/audit', cleanParams({ resource_id: resource })));
}

// ---------------------------------------------------------------- boot
readFragmentToken();
state.token = sessionStorage.getItem(TOKEN_KEY);
window.addEventListener('hashchange', () => {
  if (location.hash.startsWith('#token=')) { readFragmentToken(); start(); return; }
  route();
});
if (state.token) start(); else pageSignIn();
