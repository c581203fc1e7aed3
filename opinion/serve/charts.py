"""Server-side SVG charts: plain strings of inline SVG, no JavaScript, nothing external.

Every text value is escaped (`markupsafe.escape`); every mark can carry a link (`href`) to the
verbatims behind it. With `href=None` (the static report) marks are drawn without links.
No `xmlns` attribute: inline SVG in HTML needs none, and the report must not contain URLs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

from opinion.insights.stats import signed, sufficient

# Series colours: distinct hues, none of them the sentiment red / green (those mean good/bad).
# Beyond 12 series the dash pattern changes too, so no two touchpoints ever look the same.
PALETTE = (
    "#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    "#bcbd22", "#393b79", "#7f7f7f", "#e6ab02", "#ae017e", "#000000",
)  # fmt: skip
DASHES = ("", "6 3", "2 3")
POS, NEG, NEU, INK, GRID = "#1a9850", "#d73027", "#999999", "#333333", "#dddddd"
THIN = "#bbbbbb"  # below the minimum sample: grey, never red or green


def series_style(index: int) -> tuple[str, str]:
    """(colour, dash) of the index-th series; unique for the first 36."""
    return PALETTE[index % len(PALETTE)], DASHES[(index // len(PALETTE)) % len(DASHES)]


def _clip(text: str, n: int = 22) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def human(label: object) -> str:
    """Display form of a warehouse value: `customer_service` → `customer service`."""
    return str(label).replace("_", " ") if label is not None else ""


def _a(href: str | None, inner: str, title: str, cls: str = "") -> str:
    t = f"<title>{escape(title)}</title>"
    if href is None:
        return f'<g class="{cls}">{t}{inner}</g>'
    return f'<a href="{escape(href)}" class="{cls}">{t}{inner}</a>'


def _svg(width: int, height: int, body: str, label: str, cls: str = "chart") -> Markup:
    return Markup(
        f'<svg class="{cls}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(label)}">{body}</svg>'
    )


def net_bars(rows: Sequence, href: Callable[[object], str | None], label: str) -> Markup:
    """Diverging horizontal bars of net sentiment (−100…100), one per row (`.label`, `.net`,
    `.mentions`, `.sufficient`). Values sit in their own column on the right (never over a
    label); a row below the minimum sample is a grey bar with its n, never red or green."""
    row_h, left, width, value_w = 28, 150, 640, 96
    plot = width - left - value_w - 10
    mid = left + plot / 2
    scale = plot / 200
    h = row_h * len(rows) + 30
    out = [f'<line x1="{mid}" x2="{mid}" y1="0" y2="{h - 20}" stroke="{INK}" stroke-width="1"/>']
    for v in (-100, -50, 50, 100):
        x = mid + v * scale
        out.append(f'<line x1="{x}" x2="{x}" y1="0" y2="{h - 20}" stroke="{GRID}"/>')
        out.append(f'<text x="{x}" y="{h - 6}" text-anchor="middle" class="tick">{v:+d}</text>')
    out.append(f'<text x="{mid}" y="{h - 6}" text-anchor="middle" class="tick">0</text>')
    for i, r in enumerate(rows):
        y = i * row_h + 4
        name = human(r.label)
        out.append(
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end" class="lbl">'
            f"<title>{escape(name)}</title>{escape(_clip(name))}</text>"
        )
        net = r.net
        if net is None:
            continue
        x0, x1 = sorted((mid, mid + net * scale))
        suff = getattr(r, "sufficient", True)
        color = (POS if net >= 0 else NEG) if suff else THIN
        cls = "mark" if suff else "mark thin"
        bar = (
            f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 1):.1f}" height="{row_h - 8}" '
            f'fill="{color}" data-n="{r.mentions}"/>'
        )
        text = signed(net) if suff else f"{signed(net)} (n={r.mentions})"
        tone = ("pos" if net >= 0 else "neg") if suff else "thin"
        bar += (
            f'<text x="{width - 4}" y="{y + 15}" text-anchor="end" class="val {tone}" '
            f'data-n="{r.mentions}">{text}</text>'
        )
        title = f"{name}: net sentiment {signed(net, 1)} from {r.mentions} mentions"
        if not suff:
            title += " (below the minimum sample: not comparable)"
        out.append(_a(href(r), bar, title, cls))
    return _svg(width, h, "".join(out), label)


def interval(score: float | None, low: float | None, high: float | None, width: int = 160):
    """A tiny 0–100 % scale with the opinion score and its Wilson interval."""
    h = 18
    body = [f'<line x1="2" x2="{width - 2}" y1="9" y2="9" stroke="{GRID}" stroke-width="4"/>']
    if score is not None and low is not None and high is not None:
        sx = lambda v: 2 + v * (width - 4)  # noqa: E731
        body.append(
            f'<line x1="{sx(low):.1f}" x2="{sx(high):.1f}" y1="9" y2="9" stroke="{INK}" '
            'stroke-width="2"/>'
        )
        color = POS if score >= 0.5 else NEG
        body.append(f'<circle cx="{sx(score):.1f}" cy="9" r="5" fill="{color}"/>')
    label = (
        "no opinions"
        if score is None
        else f"opinion score {score:.0%} (95% interval {low:.0%}–{high:.0%})"
    )
    return _svg(width, h, "".join(body), label, "mini")


Y_SPLIT = 0.5  # the quadrant's horizontal line: as many positive as negative opinions


def _nice_axis(top: float) -> tuple[float, float]:
    """(axis maximum, tick step) for a share axis: round ticks, never beyond 100 %."""
    for step in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25):
        if top / step <= 6:
            break
    return min(1.0, math.ceil(top / step - 1e-9) * step), step


def _overlaps(box, boxes) -> bool:
    x0, y0, x1, y1 = box
    return any(x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1 for b in boxes)


def quadrant(rows: Sequence, href: Callable[[object], str | None], average: float | None):
    """Importance (x, share of mentions) × opinion score (y) with the four quadrants.

    The split is absolute and stated on the chart: x at an equal share (1 / number of points),
    y at 50 % (as many positive as negative opinions), so "keep doing" is never a net-negative
    category. The brand's average score is drawn as a reference line only. A point below the
    minimum sample is grey and hollow, in no quadrant. Labels are placed where they overlap
    neither another label nor the quadrant names (else only the tooltip names the point)."""
    w, h, left, top, right, bottom = 760, 480, 60, 20, 64, 50
    pts = [r for r in rows if r.score is not None and r.importance is not None]
    xmax, step = _nice_axis(max([r.importance for r in pts] + [0.05]) * 1.1)
    x_split = 1 / len(pts) if pts else 0.1  # above an equal share = important
    pw, ph = w - left - right, h - top - bottom
    sx = lambda v: left + v / xmax * pw  # noqa: E731
    sy = lambda v: top + (1 - v) * ph  # noqa: E731
    xs, ys = sx(min(x_split, xmax)), sy(Y_SPLIT)
    out = [
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fafafa" stroke="{GRID}"/>',
        f'<rect x="{xs:.1f}" y="{ys:.1f}" width="{left + pw - xs:.1f}" height="{top + ph - ys:.1f}"'
        f' fill="{NEG}" fill-opacity="0.08"/>',
        f'<rect x="{xs:.1f}" y="{top}" width="{left + pw - xs:.1f}" height="{ys - top:.1f}" '
        f'fill="{POS}" fill-opacity="0.08"/>',
        f'<line x1="{xs:.1f}" x2="{xs:.1f}" y1="{top}" y2="{top + ph}" stroke="{INK}" '
        'stroke-dasharray="4 3"/>',
        f'<line x1="{left}" x2="{left + pw}" y1="{ys:.1f}" y2="{ys:.1f}" stroke="{INK}" '
        'stroke-dasharray="4 3"/>',
    ]
    taken = []  # label boxes (x0, y0, x1, y1) already used
    for text, x, y, anchor, color in (
        ("FIX FIRST", left + pw - 6, top + ph - 8, "end", NEG),
        ("KEEP DOING", left + pw - 6, top + 16, "end", POS),
        ("MONITOR", left + 6, top + ph - 8, "start", INK),
        ("NICE TO HAVE", left + 6, top + 16, "start", INK),
    ):
        tw = 8.5 * len(text)
        x0 = x - tw if anchor == "end" else x
        taken.append((x0, y - 12, x0 + tw, y + 3))
        out.append(
            f'<text x="{x}" y="{y}" text-anchor="{anchor}" class="quad" '
            f'fill="{color}">{text}</text>'
        )
    if average is not None:
        out.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{sy(average):.1f}" y2="{sy(average):.1f}" '
            f'stroke="{NEU}" stroke-dasharray="1 3" class="avg"/>'
            f'<text x="{left + pw + 4}" y="{sy(average) + 4:.1f}" class="tick">avg '
            f"{average:.0%}</text>"
        )
    for v in (0, 0.25, 0.5, 0.75, 1):
        out.append(
            f'<text x="{left - 6}" y="{sy(v) + 4:.1f}" text-anchor="end" '
            f'class="tick">{v:.0%}</text>'
        )
    for i in range(round(xmax / step) + 1):
        v = i * step
        out.append(
            f'<text x="{sx(v):.1f}" y="{top + ph + 16}" text-anchor="middle" '
            f'class="tick">{v:.0%}</text>'
        )
    out.append(
        f'<text x="{left + pw / 2}" y="{h - 8}" text-anchor="middle" class="axis">'
        "Importance (share of the brand's mentions)</text>"
    )
    out.append(
        f'<text x="14" y="{top + ph / 2}" text-anchor="middle" class="axis" '
        f'transform="rotate(-90 14 {top + ph / 2})">Opinion score (positive share)</text>'
    )
    nmax = max([r.mentions for r in pts] + [1])
    dots = []
    for r in pts:  # every dot is an obstacle for every label
        x, y = sx(r.importance), sy(r.score)
        rad = 5 + 10 * (r.mentions / nmax) ** 0.5
        dots.append((r, x, y, rad))
    obstacles = [(x - rad, y - rad, x + rad, y + rad) for _, x, y, rad in dots]
    # big points first: they get the best label positions
    for r, x, y, rad in sorted(dots, key=lambda d: -d[0].mentions):
        suff = getattr(r, "sufficient", True) and getattr(r, "score_sufficient", True)
        if suff:
            important, happy = r.importance >= x_split, r.score >= Y_SPLIT
            color = POS if happy else NEG if important else NEU
            fill = f'fill="{color}" fill-opacity="0.75" stroke="#fff"'
        else:
            color = THIN
            fill = f'fill="#fff" stroke="{THIN}" stroke-width="2"'
        whisker = (
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{sy(r.low):.1f}" y2="{sy(r.high):.1f}" '
            f'stroke="{color}" stroke-opacity="0.6"/>'
        )
        name = _clip(human(r.label)) + ("" if suff else f" (n={r.mentions})")
        tw = 6.6 * len(name) + 4
        label = ""
        for lx, ly, anchor in (
            (x + rad + 3, y + 4, "start"),
            (x - rad - 3, y + 4, "end"),
            (x, y - rad - 4, "middle"),
            (x, y + rad + 13, "middle"),
        ):
            x0 = lx if anchor == "start" else lx - tw if anchor == "end" else lx - tw / 2
            box = (x0, ly - 11, x0 + tw, ly + 3)
            inside = box[0] >= left and box[2] <= left + pw and box[1] >= top
            others = [o for o in obstacles if o != (x - rad, y - rad, x + rad, y + rad)]
            if inside and box[3] <= top + ph and not _overlaps(box, taken + others):
                taken.append(box)
                cls = "lbl" if suff else "lbl thin"
                label = (
                    f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="{anchor}" class="{cls}">'
                    f"{escape(name)}</text>"
                )
                break
        dot = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{rad:.1f}" {fill} data-n="{r.mentions}"/>'
        title = (
            f"{human(r.label)}: importance {r.importance:.0%}, opinion score {r.score:.0%} "
            f"({r.low:.0%}–{r.high:.0%}), {r.mentions} mentions"
        )
        if not suff:
            title += " — below the minimum sample: in no quadrant"
        cls = "mark point" if suff else "mark point thin"
        out.append(_a(href(r), whisker + dot + label, title, cls))
    return _svg(w, h, "".join(out), "Importance × satisfaction map")


def benchmark_rows(rows: Sequence, highlight: str, href: Callable[[object], str | None]):
    """Opinion score with Wilson interval per brand (one touchpoint); the brand highlighted."""
    row_h, left, w = 24, 150, 620
    pw = w - left - 100
    h = row_h * len(rows) + 26
    sx = lambda v: left + v * pw  # noqa: E731
    out = []
    for v in (0, 0.25, 0.5, 0.75, 1):
        out.append(
            f'<line x1="{sx(v):.1f}" x2="{sx(v):.1f}" y1="0" y2="{h - 20}" '
            f'stroke="{GRID}"/><text x="{sx(v):.1f}" y="{h - 6}" text-anchor="middle" '
            f'class="tick">{v:.0%}</text>'
        )
    for i, r in enumerate(rows):
        y = i * row_h + 12
        is_brand = r.label == highlight
        pooled = r.brand is None
        cls = "lbl strong" if is_brand or pooled else "lbl"
        out.append(
            f'<text x="{left - 8}" y="{y + 4}" text-anchor="end" class="{cls}">'
            f"{escape(human(r.label))}</text>"
        )
        if r.score is None:
            continue
        suff = getattr(r, "sufficient", True) and getattr(r, "score_sufficient", True)
        color = ("#08519c" if is_brand else (INK if pooled else "#888888")) if suff else THIN
        dot = f'fill="{color}"' if suff else f'fill="#fff" stroke="{THIN}" stroke-width="2"'
        mark = (
            f'<line x1="{sx(r.low):.1f}" x2="{sx(r.high):.1f}" y1="{y}" y2="{y}" '
            f'stroke="{color}" stroke-width="2"/>'
            f'<circle cx="{sx(r.score):.1f}" cy="{y}" r="{6 if is_brand else 4}" {dot} '
            f'data-n="{r.mentions}"/>'
            f'<text x="{sx(1) + 8:.1f}" y="{y + 4}" class="val{"" if suff else " thin"}" '
            f'data-n="{r.mentions}">n={r.mentions}{"" if suff else " (few)"}</text>'
        )
        title = (
            f"{r.label}: opinion score {r.score:.0%} ({r.low:.0%}–{r.high:.0%}), "
            f"net {signed(r.net)}, {r.mentions} mentions"
        )
        if not suff:
            title += " — below the minimum sample: not comparable"
        out.append(_a(href(r), mark, title, "mark" if suff else "mark thin"))
    return _svg(w, h, "".join(out), "Brand vs competitors")


def period_label(d, grain: str, with_year: bool = True) -> str:
    """An axis label: `Feb 17 2015` (the year where it changes), `Feb 2015`, `Q1 2015`,
    `2015`."""
    if grain == "year":
        return f"{d.year}"
    if grain == "quarter":
        return f"Q{(d.month - 1) // 3 + 1} {d.year}"
    if grain == "month":
        return d.strftime("%b %Y")
    return d.strftime("%b %d %Y" if with_year else "%b %d")


def lines(
    series: dict[str, Sequence],
    href: Callable[[str, object], str | None],
    alert_days: dict[str, set] | None = None,
    min_mentions: int = 0,
    order: Sequence[str] = (),
    grain: str = "day",
):
    """Net sentiment over time, one line per touchpoint; alert periods get a red ring.
    Periods with fewer than `min_mentions` are hollow dots and break the line. A series'
    colour comes from its place in `order` (all touchpoints), so it is the same on every page
    and no two series share one."""
    w, h, left, top, right, bottom = 760, 340, 50, 16, 150, 40
    pw, ph = w - left - right, h - top - bottom
    periods = sorted({p.period_start for pts in series.values() for p in pts})
    if not periods:
        return _svg(
            w, 60, '<text x="10" y="30" class="lbl">No data in this period.</text>', "Trend"
        )
    index = {d: i for i, d in enumerate(periods)}
    step = pw / max(len(periods) - 1, 1)
    sx = lambda d: left + index[d] * step  # noqa: E731
    sy = lambda v: top + (100 - v) / 200 * ph  # noqa: E731
    out = []
    for v in (-100, -50, 0, 50, 100):
        out.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{sy(v):.1f}" y2="{sy(v):.1f}" '
            f'stroke="{INK if v == 0 else GRID}"/><text x="{left - 6}" y="{sy(v) + 4:.1f}"'
            f' text-anchor="end" class="tick">{signed(v)}</text>'
        )
    every = max(1, len(periods) // 10)
    shown_year = None
    for i, d in enumerate(periods):
        if i % every == 0:
            label = period_label(d, grain, with_year=d.year != shown_year)
            shown_year = d.year
            out.append(
                f'<text x="{sx(d):.1f}" y="{top + ph + 16}" text-anchor="middle" '
                f'class="tick">{label}</text>'
            )
    alert_days = alert_days or {}
    place = {name: i for i, name in enumerate(order)}
    for k, (tp, pts) in enumerate(sorted(series.items())):
        color, dash = series_style(place.get(tp, len(order) + k))
        runs: list[list[tuple[float, float]]] = [[]]
        for p in pts:
            if p.net is None or not sufficient(p.mentions, min_mentions):
                runs.append([])  # too few mentions: break the line
            else:
                runs[-1].append((sx(p.period_start), sy(p.net)))
        for coords in runs:
            if len(coords) > 1:
                path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
                out.append(
                    f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"'
                    f' stroke-dasharray="{dash}" data-series="{escape(tp)}"/>'
                )
        for p in pts:
            if p.net is None:
                continue
            x, y = sx(p.period_start), sy(p.net)
            ring = ""
            if p.period_start in alert_days.get(tp, set()):
                ring = (
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="9" fill="none" stroke="{NEG}" '
                    'stroke-width="2" class="alert-ring"/>'
                )
            solid = sufficient(p.mentions, min_mentions)
            fill = color if solid else "#fff"
            dot = (
                f'{ring}<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{fill}" '
                f'stroke="{color}" stroke-width="1.5" data-n="{p.mentions}"/>'
            )
            small = "" if solid else " (too few to trust)"
            title = (
                f"{human(tp)} {p.period_start}: net {signed(p.net)} "
                f"from {p.mentions} mentions{small}"
            )
            out.append(_a(href(tp, p), dot, title, "mark"))
        ly = top + 14 + k * 18
        out.append(
            f'<line x1="{left + pw + 12}" x2="{left + pw + 30}" y1="{ly - 3}" y2="{ly - 3}" '
            f'stroke="{color}" stroke-width="3" stroke-dasharray="{dash}" class="legend" '
            f'data-color="{color}{dash}"/><text x="{left + pw + 34}" y="{ly + 1}" class="lbl">'
            f"{escape(_clip(human(tp), 18))}</text>"
        )
    return _svg(w, h, "".join(out), "Net sentiment over time")


def share_bars(rows: Sequence[tuple[str, int, float]], highlight: str):
    """Share of voice: one stacked bar across brands."""
    w, h = 620, 46
    x, out = 0.0, []
    for i, (brand, n, share) in enumerate(rows):
        bw = share * w
        color = "#08519c" if brand == highlight else PALETTE[(i + 3) % len(PALETTE)]
        label = escape(brand) if bw > 60 else ""
        out.append(
            f"<g><title>{escape(brand)}: {share:.0%} of mentions ({n})</title>"
            f'<rect x="{x:.1f}" y="4" width="{bw:.1f}" height="24" fill="{color}"/>'
            f'<text x="{x + 4:.1f}" y="21" class="inbar">{label}</text></g>'
        )
        x += bw
    return _svg(w, h, "".join(out), "Share of voice")
