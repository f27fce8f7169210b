/* Hotline agent widget: joins a live call and shows what the engine knows about it.
 *
 * Transport: WebSocket /v1/calls/{id}/stream (auto-reconnect with exponential backoff and jitter);
 * while the socket is down the page polls GET /v1/calls/{id} every 2 s, so the agent never loses the view.
 * ?call=ID joins a call on load; ?transport=poll skips the socket (for networks that block WebSockets).
 *
 * Every piece of server text goes through textContent (never innerHTML): transcripts are user speech.
 */
(function () {
  "use strict";

  const POLL_MS = 2000;
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 15000;

  const SPEAKER = { customer: "客户", agent: "坐席" };
  const NOTICE_KIND = { outage: "故障", planned: "计划施工" };
  const ESC_TYPE = {
    regulator: "扬言向监管部门投诉", media: "扬言媒体曝光", legal: "扬言法律途径", abuse: "辱骂",
    anger: "情绪激动", high_anger: "情绪非常激动", churn: "扬言销户/携号转网",
  };
  const ESC_LEVEL = { high: "高风险：建议立即安抚并转交班长/主管", watch: "注意：客户情绪有波动" };

  const $ = (id) => document.getElementById(id);

  const { h } = window.HotlineApi;  // the element builder both pages share (hotline-api.js)

  const S = {
    callId: null,
    gen: 0,             // bumped on every join; callbacks of an older join ignore themselves
    ws: null,
    wsOpen: false,
    backoff: BACKOFF_MIN_MS,
    reconnectTimer: null,
    pollTimer: null,
    forcePoll: false,
    ended: false,
    state: null,
    lastUpdated: -Infinity,
    lastTurn: -1,
    turns: new Map(),    // idx → turn: every turn seen this call (states carry only the latest ones)
    filling: false,      // a transcript fetch is under way
    tax: null,           // code → {code, service_name, phenomenon}
    feedback: {},        // faq id → "suggestion_used" | "suggestion_unhelpful" (this call)
    checks: new Set(),   // ticked checklist items, "label|question"
  };

  // ---------------------------------------------------------------- HTTP
  // the key from the link's fragment and the JSON fetch helper: serve/static/hotline-api.js
  const API_KEY = window.HotlineApi.keyFromFragment("hotline-key");
  const api = window.HotlineApi.client(API_KEY);

  const callPath = (id) => `/v1/calls/${encodeURIComponent(id)}`;

  function showError(msg) {
    const box = $("error");
    box.textContent = msg || "";
    box.hidden = !msg;
  }

  function setConn(state, text) {
    const c = $("conn");
    c.dataset.state = state;
    c.textContent = text;
  }

  // ---------------------------------------------------------------- joining and transport
  async function join(id) {
    id = (id || "").trim();
    if (!id) return;
    stopTransport();
    S.gen += 1;
    S.callId = id;
    S.ended = false;
    S.state = null;
    S.lastUpdated = -Infinity;
    S.lastTurn = -1;
    S.feedback = loadJson(`hotline.fb.${id}`, {});
    S.checks = new Set(loadJson(`hotline.checks.${id}`, []));
    resetView();
    $("call-id").value = id;
    const url = new URL(location.href);
    if (url.searchParams.get("call") !== id) {
      url.searchParams.set("call", id);
      history.replaceState(null, "", url);
    }
    document.title = `通话 ${id} · Hotline 坐席助手`;
    setConn("connecting", "连接中…");
    const gen = S.gen;
    try {
      const state = await api("GET", callPath(id));
      if (gen !== S.gen) return;
      showError("");
      render(state);
    } catch (e) {
      if (gen !== S.gen) return;
      if (e.status === 404) {
        setConn("idle", "未连接");
        showError(`找不到通话 ${id}（可能已结束或已过期）。请核对通话编号。`);
        return;
      }
      showError(`获取通话失败：${e.message}，正在重试…`);
    }
    if (S.ended) return;
    if (S.forcePoll || !("WebSocket" in window)) startPolling();
    else connectWs(gen);
  }

  function stopTransport() {
    clearTimeout(S.reconnectTimer);
    S.reconnectTimer = null;
    stopPolling();
    if (S.ws) {
      const ws = S.ws;
      S.ws = null;
      ws.onclose = ws.onerror = ws.onmessage = ws.onopen = null;
      try { ws.close(1000, "leaving"); } catch (_) { /* already closed */ }
    }
    S.wsOpen = false;
  }

  function connectWs(gen) {
    if (gen !== S.gen || S.ended) return;
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    let ws;
    try {
      // browsers cannot set headers on a WebSocket: the key travels as a subprotocol beside "hotline"
      const protocols = API_KEY ? ["hotline", `bearer.${API_KEY}`] : ["hotline"];
      ws = new WebSocket(`${proto}//${location.host}${callPath(S.callId)}/stream`, protocols);
    } catch (_) {
      onWsDown(gen);
      return;
    }
    S.ws = ws;
    ws.onopen = () => {
      if (gen !== S.gen) return;
      S.wsOpen = true;
      S.backoff = BACKOFF_MIN_MS;
      stopPolling();
      setConn("live", "实时连接");
    };
    ws.onmessage = (ev) => {
      if (gen !== S.gen) return;
      let msg;
      try { msg = JSON.parse(ev.data); } catch (_) { return; }
      onEvent(msg);
    };
    ws.onerror = () => { /* onclose follows and decides */ };
    ws.onclose = (ev) => {
      if (gen !== S.gen) return;
      S.ws = null;
      S.wsOpen = false;
      if (S.ended) return;
      if (ev.code === 4404 || ev.code === 1008) {
        // the server does not know the call: confirm over HTTP before giving up
        startPolling();
        return;
      }
      onWsDown(gen);
    };
  }

  function onWsDown(gen) {
    if (gen !== S.gen || S.ended) return;
    startPolling();
    const delay = Math.min(BACKOFF_MAX_MS, S.backoff) * (0.75 + Math.random() * 0.5);
    S.backoff = Math.min(BACKOFF_MAX_MS, S.backoff * 2);
    clearTimeout(S.reconnectTimer);
    S.reconnectTimer = setTimeout(() => connectWs(gen), delay);
  }

  function startPolling() {
    if (S.pollTimer || S.ended) return;
    setConn("polling", S.forcePoll ? "轮询模式" : "实时连接中断，轮询中");
    const gen = S.gen;
    const tick = async () => {
      if (gen !== S.gen || !S.pollTimer) return;
      try {
        const state = await api("GET", callPath(S.callId));
        if (gen !== S.gen) return;
        showError("");
        render(state);
      } catch (e) {
        if (gen !== S.gen) return;
        if (e.status === 404) {
          markEnded("通话已结束或已过期");
          return;
        }
        showError(`刷新失败：${e.message}`);
      }
      if (S.pollTimer && gen === S.gen && !S.ended) S.pollTimer = setTimeout(tick, POLL_MS);
    };
    S.pollTimer = setTimeout(tick, 0);
  }

  function stopPolling() {
    clearTimeout(S.pollTimer);
    S.pollTimer = null;
  }

  function markEnded(text) {
    S.ended = true;
    stopTransport();
    setConn("ended", text);
    for (const el of $("utter-form").querySelectorAll("textarea, button")) el.disabled = true;
  }

  function onEvent(msg) {
    if (!msg || typeof msg !== "object") return;
    if (msg.type === "state" && msg.data) render(msg.data);
    else if (msg.type === "error" && msg.data) {
      // 404: unknown call (the close that follows makes the poller confirm it); others: show them
      if (msg.data.status !== 404) showError(`实时连接错误：${msg.data.detail || msg.data.status}`);
    }
    // "incident" and "notice" events are followed by a fresh state that carries them; the state is
    // what we draw, so the banners never disagree with it.
  }

  // ---------------------------------------------------------------- rendering
  function resetView() {
    showError("");
    S.turns = new Map();
    S.filling = false;
    $("transcript").replaceChildren();
    $("faq-list").replaceChildren();
    $("summary").hidden = true;
    for (const el of $("utter-form").querySelectorAll("textarea, button")) el.disabled = false;
    render({ turns: [], notices: [], incidents: [], faqs: [], checklist: [], category: null, ticket: null,
      escalation: null, status: "active" }, true);
  }

  function render(state, force) {
    if (!state || typeof state !== "object") return;
    if (!force) {
      if (state.call_id && state.call_id !== S.callId) return;
      // out-of-order delivery (HTTP reply vs. socket push): never go back in time
      const t = Date.parse(state.updated_at || "") || 0;
      const turns = state.turns || [];
      const last = turns.length ? turns[turns.length - 1].idx : -1;
      if (last < S.lastTurn || (last === S.lastTurn && t < S.lastUpdated)) return;
      S.lastUpdated = t;
      S.lastTurn = last;
      S.state = state;
      if (mergeTurns(turns)) fillTranscript();
    }
    const all = [...S.turns.values()].sort((a, b) => a.idx - b.idx);
    renderMeta(state);
    renderNotices(state.notices || []);
    renderIncidents(state.incidents || []);
    renderEscalation(state.escalation, all);
    renderCategory(state.category);
    renderFaqs(state.faqs || []);
    renderTicket(state.ticket);
    renderChecklist(state.checklist || [], state.category);
    renderTranscript(all, state);
    if (!force && state.status && state.status !== "active") {
      markEnded(state.status === "expired" ? "通话已过期" : "通话已结束");
    }
  }

  /** Remember the turns of a state; true when turns before them were never seen (joined late, or offline). */
  function mergeTurns(turns) {
    const seen = S.turns.size ? Math.max(...S.turns.keys()) : -1;
    for (const t of turns) S.turns.set(t.idx, t);
    return turns.length > 0 && turns[0].idx > seen + 1;
  }

  /** Fetch the whole transcript once to fill a gap, then draw the current state again. */
  async function fillTranscript() {
    if (S.filling || !S.callId) return;
    S.filling = true;
    const gen = S.gen;
    try {
      const tr = await api("GET", `${callPath(S.callId)}/transcript`);
      if (gen !== S.gen) return;
      for (const turn of tr.turns || []) if (!S.turns.has(turn.idx)) S.turns.set(turn.idx, turn);
      if (S.state) render(S.state, false);
    } catch (e) {
      if (gen === S.gen && e.status !== 404) showError(`获取完整通话记录失败：${e.message}`);
    } finally {
      if (gen === S.gen) S.filling = false;
    }
  }

  function renderMeta(state) {
    const bits = [];
    if (state.region) bits.push(state.region);
    if (state.started_at) bits.push(`开始于 ${fmtTime(state.started_at)}`);
    if (state.status && state.status !== "active") bits.push(state.status === "ended" ? "已结束" : "已过期");
    $("call-meta").textContent = bits.join(" · ");
  }

  function renderNotices(notices) {
    const box = $("notices");
    box.hidden = notices.length === 0;
    $("notice-list").replaceChildren(...notices.map((n) => h("li", { "data-testid": "notice", dataset: { noticeId: n.id } },
      h("p", { class: "notice-head" },
        h("span", { class: "notice-kind" }, NOTICE_KIND[n.kind] || n.kind || "公告"),
        h("span", { class: "notice-title", "data-testid": "notice-title" }, n.title || ""),
        n.ends_at ? h("span", { class: "meta" }, `预计 ${fmtTime(n.ends_at)} 前恢复`) : null),
      h("p", { class: "notice-script", "data-testid": "notice-script" }, n.script || ""),
      h("div", { class: "faq-actions" }, copyButton(n.script || "", "复制话术")))));
  }

  function renderIncidents(incidents) {
    $("incidents").hidden = incidents.length === 0;
    $("incident-list").replaceChildren(...incidents.map((i) => {
      const name = phenomenonOf(i.code);
      const n = (i.call_ids || []).length;
      const span = i.first && i.last ? `（${fmtTime(i.first)}–${fmtTime(i.last)}）` : "";
      return h("li", { "data-testid": "incident" },
        `${i.region || "本区域"} ${name}：已有 ${n} 通同类来电${span}，可能是区域性故障，请按批量故障流程处理并上报。`);
    }));
  }

  function renderEscalation(esc, turns) {
    const box = $("escalation");
    const level = (esc && esc.level) || "none";
    const show = !!esc && (esc.escalate || level !== "none");
    box.hidden = !show;
    if (!show) return;
    box.dataset.level = level;
    $("escalation-level").textContent = ESC_LEVEL[level] || (esc.escalate ? ESC_LEVEL.high : level);
    const byIdx = new Map(turns.map((t) => [t.idx, t]));
    $("escalation-list").replaceChildren(...(esc.reasons || []).map((r) => {
      const turn = byIdx.get(r.turn);
      return h("li", { "data-testid": "escalation-reason", dataset: { type: r.type || "" } },
        h("strong", {}, ESC_TYPE[r.type] || r.type || "风险"), "：",
        turn ? h("q", { "data-testid": "escalation-utterance" }, ...highlight(turn.text, r.match))
          : h("q", {}, r.match || ""));
    }));
  }

  /** Text with the first occurrence of `needle` wrapped in <mark>, as DOM nodes. */
  function highlight(text, needle) {
    const i = needle ? text.indexOf(needle) : -1;
    if (i < 0) return [text];
    return [text.slice(0, i), h("mark", {}, needle), text.slice(i + needle.length)];
  }

  function renderCategory(cat) {
    $("category-empty").hidden = !!cat;
    $("category-body").hidden = !cat;
    if (!cat) return;
    const pct = Math.round((cat.confidence || 0) * 100);
    // level: leaf (the phenomenon), service (the leaf is uncertain: show the service and ask to tell leaves
    // apart, see the checklist), none (not a telecom complaint)
    const level = cat.level || "leaf";
    $("category-body").dataset.level = level;
    $("cat-phenomenon").textContent = level === "none" ? "非本公司业务（不是电信投诉）"
      : level === "service" ? `${cat.service_name || cat.service}（具体现象待确认）`
        : cat.phenomenon || phenomenonOf(cat.label);
    $("cat-service").textContent = level === "none" ? "" : cat.service_name || "";
    $("cat-phenomenon").title = cat.label;
    const badge = $("cat-stable");
    badge.textContent = cat.stable ? "已稳定" : "判断中";
    badge.className = `badge ${cat.stable ? "stable" : "unstable"}`;
    const bar = $("cat-bar");
    bar.setAttribute("aria-valuenow", String(pct));
    bar.setAttribute("aria-valuetext", `${pct}%`);
    const fill = $("cat-bar-fill");
    fill.style.width = `${pct}%`;
    fill.classList.toggle("low", !!cat.abstain);
    $("cat-conf-text").textContent = `${pct}%`;
    $("cat-top").replaceChildren(...(cat.top || []).map((t) =>
      h("li", {}, `${t.phenomenon || t.code}（${t.service_name || ""}）${Math.round((t.prob || 0) * 100)}%`)));
    const sel = $("cat-select");
    if (sel.dataset.label !== cat.label) fillCategorySelect(cat);
  }

  // ---------------------------------------------------------------- category picker ("分类不对")
  // A combobox over the whole taxonomy (GET /v1/taxonomy; the current top-3 until it loads): type a code or
  // part of a Chinese name, ↑/↓ to move, Enter to choose, Esc to close. The chosen code sits in #cat-select.
  const PICK = { entries: [], shown: [], active: -1 };

  function fillCategorySelect(cat) {
    $("cat-select").dataset.label = cat.label;
    const entries = S.tax ? Object.values(S.tax)
      : (cat.top || []).map((t) => ({ code: t.code, service_name: t.service_name, phenomenon: t.phenomenon }));
    PICK.entries = entries.filter((e) => e.code !== cat.label);
    if (!$("cat-fix").hidden) filterCategories();
  }

  function categoryLabel(e) {
    return `${e.phenomenon || e.code}（${e.service_name || "其他"}）`;
  }

  function filterCategories() {
    const terms = $("cat-search").value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    PICK.shown = PICK.entries.filter((e) => {
      const hay = `${e.code} ${e.service_name || ""} ${e.phenomenon || ""}`.toLowerCase();
      return terms.every((t) => hay.includes(t));
    });
    PICK.active = PICK.shown.length ? 0 : -1;
    renderCategoryOptions();
  }

  function renderCategoryOptions() {
    const list = $("cat-options");
    list.replaceChildren(...PICK.shown.map((e, i) => h("li", {
      id: `cat-opt-${i}`, role: "option", class: i === PICK.active ? "active" : null,
      "aria-selected": String(i === PICK.active), dataset: { code: e.code, testid: "category-option" },
      onmousedown: (ev) => { ev.preventDefault(); chooseCategory(e); }, // keep the focus in the input
    }, h("span", { class: "opt-name" }, categoryLabel(e)), h("span", { class: "opt-code" }, e.code))));
    const input = $("cat-search");
    const open = !$("cat-fix").hidden && PICK.shown.length > 0;
    list.hidden = !open;
    input.setAttribute("aria-expanded", String(open));
    if (PICK.active >= 0) input.setAttribute("aria-activedescendant", `cat-opt-${PICK.active}`);
    else input.removeAttribute("aria-activedescendant");
    $("cat-count").textContent = PICK.shown.length ? `${PICK.shown.length} 个分类` : "没有匹配的分类";
    const act = list.children[PICK.active];
    if (act && act.scrollIntoView) act.scrollIntoView({ block: "nearest" });
  }

  function moveCategory(step) {
    if (!PICK.shown.length) return;
    if ($("cat-options").hidden) { renderCategoryOptions(); return; }
    PICK.active = (PICK.active + step + PICK.shown.length) % PICK.shown.length;
    renderCategoryOptions();
  }

  function chooseCategory(e) {
    $("cat-select").value = e.code;
    $("cat-search").value = `${categoryLabel(e)} ${e.code}`;
    $("cat-chosen").textContent = `已选：${categoryLabel(e)}`;
    $("cat-options").hidden = true;
    $("cat-search").setAttribute("aria-expanded", "false");
  }

  function resetCategoryPicker() {
    $("cat-select").value = "";
    $("cat-search").value = "";
    $("cat-chosen").textContent = "";
    filterCategories();
  }

  function wireCategoryPicker() {
    const input = $("cat-search");
    input.addEventListener("input", () => {
      $("cat-select").value = ""; // typing again drops an earlier choice
      $("cat-chosen").textContent = "";
      filterCategories();
    });
    input.addEventListener("keydown", (ev) => {
      const open = !$("cat-options").hidden;
      if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
        ev.preventDefault();
        moveCategory(ev.key === "ArrowDown" ? 1 : -1);
      } else if (ev.key === "Enter" && open && PICK.active >= 0) {
        ev.preventDefault(); // Enter on an open list chooses; Enter once chosen submits the form
        chooseCategory(PICK.shown[PICK.active]);
      } else if (ev.key === "Escape" && open) {
        ev.preventDefault();
        $("cat-options").hidden = true;
        input.setAttribute("aria-expanded", "false");
      }
    });
    input.addEventListener("blur", () => {
      $("cat-options").hidden = true;
      input.setAttribute("aria-expanded", "false");
    });
    input.addEventListener("focus", () => { if (!$("cat-select").value) renderCategoryOptions(); });
  }

  function renderFaqs(faqs) {
    $("faq-empty").hidden = faqs.length > 0;
    const list = $("faq-list");
    const existing = new Map([...list.children].map((li) => [li.dataset.faqId, li]));
    const items = faqs.map((f) => {
      const key = String(f.id);
      let li = existing.get(key);
      if (!li) li = faqCard(f);
      const score = li.querySelector(".faq-score");
      if (score) score.textContent = typeof f.score === "number" ? `匹配度 ${f.score.toFixed(2)}` : "";
      return li;
    });
    // keep cards that stay (no re-announcement by aria-live), in the new order
    for (const li of list.children) if (!items.includes(li)) li.remove();
    items.forEach((li, i) => { if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null); });
  }

  function faqCard(f) {
    const key = String(f.id);
    const given = S.feedback[key];
    const li = h("li", { class: "faq", "data-testid": "faq-card", dataset: { faqId: key } },
      h("p", { class: "faq-q" }, f.question || "", h("span", { class: "faq-score" })),
      h("p", { class: "faq-a", "data-testid": "faq-answer" }, f.answer || ""));
    const msg = h("span", { class: "ok-msg", role: "status" });
    const used = h("button", { type: "button", "data-testid": "faq-used", "aria-label": `已使用：${f.question || ""}` }, "已使用");
    const bad = h("button", { type: "button", "data-testid": "faq-unhelpful", "aria-label": `没帮助：${f.question || ""}` }, "没帮助");
    const mark = (kind) => {
      used.disabled = bad.disabled = true;
      li.classList.add(kind === "suggestion_used" ? "used" : "unhelpful");
      msg.textContent = kind === "suggestion_used" ? "已记录：已使用" : "已记录：没帮助";
    };
    const send = (kind) => async () => {
      used.disabled = bad.disabled = true;
      try {
        await api("POST", "/v1/feedback", { call_id: S.callId, kind, target: key });
        S.feedback[key] = kind;
        saveJson(`hotline.fb.${S.callId}`, S.feedback);
        mark(kind);
      } catch (e) {
        used.disabled = bad.disabled = false;
        msg.textContent = `提交失败：${e.message}`;
      }
    };
    used.addEventListener("click", send("suggestion_used"));
    bad.addEventListener("click", send("suggestion_unhelpful"));
    li.append(h("div", { class: "faq-actions" }, copyButton(f.answer || "", "复制答案"), used, bad, msg));
    if (given) mark(given);
    return li;
  }

  function copyButton(text, label) {
    const btn = h("button", { type: "button", "data-testid": "copy", "aria-label": label }, label);
    btn.addEventListener("click", async () => {
      const ok = await copyText(text);
      btn.textContent = ok ? "已复制" : "复制失败";
      btn.dataset.copied = ok ? "true" : "false";
      setTimeout(() => { btn.textContent = label; }, 1500);
    });
    return btn;
  }

  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        return true;
      } catch (_) { /* permission denied: fall back */ }
    }
    const ta = h("textarea", { readonly: true, "aria-hidden": "true" });
    ta.value = text;
    ta.style.position = "fixed";
    ta.style.top = "-1000px";
    document.body.append(ta);
    ta.select();
    let ok = false;
    try { ok = document.execCommand("copy"); } catch (_) { ok = false; }
    ta.remove();
    return ok;
  }

  function renderTicket(ticket) {
    const fields = (ticket && ticket.fields) || [];
    $("ticket-empty").hidden = fields.length > 0;
    $("ticket-body").hidden = fields.length === 0;
    const missing = new Set((ticket && ticket.missing) || []);
    $("ticket-fields").replaceChildren(...fields.map((f) => {
      const isMissing = missing.has(f.name) || (f.required && (f.value === null || f.value === undefined));
      const val = f.value !== null && f.value !== undefined && f.value !== ""
        ? [f.value, f.evidence_turn !== null && f.evidence_turn !== undefined
          ? h("span", { class: "ev" }, `第${f.evidence_turn + 1}句`) : null]
        : [isMissing ? "待补充" : "—"];
      return h("tr", { class: isMissing ? "missing" : "", "data-testid": "ticket-field",
        dataset: { field: f.name, missing: isMissing ? "true" : "false" } },
      h("th", { scope: "row" }, f.label || f.name, f.required ? h("span", { class: "req", "aria-label": "必填" }, "*") : null),
      h("td", { class: "val", "data-testid": "ticket-value" }, ...val));
    }));
    const qs = (ticket && ticket.suggested_questions) || [];
    $("ticket-ask").hidden = qs.length === 0;
    $("ticket-questions").replaceChildren(...qs.map((q) => h("li", { "data-testid": "suggested-question" }, q)));
    $("ticket-route").textContent = ticket && ticket.dispatch_route ? `派单路径：${ticket.dispatch_route}` : "";
  }

  function renderChecklist(questions, cat) {
    $("checklist-empty").hidden = questions.length > 0;
    const label = cat ? cat.label : "";
    $("checklist").replaceChildren(...questions.map((q, i) => {
      const key = `${label}|${q}`;
      const id = `chk-${i}`;
      const box = h("input", { type: "checkbox", id, "data-testid": "checklist-box" });
      box.checked = S.checks.has(key);
      box.addEventListener("change", () => {
        if (box.checked) S.checks.add(key); else S.checks.delete(key);
        saveJson(`hotline.checks.${S.callId}`, [...S.checks]);
      });
      return h("li", { "data-testid": "checklist-item" }, h("label", { for: id }, box, h("span", {}, q)));
    }));
  }

  function renderTranscript(turns, state) {
    const list = $("transcript");
    $("transcript-empty").hidden = turns.length > 0;
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    const have = new Map([...list.children].map((li) => [Number(li.dataset.idx), li]));
    const keep = new Set(turns.map((t) => t.idx));
    for (const [idx, li] of have) if (!keep.has(idx)) li.remove();
    const evidence = new Set((state.category && state.category.evidence) || []);
    const flagged = new Set(((state.escalation && state.escalation.reasons) || []).map((r) => r.turn));
    let prev = null;  // turns arrive out of order (a transcript fetched after newer pushes): keep idx order
    for (const t of turns) {
      let li = have.get(t.idx);
      if (!li) {
        li = h("li", { class: `turn ${t.speaker === "agent" ? "agent" : "customer"}`, "data-testid": "turn",
          dataset: { idx: String(t.idx), speaker: t.speaker } },
        h("span", { class: "who" }, SPEAKER[t.speaker] || t.speaker),
        h("span", { class: "text", "data-testid": "turn-text" }, t.text || ""),
        t.ts ? h("span", { class: "ts" }, fmtTime(t.ts)) : null);
      }
      const at = prev ? prev.nextSibling : list.firstChild;
      if (at !== li) list.insertBefore(li, at);
      li.classList.toggle("evidence", evidence.has(t.idx));
      li.classList.toggle("flagged", flagged.has(t.idx));
      prev = li;
    }
    if (nearBottom) list.scrollTop = list.scrollHeight;
  }

  // ---------------------------------------------------------------- helpers
  function phenomenonOf(code) {
    const e = S.tax && S.tax[code];
    return e ? e.phenomenon : code || "";
  }

  function fmtTime(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    const p = (n) => String(n).padStart(2, "0");
    const today = new Date();
    const hm = `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
    return d.toDateString() === today.toDateString() ? hm : `${d.getMonth() + 1}月${d.getDate()}日 ${hm}`;
  }

  function loadJson(key, fallback) {
    try {
      const v = sessionStorage.getItem(key);
      return v ? JSON.parse(v) : fallback;
    } catch (_) { return fallback; }
  }

  function saveJson(key, value) {
    try { sessionStorage.setItem(key, JSON.stringify(value)); } catch (_) { /* storage full or disabled */ }
  }

  async function loadTaxonomy() {
    try {
      const data = await api("GET", "/v1/taxonomy");
      S.tax = Object.fromEntries((data.codes || []).map((c) => [c.code, c]));
      if (S.state && S.state.category) fillCategorySelect(S.state.category);
      if (S.state) renderIncidents(S.state.incidents || []);
    } catch (_) {
      S.tax = null; // the wrong-category menu falls back to the current top-3
    }
  }

  // ---------------------------------------------------------------- forms
  function wire() {
    $("join-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      join($("call-id").value);
    });

    $("new-call-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        const state = await api("POST", "/v1/calls", { region: $("new-region").value.trim() });
        join(state.call_id);
      } catch (e) {
        showError(`新建通话失败：${e.message}`);
      }
    });

    const text = $("utter-text");
    text.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        $("utter-form").requestSubmit();
      }
    });
    $("utter-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (!S.callId) { showError("请先加入通话"); return; }
      const speaker = $("utter-form").querySelector("input[name=speaker]:checked").value;
      const value = text.value.trim();
      if (!value) return;
      const send = $("utter-form").querySelector("button[type=submit]");
      send.disabled = true;
      try {
        const state = await api("POST", `${callPath(S.callId)}/utterances`, { speaker, text: value });
        // clear only what was sent: the agent may have started typing the next turn meanwhile
        if (text.value.trim() === value) text.value = "";
        showError("");
        render(state);
      } catch (e) {
        showError(`发送失败：${e.message}`);
      } finally {
        if (!S.ended) send.disabled = false;
        text.focus();
      }
    });

    $("end-call").addEventListener("click", async () => {
      if (!S.callId) return;
      try {
        const res = await api("POST", `${callPath(S.callId)}/end`);
        $("summary-text").textContent = res.summary || "";
        $("summary").hidden = false;
        if (res.state) render(res.state);
        markEnded("通话已结束");
      } catch (e) {
        showError(`结束通话失败：${e.message}`);
      }
    });

    $("cat-wrong").addEventListener("click", () => {
      const form = $("cat-fix");
      form.hidden = !form.hidden;
      $("cat-wrong").setAttribute("aria-expanded", String(!form.hidden));
      if (!form.hidden) {
        resetCategoryPicker();
        $("cat-search").focus();
      }
    });
    wireCategoryPicker();

    $("cat-right").addEventListener("click", async () => {
      const cat = S.state && S.state.category;
      if (!cat) return;
      await categoryFeedback({ call_id: S.callId, kind: "category_right", target: cat.label }, "已确认分类，谢谢");
    });

    $("cat-fix").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const cat = S.state && S.state.category;
      let correct = $("cat-select").value;
      if (!correct && PICK.shown.length === 1) correct = PICK.shown[0].code; // the typed text names one code
      if (!cat) return;
      if (!correct) {
        $("cat-feedback-msg").textContent = "请从列表中选择正确分类";
        $("cat-search").focus();
        return;
      }
      const ok = await categoryFeedback(
        { call_id: S.callId, kind: "category_wrong", target: cat.label, correct_label: correct },
        `已提交更正：${phenomenonOf(correct)}`);
      if (ok) {
        $("cat-fix").hidden = true;
        $("cat-wrong").setAttribute("aria-expanded", "false");
      }
    });
  }

  async function categoryFeedback(body, okText) {
    const msg = $("cat-feedback-msg");
    try {
      await api("POST", "/v1/feedback", body);
      msg.textContent = okText;
      return true;
    } catch (e) {
      msg.textContent = `提交失败：${e.message}`;
      return false;
    }
  }

  // ---------------------------------------------------------------- start
  wire();
  loadTaxonomy();
  const params = new URLSearchParams(location.search);
  S.forcePoll = params.get("transport") === "poll";
  window.hotlineWidget = { join, get state() { return S.state; } }; // for the console and tests
  if (params.get("call")) join(params.get("call"));
  else $("call-id").focus();
})();
