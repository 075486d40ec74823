// Labels and formatting for the Chinese UI.

export const SENTIMENT = {positive: '正面', neutral: '中性', negative: '负面'};
export const PLATFORM = {
  weibo: '微博', wechat: '微信公众号', douyin: '抖音', xiaohongshu: '小红书', zhihu: '知乎', bilibili: 'B站',
  tieba: '百度贴吧', toutiao: '今日头条', kuaishou: '快手', news: '新闻网站', hotlist: '热榜', mastodon: 'Mastodon',
};
export const DETECTOR = {
  volume: '声量突增', negative_volume: '负面声量突增', negative_share: '负面占比上升', coordination: '相似内容集中发布',
  hotlist: '登上热榜',
};
export const GRADE = {general: '一般', persistent: '纠缠性', influential: '影响类', severe: '严重'};
export const STATUS = {open: '未处理', acknowledged: '已确认', resolved: '已解除'};
export const EVENT = {
  opened: '开启', alert: '告警', escalated: '升级', acknowledged: '确认', note: '备注', resolved: '解除',
  checklist: '处置清单', silenced: '静默', coordination: '协同发布迹象', reminder: '提醒', notice: '通知',
  hotlist_left: '下榜',
};
export const INPUT = {
  observed: '当前声量', baseline: '基线', ratio: '倍数', z: 'Z 分数', window_minutes: '窗口（分钟）',
  negative: '负面帖数', negative_share: '负面占比', baseline_negative_share: '基线负面占比',
  distinct_sources: '来源数', distinct_platforms: '平台数', media_sources: '媒体来源数', authors: '作者数',
  engagement: '互动量', duration_minutes: '持续（分钟）', recurrences: '近 7 天复发次数',
  critical_terms: '关键风险词', critical_posts: '提到风险词的帖数', scanned_posts: '近 1 小时判定帖数',
  max_followers: '最大粉丝数', verified_authors: '认证账号数',
};
export const RANGES = [['24h', '24小时', 24], ['3d', '3天', 72], ['7d', '7天', 168], ['30d', '30天', 720]];
export const INTERVALS = [['5m', '5分钟', 5], ['1h', '1小时', 60], ['1d', '1天', 1440]];
export const MAX_BUCKETS = 5000;

/** Time-axis labels in Chinese: 12月3日 at day boundaries, 08:05 within a day (never a bare "3"). */
export const TIME_AXIS_LABELS = {
  year: '{yyyy}年', month: '{M}月{d}日', day: '{M}月{d}日', hour: '{HH}:{mm}', minute: '{HH}:{mm}', second: '{HH}:{mm}:{ss}',
};

/** A local date-time like 2026-11-23 08:05. */
export function formatTime(value, withSeconds = false) {
  if (!value) return '—';
  const date = new Date(value);
  const pad = (n) => String(n).padStart(2, '0');
  const day = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}${withSeconds ? ':' + pad(date.getSeconds()) : ''}`;
  return `${day} ${time}`;
}

/** A share 0..1 as a percentage. */
export function percent(value) {
  return `${(100 * (value || 0)).toFixed(1)}%`;
}

/** Integers with thousands separators. */
export function count(value) {
  return Number(value || 0).toLocaleString('zh-CN');
}

/** An author as shown beside a post: the name, 认证 when verified, the follower count when known. */
export function authorText(post) {
  const parts = [post.author || '匿名'];
  if (post.author_verified) parts.push('认证');
  if (post.author_followers !== null && post.author_followers !== undefined) {
    parts.push(`粉丝 ${count(post.author_followers)}`);
  }
  return parts.join(' · ');
}

/** An input value for display (lists joined, floats rounded). */
export function inputValue(name, value) {
  if (Array.isArray(value)) return value.length ? value.join('、') : '—';
  if (typeof value === 'number') {
    if (name.endsWith('share')) return percent(value);
    return Number.isInteger(value) ? count(value) : value.toFixed(2);
  }
  return value === null || value === undefined ? '—' : String(value);
}

/** Interval length in milliseconds. */
export function intervalMs(interval) {
  return (INTERVALS.find(([value]) => value === interval) || INTERVALS[0])[2] * 60_000;
}

/** Range length in milliseconds. */
export function rangeMs(range) {
  return (RANGES.find(([value]) => value === range) || RANGES[0])[2] * 3_600_000;
}

/** A collection run in one Chinese line. */
export function describeRun(run) {
  if (run.status === 'error') return `采集失败：${run.error || '未知错误'}`;
  if (run.status === 'not_modified') return '没有新内容（源未更新）';
  return `采集完成：新增 ${run.new} 条，重复 ${run.duplicates} 条`;
}
