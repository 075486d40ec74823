// Plain <form>s for the management pages: inputs are named like the API fields, so a form reads
// straight into a request body (and tests and scripts can fill them by name).

import {ApiError, describeError} from './api.js';
import {h} from './dom.js';

/** A labelled input; `help` is a short line under it. */
export function field(label, input, help) {
  const id = input.id || `f-${input.name}`;
  input.id = id;
  return h('div', {class: 'field'}, h('label', {for: id}, label), input, help ? h('p', {class: 'muted small'}, help) : null);
}

/** A <select> of [value, label] pairs. */
export function select(name, options, current, attrs = {}) {
  return h('select', {name, ...attrs}, options.map(([value, label]) =>
    h('option', {value, selected: String(value) === String(current ?? '')}, label)));
}

/** A checkbox named `name`. */
export function checkbox(name, checked) {
  return h('input', {type: 'checkbox', name, checked: Boolean(checked)});
}

/**
 * Read a form into an API body. Inputs may carry data-type: int, bool (checkboxes), json, list
 * (comma/newline separated), datetime (a datetime-local read in the browser's zone), or nothing
 * (text). Empty optional inputs (data-optional) are left out; data-null sends null when empty.
 */
export function readForm(form) {
  const body = {};
  for (const input of form.querySelectorAll('[name]')) {
    const {name} = input;
    const type = input.dataset.type || (input.type === 'checkbox' ? 'bool' : 'text');
    const raw = type === 'bool' ? input.checked : input.value.trim();
    if (type !== 'bool' && raw === '') {
      if (type === 'list') body[name] = [];
      else if (input.dataset.null !== undefined) body[name] = null;
      else if (input.dataset.optional === undefined) body[name] = '';
      continue;
    }
    if (type === 'int') body[name] = Number.parseInt(raw, 10);
    else if (type === 'bool') body[name] = raw;
    else if (type === 'json') body[name] = parseJson(name, raw);
    else if (type === 'list') body[name] = raw.split(/[,，\n]/).map((item) => item.trim()).filter(Boolean);
    else if (type === 'datetime') body[name] = new Date(raw).toISOString();
    else body[name] = raw;
  }
  return body;
}

function parseJson(name, raw) {
  try {
    return JSON.parse(raw);
  } catch (error) {
    throw new FormError(`「${name}」不是合法的 JSON：${error.message}`);
  }
}

export class FormError extends Error {}

/** A Chinese message for a failed save, with the fields the API named. */
export function formErrorText(error) {
  if (error instanceof FormError) return error.message;
  if (error instanceof ApiError && error.status === 422 && Array.isArray(error.details)) {
    return `输入有误：${error.details.map((d) => `${(d.loc || []).slice(1).join('.') || '请求'}：${d.msg}`).join('；')}`;
  }
  if (error instanceof ApiError && error.details?.message_zh) {
    const at = error.details.position !== undefined && error.details.position !== null ? `（第 ${error.details.position + 1} 个字符附近）` : '';
    return `${error.details.message_zh}${at}`;
  }
  return describeError(error);
}

/** Wire a form: submit reads it, calls `save(body)`, shows errors inside the form. */
export function onSubmit(form, save, context) {
  const error = h('p', {class: 'error form-error', role: 'alert', hidden: true});
  form.append(error);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    const button = form.querySelector('button[type=submit]');
    if (button) button.disabled = true;
    try {
      await save(readForm(form));
    } catch (failure) {
      if (failure instanceof ApiError && failure.status === 401) context.handleError(failure);
      error.textContent = formErrorText(failure);
      error.hidden = false;
    } finally {
      if (button) button.disabled = false;
    }
  });
  return form;
}

/** An ISO time as a datetime-local value in the browser's zone. */
export function localInput(value) {
  if (!value) return '';
  const date = new Date(value);
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}
