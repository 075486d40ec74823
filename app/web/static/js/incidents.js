// 事件: the incidents list, and one incident with grade, reasons, inputs, timeline, checklist and notes.

import {api} from './api.js';
import {card, empty, h, replace, segmented} from './dom.js';
import {EVENT, GRADE, INPUT, STATUS, formatTime, inputValue} from './format.js';
import {showPosts} from './posts.js';
import {showStory} from './story.js';

const FILTERS = [['active', '进行中'], ['open', '未处理'], ['acknowledged', '已确认'], ['resolved', '已解除'], ['all', '全部']];
let listFilter = 'active';

function gradeBadge(incident) {
  return h('span', {class: `badge grade-${incident.grade}`, id: 'incident-grade'},
    incident.grade_label || GRADE[incident.grade] || incident.grade);
}

function statusBadge(status) {
  return h('span', {class: `badge status-${status}`, id: 'incident-status'}, STATUS[status] || status);
}

async function fetchIncidents(filter) {
  if (filter === 'active') {
    const [open, acknowledged] = await Promise.all([
      api('/api/v1/incidents', {params: {status: 'open', limit: 200}}),
      api('/api/v1/incidents', {params: {status: 'acknowledged', limit: 200}})]);
    return [...open, ...acknowledged].sort((a, b) => b.id - a.id);
  }
  return api('/api/v1/incidents', {params: {status: filter === 'all' ? null : filter, limit: 200}});
}

/** Render the incidents list. */
export async function incidentsPage(container, context) {
  const [incidents, topics] = await Promise.all([fetchIncidents(listFilter), api('/api/v1/topics')]);
  if (!context.isCurrent()) return;
  const names = new Map(topics.map((topic) => [topic.id, topic.name]));
  const table = incidents.length ? h('table', {id: 'incidents-table'},
    h('thead', {}, h('tr', {}, h('th', {}, '分级'), h('th', {}, '事件'), h('th', {}, '监测方案'),
      h('th', {}, '状态'), h('th', {}, '开启时间'), h('th', {}, '最近信号'))),
    h('tbody', {}, incidents.map((incident) => h('tr', {},
      h('td', {}, gradeBadge(incident)),
      h('td', {}, h('a', {href: `#/incidents/${incident.id}`}, incident.title)),
      h('td', {}, h('a', {href: `#/topics/${incident.topic_id}`}, names.get(incident.topic_id) || `#${incident.topic_id}`)),
      h('td', {}, statusBadge(incident.status)),
      h('td', {}, formatTime(incident.opened_at)),
      h('td', {}, formatTime(incident.last_signal_at))))))
    : empty('没有符合条件的事件。');
  replace(container, h('div', {class: 'page-head'}, h('h1', {}, '事件')),
    h('div', {class: 'tabs'}, segmented(FILTERS, listFilter, (value) => { listFilter = value; context.rerender(); })),
    card(null, table));
}

function actions(incident, act) {
  const resolved = incident.status === 'resolved';
  return h('div', {class: 'row', id: 'incident-actions'},
    h('button', {type: 'button', class: 'primary', id: 'ack-button', disabled: incident.status !== 'open',
      onclick: () => act('ack', '已确认事件')}, '确认'),
    h('button', {type: 'button', class: 'danger', id: 'resolve-button', disabled: resolved,
      onclick: () => { if (window.confirm('确定将此事件标记为已解除？')) act('resolve', '事件已解除'); }}, '解除'));
}

function reasonsCard(incident) {
  return card('分级依据',
    incident.reasons.length ? h('ul', {id: 'incident-reasons'}, incident.reasons.map((r) => h('li', {}, r)))
      : empty('没有记录分级理由。'),
    incident.rule_labels.length ? h('p', {}, '触发规则：', incident.rule_labels.map((label) => h('span', {class: 'chip'}, label))) : null);
}

function inputsCard(inputs) {
  const names = Object.keys(inputs);
  if (!names.length) return card('判定输入', empty('没有输入数据。'));
  return card('判定输入', h('table', {id: 'incident-inputs'}, h('tbody', {}, names.map((name) => h('tr', {},
    h('th', {}, INPUT[name] || name), h('td', {class: 'num'}, inputValue(name, inputs[name])))))));
}

function checklistCard(incident, tick) {
  if (!incident.checklist.length) return card('处置清单', empty('此分级没有处置清单。'));
  return card('处置清单', h('ul', {class: 'checklist', id: 'incident-checklist'}, incident.checklist.map((item) => {
    const box = h('input', {type: 'checkbox', id: `step-${item.code}`, checked: item.done,
      disabled: incident.status === 'resolved', dataset: {code: item.code}});
    box.addEventListener('change', () => tick(item.code, box.checked, box));
    return h('li', {}, h('label', {for: `step-${item.code}`}, box, ' ', item.text),
      item.done ? h('span', {class: 'muted small done-by'}, `${item.done_by || ''} ${formatTime(item.done_at)}`) : null);
  })));
}

function timelineCard(incident) {
  return card('时间线', h('ol', {class: 'timeline', id: 'incident-timeline'}, incident.timeline.map((event) => h('li', {},
    h('div', {class: 'muted small'}, `${formatTime(event.at, true)} · ${EVENT[event.kind] || event.kind} · ${event.actor}`),
    h('div', {class: 'message'}, event.message)))));
}

function notesCard(add) {
  const text = h('textarea', {id: 'note-text', maxlength: 10000, placeholder: '记录研判、处置进展…'});
  return card('添加备注', text, h('button', {type: 'button', id: 'note-button', onclick: async () => {
    if (text.value.trim()) await add(text.value.trim());
  }}, '添加备注'));
}

/** Render one incident. */
export async function incidentPage(container, context, incidentId) {
  const base = `/api/v1/incidents/${incidentId}`;
  const incident = await api(base);
  if (!context.isCurrent()) return;
  const topic = await api(`/api/v1/topics/${incident.topic_id}`).catch(() => null);
  const reload = () => incidentPage(container, context, incidentId).catch(context.handleError);
  const act = (action, message) => api(`${base}/${action}`, {method: 'POST', body: {}})
    .then(() => { context.flash(message, true); return reload(); }).catch(context.handleError);
  const tick = (code, done, box) => api(`${base}/checklist`, {method: 'POST', body: {code, done}})
    .then(() => reload()).catch((error) => { box.checked = !done; context.handleError(error); });
  const addNote = (text) => api(`${base}/notes`, {method: 'POST', body: {text}})
    .then(() => { context.flash('备注已添加', true); return reload(); }).catch(context.handleError);
  const posts = h('section', {class: 'card', id: 'posts-card'});
  const clusters = incident.cluster_ids.length ? card('相关相似内容', h('div', {class: 'row'},
    incident.cluster_ids.map((id) => h('button', {type: 'button', onclick: () => showPosts(posts,
      {title: `相似内容（簇 #${id}）`, filters: {cluster_id: id}, context})}, `簇 #${id}`)))) : null;
  const storyBox = h('div', {id: 'incident-story'});
  replace(container,
    h('div', {class: 'page-head'}, h('div', {},
      h('div', {class: 'row'}, gradeBadge(incident), statusBadge(incident.status),
        incident.silenced ? h('span', {class: 'badge'}, '已静默') : null),
      h('h1', {id: 'incident-title'}, incident.title),
      h('p', {class: 'small muted'}, `开启于 ${formatTime(incident.opened_at)}`,
        incident.acknowledged_at ? ` · ${incident.acknowledged_by} 确认于 ${formatTime(incident.acknowledged_at)}` : '',
        incident.resolved_at ? ` · ${incident.resolved_by} 解除于 ${formatTime(incident.resolved_at)}` : '',
        ' · ', h('a', {href: `#/topics/${incident.topic_id}`}, topic ? topic.name : `监测方案 #${incident.topic_id}`))),
    actions(incident, act)),
    storyBox,
    h('div', {class: 'grid2'}, reasonsCard(incident), inputsCard(incident.inputs)),
    h('div', {class: 'grid2'}, checklistCard(incident, tick), notesCard(addNote)),
    timelineCard(incident), clusters, posts);
  if (!clusters) posts.remove();
  const dispose = await showStory(storyBox, incidentId, context).catch((error) => {
    context.handleError(error);
    return () => {};
  });
  context.onCleanup(dispose);
}
