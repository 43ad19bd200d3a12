// Orderflow dashboard: every page drawn in the browser from the public JSON API, with the
// signed-in token as `Authorization: Bearer`. No framework, no build step, no inline HTML from
// data: elements are made with `h()` and text nodes, so nothing the API returns is parsed as
// markup.
"use strict";

const STATUSES = ["PENDING", "INVENTORY_RESERVED", "PAID", "COMPLETED", "CANCELLED"];
const RANK = { PENDING: 0, INVENTORY_RESERVED: 1, PAID: 2, COMPLETED: 3, CANCELLED: 3 };
const TERMINAL = new Set(["COMPLETED", "CANCELLED"]);
/// The analytics counters of the overview's per-minute chart, drawn in their status's colour.
const OUTCOMES = [
  { metric: "orders_placed", label: "placed", status: "PENDING" },
  { metric: "orders_completed", label: "completed", status: "COMPLETED" },
  { metric: "orders_cancelled", label: "cancelled", status: "CANCELLED" },
];
const FEED_ROWS = 25;

// ---- session ---------------------------------------------------------------------------

const session = {
  get token() { return sessionStorage.getItem("orderflow.token"); },
  get role() { return sessionStorage.getItem("orderflow.role"); },
  get email() { return sessionStorage.getItem("orderflow.email"); },
  get admin() { return this.role === "admin"; },
  save(token, role, email) {
    sessionStorage.setItem("orderflow.token", token);
    sessionStorage.setItem("orderflow.role", role);
    if (email) sessionStorage.setItem("orderflow.email", email);
    else sessionStorage.removeItem("orderflow.email");
  },
  clear() {
    ["orderflow.token", "orderflow.role", "orderflow.email"].forEach((k) => sessionStorage.removeItem(k));
  },
};

// ---- DOM helpers -----------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const $ = (selector, root = document) => root.querySelector(selector);
const view = () => $("#view");

function badge(status) { return h("span", { class: `badge ${status}`, dataset: { status } }, status); }
function orderLink(id, text) { return h("a", { href: `#/orders/${id}`, class: "mono" }, text || shortId(id)); }
function shortId(id) { return String(id).slice(0, 8) + "\u2026" + String(id).slice(-4); }
function when(at) { return at ? new Date(at).toLocaleString() : "\u2014"; }
function clock(at) { return at ? new Date(at).toLocaleTimeString() : "\u2014"; }
function money(minor, currency) {
  if (minor === undefined || minor === null) return "\u2014";
  const value = (Number(minor) / 100).toFixed(2);
  return currency ? `${value} ${currency}` : value;
}
function took(ms) {
  if (ms < 1000) return `+${Math.round(ms)} ms`;
  if (ms < 60000) return `+${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  return `+${(ms / 60000).toFixed(1)} min`;
}
/// A trace id, linked to the trace viewer the server names (`ORDERFLOW_TRACE_URL`) if any.
function traceLink(traceId) {
  const meta = document.querySelector("meta[name=orderflow-trace-url]");
  const template = meta ? meta.content : "";
  if (!template) return traceId;
  return h("a", { href: template.replaceAll("{trace_id}", traceId), target: "_blank", rel: "noopener" }, traceId);
}
function cancelReasons(reasons) {
  const named = Object.entries(reasons).filter(([, n]) => n > 0).map(([reason, n]) => `${n} ${reason}`);
  return named.length ? named.join(", ") : "none in the last 24 h";
}
function card(title, ...children) { return h("section", { class: "card" }, title && h("h2", {}, title), children); }
function stat(label, value, note, id) {
  return h("div", { class: "card stat", id }, h("div", { class: "label" }, label),
    h("div", { class: "value" }, value), note && h("div", { class: "note" }, note));
}

function flash(message, ok) {
  const box = $("#flash");
  box.textContent = message || "";
  box.className = ok ? "flash ok" : "flash";
  box.hidden = !message;
}

// ---- API -------------------------------------------------------------------------------

class Problem extends Error {
  constructor(status, body) {
    const fields = (body && body.errors || []).map((e) => `${e.field}: ${e.message}`).join("; ");
    super(body && body.title ? `${body.title}: ${body.detail || ""}${fields ? ` (${fields})` : ""}` : `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function api(path, options = {}) {
  const headers = { Accept: "application/json, application/problem+json", ...(options.headers || {}) };
  const token = options.token !== undefined ? options.token : session.token;
  if (token) headers.Authorization = `Bearer ${token}`;
  if (options.json !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method: options.method || "GET",
    headers,
    body: options.json !== undefined ? JSON.stringify(options.json) : undefined,
    cache: "no-store",
  });
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json().catch(() => null) : await response.text();
  if (!response.ok) {
    if (response.status === 401 && token && options.token === undefined) signOut("Your token was refused (401): sign in again.");
    throw new Problem(response.status, typeof body === "object" ? body : null);
  }
  return body;
}

/// Prometheus text into `{name: [{labels, value}]}`.
function parseMetrics(text) {
  const metrics = {};
  for (const line of String(text).split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels = {};
    for (const pair of (match[3] || "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
    (metrics[match[1]] = metrics[match[1]] || []).push({ labels, value: Number(match[4]) });
  }
  return metrics;
}
function metricSum(metrics, name, filter) {
  const series = metrics[name];
  if (!series) return null;
  return series.filter((s) => !filter || filter(s.labels)).reduce((sum, s) => sum + s.value, 0);
}

// ---- live updates: the SSE stream read with fetch(), which can send the token ----------

const live = {
  controller: null,
  listeners: new Set(),
  state: "off",
  setState(state) {
    this.state = state;
    const badgeEl = $("#live");
    badgeEl.dataset.state = state;
    badgeEl.textContent = { live: "live", connecting: "connecting\u2026", reconnecting: "reconnecting\u2026", off: "offline" }[state];
    document.body.dataset.live = state;
  },
  emit(kind, data) { for (const listener of this.listeners) listener(kind, data); },
  stop() {
    if (this.controller) this.controller.abort();
    this.controller = null;
    this.setState("off");
  },
  async start() {
    if (this.controller || !session.admin) return;
    const controller = new AbortController();
    this.controller = controller;
    let backoff = 500;
    while (this.controller === controller) {
      this.setState(this.state === "off" ? "connecting" : "reconnecting");
      try {
        const response = await fetch("/api/v1/order-updates", {
          headers: { Authorization: `Bearer ${session.token}`, Accept: "text/event-stream" },
          signal: controller.signal,
          cache: "no-store",
        });
        if (response.status === 401 || response.status === 403) { this.stop(); return; }
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        this.setState("live");
        backoff = 500;
        // Changes made while the stream was down were not sent: pages read afresh.
        this.emit("resync");
        await this.read(response.body.getReader());
      } catch (error) {
        if (controller.signal.aborted) return;
      }
      if (this.controller !== controller) return;
      this.setState("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, backoff));
      backoff = Math.min(backoff * 2, 10000);
    }
  },
  async read(reader) {
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") event = text;
          else if (field === "data") data.push(text);
        }
        if (event === "update" && data.length) this.emit("update", JSON.parse(data.join("\n")));
        else if (event === "lagged") this.emit("resync");
      }
    }
  },
};

// ---- routing ---------------------------------------------------------------------------

const pages = [];
function page(pattern, adminOnly, render) { pages.push({ pattern, adminOnly, render }); }

let current = { cleanup: null };
let pendingFlash = "";

async function route() {
  if (current.cleanup) current.cleanup();
  current = { cleanup: null };
  flash(pendingFlash);
  pendingFlash = "";
  const [path, query] = (location.hash.replace(/^#/, "") || "/").split("?");
  const params = new URLSearchParams(query || "");
  renderChrome();
  if (!session.token) { renderSignIn(); return; }
  if (path === "/" || path === "") { location.replace(session.admin ? "#/overview" : "#/orders"); return; }
  for (const { pattern, adminOnly, render } of pages) {
    const match = pattern.exec(path);
    if (!match) continue;
    if (adminOnly && !session.admin) { view().replaceChildren(card("Admin only", h("p", {}, "This page needs the admin token."))); return; }
    for (const link of document.querySelectorAll("#nav a")) {
      link.toggleAttribute("aria-current", path.startsWith(link.getAttribute("href").slice(1)));
      if (link.hasAttribute("aria-current")) link.setAttribute("aria-current", "page");
    }
    const context = current;
    try {
      await render({ params, match, context });
    } catch (error) {
      if (context === current) flash(error.message);
    }
    return;
  }
  view().replaceChildren(card("Not found", h("p", {}, "No such page. "), h("a", { href: "#/" }, "Start")));
}

function renderChrome() {
  const signedIn = Boolean(session.token);
  $("#nav").hidden = !signedIn;
  for (const link of document.querySelectorAll("#nav a[data-role=admin]")) link.hidden = !session.admin;
  $("#sign-out").hidden = !signedIn;
  $("#live").hidden = !session.admin;
  $("#who").textContent = signedIn ? (session.admin ? "admin" : session.email || "customer") : "";
  document.body.dataset.role = signedIn ? session.role : "none";
}

/// Subscribes the current page to the live stream until the page is left.
function onLive(context, listener) {
  live.listeners.add(listener);
  const previous = context.cleanup;
  context.cleanup = () => { live.listeners.delete(listener); if (previous) previous(); };
}

/// Runs `work` at most once per `ms` while asked, for refreshes driven by a busy stream; always
/// once more `ms` after the last ask, since what it reads (the read model) may lag behind the
/// update that asked.
function throttle(ms, work) {
  let timer = null, again = false;
  const run = async () => {
    again = false;
    try { await work(); } catch (error) { /* the next update tries again */ }
    timer = setTimeout(() => { timer = null; if (again) schedule(); }, ms);
  };
  const schedule = () => { if (timer) again = true; else { timer = -1; run(); again = true; } };
  return schedule;
}

// ---- sign in ---------------------------------------------------------------------------

function signOut(message) {
  live.stop();
  session.clear();
  pendingFlash = message || "";
  go("#/");
}

/// Shows the page at `hash`, also when it is the one shown.
function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function tokenEmail(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload)).email || null;
  } catch (error) {
    return null;
  }
}

function renderSignIn() {
  const token = h("textarea", { id: "token", name: "token", required: true, autocomplete: "off", spellcheck: "false",
    placeholder: "the admin token, or a customer JWT" });
  const form = h("form", { id: "sign-in", onsubmit: async (event) => {
    event.preventDefault();
    const value = token.value.trim();
    if (!value) return;
    try {
      // Any valid token lists orders; only the admin's reads the mailbox.
      await api("/api/v1/orders?limit=1", { token: value });
      let role = "customer";
      try {
        await api("/api/v1/admin/notifications?limit=1", { token: value });
        role = "admin";
      } catch (error) {
        if (error.status !== 403) throw error;
      }
      session.save(value, role, role === "customer" ? tokenEmail(value) : null);
      if (role === "admin") live.start();
      go(role === "admin" ? "#/overview" : "#/orders");
    } catch (error) {
      flash(error.status === 401 ? "That token was not accepted." : error.message);
    }
  } }, h("label", {}, "Token", token), h("p", {}, h("button", { id: "sign-in-button", type: "submit" }, "Sign in")));
  view().replaceChildren(h("div", { class: "signin card" },
    h("h1", {}, "Sign in"),
    h("p", {}, "Paste the admin token (", h("code", {}, "ORDERFLOW_ADMIN_TOKEN"), " or ", h("code", {}, "<data dir>/admin-token"),
      ") or a customer token (", h("code", {}, "orderflow token --email you@example.com"),
      "). It is kept in this tab only (sessionStorage) and sent as ", h("code", {}, "Authorization: Bearer"), "."),
    form));
  token.focus();
}

// ---- overview (admin) ------------------------------------------------------------------

page(/^\/overview$/, true, async ({ context }) => {
  const known = new Map(); // order id -> {status, at, placed_at, email, total}
  const perSecond = new Array(60).fill(0);
  let second = Math.floor(Date.now() / 1000);

  const statsBox = h("div", { class: "grid", id: "stats" });
  const byStatus = h("div", { class: "bars", id: "by-status" });
  const spark = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  spark.setAttribute("class", "spark");
  spark.setAttribute("viewBox", "0 0 600 60");
  spark.setAttribute("preserveAspectRatio", "none");
  const feedBody = h("tbody", { id: "feed" });
  const readiness = h("div", { id: "readiness" });
  const perMinute = h("div", { id: "per-minute" });
  view().replaceChildren(
    h("h1", {}, "Overview"),
    statsBox,
    h("div", { class: "cols" },
      h("div", {},
        card("Orders by status", byStatus, h("p", { class: "muted" }, "Counted from the read model; 100+ when more.")),
        card("Orders per minute by outcome (last hour)", perMinute),
        card("Status changes per second (last minute)", spark),
        card("Readiness", readiness)),
      card("Live feed", h("table", {},
        h("thead", {}, h("tr", {}, h("th", {}, "Order"), h("th", {}, "Customer"), h("th", { class: "num" }, "Total"),
          h("th", {}, "Status"), h("th", {}, "Changed"))),
        feedBody))));

  const newestFirst = (a, b) => (b[1].placed_at || "").localeCompare(a[1].placed_at || "");
  // Drawn at most once a frame, however fast updates come.
  let drawing = false;
  function scheduleDraw() {
    if (drawing) return;
    drawing = true;
    requestAnimationFrame(() => { drawing = false; drawFeed(); });
  }
  function drawFeed() {
    if (known.size > FEED_ROWS * 4) {
      const keep = new Set([...known.entries()].sort(newestFirst).slice(0, FEED_ROWS * 2).map(([id]) => id));
      for (const id of [...known.keys()]) if (!keep.has(id)) known.delete(id);
    }
    const rows = [...known.entries()].sort(newestFirst).slice(0, FEED_ROWS);
    feedBody.replaceChildren(...rows.map(([id, order]) => {
      const row = h("tr", { dataset: { orderId: id }, class: order.fresh ? "fresh" : "" },
        h("td", {}, orderLink(id)), h("td", {}, order.email || "\u2026"),
        h("td", { class: "num" }, order.total || ""), h("td", { class: "status" }, badge(order.status)),
        h("td", {}, clock(order.at)));
      order.fresh = false;
      return row;
    }));
    if (!rows.length) feedBody.append(h("tr", {}, h("td", { colspan: 5, class: "empty" }, "No orders yet: place one and it shows here.")));
  }

  function merge(id, next) {
    const before = known.get(id);
    if (before && RANK[before.status] > RANK[next.status]) {
      known.set(id, { ...next, ...before, email: before.email || next.email, total: before.total || next.total });
      return;
    }
    known.set(id, { ...before, ...next, fresh: !before || before.status !== next.status });
  }

  async function loadFeed() {
    const page = await api(`/api/v1/orders?limit=${FEED_ROWS}`);
    for (const order of page.orders) {
      merge(order.order_id, { status: order.status, at: order.updated_at, placed_at: order.created_at,
        email: order.customer_email, total: `${order.total} ${order.currency}` });
    }
    drawFeed();
  }

  async function loadCounts() {
    const counts = await Promise.all(STATUSES.map((status) =>
      api(`/api/v1/orders?status=${status}&limit=100`).then((p) => ({ status, n: p.orders.length, more: Boolean(p.next_cursor) }))));
    const max = Math.max(1, ...counts.map((c) => c.n));
    byStatus.replaceChildren(...counts.flatMap(({ status, n, more }) => {
      const fill = h("div", { class: `fill ${status}` });
      fill.style.width = `${(100 * n) / max}%`;
      return [badge(status), h("div", { class: "track" }, fill), h("div", { class: "num", dataset: { count: status } }, more ? `${n}+` : String(n))];
    }));
  }

  // Totals from the analytics service (every order of the system, whichever process serves
  // this page); this process's own metrics where there is no analytics service to ask.
  async function loadStats() {
    const [summary, metricsText, dead, ready] = await Promise.all([
      api("/api/v1/analytics/summary?window=24h").catch(() => null),
      api("/metrics", { headers: { Accept: "text/plain" } }).catch(() => null),
      api("/api/v1/admin/dead-letters"),
      fetch("/health/ready", { cache: "no-store" }).then((r) => r.json()).catch(() => null),
    ]);
    const metrics = metricsText ? parseMetrics(metricsText) : {};
    // A counter not yet incremented is not in the text: zero, when the process has metrics.
    const show = (value) => (value === null ? (metricsText ? "0" : "\u2014") : String(Math.round(value)));
    const lag = metricSum(metrics, "orderflow_outbox_lag");
    let totals;
    if (summary) {
      const note = "last 24 h, from the analytics service";
      const p95 = summary.completion_time.p95_ms;
      const declines = summary.payments.decline_rate;
      totals = [
        stat("Placed", String(summary.orders_placed), note, "stat-placed"),
        stat("Completed", String(summary.orders_completed), note, "stat-completed"),
        stat("Cancelled", String(summary.orders_cancelled), cancelReasons(summary.cancelled_by_reason), "stat-cancelled"),
        stat("Revenue (completed)", summary.revenue.map((r) => `${r.amount} ${r.currency}`).join(" + ") || "0.00", note, "stat-revenue"),
        stat("Placed \u2192 completed, p95", p95 === null ? "\u2014" : took(p95).slice(1), `${summary.completion_time.orders} timed`, "stat-p95"),
        stat("Payment declines", declines === null ? "\u2014" : `${(100 * declines).toFixed(1)} %`, `${summary.payments.failed} of ${summary.payments.succeeded + summary.payments.failed}`, "stat-declines"),
      ];
    } else {
      const revenue = (metrics.orderflow_revenue_minor_total || []).map((s) => money(s.value, s.labels.currency)).join(" + ");
      const note = metricsText ? "since this process started" : "no metrics on this process";
      totals = [
        stat("Completed", show(metricSum(metrics, "orderflow_orders_completed_total")), note, "stat-completed"),
        stat("Cancelled", show(metricSum(metrics, "orderflow_orders_cancelled_total")), note, "stat-cancelled"),
        stat("Revenue (completed)", revenue || (metricsText ? "0.00" : "\u2014"), note, "stat-revenue"),
      ];
    }
    statsBox.replaceChildren(...totals,
      stat("Dead letters", String(dead.length), h("a", { href: "#/dead-letters" }, "inspect"), "stat-dead-letters"),
      stat("Outbox lag", show(lag), "messages not yet published", "stat-outbox-lag"),
      stat("Ready", ready ? (ready.status === "ready" ? "yes" : "no") : "\u2014", "GET /health/ready", "stat-ready"));
    readiness.replaceChildren(ready && ready.checks && ready.checks.length
      ? h("table", { class: "checks" }, h("tbody", {}, ready.checks.map((c) => h("tr", { class: c.ready ? "up" : "down" },
        h("td", {}, c.name), h("td", { class: "state" }, c.ready ? "\u2714 ready" : "\u2718 down"), h("td", { class: "muted" }, c.detail || "")))))
      : h("p", { class: "muted" }, ready ? ready.status : "readiness not answered"));
  }

  // Orders per minute over the last hour, by outcome, from the analytics service.
  async function loadPerMinute() {
    const from = new Date(Date.now() - 59 * 60000).toISOString();
    const series = await Promise.all(OUTCOMES.map(({ metric }) =>
      api(`/api/v1/analytics/timeseries?metric=${metric}&bucket=1m&from=${encodeURIComponent(from)}`).catch(() => null)));
    if (series.some((s) => !s)) {
      perMinute.replaceChildren(h("p", { class: "muted" }, "No analytics service answers here."));
      return;
    }
    const start = Math.floor(Date.parse(from) / 60000);
    const counts = OUTCOMES.map(() => new Array(60).fill(0));
    series.forEach((s, k) => {
      for (const point of s.points) {
        const minute = Math.floor(Date.parse(point.start) / 60000) - start;
        if (minute >= 0 && minute < 60) counts[k][minute] += point.value;
      }
    });
    const max = Math.max(1, ...counts.flat());
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("class", "spark per-minute");
    svg.setAttribute("viewBox", "0 0 600 60");
    svg.setAttribute("preserveAspectRatio", "none");
    counts.forEach((perOutcome, k) => perOutcome.forEach((n, i) => {
      if (!n) return;
      const bar = document.createElementNS("http://www.w3.org/2000/svg", "rect");
      const height = (58 * n) / max;
      bar.setAttribute("x", String(i * 10 + 1 + 3 * k));
      bar.setAttribute("width", "3");
      bar.setAttribute("y", String(60 - height));
      bar.setAttribute("height", String(height));
      bar.setAttribute("class", OUTCOMES[k].status);
      const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
      title.textContent = `${n} ${OUTCOMES[k].label}`;
      bar.append(title);
      svg.append(bar);
    }));
    const totals = counts.map((c) => c.reduce((a, b) => a + b, 0));
    perMinute.replaceChildren(svg, h("p", { class: "legend" }, OUTCOMES.map(({ label, status }, k) =>
      h("span", { class: `key ${status}`, dataset: { outcome: status } }, `${label} ${totals[k]}`))));
  }

  function drawSpark() {
    const max = Math.max(1, ...perSecond);
    spark.replaceChildren(...perSecond.map((n, i) => {
      const bar = document.createElementNS("http://www.w3.org/2000/svg", "rect");
      const height = (58 * n) / max;
      bar.setAttribute("x", String(i * 10 + 1));
      bar.setAttribute("width", "8");
      bar.setAttribute("y", String(60 - height));
      bar.setAttribute("height", String(height));
      return bar;
    }));
  }
  function tick() {
    const now = Math.floor(Date.now() / 1000);
    while (second < now) { perSecond.shift(); perSecond.push(0); second += 1; }
  }

  const refreshCounts = throttle(3000, loadCounts);
  const refreshStats = throttle(2000, loadStats);
  const refreshFeed = throttle(1500, loadFeed);
  onLive(context, (kind, update) => {
    if (kind === "resync") { refreshFeed(); refreshCounts(); refreshStats(); return; }
    tick();
    perSecond[perSecond.length - 1] += 1;
    const before = known.get(update.order_id);
    merge(update.order_id, { status: update.status, at: update.at, placed_at: update.placed_at });
    scheduleDraw();
    if (!before || !before.email) refreshFeed();
    refreshCounts();
    if (TERMINAL.has(update.status)) refreshStats();
  });
  const timer = setInterval(() => { tick(); drawSpark(); }, 1000);
  // The analytics service counts an order a moment after its update streams by.
  const totalsTimer = setInterval(() => { refreshStats(); loadPerMinute(); }, 5000);
  const previous = context.cleanup;
  context.cleanup = () => { clearInterval(timer); clearInterval(totalsTimer); if (previous) previous(); };
  drawSpark();
  await Promise.all([loadFeed(), loadCounts(), loadStats(), loadPerMinute()]);
});

// ---- orders: search and list -----------------------------------------------------------

page(/^\/orders$/, false, async ({ params }) => {
  const q = h("input", { name: "q", id: "search-q", value: params.get("q") || "", placeholder: "order id, email or product" });
  const email = h("input", { name: "customer_email", id: "search-email", type: "email", value: params.get("customer_email") || "", placeholder: "a@b.c" });
  const status = h("select", { name: "status", id: "search-status" }, h("option", { value: "" }, "any"),
    STATUSES.map((s) => h("option", { value: s, selected: params.get("status") === s }, s)));
  const form = h("form", { class: "inline", id: "search", onsubmit: (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [key, input] of [["q", q], ["customer_email", email], ["status", status]]) if (input.value.trim()) next.set(key, input.value.trim());
    location.hash = `#/orders${next.toString() ? `?${next}` : ""}`;
  } }, h("label", {}, "Search", q), session.admin && h("label", {}, "Customer email", email), h("label", {}, "Status", status),
    h("button", { type: "submit" }, "Search"));
  const body = h("tbody", { id: "orders" });
  const more = h("button", { type: "button", class: "secondary", id: "more", hidden: true }, "More");
  view().replaceChildren(h("h1", {}, session.admin ? "Orders" : "My orders"), form,
    h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Order"), h("th", {}, "Customer"), h("th", {}, "Items"),
      h("th", { class: "num" }, "Total"), h("th", {}, "Status"), h("th", {}, "Placed"))), body), h("p", {}, more));

  const query = new URLSearchParams({ limit: "25" });
  for (const key of ["q", "customer_email", "status"]) if (params.get(key)) query.set(key, params.get(key));
  async function load(cursor) {
    if (cursor) query.set("cursor", cursor);
    const result = await api(`/api/v1/orders?${query}`);
    body.append(...result.orders.map((o) => h("tr", { dataset: { orderId: o.order_id, customer: o.customer_email } },
      h("td", {}, orderLink(o.order_id)), h("td", { class: "customer" }, o.customer_email),
      h("td", {}, o.items.map((i) => `${i.quantity} \u00d7 ${i.name}`).join(", ")),
      h("td", { class: "num" }, `${o.total} ${o.currency}`), h("td", { class: "status" }, badge(o.status)), h("td", {}, when(o.created_at)))));
    if (!body.children.length) body.append(h("tr", {}, h("td", { colspan: 6, class: "empty" }, "No orders found.")));
    more.hidden = !result.next_cursor;
    more.onclick = () => load(result.next_cursor).catch((error) => flash(error.message));
  }
  await load();
});

// ---- one order ---------------------------------------------------------------------------

page(/^\/orders\/([0-9a-fA-F-]{36})$/, false, async ({ match, context }) => {
  const id = match[1];
  const root = h("div", { id: "order", dataset: { orderId: id } });
  view().replaceChildren(root);
  let timer = null;
  const previous = context.cleanup;
  context.cleanup = () => { clearTimeout(timer); if (previous) previous(); };

  async function load() {
    const [order, events] = await Promise.all([
      api(`/api/v1/orders/${id}`),
      api(`/api/v1/orders/${id}/events`).catch(() => []),
    ]);
    if (context !== current) return;
    draw(order, events);
    clearTimeout(timer);
    // Until it ends the order changes by itself: read it again now and then (the admin is also
    // told at once by the stream).
    if (!TERMINAL.has(order.status)) timer = setTimeout(() => load().catch((e) => flash(e.message)), 2000);
  }

  function draw(order, events) {
    const byType = (type) => events.find((e) => e.type === type);
    const placed = byType("order.placed"), reserved = byType("order.inventory_reserved"), paid = byType("order.paid");
    const cancelled = byType("order.cancelled");
    // The trace the order was placed in: the gateway's request, then every hop after it.
    const traceId = ((placed || events[0] || {}).traceparent || "").split("-")[1];
    const cancel = !TERMINAL.has(order.status) && h("button", { type: "button", class: "danger", id: "cancel", onclick: async (event) => {
      event.target.disabled = true;
      try {
        const answer = await api(`/api/v1/orders/${id}/cancel`, { method: "POST" });
        flash(`Cancel requested (${answer.status}).`, true);
        await load();
      } catch (error) { flash(error.message); event.target.disabled = false; }
    } }, "Cancel order");

    let previousAt = null;
    const timeline = h("ol", { class: "timeline", id: "timeline" }, order.history.map((step) => {
      const at = Date.parse(step.at);
      const item = h("li", { class: step.status, dataset: { step: step.step } },
        h("span", { class: "step" }, step.step), " ", badge(step.status),
        h("div", {}, h("span", { class: "when" }, when(step.at)), previousAt !== null && h("span", { class: "took" }, took(at - previousAt))),
        step.detail && h("div", { class: "detail" }, step.detail));
      previousAt = at;
      return item;
    }));
    const total = Date.parse(order.updated_at) - Date.parse(order.created_at);

    root.replaceChildren(
      h("div", { class: "group-head" }, h("h1", {}, "Order ", h("span", { class: "mono" }, id), " ", h("span", { id: "order-status" }, badge(order.status))),
        h("div", { class: "actions" }, cancel)),
      h("div", { class: "cols" },
        h("div", {},
          card("Order", h("dl", { class: "facts" },
            h("dt", {}, "Customer"), h("dd", {}, order.customer_email),
            h("dt", {}, "Total"), h("dd", {}, `${order.total} ${order.currency}`),
            h("dt", {}, "Placed"), h("dd", {}, when(order.created_at)),
            h("dt", {}, "Last change"), h("dd", {}, when(order.updated_at), TERMINAL.has(order.status) && ` (${took(total).slice(1)} in all)`),
            traceId && [h("dt", {}, "Trace"), h("dd", { class: "mono", id: "trace" }, traceLink(traceId))],
            order.cancellation_reason && [h("dt", {}, "Reason"), h("dd", { id: "reason" }, order.cancellation_reason)])),
          card("Items", h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Product"), h("th", { class: "num" }, "Qty"),
            h("th", { class: "num" }, "Unit"), h("th", { class: "num" }, "Line"))),
            h("tbody", {}, order.items.map((i) => h("tr", {}, h("td", {}, `${i.name} `, h("span", { class: "muted mono" }, i.product_id)),
              h("td", { class: "num" }, i.quantity), h("td", { class: "num" }, i.unit_price), h("td", { class: "num" }, i.line_total)))))),
          card("Payment and reservation", h("dl", { class: "facts", id: "payment" },
            h("dt", {}, "Stock"), h("dd", {}, reserved ? `reserved ${when(reserved.payload.reserved_at)}` : cancelled && !paid ? "not reserved" : "waiting"),
            h("dt", {}, "Payment"), h("dd", {}, paid ? `captured ${money(paid.payload.amount_minor, order.currency)} at ${when(paid.payload.paid_at)}` : "not captured"),
            paid && [h("dt", {}, "Payment id"), h("dd", { class: "mono" }, paid.payload.payment_id)],
            placed && [h("dt", {}, "Token reference"), h("dd", { class: "mono" }, placed.payload.payment_reference)],
            cancelled && [h("dt", {}, "Compensations"), h("dd", {}, JSON.stringify(cancelled.payload.compensations))]))),
        h("div", {},
          card("Saga timeline", timeline),
          card("Events", h("table", { id: "events" }, h("thead", {}, h("tr", {}, h("th", {}, "Type"), h("th", {}, "v"), h("th", {}, "At"), h("th", {}, "Envelope"))),
            h("tbody", {}, events.map((e) => h("tr", {}, h("td", { class: "mono" }, e.type), h("td", {}, e.schema_version),
              h("td", {}, clock(e.occurred_at)),
              h("td", {}, h("details", {}, h("summary", {}, shortId(e.message_id)), h("pre", {}, JSON.stringify(e, null, 2))))))))))));
  }

  if (session.admin) onLive(context, (kind, update) => { if (kind === "resync" || update.order_id === id) load().catch(() => {}); });
  await load();
});

// ---- stock (admin) -------------------------------------------------------------------------

page(/^\/stock$/, true, async () => {
  const [levels, products] = await Promise.all([api("/api/v1/admin/stock"), api("/api/v1/products").catch(() => [])]);
  const names = Object.fromEntries(products.map((p) => [p.id, p.name]));
  const body = h("tbody", { id: "stock" });
  view().replaceChildren(h("h1", {}, "Stock"), h("table", {},
    h("thead", {}, h("tr", {}, h("th", {}, "Product"), h("th", { class: "num" }, "Available"), h("th", { class: "num" }, "Reserved"),
      h("th", { class: "num" }, "Sold"), h("th", { class: "num" }, "Initial"), h("th", { class: "num" }, "Restocked"),
      h("th", {}, "Split"), h("th", {}, "Adjust"))), body),
  h("div", { class: "legend" }, ["available", "reserved", "sold"].map((k) => h("span", {}, h("i", { class: k }), k))));

  function row(level) {
    const delta = h("input", { type: "number", class: "delta", name: "delta", step: "1", placeholder: "\u00b1 units", required: true });
    const all = Math.max(1, level.available + level.reserved + level.sold);
    const track = h("div", { class: "track" }, ["available", "reserved", "sold"].map((k) => {
      const fill = h("div", { class: `fill ${k}`, title: `${k}: ${level[k]}` });
      fill.style.width = `${(100 * level[k]) / all}%`;
      return fill;
    }));
    const tr = h("tr", { dataset: { productId: level.product_id } },
      h("td", {}, names[level.product_id] || level.product_id, " ", h("span", { class: "muted mono" }, level.product_id)),
      h("td", { class: "num available" }, level.available), h("td", { class: "num" }, level.reserved), h("td", { class: "num" }, level.sold),
      h("td", { class: "num" }, level.initial), h("td", { class: "num" }, level.restocked),
      h("td", {}, h("div", { class: "split" }, track)),
      h("td", {}, h("form", { class: "inline adjust", onsubmit: async (event) => {
        event.preventDefault();
        try {
          const updated = await api(`/api/v1/admin/products/${encodeURIComponent(level.product_id)}/stock`,
            { method: "POST", json: { delta: Number(delta.value) } });
          tr.replaceWith(row(updated));
          flash(`${level.product_id}: ${Number(delta.value) > 0 ? "+" : ""}${delta.value}, ${updated.available} available now.`, true);
        } catch (error) { flash(error.message); }
      } }, delta, h("button", { type: "submit" }, "Apply"))));
    return tr;
  }
  body.append(...levels.map(row));
});

// ---- dead letters (admin) ------------------------------------------------------------------

page(/^\/dead-letters$/, true, async ({ context }) => {
  const root = h("div", { id: "dead-letters" });
  view().replaceChildren(h("h1", {}, "Dead letters"), root);

  async function act(ids, method) {
    const failed = [];
    for (const id of ids) {
      const path = method === "replay" ? `/api/v1/admin/dead-letters/${encodeURIComponent(id)}/replay` : `/api/v1/admin/dead-letters/${encodeURIComponent(id)}`;
      try { await api(path, { method: method === "replay" ? "POST" : "DELETE" }); } catch (error) { failed.push(`${id}: ${error.message}`); }
    }
    if (failed.length) flash(failed.join("\n"));
    else flash(`${method === "replay" ? "Replayed" : "Discarded"} ${ids.length} message${ids.length === 1 ? "" : "s"}.`, true);
    await load();
  }

  async function load() {
    const letters = await api("/api/v1/admin/dead-letters");
    if (context !== current) return;
    const groups = new Map();
    for (const letter of letters) {
      const key = `${letter.queue}\u0000${letter.error}`;
      if (!groups.has(key)) groups.set(key, { queue: letter.queue, error: letter.error, letters: [] });
      groups.get(key).letters.push(letter);
    }
    if (!letters.length) { root.replaceChildren(card(null, h("p", { class: "empty", id: "no-dead-letters" }, "No dead letters: every message was handled."))); return; }
    root.replaceChildren(...[...groups.values()].map((group) => {
      const ids = group.letters.map((l) => l.id);
      return h("section", { class: "card dl-group", dataset: { queue: group.queue } },
        h("div", { class: "group-head" },
          h("div", {}, h("h2", {}, `${group.queue} queue \u00b7 ${ids.length} message${ids.length === 1 ? "" : "s"}`), h("div", { class: "error" }, group.error)),
          h("div", { class: "actions" },
            h("button", { type: "button", class: "replay-group", onclick: () => act(ids, "replay") }, "Replay all"),
            h("button", { type: "button", class: "danger discard-group", onclick: () => confirm(`Discard ${ids.length} message(s) for good?`) && act(ids, "discard") }, "Discard all"))),
        h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Type"), h("th", {}, "Order"), h("th", { class: "num" }, "Attempts"),
          h("th", {}, "Parked"), h("th", {}, "Envelope"), h("th", {}, ""))),
        h("tbody", {}, group.letters.map((l) => h("tr", { dataset: { deadLetterId: l.id, correlationId: l.envelope.correlation_id || "" } },
          h("td", { class: "mono" }, l.envelope.type), h("td", {}, l.envelope.correlation_id ? orderLink(l.envelope.correlation_id) : "\u2014"),
          h("td", { class: "num" }, l.attempts), h("td", {}, when(l.dead_lettered_at)),
          h("td", {}, h("details", { class: "inspect" }, h("summary", {}, "inspect"), h("pre", {}, JSON.stringify(l.envelope, null, 2)))),
          h("td", {}, h("div", { class: "actions" },
            h("button", { type: "button", class: "secondary replay", onclick: () => act([l.id], "replay") }, "Replay"),
            h("button", { type: "button", class: "danger discard", onclick: () => confirm("Discard this message for good?") && act([l.id], "discard") }, "Discard"))))))));
    }));
  }
  // A message is parked without any order changing: look again now and then, as well as on
  // every update (an open envelope stays open only until the next look).
  const refresh = throttle(2000, async () => { if (!root.querySelector("details[open]")) await load(); });
  onLive(context, () => refresh());
  const timer = setInterval(refresh, 3000);
  const previous = context.cleanup;
  context.cleanup = () => { clearInterval(timer); if (previous) previous(); };
  await load();
});

// ---- mailbox (admin) -----------------------------------------------------------------------

page(/^\/mailbox$/, true, async () => {
  const sent = await api("/api/v1/admin/notifications?limit=200");
  view().replaceChildren(h("h1", {}, "Mailbox"), h("p", { class: "muted" }, "The notifications sent to customers, newest first."),
    h("table", { id: "mailbox" }, h("thead", {}, h("tr", {}, h("th", {}, "Sent"), h("th", {}, "To"), h("th", {}, "Subject"), h("th", {}, "Order"))),
      h("tbody", {}, sent.length ? sent.map((n) => h("tr", { dataset: { orderId: n.order_id } },
        h("td", {}, when(n.sent_at)), h("td", {}, n.recipient),
        h("td", {}, h("details", {}, h("summary", {}, n.subject), h("pre", {}, n.body))),
        h("td", {}, orderLink(n.order_id)))) : h("tr", {}, h("td", { colspan: 4, class: "empty" }, "Nothing sent yet.")))));
});

// ---- start -----------------------------------------------------------------------------

window.addEventListener("hashchange", route);
document.addEventListener("DOMContentLoaded", () => {
  $("#sign-out").addEventListener("click", () => signOut());
  live.setState("off");
  if (session.admin) live.start();
  route();
});
