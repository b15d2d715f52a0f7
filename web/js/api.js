// REST calls with the session cookie and the CSRF header.
let csrf = null;

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || ('HTTP ' + status));
    this.status = status;
    this.body = body;
  }
}

export async function api(method, path, body) {
  const headers = { 'Accept': 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
  const r = await fetch(path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  const text = await r.text();
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = { message: text }; }
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

export async function restoreSession() {
  try {
    const s = await api('GET', '/api/session');
    csrf = s.csrf || null;
    return true;
  } catch (e) {
    if (e.status === 401) return false;
    throw e;
  }
}

export async function login(token) {
  const s = await api('POST', '/api/session', { token });
  csrf = s.csrf;
}

export async function logout() {
  try { await api('DELETE', '/api/session'); } catch (e) { /* already gone */ }
  csrf = null;
}
