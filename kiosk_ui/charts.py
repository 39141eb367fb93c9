"""Server-side SVG charts for the analytics page (kiosk_ui/analytics.py): plain strings, no
build step, no library. Every mark carries its numbers twice: a `<title>` (the browser's own
tooltip, and what an exported SVG keeps) and `data-tip` (the page's instant tooltip,
static/charts.js). Colours are attributes, not CSS, so a downloaded SVG or PNG looks the same.

  bar_panels   stacked or grouped bars, one panel per group (a team, a measure), shared legend
  heat_grid    rows x columns of cells shaded by value (zones x hours)
  floor_heat   seats at their map positions, shaded by value, with the zones' outlines
  target_bars  a value per category as bars against a target drawn as a line (coverage)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

FONT = '"Noto Sans CJK SC","Noto Sans SC","PingFang SC","Microsoft YaHei",sans-serif'
INK, MUTED, GRID = "#111827", "#6b7280", "#e5e7eb"


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    color: str


@dataclass(frozen=True)
class Panel:
    title: str
    categories: list[str]
    values: dict[str, list[float]]  # series key -> one value per category


def num(x: float) -> str:
    """A number as people read it: no trailing .0, one decimal at most."""
    return str(int(round(x))) if abs(x - round(x)) < 0.05 else f"{x:.1f}"


def _svg(w: float, h: float, label: str, body: list[str]) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w:.0f} {h:.0f}" width="{w:.0f}" height="{h:.0f}"'
        f' role="img" aria-label="{escape(label)}" font-family=\'{FONT}\' font-size="11" fill="{INK}">'
        f'<rect width="100%" height="100%" fill="#ffffff"/>' + "".join(body) + "</svg>")


def _mark(shape: str, tip: str, **attrs: object) -> str:
    a = " ".join(f'{k.replace("_", "-")}="{escape(str(v))}"' for k, v in attrs.items())
    return f'<{shape} class="mark" {a} data-tip="{escape(tip)}"><title>{escape(tip)}</title></{shape}>'


def _text(x: float, y: float, s: str, anchor: str = "start", fill: str = INK, size: int = 11, **kw: object) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in kw.items())
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}" font-size="{size}"{extra}>{escape(s)}</text>'


def _legend(series: Sequence[Series], x: float, y: float) -> list[str]:
    out = []
    for s in series:
        out.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{s.color}"/>')
        out.append(_text(x + 14, y, s.label))
        x += 24 + 11 * len(s.label) * (1.6 if any(ord(c) > 0x2E80 for c in s.label) else 0.6)
    return out


STEPS = sorted(m * 10**e for e in range(7) for m in (1, 2, 2.5, 5))


def _nice_max(v: float) -> float:
    """The top of an axis of four gridlines, each a round step (1, 2, 2.5 or 5 times a power of ten)."""
    return 4.0 * next((st for st in STEPS if st * 4 >= v), v / 4)


def _y_axis(x0: float, y0: float, h: float, w: float, top: float) -> list[str]:
    out = []
    for i in range(5):
        v = top * i / 4
        y = y0 - h * i / 4
        out.append(f'<line x1="{x0:.1f}" x2="{x0 + w:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        out.append(_text(x0 - 4, y + 4, num(v), "end", MUTED, 10))
    return out


def bar_panels(label: str, panels: Sequence[Panel], series: Sequence[Series], *, grouped: bool = False,
               tip: Callable[[Panel, str, Series, float], str], width: float = 900, panel_h: float = 150) -> Markup:
    """Bars per category, stacked (or side by side when `grouped`), one panel after another."""
    left, right, legend_h, gap = 44, 10, 22, 34
    h = legend_h + len(panels) * (panel_h + gap) + 4
    body = _legend(series, left, 14)
    for p_i, p in enumerate(panels):
        top_y = legend_h + p_i * (panel_h + gap) + 16
        y0 = top_y + panel_h - 20
        plot_h = panel_h - 26
        n = max(1, len(p.categories))
        plot_w = width - left - right
        slot = plot_w / n
        totals = [sum(p.values[s.key][i] for s in series) for i in range(len(p.categories))]
        peak = max((max(p.values[s.key]) for s in series if p.values[s.key]), default=0) if grouped else max(totals, default=0)
        top = _nice_max(peak)
        body.append(_text(left, top_y - 4, p.title, size=12, font_weight="bold"))
        body += _y_axis(left, y0, plot_h, plot_w, top)
        bar_w = slot * 0.7 / (len(series) if grouped else 1)
        for i, cat in enumerate(p.categories):
            x = left + slot * i + slot * 0.15
            acc = 0.0
            for s_i, s in enumerate(series):
                v = p.values[s.key][i]
                bh = plot_h * v / top
                if grouped:
                    bx, by = x + s_i * bar_w, y0 - bh
                else:
                    bx, by = x, y0 - plot_h * (acc + v) / top
                    acc += v
                if v > 0:
                    body.append(_mark("rect", tip(p, cat, s, v), x=f"{bx:.1f}", y=f"{by:.1f}", width=f"{max(bar_w - 1, 1):.1f}",
                                      height=f"{bh:.1f}", fill=s.color, data_series=s.key, data_category=cat, data_value=num(v)))
            if n <= 31 and (n <= 16 or i % 2 == 0):
                body.append(_text(x + slot * 0.35, y0 + 13, cat, "middle", MUTED, 10))
    return _svg(width, h, label, body)


def _shade(v: float, top: float, rgb: tuple[int, int, int] = (212, 42, 32)) -> str:
    """White to `rgb` as v goes from 0 to top."""
    f = 0.0 if top <= 0 else max(0.0, min(1.0, v / top))
    r, g, b = (round(255 + (c - 255) * f) for c in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def heat_grid(label: str, rows: Sequence[str], cols: Sequence[str], values: dict[str, list[float]],
              tip: Callable[[str, str, float], str], *, width: float = 900, unit_label: str = "") -> Markup:
    left, top_y, cell_h = 70, 34, 30
    cw = (width - left - 10) / max(1, len(cols))
    peak = max((max(v) for v in values.values() if v), default=0)
    body = [_text(left, 14, f"0 – {num(peak)} {unit_label}".strip(), fill=MUTED, size=10)]
    for j, c in enumerate(cols):
        body.append(_text(left + cw * j + cw / 2, top_y - 6, c, "middle", MUTED, 10))
    for i, r in enumerate(rows):
        y = top_y + i * cell_h
        body.append(_text(left - 6, y + cell_h / 2 + 4, r, "end"))
        for j, c in enumerate(cols):
            v = values[r][j]
            body.append(_mark("rect", tip(r, c, v), x=f"{left + cw * j:.1f}", y=f"{y:.1f}", width=f"{cw - 1:.1f}",
                              height=f"{cell_h - 1}", fill=_shade(v, peak), stroke=GRID, data_row=r, data_col=c,
                              data_value=num(v)))
    return _svg(width, top_y + len(rows) * cell_h + 8, label, body)


def floor_heat(label: str, seats: Sequence[tuple[str, str, float, float, float]], size: tuple[float, float],
               tip: Callable[[str, float], str], *, width: float = 900) -> Markup:
    """seats: (id, zone, x, y, share 0..1) at their map positions (site.toml), scaled to `width`,
    shaded up to the busiest seat; only the part of the map that holds seats is drawn."""
    if not seats:
        return _svg(width, 60, label, [])
    xs, ys = [s[2] for s in seats], [s[3] for s in seats]
    pad = 40.0
    x0, y0 = max(0.0, min(xs) - pad), max(0.0, min(ys) - pad)
    x1, y1 = min(size[0], max(xs) + pad), min(size[1], max(ys) + pad)
    k = (width - 20) / max(1.0, x1 - x0)
    seat = 44 * k if 44 * k < 60 else 60
    h = (y1 - y0) * k + 40
    peak = max(s[4] for s in seats)
    body = [_text(10, 14, f"0% – {peak * 100:.0f}%", fill=MUTED, size=10)]
    zones: dict[str, list[tuple[float, float]]] = {}
    for _id, zone, x, y, _share in seats:
        zones.setdefault(zone, []).append((10 + (x - x0) * k, 24 + (y - y0) * k))
    for zone, pts in zones.items():
        zx0, zy0 = min(p[0] for p in pts) - seat * 0.7, min(p[1] for p in pts) - seat * 0.7
        zx1, zy1 = max(p[0] for p in pts) + seat * 0.7, max(p[1] for p in pts) + seat * 0.7
        body.append(f'<rect x="{zx0:.1f}" y="{zy0:.1f}" width="{zx1 - zx0:.1f}" height="{zy1 - zy0:.1f}" rx="6"'
                    f' fill="none" stroke="{MUTED}" stroke-dasharray="4 3"/>')
        body.append(_text(zx0 + 4, zy0 - 4, zone, fill=MUTED))
    for sid, _zone, x, y, share in seats:
        cx, cy = 10 + (x - x0) * k, 24 + (y - y0) * k
        body.append(_mark("rect", tip(sid, share), x=f"{cx - seat / 2:.1f}", y=f"{cy - seat / 2:.1f}", width=f"{seat:.1f}",
                          height=f"{seat:.1f}", rx="4", fill=_shade(share, peak, (30, 155, 80)), stroke=MUTED,
                          data_seat=sid, data_value=f"{share * 100:.0f}"))
        body.append(_text(cx, cy + 4, sid, "middle", size=10, pointer_events="none"))
    return _svg(width, h, label, body)


def target_bars(label: str, categories: Sequence[str], values: Sequence[float], targets: Sequence[float],
                bar: Series, target: Series, tip: Callable[[str, float, float], str], *, width: float = 900,
                height: float = 220) -> Markup:
    left, right, top_y, bottom = 44, 10, 30, 22
    plot_w, plot_h = width - left - right, height - top_y - bottom
    y0 = top_y + plot_h
    top = _nice_max(max([*values, *targets, 0]))
    slot = plot_w / max(1, len(categories))
    body = _legend([bar, target], left, 14) + _y_axis(left, y0, plot_h, plot_w, top)
    pts = []
    for i, (c, v, t) in enumerate(zip(categories, values, targets, strict=True)):
        x = left + slot * i
        bh = plot_h * v / top
        body.append(_mark("rect", tip(c, v, t), x=f"{x + slot * 0.15:.1f}", y=f"{y0 - bh:.1f}", width=f"{slot * 0.7:.1f}",
                          height=f"{max(bh, 0.5):.1f}", fill=bar.color, data_category=c, data_value=num(v), data_target=num(t)))
        ty = y0 - plot_h * t / top
        pts.append(f"{x:.1f},{ty:.1f} {x + slot:.1f},{ty:.1f}")
        body.append(_text(x + slot / 2, y0 + 13, c, "middle", MUTED, 10))
    body.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="{target.color}" stroke-width="2"'
                f' pointer-events="none"/>')
    return _svg(width, height, label, body)
