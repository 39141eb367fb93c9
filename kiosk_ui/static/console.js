/* The leads' console: roll-call board, violations, lead actions, devices, equipment. */
"use strict";
(function () {
  const cfg = FW.config;
  const $ = (id) => document.getElementById(id);
  const agents = new Map(cfg.agents.map((a) => [a.employee_no, a]));
  const agentName = (no) => (agents.get(no) || {}).name || no || "";
  const shiftKey = `${cfg.date}/${cfg.shift.id}`;
  const context = { date: cfg.date, shift: cfg.shift.id };

  $("board-shift").textContent = `${cfg.date} ${cfg.shift.name} ${cfg.shift.start}–${cfg.shift.end}`;
  setInterval(() => { $("hub-time").textContent = FW.fmtTime(FW.now(), true); }, 500);

  for (const a of cfg.agents) $("agents-list").append(FW.el("option", { value: a.employee_no, text: `${a.name} · ${a.team}` }));
  for (const s of cfg.seats) $("seats-list").append(FW.el("option", { value: s }));

  // ------------------------------------------------------------------ roll-call board
  const board = new Map(cfg.board.map((r) => [r.employee_no, { ...r }]));
  const STATUS_TONE = { on_time: "ok", roll_call_late: "warn", late: "bad", absent: "bad", pending: "muted", leave: "info" };

  function applyRollcall(row) {
    if (!row || !row.employee_no) return;
    const prev = board.get(row.employee_no) || { employee_no: row.employee_no, name: row.name || agentName(row.employee_no), seat: null };
    const status = row.status || row.rollcall || prev.status || "pending";
    const arrival = row.arrival !== undefined ? row.arrival : row.first_arrival !== undefined ? row.first_arrival : prev.arrival;
    board.set(row.employee_no, {
      ...prev,
      name: row.name || prev.name,
      team: row.team || prev.team,
      seat: row.seat || row.rostered_seat || prev.seat,
      status: row.leave && status === "pending" ? "leave" : status,
      arrival,
      minutes: row.arrival_minutes_before !== undefined ? row.arrival_minutes_before : prev.minutes,
    });
  }

  function renderBoard() {
    const el = $("board");
    el.replaceChildren();
    for (const st of cfg.statuses) {
      const rows = [...board.values()].filter((r) => (r.status || "pending") === st)
        .sort((a, b) => (a.arrival || 0) - (b.arrival || 0) || String(a.seat).localeCompare(String(b.seat)));
      const col = FW.el("div", { class: `board-col tone-${STATUS_TONE[st]}`, "data-status": st },
        FW.el("h3", {}, FW.el("span", { text: FW.t(`rollcall.${st}`) }), " ", FW.el("b", { class: "count", text: rows.length })));
      const list = FW.el("ul");
      for (const r of rows) {
        list.append(FW.el("li", { "data-employee": r.employee_no, title: r.team || "" },
          FW.el("b", { text: r.name || r.employee_no }), " ",
          FW.el("span", { class: "muted", text: r.employee_no }), " ",
          FW.el("span", { class: "seat", text: r.seat || "" }), " ",
          r.arrival ? FW.el("time", { text: FW.fmtTime(r.arrival) }) : null));
      }
      col.append(list);
      el.append(col);
    }
  }

  async function loadBoard() {
    const r = await FW.api("/api/rollcall", { params: context });
    if (r.ok && r.data) {
      const rows = Array.isArray(r.data) ? r.data : r.data.rows || r.data.rollcall || [];
      rows.forEach(applyRollcall);
      $("board-source").textContent = "";
    } else {
      $("board-source").textContent = FW.t("console.engine_unavailable", { status: r.status });
    }
    renderBoard();
  }

  // ------------------------------------------------------------------ violations
  const violations = new Map();
  const openEvidence = new Set();  // violation ids whose evidence a lead has open
  const dialog = $("excuse-dialog");
  let excusing = null;

  function violationItem(v) {
    const li = FW.el("li", { "data-id": v.id, "data-rule": v.rule || "", class: v.excused ? "excused" : "" });
    const who = v.agent ? `${agentName(v.agent)} (${v.agent})` : "";
    // Where: the seat; for a zone's violation (FAC-ZONE-EMPTY) the zone, for a device's the device.
    const where = v.seat ? FW.el("span", { class: "seat", text: v.seat })
      : v.zone ? FW.el("span", { class: "zone", text: (cfg.zones || {})[v.zone] || v.zone })
        : v.device ? FW.el("span", { class: "device", text: v.device }) : null;
    FW.append(li,
      FW.el("time", { text: FW.fmtTime(v.start) }), " ",
      FW.el("b", { class: "rule", text: v.rule || "" }), " ",
      FW.el("span", { class: "kind", text: FW.t(`kind.${v.kind}`) !== `kind.${v.kind}` ? FW.t(`kind.${v.kind}`) : v.kind || "" }), " ",
      who ? FW.el("span", { class: "who", text: who }) : null, who ? " " : null,
      where);
    if (v.excused) li.append(" ", FW.el("em", { class: "excuse", text: FW.t("console.excused", { reason: v.excuse_reason || "" }) }));
    const tools = FW.el("span", { class: "tools" });
    const evidence = Array.isArray(v.evidence) ? v.evidence : [];
    const evList = FW.el("ol", { class: "evidence", hidden: true });
    if (evidence.length) {
      tools.append(FW.el("button", { type: "button", class: "ev-btn", text: FW.t("console.evidence", { n: evidence.length }), onclick: () => toggleEvidence(evList, evidence, v) }));
      if (openEvidence.has(v.id)) showEvidence(evList, evidence, v);  // a live update keeps what the lead opened
    }
    if (!v.excused) {
      tools.append(FW.el("button", { type: "button", class: "excuse-btn", text: FW.t("action.excuse"), onclick: () => openExcuse(v) }));
    }
    li.append(" ", tools, evList);
    return li;
  }

  async function toggleEvidence(list, ids, v) {
    if (!list.hidden) { list.hidden = true; openEvidence.delete(v.id); return; }
    openEvidence.add(v.id);
    await showEvidence(list, ids, v);
  }
  async function showEvidence(list, ids, v) {
    list.hidden = false;
    list.replaceChildren(FW.el("li", { class: "muted", text: FW.t("floor.loading") }));
    const params = { ids: ids.join(",") };
    if (typeof v.start === "number") params.near = `${v.start},${typeof v.end === "number" ? v.end : v.start}`;  // where to look first
    const r = await FW.api("/console/evidence", { params });
    if (!r.ok) { list.replaceChildren(FW.el("li", { class: "error", text: FW.t("common.load_failed", { status: r.status }) })); return; }
    list.replaceChildren(...r.data.map((e) => FW.el("li", { "data-event": e.event_id },
      FW.el("time", { text: FW.fmtTime(e.ts, true) }), " ", FW.el("b", { text: FW.t(`event.${e.type}`) }), " ",
      FW.el("span", { text: `${e.device} ${e.body.uid || ""}${e.type === "occupancy" ? FW.t(e.body.occupied ? "event.occupied" : "event.vacant") : ""}${e.body.button ? FW.t(`button.${e.body.button}`) : ""}` }))));
    if (!r.data.length) list.replaceChildren(FW.el("li", { class: "muted", text: FW.t("console.evidence_missing") }));
  }

  function renderViolations() {
    const rows = [...violations.values()].sort((a, b) => (b.start || 0) - (a.start || 0)).slice(0, 300);
    $("violations").replaceChildren(...rows.map(violationItem));
    if (!rows.length) $("violations").append(FW.el("li", { class: "none", text: FW.t("console.no_violations") }));
    $("viol-count").textContent = [...violations.values()].filter((v) => !v.excused).length;
  }
  function inShift(v) {
    if (v.shift) return v.shift === shiftKey || v.shift === cfg.shift.id;
    return typeof v.start === "number" && v.start >= cfg.shift.startMs - 2 * 3600e3 && v.start <= cfg.shift.endMs;
  }
  async function loadViolations() {
    const r = await FW.api("/api/violations", { params: { from: cfg.date, to: cfg.date } });
    if (r.ok && r.data) {
      const rows = Array.isArray(r.data) ? r.data : r.data.violations || [];
      for (const v of rows) if (v && v.id && inShift(v)) violations.set(v.id, v);
      $("viol-source").textContent = "";
    } else {
      $("viol-source").textContent = FW.t("console.engine_unavailable", { status: r.status });
    }
    renderViolations();
  }

  function openExcuse(v) {
    excusing = v;
    $("excuse-what").textContent = `${v.rule || ""} ${agentName(v.agent)}`;
    const form = $("excuse-form");
    form.reset();
    form.querySelector("output").textContent = "";
    if (dialog.showModal) dialog.showModal(); else dialog.setAttribute("open", "");
  }
  $("excuse-cancel").addEventListener("click", () => dialog.close());
  $("excuse-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = ev.target;
    const reason = form.reason.value.trim();
    if (!excusing || !reason) return;
    const r = await FW.api(`/api/violations/${encodeURIComponent(excusing.id)}/excuse`, { method: "POST", body: { reason } });
    if (r.ok) {
      const updated = r.data && r.data.id ? r.data : { ...excusing, excused: true, excuse_reason: reason };
      violations.set(updated.id, updated);
      renderViolations();
      dialog.close();
      loadBoard();
    } else {
      form.querySelector("output").textContent = failure(r);
    }
  });

  // ------------------------------------------------------------------ lead actions
  function failure(r) {
    const d = r.data || {};
    const why = [d.error, d.parameter || d.field, d.reason].filter(Boolean).join(": ");
    return FW.t("action.failed", { status: r.status || FW.t("common.network"), reason: why });
  }
  for (const form of document.querySelectorAll("form.action")) {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const out = form.querySelector("output");
      const body = { ...context };
      for (const [k, v] of new FormData(form)) body[k] = String(v).trim();
      form.classList.add("busy");
      const r = await FW.api(`/api/lead/${form.dataset.action}`, { method: "POST", body });
      form.classList.remove("busy");
      out.className = `result ${r.ok ? "ok" : "bad"}`;
      out.textContent = r.ok ? FW.t("action.done") : failure(r);
      if (r.ok) {
        form.reset();
        loadBoard();
        loadViolations();
      }
    });
  }

  // ------------------------------------------------------------------ enrolment by tapping
  // a kiosk's or seat's reader binds the next card tapped there to the agent (hub.enrolment)
  const enrolList = $("enrol-devices");
  for (const [id, info] of Object.entries(cfg.deviceInfo)) {
    if (info.role === "kiosk" || info.role === "seat") enrolList.append(FW.el("option", { value: id }));
  }
  const enrolForm = $("enrol-form");
  enrolForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const out = enrolForm.querySelector("output");
    const f = new FormData(enrolForm);
    const body = { device: String(f.get("device")).trim(), employee_no: String(f.get("employee_no")).trim(),
                   minutes: Number(f.get("minutes")) };
    enrolForm.classList.add("busy");
    const r = await FW.api("/api/enrolments", { method: "POST", body });
    if (!r.ok) {
      enrolForm.classList.remove("busy");
      out.className = "result bad";
      out.textContent = failure(r);
      return;
    }
    out.className = "result";
    out.textContent = FW.t("enrol.waiting", { device: body.device });
    const id = r.data.id;
    for (;;) {  // until the tap answers it or it runs out
      await new Promise((ok) => setTimeout(ok, 1000));
      const s = await FW.api(`/api/enrolments/${id}`);
      if (!s.ok || s.data.state === "open") continue;
      enrolForm.classList.remove("busy");
      out.className = `result ${s.data.state === "enrolled" ? "ok" : "bad"}`;
      out.textContent = FW.t(`enrol.${s.data.state}`, { card: s.data.card || "", reason: s.data.reason || "" });
      if (s.data.state === "enrolled") enrolForm.reset();
      return;
    }
  });

  // ------------------------------------------------------------------ devices
  // every configured device, "never" until it has reported; offline first
  const devices = new Map(Object.keys(cfg.deviceInfo).map((id) => [id, { device: id, state: "never" }]));
  for (const d of cfg.devices) devices.set(d.device, d);
  const DEVICE_ORDER = { offline: 0, never: 1, online: 2 };
  let devicesQueued = false;
  function renderDevices() {
    if (devicesQueued) return;
    devicesQueued = true;
    requestAnimationFrame(paintDevices);
  }
  function paintDevices() {
    devicesQueued = false;
    const now = FW.now();
    const rows = [...devices.values()].sort((a, b) => (DEVICE_ORDER[a.state] ?? 0) - (DEVICE_ORDER[b.state] ?? 0) || a.device.localeCompare(b.device));
    const tbody = $("device-rows");
    tbody.replaceChildren();
    let offline = 0;
    for (const d of rows) {
      const info = cfg.deviceInfo[d.device] || {};
      const online = d.state === "online";
      if (d.state === "offline") offline += 1;
      const skewS = typeof d.clock_skew_ms === "number" ? d.clock_skew_ms / 1000 : null;
      const hb = d.last_heartbeat || d.last_seen;
      const age = typeof hb === "number" ? Math.max(0, Math.round((now - hb) / 1000)) : null;
      tbody.append(FW.el("tr", { "data-device": d.device, class: d.state === "offline" ? "offline" : "" },
        FW.el("td", { text: d.device }),
        FW.el("td", { text: info.place ? `${FW.t(`role.${info.role}`)} ${info.place}` : "" }),
        FW.el("td", { class: online ? "ok" : d.state === "never" ? "" : "bad", text: FW.t(`device.${d.state === "never" ? "never" : online ? "online" : "offline"}`) }),
        FW.el("td", { text: age === null ? "" : FW.t("device.ago", { time: FW.fmtTime(hb, true), s: age }) }),
        FW.el("td", { class: d.reused_seq > 0 ? "bad" : d.spooled > 0 ? "warn" : "", text: (d.spooled === null || d.spooled === undefined ? "" : `${d.spooled}${d.dropped ? " / " + FW.t("device.dropped", { n: d.dropped }) : ""}`) + (d.reused_seq > 0 ? " / " + FW.t("device.reused_seq", { n: d.reused_seq }) : "") }),
        FW.el("td", { class: skewS !== null && Math.abs(skewS) > cfg.clockSkewMaxS ? "bad" : "", text: skewS === null ? "" : `${skewS.toFixed(1)} s` }),
        FW.el("td", { text: d.fw || "" })));
    }
    const never = rows.filter((d) => d.state === "never").length;
    $("dev-summary").textContent = FW.t("device.summary", { total: devices.size, offline, never });
  }
  async function refreshDevices() {
    const r = await FW.api("/console/devices.json");
    if (r.ok) {
      for (const d of r.data.devices) devices.set(d.device, { ...(devices.get(d.device) || {}), ...d });
      renderDevices();
    }
  }
  setInterval(refreshDevices, 15000);

  // ------------------------------------------------------------------ alert outbox
  async function refreshAlerts() {
    const r = await FW.api("/console/alerts.json");
    if (!r.ok) return;
    const rows = r.data.alerts || [];
    const waiting = rows.filter((a) => a.state === "pending" || a.state === "sending").length;
    $("alerts-summary").textContent = FW.t("alerts.summary", { waiting, failing: rows.filter((a) => a.state === "pending" && a.attempts > 0).length });
    $("alerts").replaceChildren(...rows.slice(0, 50).map((a) => FW.el("li", { class: `alert-${a.state}`, "data-violation": a.violation },
      FW.el("b", { text: FW.t(`alerts.${a.state}`) }), " ",
      FW.el("span", { text: `${a.channel} · ${FW.t(`alerts.kind_${a.kind}`)} · ${(a.payload || {}).rule || ""} ${(a.payload || {}).seat || (a.payload || {}).zone || ""}` }),
      FW.el("time", { text: " " + FW.fmtDayTime(a.sent_at || a.created) }),
      a.attempts ? FW.el("span", { class: "muted", text: " " + FW.t("alerts.attempts", { n: a.attempts }) }) : null,
      a.last_error ? FW.el("span", { class: "error", text: " " + a.last_error }) : null)));
    if (!rows.length) $("alerts").append(FW.el("li", { class: "none", text: FW.t("floor.none") }));
  }
  refreshAlerts();
  setInterval(refreshAlerts, 15000);

  // ------------------------------------------------------------------ equipment incidents
  const incidents = new Map();
  const INCIDENT_STATE = { "EQUIP-MOVED": "moved", "EQUIP-MISSING": "missing", "EQUIP-EXIT": "exit" };
  function applyEquipment(row) {
    if (!row || !row.tag) return;
    const state = row.state || (row.closed ? "home" : INCIDENT_STATE[row.rule]);
    if (!state || state === "home") incidents.delete(row.tag);
    else incidents.set(row.tag, { ...(incidents.get(row.tag) || {}), ...row, state });
  }
  function renderIncidents() {
    const list = $("incidents");
    list.replaceChildren();
    for (const e of incidents.values()) {
      const home = e.home_seat || (cfg.equipment[e.tag] || {}).home_seat || "";
      const kindId = e.kind || (cfg.equipment[e.tag] || {}).kind || "";
      const kind = cfg.kinds[kindId] || kindId;
      const liable = Array.isArray(e.liable) ? e.liable.map((l) => `${agentName(l.employee_no)} ${typeof l.share === "number" ? "¥" + l.share.toFixed(2) : ""}`).join(", ") : "";
      list.append(FW.el("li", { "data-tag": e.tag, class: `eq-${e.state}` },
        FW.el("b", { text: FW.t(`equipment.${e.state}`) }), " ",
        FW.el("span", { text: FW.t("console.incident", { kind, tag: e.tag, home, seen: e.seen_at || e.last_seen_device || FW.t("floor.unseen") }) }),
        e.opened ? FW.el("time", { text: " " + FW.fmtDayTime(e.opened) }) : null,
        typeof e.price === "number" ? FW.el("span", { class: "price", text: ` ¥${e.price.toFixed(2)}` }) : null,
        liable ? FW.el("span", { class: "muted", text: " " + FW.t("console.liable", { who: liable }) }) : null));
    }
    if (!incidents.size) list.append(FW.el("li", { class: "none", text: FW.t("floor.none") }));
    $("equip-count").textContent = incidents.size;
  }
  async function loadEquipment() {
    const r = await FW.api("/api/equipment");
    if (r.ok && r.data) {
      const rows = Array.isArray(r.data) ? r.data : r.data.incidents || r.data.equipment || [];
      rows.forEach(applyEquipment);
    }
    renderIncidents();
  }

  // ------------------------------------------------------------------ live
  renderBoard();
  renderViolations();
  renderDevices();
  renderIncidents();
  let wasLinked = true; // the first load below is not a reconnect
  FW.live({
    channels: ["rollcall", "violation", "device", "equipment"],
    snapshot: true,
    onUpdate(channel, data) {
      if (channel === "rollcall") {
        if ((data.date && data.date !== cfg.date) || (data.shift && data.shift !== cfg.shift.id && data.shift !== shiftKey)) return;
        applyRollcall(data);
        renderBoard();
      } else if (channel === "violation") {
        if (data && data.withdrawn) {  // the engine re-judged: no longer a violation
          if (violations.delete(data.id)) renderViolations();
        } else if (data && data.id && inShift(data)) {
          violations.set(data.id, data);
          renderViolations();
        }
      } else if (channel === "device" && data.device) {
        const prev = devices.get(data.device) || { device: data.device };
        const state = typeof data.state === "string" ? data.state : data.online ? "online" : "offline";
        devices.set(data.device, { ...prev, ...data, state: state === "online" ? "online" : "offline" });
        renderDevices();
      } else if (channel === "equipment") {
        applyEquipment(data);
        renderIncidents();
      }
    },
    onLink(state) {
      $("link-state").textContent = FW.t(state.link ? (state.mqtt ? "live.open" : "live.mqtt_down") : "live.closed");
      // after a reconnect, fetch what the stream may have missed
      if (state.link && !wasLinked) { loadBoard(); loadViolations(); }
      wasLinked = state.link;
    },
  });
  loadBoard();
  loadViolations();
  loadEquipment();
})();
