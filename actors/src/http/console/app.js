// Switchboard operator console: plain JavaScript, no dependencies. Reads the admin API with
// the token kept in sessionStorage (or none, for a switch without one, from loopback) and
// draws the charts as inline SVG. Every value from the API is put in the page as text, never
// as markup (contacts and names come from the network). Subscribers' numbers and names are
// shown with their middle masked, as the switch's logs show them; the API has them in full.
"use strict";

(function () {
  const TOKEN_KEY = "switchboard.token";
  const REFRESH_MS = 5000;
  const SVG = "http://www.w3.org/2000/svg";
  const errors = [];

  // uncaught errors are counted in the page too, so a test (or an operator) sees them
  window.addEventListener("error", (e) => noteError(e.message));
  window.addEventListener("unhandledrejection", (e) => noteError(String(e.reason)));
  function noteError(msg) {
    errors.push(msg);
    document.body.dataset.errors = String(errors.length);
  }

  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : String(c));
    }
    return e;
  }

  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // ---- token and API ----

  function token() {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  }

  // a token given in the URL fragment (#token=...) is taken and removed from the address bar
  function tokenFromFragment() {
    const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
    if (m) {
      sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
      history.replaceState(null, "", location.pathname + location.search);
    }
  }

  class AuthError extends Error {}

  async function api(path) {
    const headers = { Accept: "application/json" };
    const t = token();
    if (t) headers.Authorization = "Bearer " + t;
    const r = await fetch(path, { headers, cache: "no-store" });
    if (r.status === 401 || r.status === 403) {
      throw new AuthError(r.status === 403 ? "this address may not use the admin API without a token" : "admin token required");
    }
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(body.message || "HTTP " + r.status);
    return body;
  }

  function banner(msg) {
    const b = $("banner");
    b.hidden = !msg;
    b.textContent = msg || "";
  }

  function showLogin(msg) {
    $("main").hidden = true;
    $("signout").hidden = true;
    $("login").hidden = false;
    banner(msg);
    $("token").focus();
  }

  // ---- formatting ----

  const nf = new Intl.NumberFormat("en-US");
  const n = (x) => nf.format(x);
  const pct = (x) => (x === null || x === undefined ? "–" : (x * 100).toFixed(1) + " %");
  function dur(secs) {
    if (secs === null || secs === undefined) return "–";
    const s = Math.round(secs);
    return s >= 60 ? Math.floor(s / 60) + "m " + String(s % 60).padStart(2, "0") + "s" : s + "s";
  }
  function money(list) {
    if (!list || list.length === 0) return "–";
    return list
      .filter((m) => m.amount_minor !== 0)
      .map((m) => (m.amount_minor / 100).toFixed(2) + " " + m.currency)
      .join(", ") || "–";
  }
  function ago(ms) {
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    return dur(s);
  }
  const day = (d) => d.toISOString().slice(0, 10);

  // a number or name with its middle masked, the rule of the switch's log redaction
  // (engine numbering::Redacted): a `+` number keeps its first four digits and last two
  // (`+8211*****67`), anything else its first two and last two; four characters or fewer
  // are masked whole
  function mask(s) {
    if (!s) return "–";
    const c = Array.from(s);
    const len = c.length;
    if (len <= 4) return "*".repeat(len);
    const head = c[0] === "+" ? Math.min(5, Math.floor(len / 2)) : 2;
    return c.slice(0, head).join("") + "*".repeat(len - head - 2) + c.slice(len - 2).join("");
  }

  // a contact URI with its user part masked (`sip:+8211*****67@192.0.2.7:5060`)
  function maskUri(u) {
    const m = /^(<?sips?:)([^@]+)(@.*)$/i.exec(u) || /^(<?tel:)([^;>]+)(.*)$/i.exec(u);
    return m ? m[1] + mask(m[2]) + m[3] : u;
  }

  // ---- charts ----

  // a "nice" step: 1, 2 or 5 times a power of ten, at least v
  function niceStep(v) {
    if (v <= 0) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  // an axis for values up to v: about four ticks of a nice step (whole numbers when `whole`)
  function axis(v, whole) {
    let step = niceStep(v / 4);
    if (whole) step = Math.max(1, Math.round(step));
    const ticks = Math.max(1, Math.ceil(v / step));
    return { step, ticks, max: step * ticks };
  }

  function niceMax(v) {
    return axis(v, false).max;
  }

  function tickLabel(v, step) {
    return step < 1 ? v.toFixed(step < 0.1 ? 2 : 1) : n(Math.round(v));
  }

  function emptyState(box, text) {
    box.replaceChildren(el("div", { class: "empty" }, text));
  }

  // vertical bars, one per item: {label, value, inner?} (inner drawn darker inside the bar)
  function columns(box, items, fmt, opts) {
    if (items.length === 0) return emptyState(box, opts.empty);
    const W = Math.max(320, box.clientWidth || 600), H = 180;
    const left = 46, right = 8, top = 8, bottom = 22;
    const ax = axis(Math.max(...items.map((i) => i.value)), opts.whole);
    const max = ax.max;
    const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": opts.title, "data-bars": items.length });
    const plotW = W - left - right, plotH = H - top - bottom;
    for (let k = 0; k <= ax.ticks; k++) {
      const y = top + plotH - (plotH * k) / ax.ticks;
      s.append(svg("line", { class: "axis", x1: left, x2: W - right, y1: y, y2: y }));
      const label = opts.tick ? opts.tick(ax.step * k) : tickLabel(ax.step * k, ax.step);
      s.append(svg("text", { x: left - 4, y: y + 3, "text-anchor": "end" }, label));
    }
    const step = plotW / items.length;
    const bw = Math.max(1, Math.min(40, step * 0.75));
    const every = Math.ceil(items.length / Math.max(1, Math.floor(plotW / 60)));
    items.forEach((it, i) => {
      const x = left + i * step + (step - bw) / 2;
      const h = (plotH * it.value) / max;
      const bar = svg("rect", { class: "bar", x, y: top + plotH - h, width: bw, height: h, "data-label": it.label });
      bar.append(svg("title", {}, `${it.label}: ${fmt(it.value)}` + (it.inner !== undefined ? ` (${fmt(it.inner)} answered)` : "")));
      s.append(bar);
      if (it.inner !== undefined) {
        const hi = (plotH * it.inner) / max;
        s.append(svg("rect", { class: "bar-in", x, y: top + plotH - hi, width: bw, height: hi }));
      }
      if (i % every === 0) {
        s.append(svg("text", { x: x + bw / 2, y: H - 6, "text-anchor": "middle" }, it.label.slice(5)));
      }
    });
    box.replaceChildren(s);
  }

  // horizontal bars of ASR and ACD per key (countries, trunks), the top `limit` by calls
  function asrAcd(box, rows, name, limit) {
    rows = rows.slice(0, limit);
    if (rows.length === 0) return emptyState(box, "No calls in this range");
    const W = Math.max(280, box.clientWidth || 400), rowH = 18, head = 16;
    const H = head + rows.length * rowH + 4;
    const labelW = 90, gap = 12, half = (W - labelW - gap) / 2;
    const maxAcd = niceMax(Math.max(1, ...rows.map((r) => r.acd_secs || 0)));
    const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "ASR and ACD", "data-bars": rows.length });
    s.append(svg("text", { x: labelW, y: 11 }, "ASR"));
    s.append(svg("text", { x: labelW + half + gap, y: 11 }, "ACD (max " + dur(maxAcd) + ")"));
    rows.forEach((r, i) => {
      const y = head + i * rowH;
      s.append(svg("text", { class: "label", x: labelW - 6, y: y + 12, "text-anchor": "end" }, name(r)));
      const a = (half - 40) * (r.asr || 0);
      const ra = svg("rect", { class: "hbar", x: labelW, y: y + 3, width: Math.max(0.5, a), height: rowH - 6 });
      ra.append(svg("title", {}, `${name(r)}: ASR ${pct(r.asr)}`));
      s.append(ra);
      s.append(svg("text", { x: labelW + a + 4, y: y + 12 }, pct(r.asr)));
      const x2 = labelW + half + gap;
      const c = ((half - 40) * (r.acd_secs || 0)) / maxAcd;
      const rc = svg("rect", { class: "hbar2", x: x2, y: y + 3, width: Math.max(0.5, c), height: rowH - 6 });
      rc.append(svg("title", {}, `${name(r)}: ACD ${dur(r.acd_secs)}`));
      s.append(rc);
      s.append(svg("text", { x: x2 + c + 4, y: y + 12 }, dur(r.acd_secs)));
    });
    box.replaceChildren(s);
  }

  // ---- tables ----

  // columns: [header, value(row), kind?]: `true` for a number (right-aligned), "wrap" for
  // a long value that may break (an address)
  function table(box, rows, cols, empty) {
    if (rows.length === 0) return emptyState(box, empty);
    const cls = (kind) => (kind === true ? { class: "num" } : kind ? { class: kind } : {});
    const head = el("tr", {}, ...cols.map(([h, , kind]) => el("th", cls(kind), h)));
    const body = rows.map((r) =>
      el("tr", {}, ...cols.map(([, f, kind]) => el("td", cls(kind), f(r))))
    );
    box.replaceChildren(el("table", {}, el("thead", {}, head), el("tbody", {}, ...body)));
  }

  const trafficCols = (keyName, key) => [
    [keyName, key],
    ["Calls", (r) => n(r.calls), true],
    ["Answered", (r) => n(r.answered), true],
    ["ASR", (r) => pct(r.asr), true],
    ["ACD", (r) => dur(r.acd_secs), true],
    ["Minutes", (r) => n(Math.round(r.minutes)), true],
    ["Revenue", (r) => money(r.revenue), true],
  ];

  // ---- sections ----

  function rangeQuery() {
    return `from=${encodeURIComponent($("from").value)}&to=${encodeURIComponent($("to").value)}`;
  }

  async function loadTraffic() {
    const q = rangeQuery();
    const [days, countries, trunks] = await Promise.all([
      api("/v1/analytics/days?" + q),
      api("/v1/analytics/countries?" + q),
      api("/v1/analytics/trunks?" + q),
    ]);
    const rows = days.rows;
    const total = rows.reduce(
      (t, r) => {
        t.calls += r.calls;
        t.answered += r.answered;
        t.talked += r.talked_secs;
        for (const m of r.revenue) t.revenue[m.currency] = (t.revenue[m.currency] || 0) + m.amount_minor;
        return t;
      },
      { calls: 0, answered: 0, talked: 0, revenue: {} }
    );
    const revenue = Object.entries(total.revenue).sort((a, b) => b[1] - a[1]);
    const kpis = [
      ["Calls", n(total.calls)],
      ["Answered", n(total.answered)],
      ["ASR", total.calls ? pct(total.answered / total.calls) : "–"],
      ["ACD", total.answered ? dur(total.talked / total.answered) : "–"],
      ["Minutes", n(Math.round(total.talked / 60))],
      ["Revenue", revenue.length ? revenue.map(([c, a]) => (a / 100).toFixed(2) + " " + c).join(" · ") : "–"],
    ];
    $("kpis").replaceChildren(...kpis.map(([k, v]) => el("div", { class: "kpi" }, el("b", {}, v), el("span", {}, k))));

    const empty = { empty: "No calls in this range" };
    columns($("chart-calls"), rows.map((r) => ({ label: r.day, value: r.calls, inner: r.answered })), n, { ...empty, whole: true, title: "calls per day" });
    columns($("chart-minutes"), rows.map((r) => ({ label: r.day, value: r.minutes })), (v) => v.toFixed(1), { ...empty, title: "minutes per day" });
    const asrTick = (v) => Math.round(v * 100) + "%";
    columns($("chart-asr"), rows.map((r) => ({ label: r.day, value: r.asr || 0 })), asrTick, { ...empty, tick: asrTick, title: "ASR per day" });
    const cur = revenue.length ? revenue[0][0] : null;
    $("revenue-currency").textContent = cur ? "in " + cur + (revenue.length > 1 ? " (the largest of " + revenue.length + " currencies)" : "") : "";
    const amount = (r) => (r.revenue.find((m) => m.currency === cur) || { amount_minor: 0 }).amount_minor / 100;
    columns($("chart-revenue"), cur ? rows.map((r) => ({ label: r.day, value: amount(r) })) : [], (v) => v.toFixed(2) + " " + cur, { empty: "No charged calls in this range", title: "revenue per day" });

    const country = (r) => r.country || "unknown";
    const trunk = (r) => r.trunk || "on-net";
    asrAcd($("chart-countries"), countries.rows, country, 12);
    table($("table-countries"), countries.rows, trafficCols("Country", country), "No calls in this range");
    asrAcd($("chart-trunks"), trunks.rows, trunk, 12);
    table($("table-trunks"), trunks.rows, trafficCols("Trunk", trunk), "No calls in this range");
  }

  async function loadLive() {
    const [calls, regs, bans] = await Promise.all([
      api("/v1/calls"),
      api("/v1/registrations"),
      api("/v1/bans"),
    ]);
    const leg = (c, side) => {
      const l = (c.legs || []).find((x) => x.side === side);
      return mask(l && l.number);
    };
    $("calls-count").textContent = calls.calls.length ? "(" + calls.calls.length + ")" : "";
    table($("table-calls"), calls.calls, [
      ["Caller", (c) => leg(c, "caller")],
      ["Callee", (c) => leg(c, "callee")],
      ["State", (c) => el("span", { class: "pill " + c.state }, c.state)],
      ["Started", (c) => ago(c.started_unix_ms) + " ago", true],
      ["Talking", (c) => (c.answered_unix_ms ? ago(c.answered_unix_ms) : "–"), true],
      ["Media", (c) => c.media + (c.reason ? " (" + c.reason + ")" : "")],
      ["Codecs", (c) => (c.legs || []).some((l) => l.codec) ? c.legs.map((l) => l.codec || "?").join(" / ") : "–"],
    ], "No live calls");

    const list = regs.registrations;
    $("registrations-count").textContent = list.length ? "(" + list.length + (regs.truncated ? "+" : "") + ")" : "";
    table($("table-registrations"), list, [
      ["Number", (r) => mask(r.number)],
      ["Contact", (r) => maskUri(r.contact), "wrap"],
      ["Transport", (r) => r.transport],
      ["Source", (r) => r.source],
      ["NAT", (r) => (r.nat ? el("span", { class: "pill nat" }, "nat") : "")],
      ["Expires", (r) => dur(r.expires_in), true],
    ], "No registered devices");

    $("bans-count").textContent = bans.bans.length ? "(" + bans.bans.length + ")" : "";
    table($("table-bans"), bans.bans, [
      ["Address", (b) => b.ip],
      ["Reason", (b) => b.reason],
      // a ban made at once (a scanner) has no counting window
      ["Count", (b) => n(b.count) + (b.window_secs ? " in " + dur(b.window_secs) : ""), true],
      ["Remaining", (b) => dur(b.remaining_secs), true],
    ], "No bans");
    $("updated").textContent = "Updated " + new Date().toLocaleTimeString() + ".";
  }

  // runs a load; an auth failure sends to the sign-in form, another shows in the banner
  async function guarded(load) {
    try {
      await load();
      return true;
    } catch (e) {
      if (e instanceof AuthError) showLogin(token() ? "The token was refused: " + e.message : "");
      else banner("Could not load: " + e.message);
      return false;
    }
  }

  let timer = null;
  async function start() {
    $("login").hidden = true;
    $("main").hidden = false;
    $("signout").hidden = !token();
    banner("");
    const ok = (await guarded(loadTraffic)) && (await guarded(loadLive));
    document.body.dataset.ready = ok ? "1" : "0";
    if (ok && timer === null) {
      timer = setInterval(() => guarded(loadLive), REFRESH_MS);
    }
  }

  function init() {
    tokenFromFragment();
    const today = new Date();
    $("to").value = day(today);
    $("from").value = day(new Date(today.getTime() - 29 * 86400000));
    $("range").addEventListener("submit", (e) => {
      e.preventDefault();
      guarded(loadTraffic);
    });
    $("login").addEventListener("submit", (e) => {
      e.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
      $("token").value = "";
      start();
    });
    $("signout").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      if (timer !== null) clearInterval(timer);
      timer = null;
      showLogin("");
    });
    let resize = null;
    window.addEventListener("resize", () => {
      clearTimeout(resize);
      resize = setTimeout(() => guarded(loadTraffic), 200);
    });
    document.body.dataset.errors = "0";
    start();
  }

  init();
})();
