"""Telemetry: SDK batches merged into time-bucketed rollups, SDK instances, rollup math.

The facade other domains use: ``summary`` for pages and overviews, ``cells`` and the
``rollup`` functions for SLO math over a time range, ``range_sums`` and ``slice_sums`` for
grouped reads over many operations at once (the SLO evaluator's cycle).
"""

from reliant.agent.protocol import OUTCOMES
from reliant.server.domains.telemetry.jobs import ROLLUP_RETENTION
from reliant.server.domains.telemetry.models import HISTOGRAM_SIZE
from reliant.server.domains.telemetry.rollup import (
    GOOD_OUTCOMES,
    Cell,
    count_at_most,
    error_ratio,
    good_total,
    merge_histograms,
    quantile,
    sum_histograms,
)
from reliant.server.domains.telemetry.service import Summary, cells, summary
from reliant.server.domains.telemetry.windows import (
    Key,
    Sums,
    layout,
    range_sums,
    slice_sums,
)

__all__ = [
    "GOOD_OUTCOMES",
    "HISTOGRAM_SIZE",
    "OUTCOMES",
    "ROLLUP_RETENTION",
    "Cell",
    "Key",
    "Summary",
    "Sums",
    "cells",
    "count_at_most",
    "error_ratio",
    "good_total",
    "layout",
    "merge_histograms",
    "quantile",
    "range_sums",
    "slice_sums",
    "sum_histograms",
    "summary",
]
