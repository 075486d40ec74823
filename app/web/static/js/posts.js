// A list of posts behind a chart bucket or a cluster, paged with the API's opaque cursor.

import {api, download} from './api.js';
import {empty, h, replace} from './dom.js';
import {PLATFORM, authorText, formatTime} from './format.js';
import {postActions} from './postactions.js';

const PAGE = 50;
const TEXT_LIMIT = 600;

function postItem(post, onCluster, context) {
  const text = post.text.length > TEXT_LIMIT ? `${post.text.slice(0, TEXT_LIMIT)}…` : post.text;
  const actions = postActions(post, context, () => item.replaceWith(postItem(post, onCluster, context)));
  const clusterHead = post.cluster_id || null;
  const item = h('li', {class: 'post', dataset: {postId: post.id}},
    h('div', {class: 'meta'}, actions.badge, h('span', {}, formatTime(post.published_at)),
      h('span', {}, authorText(post)), post.platform ? h('span', {}, PLATFORM[post.platform] || post.platform) : null,
      actions.row,
      clusterHead && onCluster ? h('button', {type: 'button', class: 'link small',
        onclick: () => onCluster(clusterHead)}, '相似内容') : null),
    post.title ? h('div', {class: 'title'}, post.title) : null,
    h('div', {class: 'text'}, text),
    post.keywords?.length ? h('div', {}, post.keywords.map((term) => h('span', {class: 'chip'}, term))) : null);
  return item;
}

/**
 * Show posts matching `filters` (topic_id, start, end, cluster_id, sentiment…) in `box`.
 * `title` names the selection; `context` gives error handling.
 */
export async function showPosts(box, {title, filters, context, onCluster}) {
  const list = h('ul', {class: 'posts', id: 'post-list'});
  const more = h('button', {type: 'button', hidden: true}, '加载更多');
  const status = h('span', {class: 'muted small'});
  const exportCsv = h('button', {type: 'button', onclick: () => download('/api/v1/posts/export',
    {...filters, format: 'csv'}, 'posts.csv').catch(context.handleError)}, '导出 CSV');
  replace(box, h('div', {class: 'page-head'}, h('h2', {id: 'posts-title'}, title), h('div', {class: 'row'},
    status, exportCsv)), list, more);
  let cursor = null;
  let shown = 0;
  async function load() {
    more.disabled = true;
    try {
      const page = await api('/api/v1/posts', {params: {...filters, limit: PAGE, cursor}});
      for (const post of page.items) list.append(postItem(post, onCluster, context));
      shown += page.items.length;
      cursor = page.next_cursor;
      more.hidden = !cursor;
      status.textContent = `已显示 ${shown} 条`;
      if (!shown) list.append(empty('这个时间段没有帖子。'));
    } catch (error) {
      context.handleError(error);
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener('click', load);
  await load();
  box.scrollIntoView({behavior: 'smooth', block: 'start'});
}
