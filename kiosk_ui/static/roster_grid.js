/* The console's month grid (当月排班表): agents × days, coverage per hour underneath, fairness at
 * the side; a click on a cell opens the day's override form (kiosk_ui/roster_grid.py). */
"use strict";
(function () {
  const cfg = FW.config;
  const el = FW.el;
  const grid = document.getElementById("grid");
  const cover = document.getElementById("coverage");
  const dialog = document.getElementById("cell-dialog");
  const form = document.getElementById("cell-form");
  const state = document.getElementById("grid-state");
  let view = null;
  let shiftIndex = {};

  const code = (id) => {
    const s = shiftIndex[id];
    return s ? String(s.name || id).split(/\s+/)[0] : id;
  };
  const dayNum = (date) => String(Number(date.slice(8, 10)));
  const hour = (h) => `${String(h).padStart(2, "0")}:00`;

  function cellOf(agent, day) {
    const c = agent.cells[day.date] || { duties: [] };
    const worked = c.duties.filter((d) => !d.swap_to);
    const td = el("td", { class: `cell day-${day.type}`, "data-emp": agent.employee_no, "data-date": day.date });
    const titles = [];
    if (c.leave) {
      td.classList.add("leave");
      td.dataset.code = "leave";
      td.textContent = FW.t("grid.leave_code");
      titles.push(FW.t(`leave.${c.leave}`));
    } else if (worked.length) {
      td.dataset.code = worked.map((d) => d.shift).join("+");
      td.classList.add(...worked.map((d) => `shift-${d.shift}`));
      td.textContent = worked.map((d) => code(d.shift)).join("+");
      for (const d of worked) {
        if (d.swap_from) titles.push(FW.t("grid.swapped_from", { who: d.swap_from }));
        if (d.source === "extra") td.classList.add("extra");
      }
    } else {
      td.dataset.code = "rest";
      td.classList.add("rest");
      td.textContent = FW.t("grid.rest_code");
    }
    for (const d of c.duties.filter((x) => x.swap_to)) {
      td.classList.add("swapped");
      titles.push(FW.t("grid.swapped_to", { who: d.swap_to, shift: code(d.shift) }));
      if (!worked.length && !c.leave) td.textContent = `${code(d.shift)}→`;
    }
    if (titles.length) td.title = titles.join("; ");
    if (!view.draft) td.addEventListener("click", () => openCell(agent, day, c));
    return td;
  }

  function render() {
    shiftIndex = Object.fromEntries(view.shifts.map((s) => [s.id, s]));
    const legend = document.getElementById("grid-legend");
    legend.replaceChildren(
      ...view.shifts.map((s) => el("span", { class: `chip shift-${s.id}`, text: `${code(s.id)} ${s.start}–${s.end}` })),
      el("span", { class: "chip rest", text: `${FW.t("grid.rest_code")} ${FW.t("grid.kind_rest")}` }),
      el("span", { class: "chip leave", text: `${FW.t("grid.leave_code")} ${FW.t("grid.kind_leave")}` }),
      el("span", { class: "chip day-holiday", text: FW.t("grid.holiday") }),
      el("span", { class: "chip day-weekend", text: FW.t("grid.weekend") }),
    );
    state.textContent = view.draft ? FW.t("grid.draft") : view.published ? FW.t("grid.published") : FW.t("grid.from_rotations");
    document.body.classList.toggle("draft", Boolean(view.draft));
    document.getElementById("plan-panel").hidden = !view.draft;
    document.getElementById("plan-report").textContent = view.draft ? view.report.join("\n") : "";
    document.getElementById("plan-publish").hidden = !view.draft;
    document.getElementById("plan-discard").hidden = !view.draft;
    document.getElementById("plan-propose").hidden = Boolean(view.draft || view.published);
    const head = el("tr", null, el("th", { text: FW.t("grid.agent") }), el("th", { text: FW.t("grid.team") }),
      ...view.days.map((d) => el("th", { class: `day-${d.type}`, title: d.name || null, "data-date": d.date },
        dayNum(d.date), el("br"), el("small", { text: FW.t(`grid.wd${d.weekday}`) }))),
      el("th", { class: "fair", text: FW.t("grid.evening") }), el("th", { class: "fair", text: FW.t("grid.weekend") }),
      el("th", { class: "fair", text: FW.t("grid.holiday") }), el("th", { class: "fair", text: FW.t("grid.rest_days") }));
    grid.tHead.replaceChildren(head);
    const fair = Object.fromEntries(view.fairness.map((f) => [f.employee_no, f]));
    grid.tBodies[0].replaceChildren(...view.agents.map((a) => {
      const f = fair[a.employee_no] || { evening: 0, weekend: 0, holiday: 0, rest: 0 };
      return el("tr", { "data-emp": a.employee_no },
        el("th", { class: "agent", text: `${a.employee_no} ${a.name || ""}`.trim() }), el("td", { text: a.team || "" }),
        ...view.days.map((d) => cellOf(a, d)),
        el("td", { class: "fair", text: String(f.evening) }), el("td", { class: "fair", text: String(f.weekend) }),
        el("td", { class: "fair", text: String(f.holiday) }), el("td", { class: "fair", text: String(f.rest) }));
    }));
    cover.tHead.replaceChildren(el("tr", null, el("th", { text: FW.t("grid.scope") }), el("th", { text: FW.t("grid.hour") }),
      ...view.days.map((d) => el("th", { class: `day-${d.type}`, text: dayNum(d.date) }))));
    cover.tBodies[0].replaceChildren(...view.coverage.map((row) => el("tr", { "data-hour": row.hour },
      el("th", { text: row.team || FW.t("grid.floor") }), el("th", { text: hour(row.hour) }),
      ...row.have.map((have, i) => el("td", { class: have < row.need[i] ? "short" : "met",
        title: FW.t("grid.have_need", { have, need: row.need[i] }), text: row.need[i] ? `${have}/${row.need[i]}` : String(have) })))));
    if (!view.coverage.length) {
      cover.tBodies[0].replaceChildren(el("tr", null, el("td", { text: FW.t("grid.no_targets") })));
    }
    document.body.dataset.ready = "1";
  }

  async function load() {
    const r = await FW.api("/console/roster/month.json", { params: { month: cfg.month } });
    if (!r.ok) {
      state.textContent = FW.t("common.load_failed", { status: r.status || FW.t("common.network") });
      return;
    }
    view = r.data;
    render();
  }

  // ------------------------------------------------------------------ overrides
  function showFields() {
    const kind = form.elements.kind.value;
    for (const label of form.querySelectorAll("label[data-for]")) {
      label.hidden = !label.dataset.for.split(" ").includes(kind);
    }
  }

  function openCell(agent, day, c) {
    form.reset();
    form.dataset.emp = agent.employee_no;
    form.dataset.date = day.date;
    const worked = c.duties.filter((d) => !d.swap_to);
    form.elements.shift.replaceChildren(...view.shifts.map((s) => el("option", { value: s.id, text: `${code(s.id)} ${s.start}–${s.end}` })));
    if (worked.length) form.elements.shift.value = worked[0].shift;
    form.elements.kind.value = worked.length ? "rest" : "extra";
    document.getElementById("cell-what").textContent = `${agent.employee_no} ${agent.name || ""} ${day.date}`;
    const signed = c.duties.flatMap((d) => (d.forms || []).map((f) => ({ f, d })));
    document.getElementById("cell-forms").replaceChildren(...signed.map(({ f, d }) => el("a", {
      href: `/console/roster/swap-form/${f.sha256}`, target: "_blank", class: "signed-form",
      text: FW.t("grid.signed_form_link", { shift: code(d.shift), sha: f.sha256.slice(0, 12) }) })));
    form.querySelector("output").textContent = "";
    showFields();
    dialog.showModal();
  }

  function failure(r) {
    const d = r.data || {};
    const why = [d.error, d.parameter || d.field, d.reason].filter(Boolean).join(": ");
    return FW.t("action.failed", { status: r.status || FW.t("common.network"), reason: why });
  }

  form.elements.kind.addEventListener("change", showFields);
  document.getElementById("cell-cancel").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const kind = form.elements.kind.value;
    const body = { kind, date: form.dataset.date, employee_no: form.dataset.emp };
    for (const label of form.querySelectorAll("label[data-for]")) {
      if (label.hidden) continue;
      for (const input of label.querySelectorAll("input:not([type=file]), select")) body[input.name] = input.value.trim();
    }
    const out = form.querySelector("output");
    const file = kind === "swap" ? form.elements.form.files[0] : null;
    let r = await FW.api("/console/roster/override", { method: "POST", body });
    if (r.ok && file) {  // the signed 换班记录表, kept with the swap just recorded
      const data = new FormData();
      for (const k of ["date", "employee_no"]) data.append(k, body[k]);
      data.append("shift", body.shift);
      data.append("form", file);
      const swapAudit = r.data.audit_id;
      const up = await FW.api("/console/roster/swap-form", { method: "POST", body: data });
      r = up.ok ? { ok: true, data: { audit_id: `${swapAudit}, ${up.data.audit_id}` } } : up;
    }
    out.className = `result ${r.ok ? "ok" : "bad"}`;
    out.textContent = r.ok ? FW.t("grid.done", { id: r.data.audit_id }) : failure(r);
    if (r.ok) {
      state.textContent = out.textContent;
      dialog.close();
      await load();
      state.textContent = out.textContent;
    }
  });

  // ------------------------------------------------------------------ propose, review, publish
  const propose = document.getElementById("plan-propose");
  const publishBtn = document.getElementById("plan-publish");
  propose.addEventListener("click", async () => {
    propose.disabled = true;
    state.textContent = FW.t("grid.proposing");
    const r = await FW.api("/console/roster/plan", { method: "POST", body: { month: cfg.month } });
    propose.disabled = false;
    if (!r.ok) {
      state.textContent = failure(r);
      return;
    }
    view = r.data;
    render();
  });
  publishBtn.addEventListener("click", async () => {
    publishBtn.disabled = true;
    const r = await FW.api("/console/roster/publish", { method: "POST",
      body: { month: view.month, fingerprint: view.fingerprint } });
    publishBtn.disabled = false;
    if (!r.ok) {
      state.textContent = failure(r);
      return;
    }
    const done = FW.t("grid.published_done", { id: r.data.audit_id });
    await load();
    state.textContent = done;
  });
  document.getElementById("plan-discard").addEventListener("click", () => load());

  const agents = document.getElementById("grid-agents");
  const seats = document.getElementById("grid-seats");
  for (const s of cfg.seats) seats.append(el("option", { value: s }));
  load().then(() => {
    for (const a of view ? view.agents : []) agents.append(el("option", { value: a.employee_no, text: a.name || "" }));
  });
})();
