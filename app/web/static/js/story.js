// An incident's story: what was said, where and by whom (GET /api/v1/incidents/{id}/story).

import {api} from './api.js';
import {card, empty, h, replace} from './dom.js';
import {DETECTOR, GRADE, PLATFORM, TIME_AXIS_LABELS, authorText, count, formatTime} from './format.js';
import {postActions} from './postactions.js';

const PAGE = 10;

function storyPost(post, context) {
  const actions = postActions(post, context, () => item.replaceWith(storyPost(post, context)));
  const item = h('li', {class: 'post', dataset: {postId: post.id}},
    h('div', {class: 'meta'}, actions.badge, h('span', {}, formatTime(post.published_at)),
      h('span', {}, authorText(post)), h('span', {}, PLATFORM[post.platform] || post.platform || '未知平台'),
      h('span', {class: 'muted'}, post.source), h('span', {}, `互动 ${count(post.engagement)}`), actions.row),
    post.title ? h('div', {class: 'title'}, post.title) : null,
    h('div', {class: 'text'}, post.text));
  return item;
}

function chartOption(story) {
  const size = story.bucket_minutes * 60_000;
  const point = (bucket, key) => [new Date(bucket.bucket_start).getTime() + size / 2, bucket[key]];
  const marks = story.alerts.map((alert) => ({
    xAxis: new Date(alert.fired_at).getTime(),
    name: `${DETECTOR[alert.detector] || alert.detector}（${GRADE[alert.grade] || alert.grade}）`,
  }));
  const platforms = [...new Set(story.spread.map((row) => row.platform))];
  const spread = platforms.map((platform) => ({
    name: PLATFORM[platform] || platform, type: 'bar', stack: 'spread', xAxisIndex: 1, yAxisIndex: 1,
    data: story.spread.filter((row) => row.platform === platform)
      .map((row) => [new Date(row.bucket_start).getTime() + size / 2, row.posts]),
  }));
  const start = new Date(story.trend[0]?.bucket_start || story.start).getTime();
  const end = new Date(story.end).getTime();
  return {
    animation: false,
    legend: {top: 0},
    tooltip: {trigger: 'axis'},
    grid: [{left: 48, right: 24, top: 36, height: '42%'}, {left: 48, right: 24, top: '62%', bottom: 28}],
    xAxis: [0, 1].map((gridIndex) => ({type: 'time', min: start, max: end, gridIndex,
      axisLabel: {formatter: TIME_AXIS_LABELS, hideOverlap: true}})),
    yAxis: [{type: 'value', minInterval: 1, name: '帖子数', gridIndex: 0},
      {type: 'value', minInterval: 1, name: '各平台', gridIndex: 1}],
    series: [
      {name: '声量', type: 'line', step: 'middle', showSymbol: false, color: '#4a6fa5',
        data: story.trend.map((b) => point(b, 'total')),
        markLine: {symbol: 'none', lineStyle: {color: '#d64541', type: 'dashed'},
          label: {formatter: '{b}', fontSize: 11}, data: marks}},
      {name: '负面', type: 'line', step: 'middle', showSymbol: false, color: '#d64541',
        data: story.trend.map((b) => point(b, 'negative'))},
      ...spread,
    ],
  };
}

function tableCard(title, id, headers, rows) {
  return card(title, rows.length ? h('table', {id}, h('thead', {}, h('tr', {}, headers.map((name) => h('th', {}, name)))),
    h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((cell) => h('td', {}, cell))))))
    : empty('没有数据。'));
}

/** Render the story of an incident into `box` (charts, first posts, posts with paging, accounts, sources). */
export async function showStory(box, incidentId, context) {
  const base = `/api/v1/incidents/${incidentId}/story`;
  const story = await api(base, {params: {limit: PAGE}});
  if (!context.isCurrent()) return () => {};
  const chartBox = h('div', {class: 'chart', id: 'story-chart'});
  const posts = h('ul', {class: 'posts', id: 'story-posts'}, story.posts.map((post) => storyPost(post, context)));
  let shown = story.posts.length;
  const more = h('button', {type: 'button', id: 'story-more', hidden: shown >= story.posts_total, onclick: async () => {
    more.disabled = true;
    try {
      const page = await api(base, {params: {limit: PAGE, offset: shown}});
      for (const post of page.posts) posts.append(storyPost(post, context));
      shown += page.posts.length;
      more.hidden = !page.posts.length || shown >= page.posts_total;
    } catch (error) {
      context.handleError(error);
    } finally {
      more.disabled = false;
    }
  }}, '加载更多');
  replace(box,
    card(`事件走势（${formatTime(story.start)} 起，每 ${story.bucket_minutes} 分钟；虚线为告警时刻）`, chartBox),
    card('首发帖子', story.first_posts.length
      ? h('ul', {class: 'posts', id: 'story-first'}, story.first_posts.map((post) => storyPost(post, context)))
      : empty('事件窗口内没有帖子。')),
    card(`相关帖子（共 ${count(story.posts_total)} 条，按互动量排序）`, posts, more),
    h('div', {class: 'grid2'},
      tableCard('主要传播账号（按粉丝数排序）', 'story-accounts', ['账号', '粉丝', '平台', '帖子', '互动', '负面', '首次出现'],
        story.accounts.map((a) => [a.verified ? `${a.author} 认证` : a.author,
          a.followers == null ? '—' : count(a.followers), PLATFORM[a.platform] || a.platform || '—', count(a.posts),
          count(a.engagement), count(a.negative), formatTime(a.first_seen)])),
      tableCard('主要来源', 'story-sources', ['来源', '媒体', '帖子', '互动', '负面', '首次出现'],
        story.sources.map((s) => [s.source, s.media ? '是' : '否', count(s.posts), count(s.engagement),
          count(s.negative), formatTime(s.first_seen)]))));
  if (!window.echarts || !story.trend.length) return () => {};
  const chart = window.echarts.init(chartBox, null, {renderer: 'canvas'});
  chart.setOption(chartOption(story));
  const resize = () => chart.resize();
  window.addEventListener('resize', resize);
  return () => { window.removeEventListener('resize', resize); chart.dispose(); };
}
