// 监测方案 management: the list, and a form with a live preview of what the rule matches.

import {api} from './api.js';
import {card, empty, h, replace} from './dom.js';
import {checkbox, field, formErrorText, onSubmit} from './forms.js';
import {SENTIMENT, formatTime} from './format.js';

const PREVIEW_DAYS = 7;

/** #/topics: every topic with its rule, and links to edit or create. */
export async function topicsPage(container, context) {
  const topics = await api('/api/v1/topics');
  if (!context.isCurrent()) return;
  replace(container,
    h('div', {class: 'page-head'}, h('h1', {}, '监测方案'),
      h('a', {class: 'button primary', href: '#/topics/new', id: 'new-topic'}, '新建监测方案')),
    card(null, topics.length ? h('table', {id: 'manage-topics'},
      h('thead', {}, h('tr', {}, ['名称', '规则', '状态', ''].map((name) => h('th', {}, name)))),
      h('tbody', {}, topics.map((topic) => h('tr', {dataset: {topicId: topic.id}},
        h('td', {}, h('a', {href: `#/topics/${topic.id}`}, topic.name)),
        h('td', {}, h('code', {}, topic.rule_text || '')),
        h('td', {}, topic.enabled ? '启用' : '停用'),
        h('td', {}, h('a', {href: `#/topics/${topic.id}/edit`}, '编辑'))))))
      : empty('还没有监测方案。点击“新建监测方案”开始。')));
}

function previewBox() {
  return h('div', {id: 'rule-preview', class: 'preview', 'aria-live': 'polite'},
    h('p', {class: 'muted small'}, '输入规则后，这里显示它在最近 7 天已采集帖子中的命中情况。'));
}

function showPreview(box, result) {
  replace(box,
    h('p', {id: 'preview-count'}, `最近 ${PREVIEW_DAYS} 天扫描 ${result.scanned} 条，命中 ${result.matched} 条`),
    h('p', {class: 'muted small'}, `规范化规则：${result.rule_text}`),
    result.sample.length ? h('ul', {class: 'posts'}, result.sample.map((post) => h('li', {class: 'post'},
      h('div', {class: 'meta'}, h('span', {}, formatTime(post.published_at)),
        post.sentiment ? h('span', {class: `badge sent-${post.sentiment}`}, SENTIMENT[post.sentiment]) : null),
      h('div', {class: 'text'}, post.text)))) : empty('没有命中的帖子。'));
}

function showPreviewError(box, error) {
  replace(box, h('p', {class: 'error', id: 'preview-error', role: 'alert'}, `规则有误：${formErrorText(error)}`));
}

/** #/topics/new and #/topics/ID/edit: a plain form (name, rule, description, critical_terms, enabled). */
export async function topicFormPage(container, context, topicId) {
  const topic = topicId ? await api(`/api/v1/topics/${topicId}`) : null;
  if (!context.isCurrent()) return;
  const rule = h('textarea', {name: 'rule', rows: 4, required: true, spellcheck: 'false',
    placeholder: '例：(星河汽车 OR 星河) AND (刹车 OR 召回 OR 自燃) NOT 广告'},
  topic ? (typeof topic.rule === 'string' ? topic.rule : topic.rule_text) : '');
  const preview = previewBox();
  let timer = null;
  let asked = 0;
  const refresh = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const text = rule.value.trim();
      if (!text) return;
      const ticket = ++asked;
      try {
        const result = await api('/api/v1/topics/preview', {method: 'POST', body: {rule: text, days: PREVIEW_DAYS, sample: 5}});
        if (ticket === asked) showPreview(preview, result);
      } catch (error) {
        if (ticket === asked) showPreviewError(preview, error);
      }
    }, 350);
  };
  rule.addEventListener('input', refresh);
  const form = h('form', {id: 'topic-form', class: 'form'},
    field('名称', h('input', {name: 'name', required: true, maxlength: 200, value: topic?.name || ''})),
    field('规则', rule, '支持 AND、OR、NOT、括号和引号；或按主体词/地域词/事件词/排除词填写 JSON。'),
    field('说明', h('input', {name: 'description', maxlength: 2000, value: topic?.description || ''})),
    field('高危词', h('input', {name: 'critical_terms', 'data-type': 'list',
      value: (topic?.critical_terms || []).join('，')}), '以逗号分隔；留空则使用系统默认。'),
    h('label', {class: 'inline'}, checkbox('enabled', topic ? topic.enabled : true), ' 启用'),
    h('div', {class: 'row'}, h('button', {type: 'submit', class: 'primary'}, topic ? '保存' : '创建'),
      h('a', {href: topic ? `#/topics/${topic.id}` : '#/topics'}, '取消')));
  onSubmit(form, async (body) => {
    const saved = topic
      ? await api(`/api/v1/topics/${topic.id}`, {method: 'PATCH', body})
      : await api('/api/v1/topics', {method: 'POST', body});
    context.flash(topic ? '监测方案已保存，已采集的帖子正在重新匹配' : '监测方案已创建', true);
    window.location.hash = `#/topics/${saved.id}`;
  }, context);
  replace(container, h('div', {class: 'page-head'}, h('h1', {}, topic ? `编辑监测方案：${topic.name}` : '新建监测方案')),
    h('div', {class: 'grid2'}, card(null, form), card('规则预览', preview)));
  if (rule.value) refresh();
}
