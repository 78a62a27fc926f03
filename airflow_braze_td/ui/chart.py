"""Server-rendered SVG charts of the lag page: nothing is fetched at run time, no script runs in the browser."""

from __future__ import annotations

from html import escape

WIDTH, HEIGHT = 720, 200
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 28


def _x(index: int, count: int) -> float:
    return LEFT + (WIDTH - LEFT - RIGHT) * index / max(count - 1, 1)


def _y(value: float, top: float) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (1 - value / top)


def _frame(title: str, top: float, unit: str, history: list[dict]) -> list[str]:
    """The box, the y axis's three ticks and the x axis's hours ago."""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
             f'height="{HEIGHT}" role="img" aria-label="{escape(title)}">',
             f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" height="{HEIGHT - TOP - BOTTOM}" '
             'fill="none" stroke="#bbb"/>']
    for tick in (0.0, top / 2, top):
        y = _y(tick, top)
        parts.append(f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10">{tick:.3g}{unit}</text>')
    count = len(history)
    for index in range(0, count, 12):
        hours_ago = count - 1 - index
        parts.append(f'<text x="{_x(index, count):.1f}" y="{HEIGHT - 10}" text-anchor="middle" font-size="10">'
                     f'{f"-{hours_ago} h" if hours_ago else "now"}</text>')
    return parts


def lag_chart(history: list[dict], thresholds: dict) -> str:
    """The lag at each point of `history`, with the warn, fail and loss-window lines."""
    lines = [("warn", thresholds["warn_after_hours"], "#e0a000"), ("fail", thresholds["fail_line_hours"], "#d03030"),
             ("loss window", thresholds["loss_window_hours"], "#000")]
    top = max([point["lag_hours"] for point in history] + [value for _, value, _ in lines]) * 1.05 or 1.0
    parts = _frame("delivery lag over the last 48 hours", top, " h", history)
    for name, value, colour in lines:
        y = _y(value, top)
        parts.append(f'<line class="threshold" data-name="{name}" data-hours="{value:g}" x1="{LEFT}" y1="{y:.1f}" '
                     f'x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="{colour}" stroke-dasharray="6 4"/>')
        parts.append(f'<text x="{WIDTH - RIGHT - 4}" y="{y - 3:.1f}" text-anchor="end" font-size="10" '
                     f'fill="{colour}">{name} {value:g} h</text>')
    count = len(history)
    points = " ".join(f"{_x(index, count):.1f},{_y(point['lag_hours'], top):.1f}" for index, point in enumerate(history))
    parts.append(f'<polyline class="lag" points="{points}" fill="none" stroke="#1f6fd0" stroke-width="2"/>')
    parts.append("</svg>")
    return "".join(parts)


def delivered_chart(history: list[dict]) -> str:
    """Events delivered in the hour up to each point of `history`, as bars."""
    top = max(point["delivered_events"] for point in history) * 1.05 or 1.0
    parts = _frame("events delivered per hour", top, "", history)
    count = len(history)
    width = (WIDTH - LEFT - RIGHT) / max(count, 1) * 0.8
    for index, point in enumerate(history):
        events = point["delivered_events"]
        if events:
            y = _y(events, top)
            parts.append(f'<rect class="delivered" data-events="{events}" x="{_x(index, count) - width / 2:.1f}" '
                         f'y="{y:.1f}" width="{width:.1f}" height="{HEIGHT - BOTTOM - y:.1f}" fill="#4a9a5a"/>')
    parts.append("</svg>")
    return "".join(parts)
