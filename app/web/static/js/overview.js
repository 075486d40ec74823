// 总览: every topic with current volume, negative share and open incidents; failing sources.

import {api} from './api.js';
import {card, empty, h, replace} from './dom.js';
import {GRADE, PLATFORM, SENTIMENT, STATUS, count, formatTime, percent} from './format.js';

function sparkline(values) {
  const peak = Math.max(1, ...values);
  return h('span', {class: 'spark', title: '近 24 小时每小时声量'}, values.map((value) => {
    const bar = h('span');
    bar.style.height = `${Math.max(4, (100 * value) / peak)}%`;
    return bar;
  }));
}

function shareCell(share) {
  const bar = h('i');
  bar.style.width = `${Math.min(100, 100 * share)}%`;
  return h('td', {class: 'num'}, percent(share), h('span', {class: 'share-bar'}, bar));
}

function gradeBadge(grade) {
  return grade ? h('span', {class: `badge grade-${grade}`}, GRADE[grade] || grade) : '—';
}

function topicRow(topic) {
  const row = h('tr', {class: 'clickable', dataset: {topicId: topic.topic_id}},
    h('td', {}, h('a', {href: `#/topics/${topic.topic_id}`}, topic.name), topic.enabled ? null
      : h('span', {class: 'muted small'}, '（已停用）')),
    h('td', {class: 'num'}, count(topic.volume_last_5m)),
    h('td', {class: 'num'}, count(topic.volume_last_hour)),
    shareCell(topic.negative_share_last_hour),
    h('td', {class: 'num'}, count(topic.volume_24h)),
    shareCell(topic.negative_share_24h),
    h('td', {}, sparkline(topic.hourly_24h)),
    h('td', {class: 'num'}, topic.open_incidents ? count(topic.open_incidents) : '0'),
    h('td', {}, gradeBadge(topic.highest_open_grade)));
  row.addEventListener('click', (event) => {
    if (event.target.closest('a')) return;
    window.location.hash = `#/topics/${topic.topic_id}`;
  });
  return row;
}

function topicsTable(topics) {
  if (!topics.length) return h('p', {class: 'empty'}, '还没有监测方案。', h('a', {href: '#/topics/new'}, '新建监测方案'));
  return h('table', {id: 'topics-table'},
    h('thead', {}, h('tr', {},
      h('th', {}, '监测方案'), h('th', {class: 'num'}, '近 5 分钟'), h('th', {class: 'num'}, '近 1 小时'),
      h('th', {class: 'num'}, '负面占比（1 小时）'), h('th', {class: 'num'}, '24 小时'),
      h('th', {class: 'num'}, '负面占比（24 小时）'), h('th', {}, '趋势'),
      h('th', {class: 'num'}, '进行中事件'), h('th', {}, '最高分级'))),
    h('tbody', {}, topics.map(topicRow)));
}

function sourceHealth(health) {
  const summary = h('p', {class: 'muted'},
    `共 ${health.total} 个数据源，启用 ${health.enabled} 个，异常 ${health.failing.length} 个。`);
  if (!health.failing.length) return card('数据源状态', summary);
  return card('数据源状态', summary, h('table', {id: 'failing-sources'},
    h('thead', {}, h('tr', {}, h('th', {}, '数据源'), h('th', {}, '类型'), h('th', {class: 'num'}, '连续失败'),
      h('th', {}, '最近成功'), h('th', {}, '最近错误'))),
    h('tbody', {}, health.failing.map((source) => h('tr', {},
      h('td', {}, source.name), h('td', {}, source.kind), h('td', {class: 'num'}, count(source.consecutive_failures)),
      h('td', {}, formatTime(source.last_success_at)), h('td', {class: 'error small'}, source.last_error || '—'))))));
}

function activeIncidents(incidents, topicNames) {
  if (!incidents.length) return card('进行中的事件', empty('当前没有进行中的事件。'));
  return card('进行中的事件', h('table', {id: 'active-incidents'}, h('tbody', {}, incidents.map((incident) => h('tr', {},
    h('td', {}, h('span', {class: `badge grade-${incident.grade}`}, incident.grade_label || GRADE[incident.grade])),
    h('td', {}, h('a', {href: `#/incidents/${incident.id}`}, incident.title)),
    h('td', {}, topicNames.get(incident.topic_id) || `#${incident.topic_id}`),
    h('td', {}, h('span', {class: `badge status-${incident.status}`}, STATUS[incident.status] || incident.status)),
    h('td', {class: 'muted'}, formatTime(incident.opened_at)))))));
}

function splitChips(splits, labels) {
  const total = splits.reduce((sum, split) => sum + split.posts, 0);
  if (!total) return h('span', {class: 'muted small'}, '—');
  return splits.map((split) => h('span', {class: `chip ${labels === SENTIMENT ? `sent-${split.name}` : ''}`},
    `${labels[split.name] || split.name} ${percent(split.posts / total)}`));
}

function makeupCard(topics) {
  const rows = topics.filter((topic) => topic.makeup);
  if (!rows.length) return null;
  return card('近 24 小时构成', h('table', {id: 'topics-makeup'},
    h('thead', {}, h('tr', {}, ['监测方案', '情感分布', '平台分布', '主要来源', '近 7 天事件'].map((n) => h('th', {}, n)))),
    h('tbody', {}, rows.map((topic) => h('tr', {dataset: {topicId: topic.topic_id}},
      h('td', {}, h('a', {href: `#/topics/${topic.topic_id}`}, topic.name)),
      h('td', {}, splitChips(topic.makeup.sentiment, SENTIMENT)),
      h('td', {}, splitChips(topic.makeup.platforms, PLATFORM)),
      h('td', {}, topic.makeup.top_sources.map((source) => h('span', {class: 'chip'}, `${source.name} ${count(source.posts)}`))),
      h('td', {}, Object.entries(topic.makeup.incidents_7d).filter(([, n]) => n)
        .map(([grade, n]) => h('span', {class: `badge grade-${grade}`}, `${GRADE[grade]} ${n}`))))))),
  h('p', {class: 'small'}, h('a', {href: '#/compare', id: 'compare-link'}, '竞品对比：把 2–5 个监测方案放在一张图上')));
}

/** Render the overview page. */
export async function overviewPage(container, context) {
  const [overview, open, acknowledged] = await Promise.all([
    api('/api/v1/overview'),
    api('/api/v1/incidents', {params: {status: 'open', limit: 50}}),
    api('/api/v1/incidents', {params: {status: 'acknowledged', limit: 50}}),
  ]);
  if (!context.isCurrent()) return;
  const names = new Map(overview.topics.map((topic) => [topic.topic_id, topic.name]));
  const incidents = [...open, ...acknowledged].sort((a, b) => b.id - a.id);
  replace(container,
    h('div', {class: 'page-head'}, h('div', {}, h('h1', {}, '总览'),
      h('p', {class: 'muted small'}, `更新于 ${formatTime(overview.generated_at, true)}`))),
    card('监测方案', topicsTable(overview.topics)),
    makeupCard(overview.topics),
    activeIncidents(incidents, names),
    sourceHealth(overview.sources));
  const timer = setInterval(() => { if (context.isCurrent()) context.rerender(); }, 60_000);
  context.onCleanup(() => clearInterval(timer));
}
