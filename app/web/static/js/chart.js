// The topic trend chart: volume stacked by sentiment, source gaps shaded, click a bucket for its posts.

import {TIME_AXIS_LABELS, formatTime} from './format.js';

const COLORS = {positive: '#2e9d5b', neutral: '#9aa5b1', negative: '#d64541'};
const SERIES = [['positive', '正面'], ['neutral', '中性'], ['negative', '负面']];

function gapAreas(gaps, end) {
  return gaps.map((gap) => [
    {xAxis: new Date(gap.start).getTime(), name: `采集中断：${gap.source}`},
    {xAxis: gap.end ? new Date(gap.end).getTime() : end},
  ]);
}

/** The ECharts option for a trend (bars centred on their bucket). */
export function trendOption(trend, sizeMs, endMs) {
  const series = SERIES.map(([key, label], index) => ({
    name: label, type: 'bar', stack: 'volume', barWidth: '85%', barMinWidth: 1, itemStyle: {color: COLORS[key]},
    emphasis: {focus: 'series'},
    data: trend.buckets.map((bucket) => [new Date(bucket.start).getTime() + sizeMs / 2, bucket[key]]),
    markArea: index === 0 ? {
      silent: true, itemStyle: {color: 'rgba(120, 120, 120, 0.18)'},
      label: {color: '#555', fontSize: 11, position: 'top', formatter: '采集中断'},  // above the plot, never over the bars
      data: gapAreas(trend.gaps, endMs),
    } : undefined,
  }));
  return {
    animation: false,
    color: SERIES.map(([key]) => COLORS[key]),
    legend: {top: 0},
    grid: {left: 48, right: 24, top: 52, bottom: 64},
    tooltip: {
      trigger: 'axis', axisPointer: {type: 'shadow'},
      formatter: (items) => tooltipText(items, sizeMs),
    },
    xAxis: {type: 'time', min: new Date(trend.buckets[0]?.start || endMs).getTime(), max: endMs,
      axisLabel: {formatter: TIME_AXIS_LABELS, hideOverlap: true}},
    yAxis: {type: 'value', minInterval: 1, name: '帖子数'},
    dataZoom: [{type: 'slider', bottom: 8, height: 18}],
    series,
  };
}

function tooltipText(items, sizeMs) {
  if (!items.length) return '';
  const start = items[0].value[0] - sizeMs / 2;
  const lines = [`${formatTime(start)} 起`];
  for (const item of items) lines.push(`${item.seriesName}：${item.value[1]}`);
  lines.push('点击查看帖子');
  return lines.map(escapeHtml).join('<br>');
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Draw the chart in `element`; `onBucket(startMs)` gets the bucket clicked anywhere in its column. */
export function drawTrend(element, trend, {sizeMs, endMs, onBucket}) {
  const chart = window.echarts.init(element, null, {renderer: 'canvas'});
  chart.setOption(trendOption(trend, sizeMs, endMs));
  const firstStart = new Date(trend.buckets[0]?.start || endMs).getTime();
  chart.getZr().on('click', (event) => {
    const point = [event.offsetX, event.offsetY];
    if (!chart.containPixel('grid', point)) return;
    const moment = chart.convertFromPixel({xAxisIndex: 0}, point[0]);
    const index = Math.floor((moment - firstStart) / sizeMs);
    if (index >= 0 && index < trend.buckets.length) onBucket(firstStart + index * sizeMs);
  });
  const resize = () => chart.resize();
  window.addEventListener('resize', resize);
  return () => { window.removeEventListener('resize', resize); chart.dispose(); };
}
