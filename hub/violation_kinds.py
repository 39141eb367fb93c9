"""What each kind of violation is called, in zh-CN and English: one catalogue for the web UI
(its `kind.<kind>` keys, kiosk_ui.i18n) and the alerts (hub.alerts.messages), so a lead reads the
same words in the chat as in the console. The hub owns it because the engine owns the kinds."""

from __future__ import annotations

LANGS = ("zh_CN", "en")

# kind (the engine's `kind` of a violation) -> (zh-CN, en)
KINDS: dict[str, tuple[str, str]] = {
    "absent": ("旷工", "absent"),
    "ambiguous_badge": ("无法区分的工牌(读卡器分不清两张卡)", "ambiguous badge (two cards this reader cannot tell apart)"),
    "break_at_peak": ("满线时小休", "break at peak"),
    "break_long": ("小休超时", "break too long"),
    "break_total": ("小休累计超时", "breaks over total"),
    "clock_ahead": ("设备时钟超前", "device clock ahead"),
    "clock_behind": ("设备时钟滞后", "device clock behind"),
    "clock_unknown": ("设备时钟未设置", "device clock not set"),
    "early_leave": ("早退", "left early"),
    "exit": ("设备带出", "equipment taken out"),
    "impossible_travel": ("工牌冒用（异地刷卡）", "shared badge (impossible travel)"),
    "late": ("迟到", "late"),
    "liability": ("设备赔偿", "equipment compensation"),
    "meal_long": ("就餐超时", "meal too long"),
    "meal_outside_slot": ("未按时段就餐", "meal outside slot"),
    "missing": ("设备丢失", "equipment missing"),
    "moved": ("设备被移动", "equipment moved"),
    "no_badge": ("未刷卡就座", "seated without badge"),
    "no_handover": ("未交接离岗", "left before relief"),
    "offline": ("设备离线", "device offline"),
    "revoked_badge": ("停用工牌", "revoked badge"),
    "roll_call_late": ("点名迟到", "roll call late"),
    "seat_signin_late": ("签入迟到", "seat sign-in late"),
    "tailgate": ("尾随进入", "tailgating"),
    "two_seats": ("工牌冒用（两处签入）", "shared badge (two seats)"),
    "unapproved_swap": ("私自换班", "unapproved swap"),
    "unattended": ("擅自离岗", "seat unattended"),
    "unknown_badge": ("未登记工牌", "unregistered badge"),
    "wrong_seat": ("座位不符", "wrong seat"),
    "zone_empty": ("区域无人", "zone empty"),
}


def kind_name(kind: str, lang: str) -> str | None:
    """The kind's words in `lang` ("zh_CN" or "en"), or None for a kind without words."""
    pair = KINDS.get(kind)
    return None if pair is None else pair[LANGS.index(lang)]


def catalog_entries(lang: str) -> dict[str, str]:
    """The kinds as a UI catalog's `kind.<kind>` keys in `lang`."""
    i = LANGS.index(lang)
    return {f"kind.{kind}": pair[i] for kind, pair in KINDS.items()}
