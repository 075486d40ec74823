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

/** A Chinese message for an API error. */
export function describeError(error) {
  if (!(error instanceof ApiError)) return `网络错误：${error.message || error}`;
  if (error.status === 401) return 'API 密钥无效、已吊销或未提供，请重新登录。';
  if (error.status === 403) return `权限不足：${error.message}`;
  if (error.status === 404) return `未找到：${error.message}`;
  return `请求失败（${error.status} ${error.code}）：${error.message}`;
}
