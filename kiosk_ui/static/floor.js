/* The live floor map: an SVG drawn from the site layout, coloured by the live stream. */
"use strict";
(function () {
  const cfg = FW.config;
  const L = cfg.layout;
  const SVG = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);
  const svg = $("map");
  const STATES = cfg.seatStates;
  const INCIDENT_STATE = { "EQUIP-MOVED": "moved", "EQUIP-MISSING": "missing", "EQUIP-EXIT": "exit" };
  const S = L.seatSize;

  const seats = new Map(); // seat id -> {def, g, sub, data, at, devOff, equip}
  const zoneEls = new Map(); // zone id -> {def, g, rect, flag, empty}
  const devState = new Map(); // device id -> "online" | "offline"
  const equipment = new Map(); // tag -> update
  const seatOfDevice = new Map(L.seats.filter((s) => s.device).map((s) => [s.device, s.id]));
  const placeEls = new Map(); // device id -> door/kiosk element

  function svgEl(tag, attrs, parent) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (parent) parent.append(e);
    return e;
  }

  // ------------------------------------------------------------------ drawing
  const gZones = svgEl("g", { id: "zones" }, svg);
  const gSeats = svgEl("g", { id: "seats" }, svg);
  const gPlaces = svgEl("g", { id: "places" }, svg);
  const gMarks = svgEl("g", { id: "marks" }, svg);

  for (const z of L.zones) {
    if (!z.box) continue;
    const [x, y, w, h] = z.box;
    const g = svgEl("g", { class: "zone", "data-zone": z.id }, gZones);
    const rect = svgEl("rect", { x, y, width: w, height: h, rx: S * 0.2 }, g);
    const name = svgEl("text", { x: x + S * 0.3, y: y + S * 0.75, class: "zone-name", "font-size": S * 0.5 }, g);
    name.textContent = z.name;
    const flag = svgEl("text", { x: x + w - S * 0.3, y: y + S * 0.75, class: "zone-flag", "font-size": S * 0.45, "text-anchor": "end" }, g);
    zoneEls.set(z.id, { def: z, g, rect, flag, empty: null });
  }
  for (const s of L.seats) {
    const g = svgEl("g", { class: "seat st-no_data", "data-state": "no_data", "data-seat": s.id, transform: `translate(${s.x - S / 2},${s.y - S / 2})` }, gSeats);
    svgEl("rect", { width: S, height: S, rx: S * 0.15 }, g);
    const label = svgEl("text", { x: S / 2, y: S * 0.45, class: "seat-id", "font-size": S * 0.3, "text-anchor": "middle" }, g);
    label.textContent = s.id;
    const sub = svgEl("text", { x: S / 2, y: S * 0.82, class: "seat-sub", "font-size": S * 0.28, "text-anchor": "middle" }, g);
    seats.set(s.id, { def: s, g, sub, data: null, devOff: false });
  }
  function place(p, kind) {
    const g = svgEl("g", { class: `place ${kind}`, "data-place": p.id, transform: `translate(${p.x},${p.y})` }, gPlaces);
    if (kind === "door") svgEl("rect", { x: -S * 0.25, y: -S * 0.5, width: S * 0.5, height: S, rx: 3 }, g);
    else svgEl("circle", { r: S * 0.4 }, g);
    const t = svgEl("text", { y: S * 0.95, "font-size": S * 0.3, "text-anchor": "middle" }, g);
    t.textContent = p.id;
    const title = svgEl("title", {}, g);
    title.textContent = p.name;
    if (p.device) placeEls.set(p.device, g);
  }
  L.doors.forEach((d) => place(d, "door"));
  L.kiosks.forEach((k) => place(k, "kiosk"));

  // ------------------------------------------------------------------ view: zoom, pan, zone filter
  const full = L.view || [0, 0, L.width, L.height];
  let view = full.slice();
  function setView(v) {
    view = v;
    svg.setAttribute("viewBox", v.map((n) => n.toFixed(1)).join(" "));
    const scale = Math.min(svg.clientWidth / v[2], svg.clientHeight / v[3]) || 1;
    svg.classList.toggle("show-labels", S * scale >= 24);
  }
  setView(full);
  window.addEventListener("resize", () => setView(view));

  const zoneFilter = $("zone-filter");
  for (const z of L.zones) zoneFilter.append(FW.el("option", { value: z.id, text: `${z.name} (${z.seats})` }));
  zoneFilter.addEventListener("change", () => applyZoneFilter(zoneFilter.value));
  function applyZoneFilter(zone) {
    document.body.dataset.zone = zone;
    for (const s of seats.values()) s.g.classList.toggle("dim", !!zone && s.def.zone !== zone);
    for (const z of zoneEls.values()) z.g.classList.toggle("dim", !!zone && z.def.id !== zone);
    const z = zone && zoneEls.get(zone);
    if (z) {
      const [x, y, w, h] = z.def.box;
      const m = S;
      setView([x - m, y - m, w + 2 * m, h + 2 * m]);
    } else {
      setView(full);
    }
    renderTotals();
  }

  svg.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const r = svg.getBoundingClientRect();
    const k = ev.deltaY > 0 ? 1.2 : 1 / 1.2;
    const scale = Math.min(r.width / view[2], r.height / view[3]);
    const px = view[0] + (ev.clientX - r.left - (r.width - view[2] * scale) / 2) / scale;
    const py = view[1] + (ev.clientY - r.top - (r.height - view[3] * scale) / 2) / scale;
    const w = Math.min(full[2] * 2, Math.max(S * 4, view[2] * k));
    const h = (view[3] / view[2]) * w;
    setView([px - (px - view[0]) * (w / view[2]), py - (py - view[1]) * (h / view[3]), w, h]);
  }, { passive: false });
  let drag = null;
  svg.addEventListener("pointerdown", (ev) => { drag = { x: ev.clientX, y: ev.clientY, v: view.slice(), moved: false }; });
  window.addEventListener("pointerup", () => { setTimeout(() => { drag = null; }, 0); });
  svg.addEventListener("pointermove", (ev) => {
    if (!drag || ev.buttons !== 1) return;
    const r = svg.getBoundingClientRect();
    const scale = Math.min(r.width / drag.v[2], r.height / drag.v[3]);
    const dx = (ev.clientX - drag.x) / scale;
    const dy = (ev.clientY - drag.y) / scale;
    if (Math.abs(dx) + Math.abs(dy) > 2) drag.moved = true;
    setView([drag.v[0] - dx, drag.v[1] - dy, drag.v[2], drag.v[3]]);
  });
  svg.addEventListener("dblclick", () => applyZoneFilter(zoneFilter.value));

  // ------------------------------------------------------------------ seat state
  const pending = new Map();
  let frameQueued = false;
  function queueSeat(data) {
    if (!data || !seats.has(data.seat)) return;
    pending.set(data.seat, data);
    if (!frameQueued) {
      frameQueued = true;
      requestAnimationFrame(flush);
    }
  }
  /* What a seat shows: its state, or no data while its device is offline. */
  function seatState(s) {
    return s.devOff ? "no_data" : (s.data && STATES.includes(s.data.state) ? s.data.state : "no_data");
  }
  function paintSeat(s) {
    const st = seatState(s);
    s.g.setAttribute("class", `seat st-${st}${s.devOff ? " dev-off" : ""}${s.g.classList.contains("dim") ? " dim" : ""}${s.equip ? " equip-alert" : ""}`);
    s.g.dataset.state = st;
    let sub = "";
    const used = breakUsedS(s);
    if (st === "break" && used !== null) sub = FW.t("floor.minutes_short", { n: Math.floor(used / 60) });
    else if (st === "meal") sub = FW.t("floor.meal_short");
    s.sub.textContent = sub;
  }
  /* Break time used by now: the engine counts it up to when it published the state, the
   * current break keeps counting since (hub time). */
  function breakUsedS(s) {
    const d = s.data;
    if (!d || typeof d.break_used_s !== "number") return null;
    const counting = (d.state === "break" || d.state === "unattended") && d.agent && typeof d.since === "number";
    return d.break_used_s + (counting ? Math.max(0, FW.now() - s.at) / 1000 : 0);
  }
  // the minutes on seats on a break move on by themselves
  setInterval(() => {
    for (const s of seats.values()) if (s.data && s.data.state === "break") paintSeat(s);
    if (inspected) renderInspector(inspected);
  }, 15000);
  function flush() {
    frameQueued = false;
    for (const [id, data] of pending) {
      const s = seats.get(id);
      s.data = data;
      s.at = typeof data._at === "number" ? data._at : FW.now();  // hub time of the state
      paintSeat(s);
    }
    pending.clear();
    renderTotals();
    if (inspected) renderInspector(inspected);
  }

  function setDevice(device, state) {
    devState.set(device, state);
    const seatId = seatOfDevice.get(device);
    if (seatId) {
      const s = seats.get(seatId);
      s.devOff = state === "offline";
      paintSeat(s);
    }
    const p = placeEls.get(device);
    if (p) p.classList.toggle("dev-off", state === "offline");
    renderOffline();
  }
  for (const row of cfg.devices) devState.set(row.device, row.state === "online" ? "online" : "offline");
  for (const [device, state] of devState) setDevice(device, state);

  // ------------------------------------------------------------------ side panels
  const legend = $("legend");
  const legendCounts = new Map();
  for (const st of STATES) {
    const count = FW.el("b", { class: "count", text: "0" });
    legendCounts.set(st, count);
    legend.append(FW.el("li", { "data-state": st }, FW.el("i", { class: `sw st-${st}` }), FW.el("span", { text: FW.t(`seat.${st}`) }), count));
  }

  function renderTotals() {
    const zone = zoneFilter.value;
    const counts = Object.fromEntries(STATES.map((st) => [st, 0]));
    const perZone = new Map(L.zones.map((z) => [z.id, Object.fromEntries(STATES.map((st) => [st, 0]))]));
    for (const s of seats.values()) {
      const st = seatState(s);
      perZone.get(s.def.zone)[st] += 1;
      if (!zone || s.def.zone === zone) counts[st] += 1;
    }
    for (const st of STATES) legendCounts.get(st).textContent = counts[st];
    const tbody = $("zone-rows");
    tbody.replaceChildren();
    for (const z of L.zones) {
      const c = perZone.get(z.id);
      const inSeat = c.signed_in + c.occupied_no_badge;
      const zs = zoneEls.get(z.id);
      const tr = FW.el("tr", { "data-zone": z.id, class: zs && zs.empty ? "empty" : "" },
        FW.el("th", { text: z.name }),
        FW.el("td", { text: `${inSeat}/${z.seats}` }),
        FW.el("td", { text: c.break + c.meal }),
        FW.el("td", { class: c.unattended ? "alert" : "", text: c.unattended }),
        FW.el("td", { text: c.no_data }),
        FW.el("td", { class: "ac", text: zs && zs.empty ? FW.t("floor.ac_off_short") : "" }));
      tr.addEventListener("click", () => { zoneFilter.value = z.id; applyZoneFilter(z.id); });
      tbody.append(tr);
    }
    const occupied = counts.signed_in + counts.occupied_no_badge;
    const total = [...seats.values()].filter((s) => !zone || s.def.zone === zone).length;
    $("totals").textContent = FW.t("floor.totals", { occupied, total, away: counts.break + counts.meal, unattended: counts.unattended });
  }

  function setZone(data) {
    const z = zoneEls.get(data.zone);
    if (z) {
      z.empty = data.empty ? data : null;
      z.g.classList.toggle("empty", !!data.empty);
      z.flag.textContent = data.empty ? FW.t("floor.ac_flag", { since: FW.fmtTime(data.since) }) : "";
    }
    const list = $("ac-list");
    list.replaceChildren();
    for (const zz of zoneEls.values()) {
      if (zz.empty) list.append(FW.el("li", { "data-zone": zz.def.id, text: FW.t("floor.ac_item", { zone: zz.def.name, since: FW.fmtTime(zz.empty.since) }) }));
    }
    if (!list.children.length) list.append(FW.el("li", { class: "none", text: FW.t("floor.none") }));
    renderTotals();
  }

  function setEquipment(data) {
    const prev = equipment.get(data.tag);
    if (prev && seats.has(prev.home_seat)) { seats.get(prev.home_seat).equip = false; paintSeat(seats.get(prev.home_seat)); }
    if (data.state && data.state !== "home") equipment.set(data.tag, data);
    else equipment.delete(data.tag);
    for (const e of equipment.values()) {
      const s = seats.get(e.home_seat);
      if (s) { s.equip = true; paintSeat(s); }
    }
    const list = $("equip-list");
    list.replaceChildren();
    for (const e of equipment.values()) {
      const kind = L.kinds[e.kind] || e.kind || "";
      list.append(FW.el("li", { "data-tag": e.tag, class: `eq-${e.state}` },
        FW.el("b", { text: FW.t(`equipment.${e.state}`) }), " ",
        FW.el("span", { text: FW.t(e.seen_at ? "floor.equip_item" : "floor.equip_missing", { kind, tag: e.tag, home: e.home_seat || "", seen: e.seen_at }) })));
    }
    if (!list.children.length) list.append(FW.el("li", { class: "none", text: FW.t("floor.none") }));
  }

  function renderOffline() {
    const list = $("offline-list");
    const off = [...devState].filter(([, st]) => st === "offline").map(([d]) => d).sort();
    list.replaceChildren(...off.slice(0, 200).map((d) => {
      const info = L.devices[d] || {};
      return FW.el("li", { "data-device": d, text: `${d}${info.place ? " · " + info.place : ""}` });
    }));
    if (off.length > 200) list.append(FW.el("li", { text: FW.t("floor.and_more", { n: off.length - 200 }) }));
    if (!off.length) list.append(FW.el("li", { class: "none", text: FW.t("floor.none") }));
    $("offline-count").textContent = off.length;
  }

  // ------------------------------------------------------------------ hover and inspect
  const tip = $("tip");
  function seatFromEvent(ev) {
    const g = ev.target.closest && ev.target.closest("g.seat");
    return g ? seats.get(g.dataset.seat) : null;
  }
  function describe(s) {
    const d = s.data || {};
    const st = seatState(s);
    const lines = [[FW.t("floor.seat"), `${s.def.id} · ${(zoneEls.get(s.def.zone) || { def: { name: s.def.zone } }).def.name}`],
      [FW.t("floor.state"), FW.t(`seat.${st}`) + (s.devOff ? ` (${FW.t("floor.device_offline")})` : "")]];
    if (d.agent) lines.push([FW.t("floor.agent"), FW.agentLabel(d.agent, cfg.names)]);
    if (typeof d.since === "number") lines.push([FW.t("floor.since"), FW.fmtDayTime(d.since)]);
    const used = breakUsedS(s);
    if (used) lines.push([FW.t("floor.break_used"), FW.t("floor.minutes", { n: Math.floor(used / 60) })]);
    if (s.def.device) lines.push([FW.t("floor.device"), s.def.device]);
    return lines;
  }
  svg.addEventListener("mousemove", (ev) => {
    const s = seatFromEvent(ev);
    if (!s) { tip.hidden = true; return; }
    tip.replaceChildren(...describe(s).map(([k, v]) => FW.el("div", {}, FW.el("span", { text: k }), " ", FW.el("b", { text: v }))));
    tip.hidden = false;
    const r = svg.parentElement.getBoundingClientRect();
    tip.style.left = `${Math.min(ev.clientX - r.left + 14, r.width - 260)}px`;
    tip.style.top = `${ev.clientY - r.top + 14}px`;
  });
  svg.addEventListener("mouseleave", () => { tip.hidden = true; });

  let inspected = null;
  svg.addEventListener("click", (ev) => {
    if (drag && drag.moved) return;
    const s = seatFromEvent(ev);
    if (s) inspect(s.def.id);
  });
  async function inspect(seatId) {
    inspected = seatId;
    renderInspector(seatId);
    const s = seats.get(seatId);
    const box = $("inspect-events");
    box.replaceChildren(FW.el("li", { class: "none", text: FW.t("floor.loading") }));
    if (!s.def.device) { box.replaceChildren(FW.el("li", { class: "none", text: FW.t("floor.no_device") })); return; }
    const r = await FW.api("/floor/events", { params: { seat: seatId, limit: 8 } });
    if (inspected !== seatId) return;
    if (!r.ok) { box.replaceChildren(FW.el("li", { class: "error", text: FW.t("common.load_failed", { status: r.status }) })); return; }
    box.replaceChildren(...r.data.map((e) => FW.el("li", {},
      FW.el("time", { text: FW.fmtTime(e.ts, true) }), " ",
      FW.el("b", { text: FW.t(`event.${e.type}`) }), " ",
      FW.el("span", { text: eventSummary(e) }))));
    if (!r.data.length) box.replaceChildren(FW.el("li", { class: "none", text: FW.t("floor.no_events") }));
  }
  function eventSummary(e) {
    const b = e.body || {};
    if (e.type === "badge") return b.uid || "";
    if (e.type === "occupancy") return FW.t(b.occupied ? "event.occupied" : "event.vacant");
    if (e.type === "button") return FW.t(`button.${b.button}`);
    if (e.type === "inventory") return (b.tags || []).join(", ");
    return "";
  }
  function renderInspector(seatId) {
    const s = seats.get(seatId);
    $("inspector").hidden = false;
    $("inspect-title").textContent = FW.t("floor.inspect_title", { seat: seatId });
    $("inspect-facts").replaceChildren(...describe(s).map(([k, v]) => FW.el("div", {}, FW.el("dt", { text: k }), FW.el("dd", { text: v }))));
    for (const g of gSeats.querySelectorAll(".inspected")) g.classList.remove("inspected");
    s.g.classList.add("inspected");
  }
  $("inspect-close").addEventListener("click", () => {
    inspected = null;
    $("inspector").hidden = true;
    for (const g of gSeats.querySelectorAll(".inspected")) g.classList.remove("inspected");
  });

  // ------------------------------------------------------------------ live
  const clockEl = $("hub-time");
  setInterval(() => { clockEl.textContent = FW.fmtTime(FW.now(), true); }, 500);

  renderTotals();
  setEquipment({ tag: "", state: "home" });
  setZone({ zone: "" });
  renderOffline();

  let seeded = false;
  FW.live({
    channels: ["seat", "zone", "equipment", "device"],
    snapshot: true,
    onSnapshot() {
      if (!seeded) { seeded = true; seedFromEngine(); }
    },
    onUpdate(channel, data) {
      if (channel === "seat") queueSeat(data);
      else if (channel === "zone") setZone(data);
      else if (channel === "equipment") setEquipment(data);
      else if (channel === "device" && data.device) {
        const st = typeof data.state === "string" ? data.state : (data.online ? "online" : "offline");
        setDevice(data.device, st === "online" ? "online" : "offline");
      }
    },
    onLink(state) {
      $("link-state").textContent = FW.t(state.link ? (state.mqtt ? "live.open" : "live.mqtt_down") : "live.closed");
    },
  });

  // What the engine knew before this page opened (after a hub restart the stream's snapshot is
  // empty): once the snapshot is in, fill in seats and equipment it did not speak about.
  async function seedFromEngine() {
    const r = await FW.api("/api/seats");
    if (r.ok && r.data) {
      const rows = Array.isArray(r.data) ? r.data : r.data.seats || [];
      for (const row of rows) if (row && seats.has(row.seat) && !seats.get(row.seat).data && !pending.has(row.seat)) queueSeat(row);
    }
    const e = await FW.api("/api/equipment");
    if (e.ok && e.data) {
      const rows = Array.isArray(e.data) ? e.data : e.data.equipment || [];
      for (const row of rows) {
        if (!row || !row.tag || equipment.has(row.tag)) continue;
        // incident rows name a rule instead of a state; a closed incident is history
        const state = row.state || (row.closed ? null : INCIDENT_STATE[row.rule]);
        if (state) setEquipment({ ...row, state, seen_at: row.seen_at || row.last_seen_device });
      }
    }
  }
})();
