// 静默, API 密钥, 案例库 and 舆情简报: the rest of running Yuqing from the dashboard.

import {api, download} from './api.js';
import {card, empty, h, replace} from './dom.js';
import {FormError, field, localInput, onSubmit, select} from './forms.js';
import {GRADE, formatTime} from './format.js';

const GRADES = Object.entries(GRADE);
const SCOPES = [['read', '只读（read）'], ['write', '读写（write）'], ['admin', '管理（admin）']];

async function topicOptions() {
  const topics = await api('/api/v1/topics');
  return [['', '全部监测方案'], ...topics.map((topic) => [topic.id, topic.name])];
}

/** #/silences: active and planned silences, a form to add one, delete. */
export async function silencesPage(container, context) {
  const [silences, topics] = await Promise.all([api('/api/v1/silences'), topicOptions()]);
  if (!context.isCurrent()) return;
  const names = new Map(topics);
  const now = new Date();
  const form = h('form', {id: 'silence-form', class: 'form'},
    field('监测方案', select('topic_id', topics, '', {'data-type': 'int', 'data-null': ''})),
    field('静默至分级（含）', select('max_grade', [['', '所有分级'], ...GRADES], '', {'data-null': ''})),
    field('开始', h('input', {name: 'starts_at', type: 'datetime-local', required: true, 'data-type': 'datetime', value: localInput(now)})),
    field('结束', h('input', {name: 'ends_at', type: 'datetime-local', required: true, 'data-type': 'datetime',
      value: localInput(new Date(now.getTime() + 2 * 3_600_000))})),
    field('原因', h('input', {name: 'reason', required: true, maxlength: 2000, placeholder: '例：新品发布会，预期声量上升'})),
    h('button', {type: 'submit', class: 'primary'}, '添加静默'));
  onSubmit(form, async (body) => {
    await api('/api/v1/silences', {method: 'POST', body});
    context.flash('静默已添加：期间的告警照常记录，但不发送通知', true);
    context.rerender();
  }, context);
  const remove = (silence) => api(`/api/v1/silences/${silence.id}`, {method: 'DELETE'})
    .then(() => { context.flash('静默已删除', true); context.rerender(); }).catch(context.handleError);
  replace(container, h('div', {class: 'page-head'}, h('h1', {}, '静默')),
    h('div', {class: 'grid2'},
      card('当前与计划中的静默', silences.length ? h('table', {id: 'manage-silences'},
        h('thead', {}, h('tr', {}, ['监测方案', '分级', '时间', '原因', ''].map((n) => h('th', {}, n)))),
        h('tbody', {}, silences.map((silence) => h('tr', {dataset: {silenceId: silence.id}},
          h('td', {}, silence.topic_id ? names.get(silence.topic_id) || `#${silence.topic_id}` : '全部'),
          h('td', {}, silence.max_grade ? `至${GRADE[silence.max_grade]}` : '所有'),
          h('td', {}, `${formatTime(silence.starts_at)} — ${formatTime(silence.ends_at)}`),
          h('td', {}, silence.reason),
          h('td', {}, h('button', {type: 'button', class: 'small danger', onclick: () => remove(silence)}, '删除'))))))
        : empty('没有静默。')),
      card('添加静默', form)));
}

/** #/keys (admin): keys with scope and last use, create (the key shown once), revoke. */
export async function keysPage(container, context) {
  const keys = await api('/api/v1/keys');
  if (!context.isCurrent()) return;
  const created = h('div', {id: 'created-key', 'aria-live': 'polite'});
  const form = h('form', {id: 'key-form', class: 'form'},
    field('名称', h('input', {name: 'name', required: true, maxlength: 100, placeholder: '例：公关部-值班'})),
    field('权限', select('scope', SCOPES, 'read')),
    h('button', {type: 'submit', class: 'primary'}, '创建密钥'));
  onSubmit(form, async (body) => {
    const key = await api('/api/v1/keys', {method: 'POST', body});
    replace(created, card('新密钥（只显示这一次，请立即保存）', h('code', {id: 'new-key-value', class: 'secret'}, key.key)));
    form.reset();
  }, context);
  const revoke = (key) => {
    if (!window.confirm(`确定吊销密钥「${key.name}」？使用它的脚本和用户将无法再访问。`)) return;
    api(`/api/v1/keys/${key.id}`, {method: 'DELETE'})
      .then(() => { context.flash('密钥已吊销', true); context.rerender(); }).catch(context.handleError);
  };
  replace(container, h('div', {class: 'page-head'}, h('h1', {}, 'API 密钥')), created,
    h('div', {class: 'grid2'},
      card('密钥', h('table', {id: 'manage-keys'},
        h('thead', {}, h('tr', {}, ['名称', '前缀', '权限', '创建', '最近使用', ''].map((n) => h('th', {}, n)))),
        h('tbody', {}, keys.map((key) => h('tr', {dataset: {keyId: key.id}},
          h('td', {}, key.name), h('td', {}, h('code', {}, key.prefix)), h('td', {}, key.scope),
          h('td', {}, formatTime(key.created_at)), h('td', {}, formatTime(key.last_used_at)),
          h('td', {}, h('button', {type: 'button', class: 'small danger', onclick: () => revoke(key)}, '吊销'))))))),
      card('创建密钥', form)));
}

/** #/cases: the 复盘 case library, searchable. */
export async function casesPage(container, context) {
  const query = new URLSearchParams(window.location.hash.split('?')[1] || '').get('q') || '';
  const cases = await api('/api/v1/cases', {params: {q: query || null}});
  if (!context.isCurrent()) return;
  const search = h('form', {id: 'case-search', class: 'row'},
    h('input', {name: 'q', value: query, placeholder: '搜索案例标题、摘要、结论'}),
    h('button', {type: 'submit'}, '搜索'));
  search.addEventListener('submit', (event) => {
    event.preventDefault();
    const q = search.querySelector('input').value.trim();
    window.location.hash = q ? `#/cases?q=${encodeURIComponent(q)}` : '#/cases';
  });
  replace(container, h('div', {class: 'page-head'}, h('h1', {}, '案例库（复盘）'), search),
    card(null, cases.length ? h('table', {id: 'manage-cases'},
      h('thead', {}, h('tr', {}, ['分级', '标题', '摘要', '结论', ''].map((n) => h('th', {}, n)))),
      h('tbody', {}, cases.map((item) => h('tr', {},
        h('td', {}, item.grade_label || GRADE[item.grade] || item.grade), h('td', {}, item.title),
        h('td', {}, item.summary), h('td', {}, item.outcome),
        h('td', {}, item.incident_id ? h('a', {href: `#/incidents/${item.incident_id}`}, '查看事件') : null)))))
      : empty(query ? '没有匹配的案例。' : '案例库是空的：在事件处理完后，可通过 POST /api/v1/incidents/{id}/case 归档。')));
}

/** #/reports: pick a topic, day or week and a date; read the 舆情简报 and download it. */
export async function reportsPage(container, context) {
  const topics = (await topicOptions()).slice(1);
  if (!context.isCurrent()) return;
  const today = new Date();
  const pad = (n) => String(n).padStart(2, '0');
  const view = h('div', {id: 'report-view'});
  const form = h('form', {id: 'report-form', class: 'form row'},
    field('监测方案', select('topic_id', topics, topics[0]?.[0] ?? '')),
    field('周期', select('period', [['day', '日报'], ['week', '周报']], 'day')),
    field('日期（北京时间）', h('input', {name: 'date', type: 'date', value: `${today.getFullYear()}-${pad(today.getMonth() + 1)}-${pad(today.getDate())}`})),
    h('button', {type: 'submit', class: 'primary'}, '生成'));
  onSubmit(form, async (body) => {
    if (!body.topic_id) throw new FormError('请先创建监测方案');
    const params = {period: body.period, date: body.date};
    const path = `/api/v1/reports/topics/${body.topic_id}`;
    const markdown = await api(path, {params: {...params, format: 'md'}, raw: true});
    const name = `舆情简报-${body.topic_id}-${body.period}-${body.date}`;
    replace(view, card('舆情简报',
      h('div', {class: 'row'},
        h('button', {type: 'button', id: 'download-html', onclick: () => download(path, {...params, format: 'html'}, `${name}.html`).catch(context.handleError)}, '下载 HTML'),
        h('button', {type: 'button', id: 'download-md', onclick: () => download(path, {...params, format: 'md'}, `${name}.md`).catch(context.handleError)}, '下载 Markdown')),
      h('pre', {class: 'report', id: 'report-text'}, markdown)));
  }, context);
  replace(container, h('div', {class: 'page-head'}, h('h1', {}, '舆情简报')),
    topics.length ? card(null, form) : empty('还没有监测方案。'), view);
}
