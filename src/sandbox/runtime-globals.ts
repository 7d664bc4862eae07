/**
 * The second part of the in-isolate runtime (assembled in runtime-source.ts): the globals a
 * transformation sees besides standard JavaScript. `log` and `console` are captured per call;
 * `fetch` asks the host (startFetch) and is settled by `deliver`, which the host calls when the
 * request is done, so no host object is ever reachable from user code; `btoa`/`atob` are plain
 * JavaScript.
 */
export const RUNTIME_GLOBALS = String.raw`

function defineGlobal(name, value) {
  defineProperty(globalThis, name, { value: value, writable: true, configurable: true });
}

defineGlobal('log', function log() {
  capture('log', arguments);
});
defineGlobal('console', {
  log: function log() { capture('log', arguments); },
  info: function info() { capture('log', arguments); },
  debug: function debug() { capture('log', arguments); },
  warn: function warn() { capture('warn', arguments); },
  error: function error() { capture('error', arguments); },
});

function makeResponse(response) {
  const body = response.body;
  const headers = response.headers;
  defineProperty(headers, 'get', {
    value: function get(name) {
      const value = headers[String(name).toLowerCase()];
      return typeof value === 'string' ? value : null;
    },
  });
  return {
    url: response.url,
    redirected: response.redirected,
    status: response.status,
    statusText: response.statusText,
    ok: response.status >= 200 && response.status <= 299,
    headers: headers,
    body: body,
    text: function text() {
      return new NativePromise(function (resolve) { resolve(body); });
    },
    json: function json() {
      return new NativePromise(function (resolve) { resolve(parse(body)); });
    },
  };
}

defineGlobal('fetch', function fetch(resource, init) {
  return new NativePromise(function (resolve, reject) {
    const request = { url: String(resource), method: 'GET', headers: {} };
    if (init !== undefined && init !== null) {
      if (typeof init !== 'object') throw new NativeTypeError('fetch: init must be an object');
      if (init.method !== undefined) request.method = String(init.method).toUpperCase();
      const headers = init.headers;
      if (headers !== undefined && headers !== null) {
        if (typeof headers !== 'object' || isArray(headers)) {
          throw new NativeTypeError('fetch: init.headers must be an object of names to values');
        }
        const names = keys(headers);
        for (let i = 0; i < names.length; i++) request.headers[names[i]] = String(headers[names[i]]);
      }
      if (init.body !== undefined && init.body !== null) {
        if (typeof init.body !== 'string') {
          throw new NativeTypeError('fetch: init.body must be a string; use JSON.stringify(value)');
        }
        request.body = init.body;
      }
    }
    nextFetchId += 1;
    pendingFetches.set(nextFetchId, { resolve: resolve, reject: reject, owner: activeIndex() });
    startFetch(callNumber, nextFetchId, stringify(request));
  });
});

function deliver(id, ok, text) {
  const pending = pendingFetches.get(id);
  if (pending === undefined) return;
  pendingFetches.delete(id);
  resumingIndex = pending.owner;
  if (ok) pending.resolve(makeResponse(parse(text)));
  else pending.reject(new NativeError(text));
}

defineGlobal('btoa', function btoa(input) {
  const text = String(input);
  let out = '';
  for (let i = 0; i < text.length; i += 3) {
    const a = text.charCodeAt(i);
    const b = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
    const c = i + 2 < text.length ? text.charCodeAt(i + 2) : 0;
    if (a > 255 || b > 255 || c > 255) {
      throw new NativeError('btoa: the string contains characters outside Latin-1');
    }
    const n = (a << 16) | (b << 8) | c;
    out += BASE64[(n >> 18) & 63] + BASE64[(n >> 12) & 63];
    out += i + 1 < text.length ? BASE64[(n >> 6) & 63] : '=';
    out += i + 2 < text.length ? BASE64[n & 63] : '=';
  }
  return out;
});

defineGlobal('atob', function atob(input) {
  let text = String(input).replace(/[\t\n\f\r ]/g, '');
  if (text.length % 4 === 0) text = text.replace(/={1,2}$/, '');
  if (text.length % 4 === 1 || /[^A-Za-z0-9+/]/.test(text)) {
    throw new NativeError('atob: the string is not valid base64');
  }
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (let i = 0; i < text.length; i++) {
    buffer = ((buffer << 6) | BASE64.indexOf(text[i])) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += fromCharCode((buffer >> bits) & 255);
    }
  }
  return out;
});

`;
