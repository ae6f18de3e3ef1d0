"""Small server-side SVG charts for the admin (KPIs, stored-value liability, programme analytics: lines and a
heat map): no JavaScript, no CDN."""

from __future__ import annotations

from decimal import Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH, HEIGHT = 560, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 24, 14, 34


def _fmt(value) -> str:
    value = Decimal(value)
    return f"{value:.0f}" if abs(value) >= 100 else f"{value.normalize():f}"


def line_chart(
    *,
    labels: list[str],
    values: list,
    target=None,
    target_label: str = "",
    title: str = "",
    color: str = "#b8326a",
    empty_text: str = "",
    tick_every: int = 1,
) -> SafeString:
    """Monthly values as a line with dots (gaps where a month has no figure), and the target as a
    dashed horizontal line. Every dot carries a <title> with its month and value. For daily values,
    `tick_every` writes every n-th label under the axis (the dots keep all of them)."""
    known = [float(v) for v in values if v is not None]
    scale = [*known, *([float(target)] if target is not None else [])]
    low = min([0.0, *scale])
    high = max([1.0, *scale])
    if high == low:
        high = low + 1
    high += (high - low) * 0.08
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(labels) - 1)

    def x(index: int) -> float:
        return LEFT + index * step

    def y(value: float) -> float:
        return TOP + plot_h * (1 - (value - low) / (high - low))

    parts = [
        format_html(
            '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#d5d9de"/>',
            LEFT,
            round(y(v), 1),
            WIDTH - RIGHT,
            round(y(v), 1),
        )
        for v in (low, (low + high) / 2, high)
    ]
    parts += [
        format_html(
            '<text x="{}" y="{}" text-anchor="end" font-size="11" fill="#5f6670">{}</text>',
            LEFT - 6,
            round(y(v), 1) + 4,
            _fmt(Decimal(str(round(v, 0 if high - low >= 10 else 2)))),
        )
        for v in (low, (low + high) / 2, high)
    ]
    parts += [
        format_html(
            '<text x="{}" y="{}" text-anchor="middle" font-size="11" fill="#5f6670">{}</text>',
            round(x(i), 1),
            HEIGHT - 12,
            label,
        )
        for i, label in enumerate(labels)
        if i % max(1, tick_every) == 0
    ]
    segments, current = [], []
    for i, value in enumerate(values):
        if value is None:
            if current:
                segments.append(current)
            current = []
        else:
            current.append((round(x(i), 1), round(y(float(value)), 1)))
    if current:
        segments.append(current)
    for segment in segments:
        parts.append(
            format_html(
                '<polyline points="{}" fill="none" stroke="{}" stroke-width="2.5" stroke-linejoin="round"/>',
                " ".join(f"{px},{py}" for px, py in segment),
                color,
            )
        )
    parts += [
        format_html(
            '<circle class="kpi-point" cx="{}" cy="{}" r="4" fill="{}"><title>{}: {}</title></circle>',
            round(x(i), 1),
            round(y(float(value)), 1),
            color,
            labels[i],
            _fmt(value),
        )
        for i, value in enumerate(values)
        if value is not None
    ]
    if not known and empty_text:
        parts.append(
            format_html(
                '<text class="kpi-empty" x="{}" y="{}" text-anchor="middle" font-size="13" fill="#5f6670">{}</text>',
                LEFT + plot_w / 2,
                TOP + plot_h / 2,
                empty_text,
            )
        )
    if target is not None:
        ty = round(y(float(target)), 1)
        parts.append(
            format_html(
                '<line class="kpi-target" x1="{}" y1="{}" x2="{}" y2="{}" stroke="#067647" stroke-width="2" '
                'stroke-dasharray="6 4"><title>{}</title></line>',
                LEFT,
                ty,
                WIDTH - RIGHT,
                ty,
                target_label,
            )
        )
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="end" font-size="11" font-weight="600" fill="#067647">{}</text>',
                WIDTH - RIGHT,
                ty - 5,
                target_label,
            )
        )
    body = format_html_join("", "{}", ((part,) for part in parts))
    return format_html(
        '<svg class="kpi-chart" viewBox="0 0 {} {}" width="100%" role="img" aria-label="{}" '
        'xmlns="http://www.w3.org/2000/svg">{}</svg>',
        WIDTH,
        HEIGHT,
        title,
        body,
    )


BAR_ROW, BAR_LABEL = 26, 150


def bar_chart(*, labels: list[str], values: list[int], title: str = "", color: str = "#b8326a") -> SafeString:
    """Counts as horizontal bars, one row per label (a survey answer's distribution), each with its
    count and share at the end and a <title> for the exact figures."""
    total = sum(values) or 0
    high = max([1, *values])
    plot_w = WIDTH - BAR_LABEL - 90
    height = TOP + BAR_ROW * max(1, len(labels)) + 6
    parts = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = TOP + i * BAR_ROW
        width = round(plot_w * value / high, 1)
        share = f"{100 * value / total:.0f}%" if total else "—"
        short = label if len(label) <= 18 else label[:17] + "…"
        parts.append(
            format_html(
                '<g class="bar"><title>{}: {} ({})</title>'
                '<text x="{}" y="{}" text-anchor="end" font-size="12" fill="#1f2328">{}</text>'
                '<rect x="{}" y="{}" width="{}" height="{}" rx="3" fill="{}"/>'
                '<text x="{}" y="{}" font-size="12" fill="#5f6670">{} · {}</text></g>',
                label,
                value,
                share,
                BAR_LABEL - 8,
                y + 16,
                short,
                BAR_LABEL,
                y + 4,
                width,
                BAR_ROW - 8,
                color,
                BAR_LABEL + width + 6,
                y + 16,
                value,
                share,
            )
        )
    body = format_html_join("", "{}", ((part,) for part in parts))
    return format_html(
        '<svg class="bar-chart" viewBox="0 0 {} {}" width="100%" role="img" aria-label="{}" '
        'xmlns="http://www.w3.org/2000/svg">{}</svg>',
        WIDTH,
        height,
        title,
        body,
    )


def _blend(share: float) -> str:
    """From near-white (0) to the charts' rose (1)."""
    low, high = (251, 240, 245), (184, 50, 106)
    share = min(1.0, max(0.0, share))
    return "#{:02x}{:02x}{:02x}".format(*(round(a + (b - a) * share) for a, b in zip(low, high, strict=True)))


def heat_map(
    *,
    row_labels: list[str],
    column_labels: list[str],
    values: list[list[float | None]],
    title: str = "",
    row_notes: list[str] | None = None,
    empty_text: str = "",
) -> SafeString:
    """Shares (0–1) as a grid of coloured cells, one row per label: darker is higher; a missing
    value (None) or a cell past the end of its row is left blank. Each cell shows its percentage
    and carries a <title> with its row, column and value (the cohort retention of the programme
    analytics)."""
    cell_w, cell_h, label_w, note_w, top = 46, 26, 70, 56, 24
    columns = len(column_labels)
    width = label_w + note_w + max(1, columns) * cell_w + 8
    height = top + max(1, len(row_labels)) * cell_h + 8
    parts = [
        format_html(
            '<text x="{}" y="{}" text-anchor="middle" font-size="11" fill="#5f6670">{}</text>',
            label_w + note_w + i * cell_w + cell_w / 2,
            top - 8,
            label,
        )
        for i, label in enumerate(column_labels)
    ]
    for r, label in enumerate(row_labels):
        y = top + r * cell_h
        parts.append(
            format_html('<text x="{}" y="{}" font-size="11" fill="#1f2933">{}</text>', 4, y + cell_h / 2 + 4, label)
        )
        if row_notes:
            parts.append(
                format_html(
                    '<text x="{}" y="{}" text-anchor="end" font-size="11" fill="#5f6670">{}</text>',
                    label_w + note_w - 6,
                    y + cell_h / 2 + 4,
                    row_notes[r],
                )
            )
        for c, value in enumerate(values[r][:columns]):
            if value is None:
                continue
            x = label_w + note_w + c * cell_w
            percent = f"{value * 100:.0f}%"
            parts.append(
                format_html(
                    '<g class="heat-cell"><rect x="{}" y="{}" width="{}" height="{}" fill="{}" stroke="#fff"/>'
                    '<text x="{}" y="{}" text-anchor="middle" font-size="11" fill="{}">{}</text>'
                    "<title>{} · {}: {}</title></g>",
                    x,
                    y,
                    cell_w,
                    cell_h,
                    _blend(value),
                    x + cell_w / 2,
                    y + cell_h / 2 + 4,
                    "#fff" if value >= 0.5 else "#1f2933",
                    percent,
                    label,
                    column_labels[c],
                    percent,
                )
            )
    if not row_labels and empty_text:
        parts.append(
            format_html(
                '<text class="kpi-empty" x="{}" y="{}" font-size="13" fill="#5f6670">{}</text>', 4, top + 14, empty_text
            )
        )
    body = format_html_join("", "{}", ((part,) for part in parts))
    return format_html(
        '<svg class="heat-map" viewBox="0 0 {} {}" width="{}" role="img" aria-label="{}" '
        'xmlns="http://www.w3.org/2000/svg">{}</svg>',
        width,
        height,
        width,
        title,
        body,
    )
