/* floorwatch pages: shared helpers (no framework, no build step).
 *
 * FW.config   the page's configuration (embedded JSON, see kiosk_ui/pages.py)
 * FW.t        translation by key from the embedded catalog, "{name}" placeholders
 * FW.url/api  same-origin calls that carry the page's ?token= (and its CSRF token on changes)
 * FW.now      the hub's clock (pings carry it), FW.fmtTime/fmtDate in the site's time zone
 * FW.live     the Server-Sent-Events stream with reconnect, a watchdog and de-duplication
 */
"use strict";
(function () {
  const FW = (window.FW = {});
  const json = (id) => JSON.parse(document.getElementById(id).textContent);
  FW.config = json("fw-config");
  const catalog = json("fw-i18n");

  FW.t = function (key, params) {
    let text = Object.prototype.hasOwnProperty.call(catalog, key) ? catalog[key] : key;
    if (params) {
      text = text.replace(/\{(\w+)\}/g, (m, k) => (params[k] === undefined || params[k] === null ? m : String(params[k])));
    }
    return text;
  };

  FW.url = function (path, params) {
    const u = new URL(path, window.location.origin);
    for (const [k, v] of Object.entries(params || {})) {
      if (v !== undefined && v !== null && v !== "") u.searchParams.set(k, v);
    }
    if (FW.config.token) u.searchParams.set("token", FW.config.token);
    return u.pathname + u.search;
  };

  /* The page's CSRF token (<meta name="csrf-token">, a signed-in browser session's pages only). */
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  FW.csrfToken = csrfMeta ? csrfMeta.getAttribute("content") : null;
  const SAFE = ["GET", "HEAD", "OPTIONS"];

  /* fetch JSON; resolves to {ok, status, data} and never throws (a network error is status 0).
   * A body is sent as JSON, or as multipart when it is a FormData (a file upload).
   * A state change sends the page's CSRF token in X-CSRFToken (kiosk_ui/csrf.py checks it). */
  FW.api = async function (path, opts) {
    opts = opts || {};
    const init = { method: (opts.method || "GET").toUpperCase(), credentials: "same-origin", headers: {} };
    if (FW.csrfToken && SAFE.indexOf(init.method) < 0) init.headers["X-CSRFToken"] = FW.csrfToken;
    if (opts.body instanceof FormData) {
      init.body = opts.body;  // the browser sets the multipart Content-Type with its boundary
    } else if (opts.body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(opts.body);
    }
    try {
      const resp = await fetch(FW.url(path, opts.params), init);
      let data = null;
      const text = await resp.text();
      try { data = text ? JSON.parse(text) : null; } catch (e) { data = { error: text.slice(0, 200) }; }
      return { ok: resp.ok, status: resp.status, data };
    } catch (e) {
      return { ok: false, status: 0, data: { error: String(e) } };
    }
  };

  /* Hub time: the offset between the hub's clock and this browser's, from hello/ping. */
  let offset = (FW.config.now || Date.now()) - Date.now();
  FW.now = () => Date.now() + offset;
  FW.syncClock = (hubNow) => { if (typeof hubNow === "number") offset = hubNow - Date.now(); };

  const locale = FW.config.lang === "en" ? "en-GB" : "zh-CN";
  const tz = FW.config.site.tz;
  const fmts = {
    hm: new Intl.DateTimeFormat(locale, { timeZone: tz, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }),
    hms: new Intl.DateTimeFormat(locale, { timeZone: tz, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" }),
    date: new Intl.DateTimeFormat(locale, { timeZone: tz, year: "numeric", month: "long", day: "numeric", weekday: "long" }),
    dhm: new Intl.DateTimeFormat(locale, { timeZone: tz, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }),
  };
  FW.fmtTime = (ms, seconds) => (typeof ms === "number" ? (seconds ? fmts.hms : fmts.hm).format(new Date(ms)) : "");
  FW.fmtDate = (ms) => fmts.date.format(new Date(ms));
  FW.fmtDayTime = (ms) => (typeof ms === "number" ? fmts.dhm.format(new Date(ms)) : "");
  /* A shift/time field that may be "08:30" or UTC ms. */
  FW.fmtClock = (v) => (typeof v === "number" ? FW.fmtTime(v) : v || "");

  FW.el = function (tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    return FW.append(e, ...children);
  };

  /* Element.append without the surprises: the DOM writes a null child as the text "null"
   * (and undefined as "undefined"), so absent parts (no seat, no time) are skipped. */
  FW.append = function (parent, ...children) {
    for (const c of children) if (c !== null && c !== undefined && c !== false) parent.append(c);
    return parent;
  };

  /* An agent field that may be an employee number or {employee_no, name, team}. */
  FW.agentLabel = function (agent, names) {
    if (!agent) return "";
    if (typeof agent === "string") return names && names[agent] ? `${names[agent]} (${agent})` : agent;
    return agent.name ? `${agent.name} (${agent.employee_no})` : agent.employee_no || "";
  };

  /* The live stream. opts: channels [..], device, snapshot, onUpdate(channel, data, id),
   * onSnapshot() after the latest states, onLink(state) with state {link: bool, mqtt: bool}. Reconnects on error and when nothing
   * (not even a ping) arrived for three keepalive periods. State channels are de-duplicated by
   * update id, so a snapshot and the stream can overlap. */
  FW.live = function (opts) {
    const STATE_KEYS = { seat: "seat", zone: "zone", equipment: "tag", device: "device" };
    const lastId = new Map();
    const keepaliveMs = (FW.config.keepaliveS || 5) * 1000;
    let es = null;
    let lastHeard = 0;
    let reconnectTimer = null;
    const link = { link: false, mqtt: true };
    const setLink = (patch) => {
      Object.assign(link, patch);
      document.body.dataset.live = link.link ? "open" : "closed";
      if (opts.onLink) opts.onLink({ ...link });
    };
    const params = { channels: opts.channels.join(","), device: opts.device, snapshot: opts.snapshot ? "1" : null };

    function deliver(channel, ev) {
      lastHeard = Date.now();
      let data;
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      const keyField = STATE_KEYS[channel];
      if (keyField && ev.lastEventId && data && data[keyField] !== undefined) {
        const key = channel + "/" + data[keyField];
        const id = Number(ev.lastEventId);
        if (lastId.has(key) && lastId.get(key) >= id) return;
        lastId.set(key, id);
      }
      try { opts.onUpdate(channel, data, ev.lastEventId); } catch (e) { console.error(e); }
    }

    function connect() {
      reconnectTimer = null;
      if (es) es.close();
      es = new EventSource(FW.url("/live/stream", params));
      lastHeard = Date.now();
      es.addEventListener("open", () => { lastHeard = Date.now(); });
      const onHello = (ev) => {
        lastHeard = Date.now();
        try {
          const d = JSON.parse(ev.data);
          FW.syncClock(d.now);
          setLink({ link: true, mqtt: d.mqtt !== false });
        } catch (e) { /* ignore a malformed ping */ }
      };
      es.addEventListener("hello", onHello);
      es.addEventListener("ping", onHello);
      es.addEventListener("snapshot", () => { lastHeard = Date.now(); if (opts.onSnapshot) opts.onSnapshot(); });
      for (const ch of opts.channels) es.addEventListener(ch, (ev) => deliver(ch, ev));
      es.onerror = () => {
        setLink({ link: false });
        if (es.readyState === EventSource.CLOSED) schedule();
      };
    }
    function schedule() {
      if (!reconnectTimer) reconnectTimer = setTimeout(connect, 2000);
    }
    setInterval(() => {
      if (es && Date.now() - lastHeard > keepaliveMs * 3 + 2000) {
        setLink({ link: false });
        es.close();
        schedule();
      }
    }, 1000);
    if (FW.config.live) connect();
    else setLink({ link: false });
    return { reconnect: connect, state: () => ({ ...link }) };
  };
})();
