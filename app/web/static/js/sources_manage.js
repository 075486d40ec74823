// 数据来源 and 通知渠道 management: lists with health, plain forms, collect now, test a channel.

import {api} from './api.js';
import {card, empty, h, replace} from './dom.js';
import {checkbox, field, onSubmit, select} from './forms.js';
import {GRADE, describeRun, formatTime} from './format.js';

const SOURCE_KINDS = [['rss', 'RSS / Atom（含 RSSHub）'], ['jsonfeed', 'JSON Feed'], ['mastodon', 'Mastodon'],
  ['json', 'JSON 接口'], ['push', '推送 / 导入']];
const CHANNEL_KINDS = [['wecom', '企业微信'], ['dingtalk', '钉钉'], ['feishu', '飞书'], ['slack', 'Slack'], ['email', '邮件'],
  ['webhook', '签名 Webhook'], ['alertmanager', 'Alertmanager']];
const GRADES = Object.entries(GRADE);

const HEALTH_CLASS = {ok: 'status-resolved', never_run: '', disabled: '', silent: 'status-acknowledged'};

function health(source) {
  const cls = HEALTH_CLASS[source.health] ?? 'status-open';
  return h('span', {}, h('span', {class: `badge ${cls}`, dataset: {health: source.health}}, source.health_label || source.health),
    source.health_advice ? h('div', {class: 'muted small'}, source.health_advice) : null);
}

/** #/sources: every source with its health, last error, collect now and edit. */
export async function sourcesPage(container, context) {
  const sources = await api('/api/v1/sources');
  if (!context.isCurrent()) return;
  const collect = async (source, button) => {
    button.disabled = true;
    try {
      const run = await api(`/api/v1/sources/${source.id}/collect`, {method: 'POST'});
      context.flash(`「${source.name}」：${describeRun(run)}`, run.status !== 'error');
      context.rerender();
    } catch (error) {
      context.handleError(error);
    } finally {
      button.disabled = false;
    }
  };
  replace(container,
    h('div', {class: 'page-head'}, h('h1', {}, '数据来源'),
      h('a', {class: 'button primary', href: '#/sources/new', id: 'new-source'}, '添加来源')),
    card(null, sources.length ? h('table', {id: 'manage-sources'},
      h('thead', {}, h('tr', {}, ['名称', '类型', '地址', '状态', '最近采集', '最近错误', ''].map((n) => h('th', {}, n)))),
      h('tbody', {}, sources.map((source) => {
        const button = h('button', {type: 'button', class: 'small', dataset: {action: 'collect'},
          disabled: source.kind === 'push', onclick: () => collect(source, button)}, '立即采集');
        return h('tr', {dataset: {sourceId: source.id}},
          h('td', {}, source.name, source.media ? h('span', {class: 'chip'}, '媒体') : null,
            source.hotlist ? h('span', {class: 'chip'}, '热榜') : null),
          h('td', {}, source.kind), h('td', {class: 'url'}, source.url || '—'), h('td', {}, health(source)),
          h('td', {}, formatTime(source.last_run_at)), h('td', {class: 'error-text'}, source.last_error || '—'),
          h('td', {}, button, ' ', h('a', {href: `#/sources/${source.id}/edit`}, '编辑')));
      })))
      : empty('还没有数据来源。点击“添加来源”，或用 POST /api/v1/posts 推送帖子。')));
}

/** #/sources/new and #/sources/ID/edit. */
export async function sourceFormPage(container, context, sourceId) {
  const source = sourceId ? await api(`/api/v1/sources/${sourceId}`) : null;
  if (!context.isCurrent()) return;
  const form = h('form', {id: 'source-form', class: 'form'},
    field('名称', h('input', {name: 'name', required: true, maxlength: 200, value: source?.name || ''})),
    source ? null : field('类型', select('kind', SOURCE_KINDS, 'rss')),
    field('地址', h('input', {name: 'url', type: 'url', maxlength: 2000, 'data-optional': '', value: source?.url || '',
      placeholder: 'http://rsshub:1200/weibo/keyword/星河汽车'}), '推送来源不需要地址。'),
    field('采集间隔（秒）', h('input', {name: 'interval_seconds', type: 'number', min: 1, 'data-type': 'int',
      value: source?.interval_seconds || 300})),
    field('选项（JSON）', h('textarea', {name: 'options', rows: 4, 'data-type': 'json', 'data-optional': '',
      spellcheck: 'false'}, source ? JSON.stringify(source.options, null, 2) : ''), '各类型的选项见 docs/SOURCES.md；显示为 *** 的凭据原样提交即保留。'),
    h('label', {class: 'inline'}, checkbox('media', source?.media), ' 新闻媒体（计入影响类分级）'),
    h('label', {class: 'inline'}, checkbox('hotlist', source?.hotlist), ' 热搜/热榜（按排名记录，话题上榜即告警）'),
    h('label', {class: 'inline'}, checkbox('enabled', source ? source.enabled : true), ' 启用'),
    h('div', {class: 'row'}, h('button', {type: 'submit', class: 'primary'}, source ? '保存' : '添加'),
      h('a', {href: '#/sources'}, '取消')));
  onSubmit(form, async (body) => {
    if (source) await api(`/api/v1/sources/${source.id}`, {method: 'PATCH', body});
    else await api('/api/v1/sources', {method: 'POST', body});
    context.flash(source ? '来源已保存' : '来源已添加', true);
    window.location.hash = '#/sources';
  }, context);
  replace(container, h('div', {class: 'page-head'}, h('h1', {}, source ? `编辑来源：${source.name}` : '添加数据来源')),
    source ? null : await presetCard(context), card(source ? null : '按地址添加', form));
}

/** Add a source by platform: pick a preset, fill in its parameters, one call to /sources/from-preset. */
async function presetCard(context) {
  const presets = await api('/api/v1/source-presets');
  const params = h('div', {id: 'preset-params'});
  const picker = select('preset', presets.map((p) => [p.id, `${p.name}${p.available ? '' : '（需先配置 RSSHub 或公众号桥接地址）'}`]), presets[0]?.id);
  const note = h('p', {class: 'muted small', id: 'preset-note'});
  const show = () => {
    const preset = presets.find((p) => p.id === picker.value);
    replace(params, preset.params.map((param) => field(param.label,
      h('input', {name: param.name, required: true, 'data-param': '', placeholder: `例：${param.example}`}))));
    note.textContent = [preset.note, preset.cookie ? `可能需要 RSSHub 设置 ${preset.cookie}` : ''].filter(Boolean).join('；');
  };
  picker.addEventListener('change', show);
  const form = h('form', {id: 'preset-form', class: 'form'}, field('平台', picker), note, params,
    h('button', {type: 'submit', class: 'primary'}, '添加'));
  show();
  onSubmit(form, async () => {
    const values = Object.fromEntries([...params.querySelectorAll('[data-param]')].map((input) => [input.name, input.value.trim()]));
    await api('/api/v1/sources/from-preset', {method: 'POST', body: {preset: picker.value, params: values}});
    context.flash('来源已添加', true);
    window.location.hash = '#/sources';
  }, context);
  return card('按平台添加（预设）', form);
}

/** #/channels: every channel, test it (the vendor's answer shown), enable or disable, edit. */
export async function channelsPage(container, context) {
  const channels = await api('/api/v1/channels');
  if (!context.isCurrent()) return;
  const answer = h('div', {id: 'channel-test-result', 'aria-live': 'polite'});
  const test = async (channel, button) => {
    button.disabled = true;
    try {
      const result = await api(`/api/v1/channels/${channel.id}/test`, {method: 'POST'});
      replace(answer, card(`测试「${channel.name}」`, h('p', {class: result.ok ? 'ok-text' : 'error-text'}, result.message),
        h('p', {class: 'muted small'}, `结果：${result.outcome}；HTTP ${result.http_status ?? '—'}；厂商代码 ${result.vendor_code ?? '—'}；${result.vendor_message ?? ''}`)));
    } catch (error) {
      context.handleError(error);
    } finally {
      button.disabled = false;
    }
  };
  const toggle = (channel) => api(`/api/v1/channels/${channel.id}`, {method: 'PATCH', body: {enabled: !channel.enabled}})
    .then(() => { context.flash(channel.enabled ? '渠道已停用' : '渠道已启用', true); context.rerender(); })
    .catch(context.handleError);
  replace(container,
    h('div', {class: 'page-head'}, h('h1', {}, '通知渠道'),
      h('a', {class: 'button primary', href: '#/channels/new', id: 'new-channel'}, '添加渠道')),
    answer,
    card(null, channels.length ? h('table', {id: 'manage-channels'},
      h('thead', {}, h('tr', {}, ['名称', '类型', '地址', '最低分级', '状态', ''].map((n) => h('th', {}, n)))),
      h('tbody', {}, channels.map((channel) => {
        const button = h('button', {type: 'button', class: 'small', dataset: {action: 'test'}, onclick: () => test(channel, button)}, '发送测试');
        return h('tr', {dataset: {channelId: channel.id}},
          h('td', {}, channel.name), h('td', {}, channel.label || channel.kind), h('td', {class: 'url'}, channel.url),
          h('td', {}, GRADE[channel.min_grade] || channel.min_grade),
          h('td', {}, channel.enabled ? '启用' : '停用', channel.last_error ? h('div', {class: 'error-text small'}, channel.last_error) : null),
          h('td', {}, button, ' ', h('button', {type: 'button', class: 'small', dataset: {action: 'toggle'}, onclick: () => toggle(channel)},
            channel.enabled ? '停用' : '启用'), ' ', h('a', {href: `#/channels/${channel.id}/edit`}, '编辑')));
      })))
      : empty('还没有通知渠道。添加企业微信、钉钉、飞书等群机器人后，事件会推送到群里。')));
}

/** The form's `options.reports.*` inputs folded into `options.reports` (none filled: no reports). */
export function withReports(fields) {
  const {'options.reports.daily': daily, 'options.reports.weekly': weekly, 'options.reports.topics': topics = [], ...body} = fields;
  const options = {...(body.options || {})};
  delete options.reports;
  if (daily || weekly) {
    options.reports = {};
    if (daily) options.reports.daily = daily;
    if (weekly) options.reports.weekly = weekly;
    if (topics.length) options.reports.topics = topics.map((id) => Number.parseInt(id, 10));
  }
  return {...body, options};
}

/** #/channels/new and #/channels/ID/edit. */
export async function channelFormPage(container, context, channelId) {
  const channel = channelId ? await api(`/api/v1/channels/${channelId}`) : null;
  if (!context.isCurrent()) return;
  const {reports = {}, ...otherOptions} = channel?.options || {};
  const form = h('form', {id: 'channel-form', class: 'form'},
    field('名称', h('input', {name: 'name', required: true, maxlength: 200, value: channel?.name || ''})),
    channel ? null : field('类型', select('kind', CHANNEL_KINDS, 'wecom')),
    field('Webhook 地址', h('input', {name: 'url', type: 'url', required: true, maxlength: 2000, value: channel?.url || ''}),
      '编辑时地址中的凭据显示为 ***，原样提交即保留。邮件通道填 smtp://主机:587 或 smtps://主机:465，'
      + '并在选项中填写 {"sender": "发件地址", "recipients": ["收件地址"], "username": "登录名"}，密码填在签名密钥。'),
    field('签名密钥', h('input', {name: 'secret', type: 'password', maxlength: 500, 'data-optional': '',
      placeholder: channel?.has_secret ? '已设置（留空保持不变）' : '钉钉加签、飞书签名、Webhook 签名密钥'})),
    field('最低分级', select('min_grade', GRADES, channel?.min_grade || 'general')),
    field('每日简报', h('input', {name: 'options.reports.daily', maxlength: 5, placeholder: '08:30', 'data-optional': '',
      value: reports.daily || ''}), '每天此时（默认北京时间）发送前一天的舆情日报；留空不发送。'),
    field('每周简报', h('input', {name: 'options.reports.weekly', maxlength: 9, placeholder: 'MON 09:00', 'data-optional': '',
      value: reports.weekly || ''}), '每周此时发送上一周（周一至周日）的舆情周报，星期取 MON–SUN；留空不发送。'),
    field('简报话题', h('input', {name: 'options.reports.topics', 'data-type': 'list', value: (reports.topics || []).join(', ')}),
      '话题 id，逗号分隔；留空为本渠道关注的全部话题。'),
    field('选项（JSON）', h('textarea', {name: 'options', rows: 3, 'data-type': 'json', 'data-optional': '', spellcheck: 'false'},
      channel ? JSON.stringify(otherOptions, null, 2) : '')),
    h('label', {class: 'inline'}, checkbox('enabled', channel ? channel.enabled : true), ' 启用'),
    h('div', {class: 'row'}, h('button', {type: 'submit', class: 'primary'}, channel ? '保存' : '添加'),
      h('a', {href: '#/channels'}, '取消')));
  onSubmit(form, async (fields) => {
    const body = withReports(fields);
    if (channel) await api(`/api/v1/channels/${channel.id}`, {method: 'PATCH', body});
    else await api('/api/v1/channels', {method: 'POST', body});
    context.flash(channel ? '渠道已保存' : '渠道已添加', true);
    window.location.hash = '#/channels';
  }, context);
  replace(container, h('div', {class: 'page-head'}, h('h1', {}, channel ? `编辑渠道：${channel.name}` : '添加通知渠道')),
    card(null, form));
}
