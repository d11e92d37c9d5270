"""Telemetry: SDK batches merged into time-bucketed rollups, SDK instances, rollup math.

The facade other domains use: ``summary`` for pages and overviews, ``cells`` and the
``rollup`` functions for SLO math over a time range.
"""

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

__all__ = [
    "GOOD_OUTCOMES",
    "Cell",
    "Summary",
    "cells",
    "count_at_most",
    "error_ratio",
    "good_total",
    "merge_histograms",
    "quantile",
    "sum_histograms",
    "summary",
]
