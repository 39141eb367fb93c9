/* The kiosk page: idle clock and prompt; on a tap at this kiosk, who and the verdict. */
"use strict";
(function () {
  const cfg = FW.config;
  const $ = (id) => document.getElementById(id);
  const body = document.body;

  // Verdict -> colour. Roll call is green / amber / red by the rule; the rest follow the
  // engine's result (ok / warn / deny).
  const TONE = {
    on_time: "ok", roll_call_late: "warn", late: "bad",
    unknown_badge: "bad", revoked_badge: "bad", ambiguous_badge: "bad",
    signed_in: "ok", signed_out: "ok", enrolled: "ok", enrol_refused: "bad",
  };
  const RESULT_TONE = { ok: "ok", warn: "warn", deny: "bad" };
  const ROLL_CALL = new Set(["on_time", "roll_call_late", "late"]);
  const UNREGISTERED = new Set(["unknown_badge", "revoked_badge", "ambiguous_badge"]);

  /* Rendered taps, for tests and bench/latency.py: {event_id, t (ms, DOM updated), frame}. */
  window.fwRendered = [];

  function tick() {
    const now = FW.now();
    $("clock").textContent = FW.fmtTime(now, true);
    $("date").textContent = FW.fmtDate(now);
  }
  tick();
  setInterval(tick, 250);

  function minutesText(verdict, minutes) {
    if (typeof minutes !== "number") return "";
    const n = Math.abs(Math.round(minutes));
    if (minutes < 0) return FW.t("kiosk.minutes_late", { n });
    if (verdict === "roll_call_late") return FW.t("kiosk.minutes_early_short", { n, lead: cfg.rollCallLeadMin });
    if (n === 0) return FW.t("kiosk.minutes_zero");
    return FW.t("kiosk.minutes_early", { n });
  }

  function shiftText(shift) {
    if (!shift) return FW.t("kiosk.no_shift");
    const span = shift.start || shift.end ? ` ${FW.fmtClock(shift.start)}–${FW.fmtClock(shift.end)}` : "";
    return `${shift.name || shift.id || ""}${span}`;
  }

  let clearTimer = null;
  function showIdle() {
    clearTimer = null;
    body.dataset.mode = "idle";
    $("result").hidden = true;
    $("idle").hidden = false;
  }

  function showTap(d) {
    const verdict = d.verdict || "";
    const tone = TONE[verdict] || RESULT_TONE[d.result] || "warn";
    const unregistered = UNREGISTERED.has(verdict);
    const res = $("result");
    res.className = `k-result tone-${tone}`;
    res.dataset.verdict = verdict;
    res.dataset.eventId = d.event_id || "";
    res.dataset.repeat = d.repeat ? "1" : "0";
    $("verdict").textContent = FW.t(`verdict.${verdict}`) !== `verdict.${verdict}`
      ? FW.t(`verdict.${verdict}`)
      : (cfg.lang === "en" ? d.text_en : d.text_zh) || verdict;
    $("minutes").textContent = ROLL_CALL.has(verdict) || typeof d.minutes === "number" ? minutesText(verdict, d.minutes) : "";
    const agent = d.agent || null;
    $("person").hidden = !agent;
    $("facts").hidden = !agent;
    $("name").textContent = agent ? agent.name || "" : "";
    $("empno").textContent = agent ? FW.t("kiosk.employee_no", { no: agent.employee_no || "" }) : "";
    $("seat").textContent = d.seat || FW.t("kiosk.no_seat");
    $("shift").textContent = shiftText(d.shift);
    let note = "";
    if (unregistered) note = FW.t(verdict === "revoked_badge" ? "kiosk.revoked_hint" : "kiosk.unknown_hint");
    if (d.repeat) note = FW.t("kiosk.repeat_note");
    $("note").textContent = note;
    $("idle").hidden = true;
    res.hidden = false;
    body.dataset.mode = "result";
    const rec = { event_id: d.event_id, verdict, repeat: !!d.repeat, t: Date.now() };
    window.fwRendered.push(rec);
    requestAnimationFrame(() => { rec.frame = Date.now(); });
    if (clearTimer) clearTimeout(clearTimer);
    clearTimer = setTimeout(showIdle, cfg.clearAfterS * 1000);
  }

  // Why the kiosk cannot be trusted right now, most basic first.
  let deviceState = cfg.deviceState;
  let link = { link: false, mqtt: true };
  function renderBanner() {
    let reason = "";
    if (!link.link) reason = "link";
    else if (!link.mqtt) reason = "mqtt";
    else if (deviceState !== "online") reason = "device";
    body.dataset.offline = reason;
    const banner = $("banner");
    banner.hidden = !reason;
    banner.textContent = reason ? FW.t(`kiosk.offline_${reason}`) : "";
  }
  renderBanner();

  FW.live({
    channels: ["tap", "device"],
    device: cfg.device,
    onUpdate(channel, data) {
      if (channel === "tap") {
        deviceState = "online"; // a tap from the reader proves the device is there
        renderBanner();
        showTap(data);
      } else if (channel === "device") {
        if (typeof data.state === "string") deviceState = data.state === "online" ? "online" : "offline";
        else if (typeof data.online === "boolean") deviceState = data.online ? "online" : "offline";
        renderBanner();
      }
    },
    onLink(state) {
      link = state;
      renderBanner();
    },
  });
  showIdle();
})();
