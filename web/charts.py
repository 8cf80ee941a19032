"""Server-side SVG charts, no script at all: stacked succeeded/failed bars per time bucket,
runtime lines (p50/p95 per bucket), and table sparklines."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

WIDTH = 600
HEIGHT = 150
PAD_LEFT = 44
PAD_BOTTOM = 20
PAD_TOP = 8


class Bucket(Protocol):
    """Finished runs in one time bucket (web.queries.overview.Bucket, tasks.TaskBucket)."""

    @property
    def start(self) -> datetime: ...
    @property
    def succeeded(self) -> int: ...
    @property
    def failed(self) -> int: ...
    @property
    def total(self) -> int: ...


@dataclasses.dataclass(frozen=True)
class Bar:
    x: float
    width: float
    ok_y: float
    ok_height: float
    bad_y: float
    bad_height: float
    title: str


@dataclasses.dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    y_ticks: list[tuple[float, str]]  # (y, label)
    x_labels: list[tuple[float, str]]  # (x, label)
    plot_left: int
    plot_bottom: int


def bar_chart(buckets: Sequence[Bucket], *, label_format: str, label_every: int) -> Chart:
    top = _nice_ceiling(max((b.total for b in buckets), default=0))
    plot_height = HEIGHT - PAD_BOTTOM - PAD_TOP
    slot = (WIDTH - PAD_LEFT) / max(1, len(buckets))
    bars: list[Bar] = []
    labels: list[tuple[float, str]] = []
    for index, bucket in enumerate(buckets):
        x = PAD_LEFT + index * slot
        ok_h = plot_height * bucket.succeeded / top
        bad_h = plot_height * bucket.failed / top
        base = HEIGHT - PAD_BOTTOM
        bars.append(
            Bar(
                x + 1,
                max(1.0, slot - 2),
                base - ok_h,
                ok_h,
                base - ok_h - bad_h,
                bad_h,
                _title(bucket.start, bucket, label_format),
            )
        )
        if index % label_every == 0:
            labels.append((x + slot / 2, bucket.start.strftime(label_format)))
    ticks = [(HEIGHT - PAD_BOTTOM - plot_height * f, f"{top * f:,.0f}") for f in (0, 0.5, 1)]
    return Chart(WIDTH, HEIGHT, bars, ticks, labels, PAD_LEFT, HEIGHT - PAD_BOTTOM)


def _title(start: datetime, bucket: Bucket, label_format: str) -> str:
    when = start.strftime(label_format)
    return f"{when} UTC: {bucket.succeeded:,} succeeded, {bucket.failed:,} failed"


def _nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5 x 10^n that is at least `value` (and at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if factor * step >= value:
                return max(1, factor * step)
        step *= 10


@dataclasses.dataclass(frozen=True)
class Line:
    name: str  # also its CSS class
    points: str  # "x,y x,y ..." for a <polyline>; an empty bucket breaks no line, it is skipped
    dots: list[tuple[float, float, str]]  # (x, y, title) per bucket with a value


@dataclasses.dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    lines: list[Line]
    y_ticks: list[tuple[float, str]]
    x_labels: list[tuple[float, str]]
    plot_left: int
    plot_bottom: int


def line_chart(
    starts: Sequence[datetime],
    series: dict[str, Sequence[float | None]],
    *,
    label_format: str,
    label_every: int,
    unit: str,
) -> LineChart:
    """One polyline per series over shared time buckets (runtime p50 and p95, say)."""
    values = [v for line in series.values() for v in line if v is not None]
    top = _nice_ceiling(int(max(values, default=0) + 0.999))
    plot_height = HEIGHT - PAD_BOTTOM - PAD_TOP
    slot = (WIDTH - PAD_LEFT) / max(1, len(starts))
    base = HEIGHT - PAD_BOTTOM
    lines = []
    for name, points in series.items():
        placed = [
            (PAD_LEFT + i * slot + slot / 2, base - plot_height * value / top, starts[i], value)
            for i, value in enumerate(points)
            if value is not None
        ]
        lines.append(
            Line(
                name,
                " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in placed),
                [
                    (x, y, f"{start.strftime(label_format)} UTC: {name} {value:,.0f} {unit}")
                    for x, y, start, value in placed
                ],
            )
        )
    labels = [
        (PAD_LEFT + i * slot + slot / 2, start.strftime(label_format))
        for i, start in enumerate(starts)
        if i % label_every == 0
    ]
    ticks = [(base - plot_height * f, f"{top * f:,.0f} {unit}") for f in (0, 0.5, 1)]
    return LineChart(WIDTH, HEIGHT, lines, ticks, labels, PAD_LEFT, base)


SPARK_WIDTH = 120
SPARK_HEIGHT = 24


def sparkline(values: Sequence[int]) -> list[tuple[float, float, float, float]]:
    """(x, y, width, height) of one small bar per value, scaled to the largest."""
    top = max(values, default=0) or 1
    slot = SPARK_WIDTH / max(1, len(values))
    return [
        (
            i * slot + 0.5,
            SPARK_HEIGHT - SPARK_HEIGHT * v / top,
            max(1.0, slot - 1),
            SPARK_HEIGHT * v / top,
        )
        for i, v in enumerate(values)
    ]
