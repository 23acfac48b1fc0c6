"""The chart of counted airings per ISO week and commune, drawn into the PDF by reportlab.

A stacked bar chart (``reportlab.graphics.charts.barcharts.VerticalBarChart``): one bar per
ISO week of the period, one colour per commune, with a legend; the same numbers as the
spreadsheet's chart (both from ``report_tables.weekly_airings``). Drawn by the application,
no external service.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors

from district_collector.documents.i18n import t
from district_collector.documents.report_tables import weekly_airings

PALETTE = ("#1b5e20", "#1565c0", "#ef6c00", "#6a1b9a", "#c62828", "#00838f", "#9e9d24", "#4e342e",
           "#ad1457", "#283593", "#2e7d32", "#f9a825")


def weekly_chart(report: Mapping[str, Any], lang: str, width: float, font: str) -> Drawing | None:
    """The chart as a Drawing ``width`` points wide, or None when there is nothing to draw."""
    weeks, series = weekly_airings(report, lang)
    if not weeks or not series:
        return None
    rows = (len(series) + 3) // 4
    legend_h = 12.0 * rows + 6
    height = 190.0 + legend_h
    drawing = Drawing(width, height)
    chart = VerticalBarChart()
    chart.x, chart.y = 34, 30 + legend_h
    chart.width, chart.height = width - 44, height - chart.y - 30
    chart.data = [tuple(counts) for _name, counts in series]
    chart.categoryAxis.style = "stacked"
    chart.categoryAxis.categoryNames = [w[-2:] for w in weeks]
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = 5.5 if len(weeks) > 30 else 7
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    top = max((sum(c[i] for _n, c in series) for i in range(len(weeks))), default=0)
    step = max(1, -(-top // 6))
    chart.valueAxis.valueMax = step * max(1, -(-top // step))
    chart.valueAxis.valueStep = step
    chart.barSpacing = 0.5
    chart.groupSpacing = 2 if len(weeks) > 30 else 4
    for i in range(len(series)):
        chart.bars[i].fillColor = colors.HexColor(PALETTE[i % len(PALETTE)])
        chart.bars[i].strokeColor = None
    drawing.add(chart)
    drawing.add(String(width / 2, height - 12, t("chart_title", lang), fontName=font, fontSize=9,
                       textAnchor="middle"))
    drawing.add(String(chart.x - 30, chart.y + chart.height + 6, t("chart_y", lang), fontName=font, fontSize=7))
    drawing.add(String(chart.x + chart.width / 2, chart.y - 20, t("chart_x", lang), fontName=font, fontSize=7,
                       textAnchor="middle"))
    legend = Legend()
    legend.x, legend.y = 34, legend_h - 2
    legend.fontName, legend.fontSize = font, 7
    legend.columnMaximum = rows
    legend.deltax, legend.dx, legend.dy = (width - 44) / 4, 7, 7
    legend.alignment = "right"
    legend.colorNamePairs = [(colors.HexColor(PALETTE[i % len(PALETTE)]), name)
                             for i, (name, _c) in enumerate(series)]
    drawing.add(legend)
    return drawing
