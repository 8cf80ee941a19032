"""Server-side SVG bar charts: stacked succeeded/failed per time bucket, no script at all."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from web.queries.overview import Bucket

WIDTH = 600
HEIGHT = 150
PAD_LEFT = 44
PAD_BOTTOM = 20
PAD_TOP = 8


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


def bar_chart(buckets: list[Bucket], *, label_format: str, label_every: int) -> Chart:
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
