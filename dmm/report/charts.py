"""Inline SVG charts for the report: grouped bars with a real y-axis, lines (time series, ROC and PR curves) and a
scatter. No script, no external resource; every text from the data is escaped. Charts are drawn in a
``VIEW_WIDTH``-wide coordinate system and scale to the page's width (CSS ``width: 100%``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from dmm.report.fmt import e, number, percent, short

VIEW_WIDTH = 1000
LEFT, RIGHT, TOP = 64, 16, 14
COLOURS = ("var(--train)", "var(--prod)", "#8250df", "#1a7f37", "#bf3989", "#57606a")
Series = tuple[str, str, Sequence[float | None]]  # (name, colour, values)


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """0 and round steps up to at least ``top`` (1, 2, 2.5 or 5 times a power of ten)."""
    if not top or not math.isfinite(top) or top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    n = math.ceil(top / step - 1e-9)
    return [round(i * step, 12) for i in range(n + 1)]


def _open(height: int, label: str) -> str:
    return (f'<svg class="chart" role="img" aria-label="{e(label)}" viewBox="0 0 {VIEW_WIDTH} {height}" '
            f'preserveAspectRatio="xMidYMid meet">')


def _y_axis(ticks: Sequence[float], plot_h: float, fmt: Callable[[float], str], title: str = "") -> list[str]:
    out, top = [], ticks[-1] or 1.0
    for tick in ticks:
        y = TOP + plot_h - plot_h * tick / top
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{VIEW_WIDTH - RIGHT}" y2="{y:.1f}" class="grid"/>'
                   f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{e(fmt(tick))}</text>')
    if title:
        out.append(f'<text x="12" y="{TOP + plot_h / 2:.1f}" text-anchor="middle" '
                   f'transform="rotate(-90 12 {TOP + plot_h / 2:.1f})">{e(title)}</text>')
    return out


def _wrap(text: str, width: int) -> list[str]:
    """At most two lines of about ``width`` characters, broken at a space, comma or dash when there is one."""
    if len(text) <= width:
        return [text]
    cut = max((text.rfind(ch, 0, width) for ch in " ,-–"), default=-1)
    cut = cut + 1 if cut >= 1 else width
    return [text[:cut].rstrip(), short(text[cut:].lstrip(), width)]


def _x_labels(labels: Sequence[str], slot: float, y: float) -> list[str]:
    """Horizontal labels under each slot, wrapped to two lines; every k-th label when the slots are narrow."""
    chars = max(int(slot / 7.5), 3)  # 12-unit text is about 7 units per character
    every = 1 if chars >= 4 else math.ceil(4 / chars)
    out = []
    for i, label in enumerate(labels):
        if i % every:
            continue
        lines = _wrap(str(label), chars * every)
        x = LEFT + (i + 0.5) * slot
        spans = "".join(f'<tspan x="{x:.1f}" dy="{0 if j == 0 else 12}">{e(line)}</tspan>'
                        for j, line in enumerate(lines))
        out.append(f'<text class="xlabel" x="{x:.1f}" y="{y:.1f}" text-anchor="middle">{spans}'
                   f"<title>{e(label)}</title></text>")
    return out


def bar_chart(labels: Sequence[str], series: Sequence[Series], *, height: int = 240, share: bool = True,
              y_title: str = "", label: str = "bar chart") -> str:
    """Grouped bars, one group per label; ``share``: values are fractions shown as percentages."""
    n = len(labels)
    if n == 0 or not series:
        return '<p class="reason">nothing to draw</p>'
    values = [v for _, _, vs in series for v in vs if v is not None and math.isfinite(v)]
    ticks = nice_ticks(max(values, default=0.0))
    top = ticks[-1] or 1.0
    bottom = 34
    plot_h = height - TOP - bottom
    slot = (VIEW_WIDTH - LEFT - RIGHT) / n
    bar = max(min(slot * 0.8 / len(series), 48.0), 1.0)
    fmt: Callable[[float], str] = (lambda v: f"{v:.0%}" if top >= 0.05 else f"{v:.1%}") if share else \
        (lambda v: number(v))
    out = [_open(height, label), *_y_axis(ticks, plot_h, fmt, y_title)]
    for i in range(n):
        x0 = LEFT + i * slot + (slot - bar * len(series)) / 2
        for k, (name, colour, vs) in enumerate(series):
            v = vs[i] if i < len(vs) else None
            if v is None or not math.isfinite(v):
                continue
            h = plot_h * v / top
            shown = percent(v) if share else number(v)
            out.append(f'<rect x="{x0 + k * bar:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar:.1f}" '
                       f'height="{max(h, 0):.1f}" style="fill:{colour}"><title>{e(labels[i])}: {e(name)} '
                       f"{e(shown)}</title></rect>")
    out.append(f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{VIEW_WIDTH - RIGHT}" y2="{TOP + plot_h}" class="axis"/>')
    out += _x_labels([str(label) for label in labels], slot, TOP + plot_h + 14)
    out.append("</svg>")
    return "".join(out)


def line_chart(x: Sequence[float], series: Sequence[Series], *, height: int = 260, x_range: tuple[float, float]
               | None = None, y_range: tuple[float, float] | None = None, x_title: str = "", y_title: str = "",
               x_ticks: Sequence[tuple[float, str]] | None = None, hline: tuple[float, str] | None = None,
               diagonal: bool = False, points: bool = False, lines: bool = True, label: str = "line chart") -> str:
    """Lines over a numeric x (gaps where a value is None); optional dashed threshold ``hline`` and diagonal."""
    finite = [v for _, _, vs in series for v in vs if v is not None and math.isfinite(v)]
    if not x or not finite:
        return '<p class="reason">nothing to draw</p>'
    x_lo, x_hi = x_range or (min(x), max(x))
    if x_hi == x_lo:
        x_hi = x_lo + 1
    if y_range:
        ticks = [y_range[0] + (y_range[1] - y_range[0]) * i / 5 for i in range(6)]
    else:
        ticks = nice_ticks(max([*finite, hline[0] if hline else 0.0]))
    y_lo, y_hi = ticks[0], ticks[-1] or 1.0
    bottom = 44 if x_title else 30
    plot_h = height - TOP - bottom
    plot_w = VIEW_WIDTH - LEFT - RIGHT

    def px(v: float) -> float:
        return LEFT + plot_w * (v - x_lo) / (x_hi - x_lo)

    def py(v: float) -> float:
        return TOP + plot_h - plot_h * (v - y_lo) / ((y_hi - y_lo) or 1.0)

    out = [_open(height, label)]
    for tick in ticks:
        out.append(f'<line x1="{LEFT}" y1="{py(tick):.1f}" x2="{VIEW_WIDTH - RIGHT}" y2="{py(tick):.1f}" class="grid"/>'
                   f'<text x="{LEFT - 6}" y="{py(tick) + 4:.1f}" text-anchor="end">{e(number(tick))}</text>')
    if y_title:
        out.append(f'<text x="12" y="{TOP + plot_h / 2:.1f}" text-anchor="middle" '
                   f'transform="rotate(-90 12 {TOP + plot_h / 2:.1f})">{e(y_title)}</text>')
    for value, text in x_ticks if x_ticks is not None else [(x_lo + (x_hi - x_lo) * i / 5, "") for i in range(6)]:
        shown = text or number(value)
        out.append(f'<text x="{px(value):.1f}" y="{TOP + plot_h + 16:.1f}" text-anchor="middle">{e(shown)}</text>')
    if x_title:
        out.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle">{e(x_title)}</text>')
    if diagonal:
        out.append(f'<line x1="{px(x_lo):.1f}" y1="{py(y_lo):.1f}" x2="{px(x_hi):.1f}" y2="{py(y_hi):.1f}" '
                   'class="guide"/>')
    if hline and y_lo <= hline[0] <= y_hi:
        out.append(f'<line x1="{LEFT}" y1="{py(hline[0]):.1f}" x2="{VIEW_WIDTH - RIGHT}" y2="{py(hline[0]):.1f}" '
                   f'class="threshold"><title>{e(hline[1])}</title></line>')
    for name, colour, vs in series:
        runs: list[list[str]] = [[]]
        for xi, v in zip(x, vs, strict=False):
            if v is None or not math.isfinite(v):
                runs.append([])
                continue
            runs[-1].append(f"{px(xi):.1f},{py(v):.1f}")
            if points:
                out.append(f'<circle cx="{px(xi):.1f}" cy="{py(v):.1f}" r="3" style="fill:{colour}">'
                           f"<title>{e(name)}: {e(number(v))}</title></circle>")
        for run in runs if lines else []:
            if run:
                out.append(f'<polyline points="{" ".join(run)}" style="stroke:{colour}" class="series">'
                           f"<title>{e(name)}</title></polyline>")
    out.append(f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{VIEW_WIDTH - RIGHT}" y2="{TOP + plot_h}" class="axis"/>')
    out.append("</svg>")
    return "".join(out)


def scatter(x: Sequence[float], y: Sequence[float], *, x_title: str, y_title: str, height: int = 300,
            label: str = "scatter") -> str:
    """Points with the y = x diagonal, over the common range of both axes."""
    values = [v for v in [*x, *y] if math.isfinite(v)]
    if not values:
        return '<p class="reason">nothing to draw</p>'
    lo, hi = min(values), max(values)
    if hi == lo:
        hi = lo + 1
    return line_chart(list(x), [("predicted", "var(--prod)", list(y))], height=height, x_range=(lo, hi),
                      y_range=(lo, hi), x_title=x_title, y_title=y_title, diagonal=True, points=True, lines=False,
                      label=label)


def legend(series: Sequence[tuple[str, str]]) -> str:
    return '<p class="legend">' + "".join(f'<span style="background:{colour}"></span>{e(name)}'
                                         for name, colour in series) + "</p>"


def as_float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value) else None
