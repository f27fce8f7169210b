/* Hotline's pages (the agent widget, the supervisor page) share this: the API key from the link's fragment,
 * one JSON fetch helper that turns an error response into an ApiError with the server's message, and the
 * element builder h() that both render with (string children become text nodes: nothing is parsed as HTML).
 *
 * The key comes from the fragment (#key=…): a fragment is never sent to the server, so the key is in no URL
 * the server or a proxy logs. It is kept for the tab in sessionStorage (under the page's own name) and
 * removed from the address bar.
 */
(function () {
  "use strict";

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  function keyFromFragment(storageName) {
    const m = /(?:^#|&)key=([A-Za-z0-9_\-]+)/.exec(location.hash);
    if (m) {
      sessionStorage.setItem(storageName, m[1]);
      history.replaceState(null, "", location.pathname + location.search);
    }
    return sessionStorage.getItem(storageName) || "";
  }

  // api(method, path, body?) → the parsed JSON body; throws ApiError(status, the server's detail)
  function client(key) {
    return async function api(method, path, body) {
      const init = { method, headers: { Accept: "application/json" } };
      if (key) init.headers.Authorization = `Bearer ${key}`;
      if (body !== undefined) {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
      const res = await fetch(path, init);
      let data = null;
      try { data = await res.json(); } catch (_) { /* empty or non-JSON body */ }
      if (!res.ok) {
        let detail = data && data.detail;
        if (Array.isArray(detail)) detail = detail.map((d) => d.msg || JSON.stringify(d)).join("；");
        else if (detail && typeof detail !== "string") detail = JSON.stringify(detail);
        throw new ApiError(res.status, detail || `${res.status} ${res.statusText}`);
      }
      return data;
    };
  }

  /** Build an element; string children become text nodes, so nothing is ever parsed as HTML. */
  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "dataset") Object.assign(node.dataset, v);
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  window.HotlineApi = Object.freeze({ ApiError, keyFromFragment, client, h });
})();
