"""Words for codes in human exports (zh, en). JSON keeps the codes; CSV and XLSX show these."""

from __future__ import annotations

ROLLCALL = {
    "on_time": ("准时", "on time"),
    "roll_call_late": ("点名迟到", "late for roll call"),
    "late": ("迟到", "late"),
    "absent": ("旷工", "absent"),
    "leave": ("请假", "on leave"),
    "pending": ("待定", "pending"),
}

PLACE_KINDS = {"seat": ("台席", "seat"), "door": ("门", "door"), "kiosk": ("点名机", "kiosk"), "zone": ("区域", "zone")}

GRADES = {
    "excellent": ("优秀", "excellent"),
    "good": ("良好", "good"),
    "pass": ("合格", "pass"),
    "fail": ("不合格", "fail"),
}

ESCALATION = {
    "none": ("无", "none"),
    "warning": ("警告", "warning"),
    "fine": ("罚款", "fine"),
    "dismissal_review": ("辞退审查", "dismissal review"),
}

RULES = {
    "BADGE-NO-TAP": ("未刷工牌", "no badge sign-in"),
    "BADGE-UNKNOWN": ("未知工牌", "unknown badge"),
    "BADGE-WRONG-SEAT": ("私自换座", "wrong seat"),
    "BADGE-SHARED": ("盗用工号", "shared badge"),
    "BADGE-TAILGATE": ("尾随进入", "tailgating"),
    "ROLL-EARLY": ("点名迟到/迟到", "late for roll call / late"),
    "ROLL-ABSENT": ("旷工", "absent"),
    "ROLL-SEAT-SIGNIN": ("台席签入迟", "late seat sign-in"),
    "ROLL-EARLY-LEAVE": ("早退", "left early"),
    "ROLL-HANDOVER": ("未交接离岗", "left before relief"),
    "SWAP-UNAPPROVED": ("私自换班", "unapproved swap"),
    "AWAY-BREAK-LONG": ("小休超时", "break too long"),
    "AWAY-BREAK-TOTAL": ("小休累计超时", "breaks over total"),
    "AWAY-MEAL-LONG": ("就餐超时", "meal too long"),
    "AWAY-MEAL-SLOT": ("私自就餐", "meal outside slot"),
    "AWAY-PEAK": ("满线小休", "break at peak"),
    "AWAY-UNATTENDED": ("擅自离岗", "seat unattended"),
    "EQUIP-MOVED": ("私换设备", "equipment moved"),
    "EQUIP-MISSING": ("设备遗失", "equipment missing"),
    "EQUIP-EXIT": ("设备带出", "equipment taken out"),
    "EQUIP-LIABILITY": ("设备赔偿", "equipment liability"),
    "FAC-ZONE-EMPTY": ("空区未关空调", "empty zone"),
    "DEV-OFFLINE": ("设备离线", "device offline"),
    "DEV-CLOCK": ("设备时钟偏差", "device clock skew"),
}


def rule_name(rule_id: str, lang: str) -> str:
    pair = RULES.get(rule_id)
    if pair is None:
        return rule_id
    return pair[0] if lang == "zh" else pair[1]
