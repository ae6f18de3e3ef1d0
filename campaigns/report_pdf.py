"""The monthly marketing review as an A4 PDF (`?format=pdf` on the review page), drawn with
reportlab: title and period, the KPI targets with their status, the figures of the 12 months and
one bar chart per rate, and (for holders of the liability permission) the stored-value section —
in the language of the request. Chinese text uses reportlab's built-in
CID font STSong-Light (the PDF viewer supplies the glyphs; no font file is shipped).
"""

from __future__ import annotations

import datetime
import io

from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from campaigns.models import CampaignKpiTarget
from campaigns.reports import Month, TargetStatus

CHINESE_FONT = "STSong-Light"
LATIN_FONT, LATIN_BOLD = "Helvetica", "Helvetica-Bold"
BAR_COLOUR = colors.HexColor("#417690")  # the admin's blue
GRID = colors.HexColor("#cccccc")
HEADER_FILL = colors.HexColor("#f2f4f7")
MET, MISSED = colors.HexColor("#067647"), colors.HexColor("#b42318")


def is_chinese() -> bool:
    return (translation.get_language() or "").lower().startswith("zh")


def _fonts() -> tuple[str, str]:
    """(regular, bold) for the active language; CID fonts have no bold face."""
    if is_chinese():
        if CHINESE_FONT not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(UnicodeCIDFont(CHINESE_FONT))
        return CHINESE_FONT, CHINESE_FONT
    return LATIN_FONT, LATIN_BOLD


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _month(day: datetime.date | None) -> str:
    return day.strftime("%Y-%m") if day else "—"


def _status_text(status: TargetStatus) -> str:
    if status.met is True:
        return _("on target")
    if status.met is False:
        return _("not yet on target")
    return "—"


def _table(rows: list[list], widths: list[float], font: str, bold: str, *, size: float = 8) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), font),
                ("FONTNAME", (0, 0), (-1, 0), bold),
                ("FONTSIZE", (0, 0), (-1, -1), size),
                ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL),
                ("GRID", (0, 0), (-1, -1), 0.4, GRID),
                ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


def _chart(label: str, months: list[Month], metric: str, font: str, width: float) -> Drawing:
    height = 62 * mm
    drawing = Drawing(width, height)
    drawing.add(String(0, height - 10, f"{label} (%)", fontName=font, fontSize=10))
    chart = VerticalBarChart()
    chart.x, chart.y = 10 * mm, 10 * mm
    chart.width, chart.height = width - 14 * mm, height - 26 * mm
    values = [getattr(month, metric) for month in months]
    chart.data = [[round(v * 100, 1) if v is not None else 0 for v in values]]
    chart.categoryAxis.categoryNames = [month.month.strftime("%y-%m") for month in months]
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = 7
    chart.valueAxis.valueMin, chart.valueAxis.valueMax, chart.valueAxis.valueStep = 0, 100, 25
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.visibleGrid = True
    chart.valueAxis.gridStrokeColor = GRID
    chart.bars[0].fillColor = BAR_COLOUR
    chart.bars[0].strokeColor = None
    chart.barLabels.fontName = font
    chart.barLabels.fontSize = 6.5
    chart.barLabels.nudge = 6
    # A month without the figure (nobody to count) shows "—" rather than a 0% bar label.
    chart.barLabelArray = [["—" if v is None else f"{v * 100:.0f}" for v in values]]
    chart.barLabelFormat = "values"
    drawing.add(chart)
    return drawing


def monthly_review_pdf(
    *,
    months: list[Month],
    targets: list[TargetStatus],
    generated_at: datetime.datetime | None = None,
    stored_value: bool = False,
) -> bytes:
    """The review as PDF bytes, in the active language; with `stored_value`, its section (the months
    must carry the figures: `monthly_report(stored_value=True)`)."""
    generated_at = timezone.localtime(generated_at or timezone.now())
    font, bold = _fonts()
    title = _("Monthly marketing review")
    period = _("Period: %(first)s to %(last)s") % {"first": _month(months[0].month), "last": _month(months[-1].month)}
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=title,
        subject=period,
        author=_("Loyalty CRM"),
    )
    width = doc.width
    wrap = {"wordWrap": "CJK"} if is_chinese() else {}  # Chinese lines break between characters
    styles = {
        "title": ParagraphStyle("title", fontName=bold, fontSize=18, leading=24, spaceAfter=4, **wrap),
        "h2": ParagraphStyle("h2", fontName=bold, fontSize=12, leading=16, spaceBefore=10, spaceAfter=6, **wrap),
        "body": ParagraphStyle("body", fontName=font, fontSize=9, leading=13, **wrap),
        "small": ParagraphStyle(
            "small", fontName=font, fontSize=7.5, leading=10, textColor=colors.HexColor("#555555"), **wrap
        ),
        "cell": ParagraphStyle("cell", fontName=bold, fontSize=6.3, leading=8, **wrap),
    }
    story = [
        Paragraph(title, styles["title"]),
        Paragraph(period, styles["body"]),
        Paragraph(
            _("Generated %(when)s") % {"when": generated_at.strftime("%Y-%m-%d %H:%M")},
            styles["small"],
        ),
        Spacer(1, 4 * mm),
        Paragraph(_("KPI targets"), styles["h2"]),
    ]
    if targets:
        rows = [
            [
                Paragraph(text, styles["cell"])
                for text in (
                    _("Metric"),
                    _("Baseline month"),
                    _("Baseline"),
                    _("Target"),
                    pgettext("KPI target", "By"),
                    _("Latest"),
                    _("Status"),
                )
            ]
        ]
        status_colours = []
        for index, status in enumerate(targets, start=1):
            metric = CampaignKpiTarget.Metric(status.target.metric).label
            rows.append(
                [
                    Paragraph(f"{metric} {status.target.change_percent:+.1f}%", styles["body"]),
                    _month(status.target.baseline_month),
                    percent(status.baseline),
                    percent(status.goal),
                    _month(status.deadline),
                    f"{percent(status.actual)} ({_month(status.actual_month)})" if status.actual is not None else "—",
                    _status_text(status),
                ]
            )
            if status.met is not None:
                status_colours.append(("TEXTCOLOR", (6, index), (6, index), MET if status.met else MISSED))
        table = _table(rows, [width * f for f in (0.30, 0.11, 0.09, 0.09, 0.09, 0.16, 0.16)], font, bold)
        table.setStyle(TableStyle(status_colours))
        story.append(table)
    else:
        story.append(Paragraph(_("No target set."), styles["body"]))

    story.append(Paragraph(_("Figures per month"), styles["h2"]))
    headers = [
        _("Month"),
        _("Campaigns sent"),
        _("Recipients"),
        _("Participants"),
        _("Participation rate"),
        _("Buyers"),
        _("Repeat buyers"),
        _("Repurchase rate"),
        _("Coupons issued"),
        _("Coupons used"),
        _("Redemption rate"),
    ]
    rows = [[Paragraph(header, styles["cell"]) for header in headers]]
    for month in months:
        rows.append(
            [
                _month(month.month),
                month.campaigns_sent,
                month.recipients,
                month.participants,
                percent(month.participation_rate),
                month.buyers,
                month.repeat_buyers,
                percent(month.repurchase_rate),
                month.coupons_issued,
                month.coupons_redeemed,
                percent(month.redemption_rate),
            ]
        )
    first = 0.085
    rest = (1 - first) / (len(headers) - 1)
    story.append(_table(rows, [width * first] + [width * rest] * (len(headers) - 1), font, bold, size=7.5))
    story.append(Spacer(1, 2 * mm))
    story.append(
        Paragraph(
            _(
                "The last 12 months. Participation: recipients who clicked, used the campaign's coupon or bought "
                "within 30 days of a message sent that month. Repurchase rate: of the members who bought in the "
                "month, the share who had bought before. Redemption rate: campaign coupons issued in the month "
                "that have been used."
            ),
            styles["small"],
        )
    )
    if stored_value:
        story.append(Paragraph(_("Stored value"), styles["h2"]))
        headers = [
            _("Month"),
            _("Topped up"),
            _("Spent"),
            _("Principal owed at month end"),
            _("Bonus owed at month end"),
        ]
        rows = [[Paragraph(header, styles["cell"]) for header in headers]]
        for month in months:
            rows.append(
                [
                    _month(month.month),
                    *(
                        f"¥{value:,}"
                        for value in (
                            month.stored_value_topped_up,
                            month.stored_value_spent,
                            month.stored_value_principal_owed,
                            month.stored_value_bonus_owed,
                        )
                    ),
                ]
            )
        story.append(_table(rows, [width * 0.12] + [width * 0.22] * 4, font, bold, size=7.5))
        story.append(Spacer(1, 2 * mm))
        story.append(
            Paragraph(
                _(
                    "What the shop owes on prepaid balances at each month's end (principal the customers paid in, "
                    "bonus the shop gave), the principal topped up in the month and the balance spent in it."
                ),
                styles["small"],
            )
        )
    story.append(Paragraph(_("Charts"), styles["h2"]))
    for metric, label in CampaignKpiTarget.Metric.choices:
        story.append(_chart(str(label), months, metric, font, width))
        story.append(Spacer(1, 3 * mm))
    doc.build(story)
    return buffer.getvalue()
