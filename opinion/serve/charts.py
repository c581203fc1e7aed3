"""Server-side SVG charts: plain strings of inline SVG, no JavaScript, nothing external.

Every text value is escaped (`markupsafe.escape`); every mark can carry a link (`href`) to the
verbatims behind it. With `href=None` (the static report) marks are drawn without links.
No `xmlns` attribute: inline SVG in HTML needs none, and the report must not contain URLs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
    "#d62728",
)
POS, NEG, NEU, INK, GRID = "#1a9850", "#d73027", "#999999", "#333333", "#dddddd"


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
    """Diverging horizontal bars of net sentiment (−100…100), one per row (`.label`, `.net`)."""
    row_h, left, width = 28, 150, 620
    mid = left + (width - left - 60) / 2
    scale = (width - left - 60) / 200
    h = row_h * len(rows) + 30
    out = [f'<line x1="{mid}" x2="{mid}" y1="0" y2="{h - 20}" stroke="{INK}" stroke-width="1"/>']
    for v in (-100, -50, 50, 100):
        x = mid + v * scale
        out.append(f'<line x1="{x}" x2="{x}" y1="0" y2="{h - 20}" stroke="{GRID}"/>')
        out.append(f'<text x="{x}" y="{h - 6}" text-anchor="middle" class="tick">{v:+d}</text>')
    out.append(f'<text x="{mid}" y="{h - 6}" text-anchor="middle" class="tick">0</text>')
    for i, r in enumerate(rows):
        y = i * row_h + 4
        out.append(
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end" class="lbl">'
            f"{escape(human(r.label))}</text>"
        )
        net = r.net
        if net is None:
            continue
        x0, x1 = sorted((mid, mid + net * scale))
        color = POS if net >= 0 else NEG
        suff = getattr(r, "sufficient", True)
        bar = (
            f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 1):.1f}" height="{row_h - 8}" '
            f'fill="{color}" fill-opacity="{1 if suff else 0.35}"/>'
        )
        tx = (x1 + 4) if net >= 0 else (x0 - 4)
        anchor = "start" if net >= 0 else "end"
        text = f"{net:+.0f}" + ("" if suff else " (n small)")
        bar += f'<text x="{tx:.1f}" y="{y + 15}" text-anchor="{anchor}" class="val">{text}</text>'
        title = f"{human(r.label)}: net sentiment {net:+.1f} from {r.mentions} mentions"
        out.append(_a(href(r), bar, title, "mark"))
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


def quadrant(rows: Sequence, href: Callable[[object], str | None], y_split: float | None):
    """Importance (x, share of mentions) × opinion score (y) scatter with the four quadrants."""
    w, h, left, top, right, bottom = 760, 480, 60, 20, 30, 50
    pts = [r for r in rows if r.score is not None and r.importance is not None]
    xmax = max([r.importance for r in pts] + [0.05]) * 1.15
    x_split = 1 / len(pts) if pts else 0.1  # above an equal share = important
    y_split = 0.5 if y_split is None else y_split
    pw, ph = w - left - right, h - top - bottom
    sx = lambda v: left + v / xmax * pw  # noqa: E731
    sy = lambda v: top + (1 - v) * ph  # noqa: E731
    out = [
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fafafa" stroke="{GRID}"/>'
    ]
    # quadrant shading: important & unsatisfied = fix first
    out.append(
        f'<rect x="{sx(x_split):.1f}" y="{sy(y_split):.1f}" width="{left + pw - sx(x_split):.1f}"'
        f' height="{top + ph - sy(y_split):.1f}" fill="{NEG}" fill-opacity="0.08"/>'
    )
    out.append(
        f'<rect x="{sx(x_split):.1f}" y="{top}" width="{left + pw - sx(x_split):.1f}" '
        f'height="{sy(y_split) - top:.1f}" fill="{POS}" fill-opacity="0.08"/>'
    )
    out.append(
        f'<line x1="{sx(x_split):.1f}" x2="{sx(x_split):.1f}" y1="{top}" '
        f'y2="{top + ph}" stroke="{INK}" stroke-dasharray="4 3"/>'
    )
    out.append(
        f'<line x1="{left}" x2="{left + pw}" y1="{sy(y_split):.1f}" '
        f'y2="{sy(y_split):.1f}" stroke="{INK}" stroke-dasharray="4 3"/>'
    )
    for text, x, y, anchor, color in (
        ("FIX FIRST", left + pw - 6, top + ph - 8, "end", NEG),
        ("KEEP DOING", left + pw - 6, top + 16, "end", POS),
        ("MONITOR", left + 6, top + ph - 8, "start", INK),
        ("NICE TO HAVE", left + 6, top + 16, "start", INK),
    ):
        out.append(
            f'<text x="{x}" y="{y}" text-anchor="{anchor}" class="quad" '
            f'fill="{color}">{text}</text>'
        )
    for v in (0, 0.25, 0.5, 0.75, 1):
        out.append(
            f'<text x="{left - 6}" y="{sy(v) + 4:.1f}" text-anchor="end" '
            f'class="tick">{v:.0%}</text>'
        )
    steps = 5
    for i in range(steps + 1):
        v = xmax * i / steps
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
    for r in pts:
        x, y = sx(r.importance), sy(r.score)
        rad = 5 + 10 * (r.mentions / nmax) ** 0.5
        important, happy = r.importance >= x_split, r.score >= y_split
        color = POS if happy else NEG if important else NEU
        whisker = (
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{sy(r.low):.1f}" y2="{sy(r.high):.1f}" '
            f'stroke="{color}" stroke-opacity="0.6"/>'
        )
        dot = (
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{rad:.1f}" fill="{color}" fill-opacity="0.75"'
            f' stroke="#fff"/><text x="{x + rad + 3:.1f}" y="{y + 4:.1f}" class="lbl">'
            f"{escape(human(r.label))}</text>"
        )
        title = (
            f"{human(r.label)}: importance {r.importance:.0%}, opinion score {r.score:.0%} "
            f"({r.low:.0%}–{r.high:.0%}), {r.mentions} mentions"
        )
        out.append(_a(href(r), whisker + dot, title, "mark point"))
    return _svg(w, h, "".join(out), "Importance × satisfaction map")


def benchmark_rows(rows: Sequence, highlight: str, href: Callable[[object], str | None]):
    """Opinion score with Wilson interval per brand (one touchpoint); the brand highlighted."""
    row_h, left, w = 24, 150, 620
    pw = w - left - 70
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
        color = "#08519c" if is_brand else (INK if pooled else "#888888")
        mark = (
            f'<line x1="{sx(r.low):.1f}" x2="{sx(r.high):.1f}" y1="{y}" y2="{y}" '
            f'stroke="{color}" stroke-width="2"/>'
            f'<circle cx="{sx(r.score):.1f}" cy="{y}" r="{6 if is_brand else 4}" fill="{color}"/>'
            f'<text x="{sx(1) + 8:.1f}" y="{y + 4}" class="val">n={r.mentions}</text>'
        )
        title = (
            f"{r.label}: opinion score {r.score:.0%} ({r.low:.0%}–{r.high:.0%}), "
            f"net {r.net:+.0f}, {r.mentions} mentions"
        )
        out.append(_a(href(r), mark, title, "mark"))
    return _svg(w, h, "".join(out), "Brand vs competitors")


def lines(
    series: dict[str, Sequence],
    href: Callable[[str, object], str | None],
    alert_days: dict[str, set] | None = None,
    min_mentions: int = 0,
):
    """Net sentiment over time, one line per touchpoint; alert periods get a red ring.
    Periods with fewer than `min_mentions` are hollow dots and break the line."""
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
            f' text-anchor="end" class="tick">{v:+d}</text>'
        )
    every = max(1, len(periods) // 10)
    for i, d in enumerate(periods):
        if i % every == 0:
            out.append(
                f'<text x="{sx(d):.1f}" y="{top + ph + 16}" text-anchor="middle" '
                f'class="tick">{d.strftime("%b %d")}</text>'
            )
    alert_days = alert_days or {}
    for k, (tp, pts) in enumerate(sorted(series.items())):
        color = PALETTE[k % len(PALETTE)]
        runs: list[list[tuple[float, float]]] = [[]]
        for p in pts:
            if p.net is None or p.mentions < min_mentions:
                runs.append([])  # too few mentions: break the line
            else:
                runs[-1].append((sx(p.period_start), sy(p.net)))
        for coords in runs:
            if len(coords) > 1:
                path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
                out.append(
                    f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>'
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
            fill = color if p.mentions >= min_mentions else "#fff"
            dot = (
                f'{ring}<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{fill}" '
                f'stroke="{color}" stroke-width="1.5"/>'
            )
            small = "" if p.mentions >= min_mentions else " (too few to trust)"
            title = (
                f"{human(tp)} {p.period_start}: net {p.net:+.0f} from {p.mentions} mentions{small}"
            )
            out.append(_a(href(tp, p), dot, title, "mark"))
        ly = top + 14 + k * 18
        out.append(
            f'<rect x="{left + pw + 16}" y="{ly - 9}" width="12" height="12" '
            f'fill="{color}"/><text x="{left + pw + 32}" y="{ly + 1}" class="lbl">'
            f"{escape(human(tp))}</text>"
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
