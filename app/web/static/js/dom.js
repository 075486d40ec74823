// DOM helpers: every piece of data is inserted as text (textContent / text nodes), never as HTML.

/** Build an element: h('a', {href: '#/', class: 'x', onclick: fn}, 'text', child). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'class') el.className = value;
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (name === 'href') el.setAttribute('href', safeHref(value));
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

/** Append children (nodes, strings, numbers, arrays); strings become text nodes. */
export function append(parent, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Replace an element's content. */
export function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

/** Only same-page hash links and http(s) URLs may become links; anything else is neutralised. */
export function safeHref(value) {
  const text = String(value ?? '');
  if (text.startsWith('#') || text.startsWith('/')) return text.startsWith('//') ? '#' : text;
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : '#';
  } catch {
    return '#';
  }
}

/** An external link that opens in a new tab without giving it access to this page. */
export function externalLink(url, label) {
  const href = safeHref(url);
  if (href === '#') return null;
  return h('a', {href, target: '_blank', rel: 'noopener noreferrer nofollow'}, label);
}

/** A section card with a heading. */
export function card(title, ...children) {
  return h('section', {class: 'card'}, title ? h('h2', {}, title) : null, ...children);
}

/** A small "nothing here" line. */
export function empty(text) {
  return h('p', {class: 'empty'}, text);
}

/** A segmented button group; `onpick(value)` is called with the chosen option's value. */
export function segmented(options, current, onpick, disabled = () => false) {
  return h('span', {class: 'seg'}, options.map(([value, label]) => h('button', {
    type: 'button', class: value === current ? 'active' : null, disabled: disabled(value),
    dataset: {value}, onclick: () => onpick(value),
  }, label)));
}
