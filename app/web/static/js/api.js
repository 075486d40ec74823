// The API client: the key lives in sessionStorage and is sent as a Bearer token.

const KEY_NAME = 'yuqing.apiKey';

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export function getKey() { return sessionStorage.getItem(KEY_NAME); }
export function setKey(key) { sessionStorage.setItem(KEY_NAME, key); }
export function clearKey() { sessionStorage.removeItem(KEY_NAME); }

function buildUrl(path, params) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== null && value !== undefined && value !== '') url.searchParams.set(name, String(value));
  }
  return url;
}

async function send(path, {method = 'GET', params, body, key} = {}) {
  const headers = {Authorization: `Bearer ${key || getKey() || ''}`};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(buildUrl(path, params), {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store',
  });
  if (!response.ok) {
    let error = {};
    try { error = (await response.json()).error || {}; } catch { /* not JSON */ }
    throw new ApiError(response.status, error.code || 'http_error', error.message || response.statusText,
      error.details);
  }
  return response;
}

/** Call the API and return the JSON body (null for 204; the text with `raw: true`). Throws ApiError. */
export async function api(path, options = {}) {
  const response = await send(path, options);
  if (options.raw) return response.text();
  return response.status === 204 ? null : response.json();
}

/** Download an export (CSV/JSONL) with the Bearer header and save it under `filename`. */
export async function download(path, params, filename) {
  const blob = await (await send(path, {params})).blob();
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

const STATUS_TEXT = {
  401: 'API 密钥无效、已吊销或未提供，请重新登录。',
  403: '权限不足：当前密钥的权限不够执行此操作（需要读写或管理权限的密钥）。',
  404: '未找到：要查看的内容不存在或已被删除。',
  409: '操作冲突：内容已被修改或状态不允许此操作，请刷新后重试。',
  413: '请求内容过大。',
  429: '请求过于频繁，请稍后再试。',
  503: '服务暂时不可用（数据库或队列繁忙），请稍后再试。',
};

/** A Chinese message for an API error (the API's own technical detail only where it helps a fix). */
export function describeError(error) {
  if (!(error instanceof ApiError)) return `网络错误：无法连接服务（${error.message || error}）。`;
  if (STATUS_TEXT[error.status]) return STATUS_TEXT[error.status];
  if (error.status >= 500) return `服务器内部错误（${error.status}），请联系管理员；请求编号见服务日志。`;
  return `请求有误（${error.status}）：${error.message}`;
}
