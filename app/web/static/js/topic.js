// 监测方案页: trend chart with range/interval, keywords and burst terms, near-duplicate clusters, posts.

import {api, download} from './api.js';
import {drawTrend} from './chart.js';
import {card, empty, h, replace, segmented} from './dom.js';
import {INTERVALS, MAX_BUCKETS, RANGES, count, formatTime, intervalMs, rangeMs} from './format.js';
import {showPosts} from './posts.js';

const DEFAULT_INTERVAL = {'24h': '5m', '3d': '1h', '7d': '1h', '30d': '1d'};
const state = {range: '24h', interval: '5m'};

function tooManyBuckets(range, interval) {
  return rangeMs(range) / intervalMs(interval) > MAX_BUCKETS;
}

function keywordList(keywords) {
  if (!keywords.length) return empty('这个时间段没有足够的帖子提取关键词。');
  return h('ol', {class: 'terms', id: 'keywords'}, keywords.map((item) => h('li', {},
    h('span', {}, item.term), h('span', {class: 'muted small'}, `${item.posts} 帖 · ${item.score.toFixed(1)}`))));
}

function burstList(bursts) {
  if (!bursts.length) return empty('最近没有突发词。');
  return h('ol', {class: 'terms', id: 'burst-terms'}, bursts.map((item) => h('li', {},
    h('span', {}, item.term),
    h('span', {class: 'muted small'},
      `${item.count} 次 · 基线 ${item.baseline.toFixed(1)} · ×${item.ratio.toFixed(1)} · ${formatTime(item.bucket_start)}`))));
}

function clusterList(clusters, onOpen) {
  if (!clusters.length) return empty('这个时间段没有近似重复的内容。');
  return h('div', {id: 'clusters'}, clusters.map((cluster) => h('div', {class: 'cluster'},
    h('div', {class: 'row'}, h('strong', {}, `同一内容 ${count(cluster.size)} 条`),
      h('span', {class: 'muted small'}, `${cluster.authors} 个作者 · ${formatTime(cluster.first_seen)} 至 ${formatTime(cluster.last_seen)}`),
      h('button', {type: 'button', class: 'link small', onclick: () => onOpen(cluster.head_id)}, '查看帖子')),
    h('div', {class: 'sample'}, cluster.sample_text))));
}

function timeWindow() {
  const end = Date.now();
  return {end, start: end - rangeMs(state.range)};
}

async function loadSide(topicId, boxes, context) {
  const {start, end} = timeWindow();
  const params = {start: new Date(start).toISOString(), end: new Date(end).toISOString()};
  const [keywords, clusters] = await Promise.all([
    api(`/api/v1/topics/${topicId}/keywords`, {params: {...params, k: 20}}),
    api(`/api/v1/topics/${topicId}/clusters`, {params: {...params, min_size: 2, limit: 10}}),
  ]);
  if (!context.isCurrent()) return;
  replace(boxes.keywords, h('h2', {}, '关键词'), keywordList(keywords.keywords));
  replace(boxes.bursts, h('h2', {}, '突发词'), burstList(keywords.burst_terms));
  replace(boxes.clusters, h('h2', {}, '相似内容聚类'), clusterList(clusters.clusters, boxes.openCluster));
}

async function loadChart(topicId, boxes, context) {
  const {start, end} = timeWindow();
  const sizeMs = intervalMs(state.interval);
  const trend = await api(`/api/v1/topics/${topicId}/trend`, {params: {
    start: new Date(start).toISOString(), end: new Date(end).toISOString(), interval: state.interval}});
  if (!context.isCurrent()) return;
  boxes.disposeChart?.();
  boxes.disposeChart = drawTrend(boxes.chart, trend, {sizeMs, endMs: end, onBucket: boxes.openBucket});
  const total = trend.buckets.reduce((sum, bucket) => sum + bucket.total, 0);
  boxes.chartNote.textContent = `共 ${count(total)} 条帖子。灰色阴影为数据源采集中断（${trend.gaps.length} 段）。点击柱形查看该时段的帖子。`;
}

function controls(topicId, refresh) {
  const box = h('div', {class: 'controls', id: 'trend-controls'});
  const draw = () => replace(box,
    h('span', {}, '范围 ', segmented(RANGES.map(([v, l]) => [v, l]), state.range, (value) => {
      state.range = value;
      state.interval = DEFAULT_INTERVAL[value];
      draw();
      refresh(true);
    })),
    h('span', {}, '粒度 ', segmented(INTERVALS.map(([v, l]) => [v, l]), state.interval, (value) => {
      state.interval = value;
      draw();
      refresh(false);
    }, (value) => tooManyBuckets(state.range, value))),
    h('button', {type: 'button', onclick: () => {
      const {start, end} = timeWindow();
      download(`/api/v1/topics/${topicId}/trend/export`, {format: 'csv', interval: state.interval,
        start: new Date(start).toISOString(), end: new Date(end).toISOString()}, `trend-${topicId}.csv`);
    }}, '导出趋势 CSV'));
  draw();
  return box;
}

/** Render a topic page. */
export async function topicPage(container, context, topicId) {
  const topic = await api(`/api/v1/topics/${topicId}`);
  if (!context.isCurrent()) return;
  const boxes = {
    chart: h('div', {class: 'chart', id: 'trend-chart'}),
    chartNote: h('p', {class: 'muted small'}),
    keywords: h('section', {class: 'card', id: 'keywords-card'}, h('h2', {}, '关键词'), empty('加载中…')),
    bursts: h('section', {class: 'card', id: 'bursts-card'}, h('h2', {}, '突发词'), empty('加载中…')),
    clusters: h('section', {class: 'card', id: 'clusters-card'}, h('h2', {}, '相似内容聚类'), empty('加载中…')),
    posts: h('section', {class: 'card', id: 'posts-card'}, h('h2', {}, '帖子'), empty('点击趋势图中的柱形查看该时段的帖子。')),
  };
  const openCluster = (headId) => showPosts(boxes.posts, {title: `相似内容（簇 #${headId}）`,
    filters: {cluster_id: headId}, context, onCluster: openCluster});
  boxes.openCluster = openCluster;
  boxes.openBucket = (startMs) => {
    const end = startMs + intervalMs(state.interval);
    showPosts(boxes.posts, {
      title: `${formatTime(startMs)} – ${formatTime(end)} 的帖子`, context, onCluster: openCluster,
      filters: {topic_id: topicId, start: new Date(startMs).toISOString(), end: new Date(end).toISOString()},
    });
  };
  const refresh = (side) => Promise.all([loadChart(topicId, boxes, context),
    side ? loadSide(topicId, boxes, context) : null]).catch(context.handleError);
  context.onCleanup(() => boxes.disposeChart?.());
  replace(container,
    h('div', {class: 'page-head'}, h('div', {}, h('h1', {id: 'topic-name'}, topic.name),
      h('p', {class: 'muted small'}, `规则：${topic.rule_text || JSON.stringify(topic.rule)}`))),
    card('声量趋势', controls(topicId, refresh), boxes.chart, boxes.chartNote),
    h('div', {class: 'grid2'}, boxes.keywords, boxes.bursts),
    boxes.clusters,
    boxes.posts);
  await refresh(true);
}
