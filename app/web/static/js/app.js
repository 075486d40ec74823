// Entry point: login, hash routing (#/, #/topics/ID, #/incidents, #/incidents/ID) and page lifecycle.

import {ApiError, api, clearKey, describeError, getKey, setKey} from './api.js';
import {h, replace} from './dom.js';
import {incidentPage, incidentsPage} from './incidents.js';
import {overviewPage} from './overview.js';
import {casesPage, keysPage, reportsPage, silencesPage} from './admin_manage.js';
import {channelFormPage, channelsPage, sourceFormPage, sourcesPage} from './sources_manage.js';
import {comparePage} from './compare.js';
import {topicPage} from './topic.js';
import {topicFormPage, topicsPage} from './topics_manage.js';

const ROUTES = [
  [/^#?\/?$/, overviewPage, 'overview'],
  [/^#\/topics$/, topicsPage, 'topics'],
  [/^#\/topics\/new$/, topicFormPage, 'topics'],
  [/^#\/topics\/(\d+)\/edit$/, topicFormPage, 'topics'],
  [/^#\/topics\/(\d+)$/, topicPage, 'overview'],
  [/^#\/incidents$/, incidentsPage, 'incidents'],
  [/^#\/incidents\/(\d+)$/, incidentPage, 'incidents'],
  [/^#\/sources$/, sourcesPage, 'sources'],
  [/^#\/sources\/new$/, sourceFormPage, 'sources'],
  [/^#\/sources\/(\d+)\/edit$/, sourceFormPage, 'sources'],
  [/^#\/channels$/, channelsPage, 'channels'],
  [/^#\/channels\/new$/, channelFormPage, 'channels'],
  [/^#\/channels\/(\d+)\/edit$/, channelFormPage, 'channels'],
  [/^#\/silences$/, silencesPage, 'silences'],
  [/^#\/reports$/, reportsPage, 'reports'],
  [/^#\/cases(?:\?.*)?$/, casesPage, 'cases'],
  [/^#\/keys$/, keysPage, 'keys'],
  [/^#\/compare$/, comparePage, 'overview'],
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const flashBox = document.getElementById('flash');
let cleanups = [];
let renderToken = 0;
let flashTimer = null;

/** Show a short message above the page (errors stay until the next one). */
export function flash(message, ok = false) {
  flashBox.textContent = message;
  flashBox.className = ok ? 'flash ok' : 'flash';
  flashBox.hidden = false;
  clearTimeout(flashTimer);
  if (ok) flashTimer = setTimeout(() => { flashBox.hidden = true; }, 4000);
}

function runCleanups() {
  for (const cleanup of cleanups) {
    try { cleanup(); } catch { /* a failing cleanup must not block navigation */ }
  }
  cleanups = [];
}

function showLogin(message) {
  runCleanups();
  nav.hidden = true;
  const form = document.getElementById('login-template').content.cloneNode(true);
  replace(main, form);
  const error = document.getElementById('login-error');
  if (message) { error.textContent = message; error.hidden = false; }
  document.getElementById('login-form').addEventListener('submit', onLogin);
  document.getElementById('api-key').focus();
}

async function onLogin(event) {
  event.preventDefault();
  const key = document.getElementById('api-key').value.trim();
  const error = document.getElementById('login-error');
  try {
    await api('/api/v1/overview', {key});
    setKey(key);
    flashBox.hidden = true;
    render();
  } catch (err) {
    error.textContent = err instanceof ApiError && err.status === 401
      ? 'API 密钥无效或已吊销（401），请检查后重试。' : describeError(err);
    error.hidden = false;
  }
}

/** Handle an error from a page: 401 returns to the login form, others are shown. */
export function handleError(error) {
  if (error instanceof ApiError && error.status === 401) {
    clearKey();
    showLogin('登录已失效：API 密钥无效或已吊销（401），请重新输入。');
    return;
  }
  flash(describeError(error));
}

async function render() {
  const token = ++renderToken;
  runCleanups();
  if (!flashBox.classList.contains('ok')) flashBox.hidden = true;  // an error belongs to the page it happened on
  if (!getKey()) { showLogin(); return; }
  nav.hidden = false;
  const hash = window.location.hash || '#/';
  const route = ROUTES.find(([pattern]) => pattern.test(hash));
  for (const link of nav.querySelectorAll('a')) link.classList.toggle('current', route && link.dataset.nav === route[2]);
  if (!route) { replace(main, h('p', {class: 'empty'}, '页面不存在。'), h('a', {href: '#/'}, '返回总览')); return; }
  const [pattern, page] = route;
  const params = hash.match(pattern).slice(1);
  const container = h('div', {class: 'page', 'aria-busy': 'true'});
  replace(main, container);
  const context = {
    onCleanup: (fn) => cleanups.push(fn),
    isCurrent: () => token === renderToken,
    flash,
    handleError,
    rerender: render,
  };
  try {
    await page(container, context, ...params);
  } catch (error) {
    if (token === renderToken) handleError(error);
  } finally {
    container.setAttribute('aria-busy', 'false');
  }
}

document.getElementById('logout').addEventListener('click', () => {
  clearKey();
  flashBox.hidden = true;
  showLogin('已退出。');
});
window.addEventListener('hashchange', render);
render();
