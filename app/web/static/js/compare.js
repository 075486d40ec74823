// 竞品对比: 2–5 topics on one chart — volume, negative share and share of voice, same window.

import {api} from './api.js';
import {card, empty, h, replace, segmented} from './dom.js';
import {TIME_AXIS_LABELS, percent} from './format.js';

const RANGES = [['24h', '24小时', 24, '5m'], ['7d', '7天', 168, '1h'], ['30d', '30天', 720, '1d']];
const state = {range: '7d', chosen: []};

function option(comparison) {
  const times = comparison.buckets.map((moment) => new Date(moment).getTime());
  const series = (key, grid, type = 'line', extra = {}) => comparison.topics.map((topic) => ({
    name: topic.name, type, xAxisIndex: grid, yAxisIndex: grid, showSymbol: false, ...extra,
    data: times.map((time, n) => [time, topic[key][n]]),
  }));
  const axis = (gridIndex) => ({type: 'time', gridIndex, axisLabel: {formatter: TIME_AXIS_LABELS, hideOverlap: true}});
  return {
    animation: false,
    legend: {top: 0},
    tooltip: {trigger: 'axis'},
    grid: [{top: 40, height: '24%', left: 56, right: 24}, {top: '40%', height: '22%', left: 56, right: 24},
      {top: '70%', height: '22%', left: 56, right: 24}],
    xAxis: [axis(0), axis(1), axis(2)],
    yAxis: [{gridIndex: 0, name: '声量', minInterval: 1},
      {gridIndex: 1, name: '负面占比', max: 1, axisLabel: {formatter: (v) => percent(v)}},
      {gridIndex: 2, name: '声量份额', max: 1, axisLabel: {formatter: (v) => percent(v)}}],
    series: [...series('total', 0), ...series('negative_share', 1),
      ...series('share_of_voice', 2, 'line', {stack: 'voice', areaStyle: {}})],
  };
}

/** #/compare: choose 2–5 topics and a range. */
export async function comparePage(container, context) {
  const topics = await api('/api/v1/topics');
  if (!context.isCurrent()) return;
  if (!state.chosen.length) state.chosen = topics.slice(0, Math.min(3, topics.length)).map((topic) => topic.id);
  const chartBox = h('div', {class: 'chart', id: 'compare-chart'});
  const summary = h('div', {id: 'compare-summary'});
  const picks = h('form', {id: 'compare-form', class: 'row'}, topics.map((topic) => h('label', {class: 'inline'},
    h('input', {type: 'checkbox', name: 'topic_ids', value: topic.id, checked: state.chosen.includes(topic.id)}), ' ', topic.name)));
  picks.addEventListener('change', () => {
    state.chosen = [...picks.querySelectorAll('input:checked')].map((box) => Number(box.value));
    context.rerender();
  });
  replace(container, h('div', {class: 'page-head'}, h('h1', {}, '竞品对比'),
    segmented(RANGES.map(([value, label]) => [value, label]), state.range, (value) => { state.range = value; context.rerender(); })),
  card('选择 2–5 个监测方案', picks), card(null, chartBox, summary));
  if (state.chosen.length < 2 || state.chosen.length > 5) {
    replace(chartBox, empty('请选择 2 到 5 个监测方案。'));
    return;
  }
  const [, , hours, interval] = RANGES.find(([value]) => value === state.range);
  const end = new Date();
  const comparison = await api('/api/v1/compare', {params: {topic_ids: state.chosen.join(','), interval,
    start: new Date(end.getTime() - hours * 3_600_000).toISOString(), end: end.toISOString()}});
  if (!context.isCurrent()) return;
  replace(summary, h('table', {id: 'compare-table'}, h('thead', {}, h('tr', {}, ['监测方案', '声量', '声量份额'].map((n) => h('th', {}, n)))),
    h('tbody', {}, comparison.topics.map((topic) => h('tr', {}, h('td', {}, topic.name), h('td', {class: 'num'}, topic.volume),
      h('td', {class: 'num'}, percent(topic.overall_share_of_voice)))))));
  if (!window.echarts) return;
  chartBox.style.height = '560px';
  const chart = window.echarts.init(chartBox, null, {renderer: 'canvas'});
  chart.setOption(option(comparison));
  context.onCleanup(() => chart.dispose());
}
