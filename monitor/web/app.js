// The monitor's page: plain DOM, no framework. Everything shown is set with
// textContent, never innerHTML: file names and hosts come from tracers.
'use strict';

const MAX_ROWS = 1000;
const $ = id => document.getElementById(id);
const state = { filters: { host: '', program: '', kind: '' }, paused: false, alerts: 0, maxId: 0, hosts: new Set(), programs: new Set() };

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

const td = (text, cls) => el('td', { class: cls || '', text: text == null ? '' : String(text) });
const time = iso => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '') : '');
const args = a => Object.entries(a || {}).map(([k, v]) => `${k}: ${v}`).join(', ');

// The token comes in the URL's #fragment (never sent with a request), is
// kept for this tab, and goes in a header with every API call. No cookie:
// those would reach every other server on 127.0.0.1 too.
const TOKEN = (() => {
  const m = /(?:^|[#&])token=([^&]+)/.exec(location.hash.slice(1));
  if (m) {
    sessionStorage.setItem('systrace-token', decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem('systrace-token') || '';
})();

async function api(path, init) {
  const headers = { 'X-Systrace-Token': TOKEN, ...((init && init.headers) || {}) };
  const res = await fetch(path, { credentials: 'omit', ...init, headers });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error || body.result || res.statusText);
  return body;
}

// ---- live feed -------------------------------------------------------------

function matches(e) {
  const f = state.filters;
  return (!f.host || e.host === f.host) && (!f.program || e.program.includes(f.program)) && (!f.kind || e.kind === f.kind);
}

function outcome(e) {
  return [e.decision, e.errno, e.rule && `rule ${e.rule}`, e.detail].filter(Boolean).join(' · ');
}

function eventRow(e) {
  const tr = el('tr', { class: `kind-${e.kind}`, dataset: { id: e.id, session: e.session, kind: e.kind } },
    td(time(e.time)), td(e.host), td(e.program, 'mono'), td(e.pid || ''), td(e.kind, 'kind'), td(e.syscall, 'mono'),
    td(args(e.args), 'args'), td(outcome(e)));
  tr.title = `session ${e.session} · seq ${e.seq} · policy ${e.policy}`;
  return tr;
}

function remember(e) {
  for (const [set, list, v] of [[state.hosts, 'hosts', e.host], [state.programs, 'programs', e.program]]) {
    if (v && !set.has(v)) { set.add(v); $(list).append(el('option', { value: v })); }
  }
}

let queue = [];
let scheduled = false;
// Many events a second are drawn once a frame, not once each.
function addEvents(events) {
  // The history loaded at start and the stream overlap: each event once.
  for (const e of events) if (e.id > state.maxId) { state.maxId = e.id; queue.push(e); }
  if (queue.length > MAX_ROWS) queue.splice(0, queue.length - MAX_ROWS);
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    if (state.paused) return;
    const feed = $('feed');
    const frag = document.createDocumentFragment();
    for (const e of queue.splice(0).reverse()) { remember(e); if (matches(e)) frag.append(eventRow(e)); }
    feed.prepend(frag);
    while (feed.rows.length > MAX_ROWS) feed.deleteRow(-1);
  });
}

async function reloadFeed() {
  const q = new URLSearchParams({ limit: '300' });
  for (const [k, v] of Object.entries(state.filters)) if (v && k !== 'program') q.set(k, v);
  const events = await api(`/api/events?${q}`);
  $('feed').replaceChildren();
  queue = [];
  state.maxId = 0;
  addEvents(events.reverse());
}

// ---- questions -------------------------------------------------------------

const ANSWERS = [
  ['p', 'permit once'], ['P', 'permit always'], ['d', 'deny once'], ['D', 'deny always'], ['k', 'kill'],
];

function questionItem(e) {
  const li = el('li', { class: 'question', id: `question-${e.id}`, dataset: { session: e.session, question: e.question, program: e.program } });
  li.append(
    el('div', { class: 'what', text: `${e.program} [${e.pid}] ${e.syscall} ${args(e.args)}` }),
    el('div', { class: 'meta', text: `${e.host} · ${e.user || '?'} · policy ${e.policy || '(none)'} · ${time(e.time)}${e.detail ? ` · ${e.detail}` : ''}` }),
  );
  const buttons = el('div', { class: 'buttons' });
  const errno = el('input', { class: 'errno', id: `errno-${e.id}`, placeholder: 'EPERM', 'aria-label': 'errno for deny always' });
  for (const [key, label] of ANSWERS) {
    const b = el('button', { type: 'button', id: `answer-${e.id}-${key}`, dataset: { answer: key, session: e.session, question: e.question }, text: label });
    b.addEventListener('click', async () => {
      for (const x of buttons.querySelectorAll('button')) x.disabled = true;
      try {
        await api('/api/answer', {
          method: 'POST', headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ session: e.session, question: e.question, answer: key, errno: key === 'D' ? errno.value : '' }),
        });
        li.remove();
        updateQuestionCount();
      } catch (err) {
        for (const x of buttons.querySelectorAll('button')) x.disabled = false;
        alert(`could not answer: ${err.message}`);
      }
    });
    buttons.append(b);
    if (key === 'D') buttons.append(errno);
  }
  li.append(buttons);
  return li;
}

function updateQuestionCount() {
  const n = $('question-list').children.length;
  $('question-count').textContent = String(n);
  $('no-questions').hidden = n > 0;
}

function addQuestion(e) {
  if (document.querySelector(`li.question[data-session="${CSS.escape(e.session)}"][data-question="${e.question}"]`)) return;
  $('question-list').append(questionItem(e));
  updateQuestionCount();
}

function removeQuestion(session, question) {
  document.querySelector(`li.question[data-session="${CSS.escape(session)}"][data-question="${question}"]`)?.remove();
  updateQuestionCount();
}

async function reloadQuestions() {
  const qs = await api('/api/questions');
  $('question-list').replaceChildren(...qs.map(questionItem));
  updateQuestionCount();
}

// ---- alerts, programs, tracers ------------------------------------------------

function alertRow(a) {
  return el('tr', { class: `sev-${a.severity}`, dataset: { id: a.id, type: a.type } },
    td(time(a.time)), td(a.severity, 'sev'), td(a.type), td(a.host), td(a.program, 'mono'), td(a.pid || ''), td(a.message, 'args'));
}

function addAlert(a) {
  $('alerts').prepend(alertRow(a));
  while ($('alerts').rows.length > MAX_ROWS) $('alerts').deleteRow(-1);
  $('alert-count').textContent = String(++state.alerts);
}

async function reloadAlerts() {
  const list = await api('/api/alerts?limit=500');
  $('alerts').replaceChildren(...list.map(alertRow));
  state.alerts = list.length;
  $('alert-count').textContent = String(state.alerts);
}

async function showDenied(program) {
  const rows = await api(`/api/denied?program=${encodeURIComponent(program)}`);
  $('denied-program').textContent = program;
  $('denied').replaceChildren(...rows.map(r => el('tr', {}, td(r.count), td(r.syscall, 'mono'), td(args(r.args), 'args'), td(r.errno), td(r.rule, 'mono'), td(time(r.last)))));
  $('denied-view').hidden = false;
}

async function reloadPrograms() {
  const rows = await api('/api/programs');
  $('programs-table').replaceChildren(...rows.map(p => {
    const tr = el('tr', { dataset: { program: p.program } }, td(p.program, 'mono'), td(p.policies, 'mono'), td(p.hosts), td(p.sessions), td(p.events), td(p.denials), td(time(p.last)));
    tr.addEventListener('click', () => showDenied(p.program));
    return tr;
  }));
}

async function reloadSessions() {
  const s = await api('/api/sessions');
  $('live').replaceChildren(...s.live.map(h => el('tr', {}, td(time(h.since)), td(h.host), td(h.user), td(h.program, 'mono'), td(h.policy, 'mono'), td(h.session, 'mono'), td(h.peer))));
  $('hellos').replaceChildren(...s.hellos.map(h => el('tr', { class: h.ok ? '' : 'sev-alert' }, td(time(h.time)), td(h.ok ? 'accepted' : `refused: ${h.reason}`), td(h.host), td(h.user), td(h.program, 'mono'), td(h.session, 'mono'), td(h.peer))));
}

const RELOAD = { feed: reloadFeed, alerts: reloadAlerts, programs: reloadPrograms, sessions: reloadSessions };

function show(view) {
  for (const t of document.querySelectorAll('.tab')) t.classList.toggle('active', t.dataset.view === view);
  for (const v of document.querySelectorAll('.view')) v.hidden = v.id !== `view-${view}`;
  RELOAD[view]().catch(err => console.error(err));
}

// ---- the stream ------------------------------------------------------------------

function connect() {
  const es = new EventSource('/api/stream?token=' + encodeURIComponent(TOKEN));
  es.addEventListener('open', () => {
    $('status').textContent = 'live';
    $('status').dataset.state = 'live';
    // Whatever happened while we were away.
    reloadQuestions().catch(() => {});
  });
  es.addEventListener('error', () => {
    $('status').textContent = 'disconnected, retrying…';
    $('status').dataset.state = 'down';
  });
  es.addEventListener('event', m => {
    const { event } = JSON.parse(m.data);
    addEvents([event]);
    if (event.kind === 'ask') addQuestion(event);
  });
  es.addEventListener('alert', m => addAlert(JSON.parse(m.data).alert));
  es.addEventListener('answered', m => { const u = JSON.parse(m.data); removeQuestion(u.session, u.question); });
  es.addEventListener('session', () => { reloadQuestions().catch(() => {}); if (!$('view-sessions').hidden) reloadSessions(); });
}

document.addEventListener('DOMContentLoaded', () => {
  for (const t of document.querySelectorAll('.tab')) t.addEventListener('click', () => show(t.dataset.view));
  const onFilter = () => {
    state.filters = { host: $('filter-host').value.trim(), program: $('filter-program').value.trim(), kind: $('filter-kind').value };
    reloadFeed().catch(err => console.error(err));
  };
  for (const id of ['filter-host', 'filter-program', 'filter-kind']) $(id).addEventListener('change', onFilter);
  $('filters').addEventListener('submit', ev => { ev.preventDefault(); onFilter(); });
  $('pause').addEventListener('change', () => { state.paused = $('pause').checked; if (!state.paused) reloadFeed(); });
  Promise.all([reloadFeed(), reloadQuestions(), reloadAlerts()]).catch(err => console.error(err));
  connect();
});
