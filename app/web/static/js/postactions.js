// Actions on one post wherever posts are listed: correct its sentiment (人工校正), open the original,
// copy it as evidence (text, author, time, URL, capture time).

import {api} from './api.js';
import {externalLink, h} from './dom.js';
import {PLATFORM, SENTIMENT, authorText, formatTime} from './format.js';

/** Plain-text evidence of a post, as an analyst pastes it into a report or a chat. */
export function evidenceText(post) {
  return [
    post.title ? `标题：${post.title}` : null,
    `内容：${post.text}`,
    `作者：${authorText(post)}（${PLATFORM[post.platform] || post.platform || '未知平台'}）`,
    `发布时间：${formatTime(post.published_at, true)}`,
    `链接：${post.url || '无'}`,
    `采集时间：${formatTime(post.collected_at, true)}`,
  ].filter(Boolean).join('\n');
}

async function copy(text, context) {
  try {
    await navigator.clipboard.writeText(text);
    context.flash('已复制为证据', true);
  } catch {
    window.prompt('复制以下内容：', text);
  }
}

/** The sentiment badge and the action row of a post; `onChange(post)` after a correction. */
export function postActions(post, context, onChange) {
  const badge = h('span', {class: `badge sent-${post.sentiment || 'none'}`, dataset: {role: 'sentiment'}},
    SENTIMENT[post.sentiment] || '未判定',
    post.sentiment_model ? h('span', {class: 'small', title: `模型判定：${SENTIMENT[post.sentiment_model] || post.sentiment_model}`}, '（已校正）') : null);
  const choices = h('span', {class: 'seg', hidden: true, dataset: {role: 'sentiment-choices'}},
    Object.entries(SENTIMENT).map(([value, label]) => h('button', {
      type: 'button', class: value === post.sentiment ? 'active' : null, dataset: {sentiment: value},
      onclick: async () => {
        try {
          const updated = await api(`/api/v1/posts/${post.id}`, {method: 'PATCH', body: {sentiment: value}});
          Object.assign(post, updated);
          context.flash(`已校正为${label}`, true);
          if (onChange) onChange(post);
        } catch (error) {
          context.handleError(error);
        }
      }}, label)));
  const correct = h('button', {type: 'button', class: 'link small',
    dataset: {action: 'correct-sentiment', postId: post.id},
    onclick: () => { choices.hidden = !choices.hidden; }}, '校正情感');
  const evidence = h('button', {type: 'button', class: 'link small', dataset: {action: 'copy-evidence', postId: post.id},
    onclick: () => copy(evidenceText(post), context)}, '复制为证据');
  return {badge, row: h('span', {class: 'post-actions'}, externalLink(post.url, '原文'), correct, choices, evidence)};
}
