/* Hotline supervisor page: the knowledge base's review queue, drafts, a draft editor, publish, releases and
 * rollback, over /v1/kb/* (supervisor role).
 *
 * The key comes from the link's fragment (/supervisor#key=KEY), like the widget's: it is never sent to the
 * server in a URL. Every piece of server text goes through textContent (never innerHTML).
 */
(function () {
  "use strict";

  const STATE = { draft: "草稿", review: "待审核", approved: "已批准", rejected: "已驳回", published: "已发布",
                  superseded: "已替换", retired: "已下线" };
  const ACTION = { import: "导入", publish: "发布", rollback: "回滚" };

  const $ = (id) => document.getElementById(id);

  const { h } = window.HotlineApi;  // the element builder both pages share (hotline-api.js)

  // ---------------------------------------------------------------- HTTP
  // the key from the link's fragment and the JSON fetch helper: serve/static/hotline-api.js
  const { ApiError } = window.HotlineApi;
  const API_KEY = window.HotlineApi.keyFromFragment("hotline-supervisor-key");
  const api = window.HotlineApi.client(API_KEY);

  const entryPath = (e, verb) =>
    `/v1/kb/entries/${encodeURIComponent(e.kind)}/${encodeURIComponent(e.id)}${verb ? "/" + verb : ""}`;

  function showError(msg) {
    $("error").textContent = msg || "";
    $("error").hidden = !msg;
  }

  function showStatus(msg) {
    $("status").textContent = msg || "";
    $("status").hidden = !msg;
  }

  async function act(what, fn) {
    showError("");
    try {
      const out = await fn();
      if (what) showStatus(what);
      await refresh();
      return out;
    } catch (e) {
      showError(e.status === 403 ? `权限不足（需要主管密钥）：${e.message}` : e.message);
      return null;
    }
  }

  // ---------------------------------------------------------------- rendering
  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? iso : d.toLocaleString("zh-CN", { hour12: false });
  }

  function title(e) {
    return e.kind === "faq" ? (e.body.question || "") : (e.body.title || e.body.code || "");
  }

  function entryItem(e, buttons) {
    const meta = [`作者 ${e.created_by || "?"} ${when(e.created_at)}`];
    if (e.reviewed_by) meta.push(`审核 ${e.reviewed_by} ${when(e.reviewed_at)}`);
    if (e.published_by && e.state === "published") meta.push(`发布 ${e.published_by} ${when(e.published_at)}`);
    return h("li", { class: "entry", "data-testid": "entry", dataset: { kind: e.kind, id: e.id, state: e.state } },
      h("div", { class: "head" },
        h("span", { class: "ref", "data-testid": "entry-ref" }, `${e.kind}/${e.id} v${e.version}`),
        h("span", { class: "state", "data-testid": "entry-state", dataset: { state: e.state } },
          STATE[e.state] || e.state),
        e.live ? h("span", { class: "state", dataset: { state: "published" } }, "线上") : null),
      h("div", { class: "text", "data-testid": "entry-title" }, title(e)),
      e.kind === "faq" && e.body.answer ? h("div", { class: "answer" }, e.body.answer) : null,
      e.note ? h("div", { class: "meta" }, `说明：${e.note}`) : null,
      h("div", { class: "meta" }, meta.join(" · ")),
      h("div", { class: "actions" }, buttons));
  }

  function noteInput(testid) {
    return h("input", { class: "note", "data-testid": testid, maxlength: 2000, placeholder: "意见（可选）" });
  }

  function renderList(id, entries, buttonsFor, empty) {
    const ul = $(id);
    ul.replaceChildren(...(entries.length ? entries.map((e) => entryItem(e, buttonsFor(e)))
      : [h("li", { class: "entry meta" }, empty)]));
  }

  function renderReview(entries) {
    $("review-count").textContent = String(entries.length);
    renderList("review-queue", entries, (e) => {
      const note = noteInput("review-note");
      return [
        note,
        h("button", { type: "button", "data-testid": "approve",
          onclick: () => act(`已批准 ${e.kind}/${e.id}`, () => api("POST", entryPath(e, "approve"),
            { note: note.value || null })) }, "批准"),
        h("button", { type: "button", class: "danger", "data-testid": "reject",
          onclick: () => act(`已驳回 ${e.kind}/${e.id}`, () => api("POST", entryPath(e, "reject"),
            { note: note.value || null })) }, "驳回"),
      ];
    }, "没有待审核的条目");
  }

  function renderDrafts(entries) {
    renderList("drafts", entries, (e) => [
      h("button", { type: "button", class: "secondary", "data-testid": "edit", onclick: () => loadEditor(e) },
        "编辑"),
      e.state === "draft" ? h("button", { type: "button", "data-testid": "submit",
        onclick: () => act(`已提交审核 ${e.kind}/${e.id}`, () => api("POST", entryPath(e, "submit"), {})) },
      "提交审核") : null,
    ], "没有草稿");
  }

  function renderApproved(entries) {
    renderList("approved", entries, () => [], "没有待发布的条目");
  }

  function renderPublished(entries) {
    renderList("published-list", entries, (e) => [
      h("button", { type: "button", class: "secondary", "data-testid": "edit", onclick: () => loadEditor(e) },
        "修改"),
      e.state === "published" ? h("button", { type: "button", class: "danger", "data-testid": "retire",
        onclick: () => act(`已下线 ${e.kind}/${e.id}（下次发布生效）`, () => api("POST", entryPath(e, "retire"), {})) },
      "下线") : null,
    ], "没有匹配的条目");
  }

  function renderReleases(releases) {
    $("releases").replaceChildren(...releases.map((r) => {
      const c = r.changes || {};
      const changes = [["新增", c.added], ["修改", c.changed], ["删除", c.removed]]
        .filter(([, v]) => v && v.length).map(([k, v]) => `${k} ${v.length}：${v.slice(0, 5).join("、")}`);
      return h("tr", { "data-testid": "release", dataset: { release: r.release, current: r.current } },
        h("td", {}, `#${r.release}${r.current ? "（当前）" : ""}`),
        h("td", {}, ACTION[r.action] || r.action, r.rollback_of ? ` → #${r.rollback_of}` : ""),
        h("td", { class: "build" }, r.build || "—"),
        h("td", {}, changes.join("；") || `FAQ ${r.counts.faq}，规范 ${r.counts.spec}`),
        h("td", {}, `${r.created_by || ""} ${when(r.created_at)}`),
        h("td", {}, r.current ? null : h("button", { type: "button", class: "secondary", "data-testid": "rollback",
          onclick: (ev) => {
            ev.target.disabled = true;
            return act(`已回滚到 #${r.release}`, () => api("POST", "/v1/kb/rollback", { to: r.release }));
          } }, "回滚到此版本")));
    }));
  }

  // ---------------------------------------------------------------- editor
  const ED = { editing: null };  // {kind, id} of the entry being edited, or null for a new one

  function setKind(kind) {
    $("ed-kind").value = kind;
    $("faq-fields").hidden = kind !== "faq";
    $("spec-fields").hidden = kind !== "spec";
  }

  function loadEditor(e) {
    ED.editing = e ? { kind: e.kind, id: e.id } : null;
    $("editing").textContent = e ? `修改 ${e.kind}/${e.id} v${e.version}（保存为新的草稿版本）` : "新条目";
    setKind(e ? e.kind : $("ed-kind").value);
    $("ed-kind").disabled = !!e;
    $("ed-id").value = e ? e.id : "";
    $("ed-id").readOnly = !!e;
    const b = e ? e.body : {};
    $("ed-question").value = b.question || "";
    $("ed-answer").value = b.answer || "";
    $("ed-category").value = b.category || "";
    $("ed-similar").value = (b.similar || []).join("\n");
    $("ed-spec").value = e && e.kind === "spec" ? JSON.stringify(b, null, 2) : "";
    $("ed-note").value = "";
    if (e) $("editor").scrollIntoView({ block: "nearest" });
  }

  function editorBody() {
    const kind = $("ed-kind").value;
    const id = $("ed-id").value.trim();
    if (kind === "spec") {
      let body;
      try { body = JSON.parse($("ed-spec").value || "{}"); } catch (e) {
        throw new ApiError(0, `规范 JSON 无法解析：${e.message}`);
      }
      return { kind, body: { ...body, code: id } };
    }
    const similar = $("ed-similar").value.split("\n").map((s) => s.trim()).filter(Boolean);
    const category = $("ed-category").value.trim() || null;
    return { kind, body: { id, question: $("ed-question").value.trim(), answer: $("ed-answer").value.trim(),
                           category, similar } };
  }

  async function saveDraft(ev) {
    ev.preventDefault();
    let draft;
    try { draft = editorBody(); } catch (e) { showError(e.message); return; }
    const note = $("ed-note").value.trim() || null;
    const out = await act(`草稿已保存 ${draft.kind}/${draft.kind === "faq" ? draft.body.id : draft.body.code}`,
      () => ED.editing ? api("PUT", entryPath(ED.editing), { body: draft.body, note })
        : api("POST", "/v1/kb/entries", { kind: draft.kind, body: draft.body, note }));
    if (out) loadEditor(null);
  }

  // ---------------------------------------------------------------- loading
  let searchTimer = null;

  async function refresh() {
    try {
      const q = $("published-search").value.trim();
      const [all, published, releases] = await Promise.all([
        api("GET", "/v1/kb/entries?limit=5000"),
        api("GET", `/v1/kb/entries?state=published&limit=200${q ? "&q=" + encodeURIComponent(q) : ""}`),
        api("GET", "/v1/kb/releases?limit=50"),
      ]);
      const open = all.entries.filter((e) => ["draft", "review", "approved", "rejected"].includes(e.state));
      renderReview(open.filter((e) => e.state === "review"));
      renderDrafts(open.filter((e) => e.state === "draft" || e.state === "rejected"));
      renderApproved(open.filter((e) => e.state === "approved"));
      renderPublished(published.entries);
      renderReleases(releases.releases);
    } catch (e) {
      showError(e.status === 401 || e.status === 403
        ? `无法读取知识库：${e.message}（打开 /supervisor#key=主管密钥）` : e.message);
    }
  }

  async function publish() {
    const btn = $("publish");
    btn.disabled = true;
    $("publish-result").textContent = "正在构建索引并上线…";
    const out = await act(null, () => api("POST", "/v1/kb/publish", { note: $("publish-note").value.trim() || null }));
    btn.disabled = false;
    $("publish-result").textContent = out ? `已发布：版本 #${out.release}，构建 ${out.build}` : "";
    $("publish-result").dataset.release = out ? out.release : "";
    if (out) { $("publish-note").value = ""; showStatus(`版本 #${out.release} 已上线`); }
  }

  async function whoami() {
    const w = $("whoami");
    try {
      const me = await api("GET", "/v1/whoami");
      w.textContent = `${me.name}（${me.role}）`;
      w.dataset.state = me.role === "agent" ? "error" : "ok";
    } catch (e) {
      w.textContent = API_KEY ? "密钥无效" : "缺少密钥：打开 /supervisor#key=主管密钥";
      w.dataset.state = "error";
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("editor").addEventListener("submit", saveDraft);
    $("ed-kind").addEventListener("change", (e) => setKind(e.target.value));
    $("ed-new").addEventListener("click", () => loadEditor(null));
    $("publish").addEventListener("click", publish);
    $("refresh").addEventListener("click", () => { showStatus(""); refresh(); });
    $("published-search").addEventListener("input", () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(refresh, 250);
    });
    setKind("faq");
    whoami();
    refresh();
  });
})();
