"""Bootstrap 95% intervals: of an accuracy (``bootstrap_interval``) and of a rate pooled over answers
whose parts move together (``ratio_bootstrap_interval``). Used by eval summaries, paired comparisons and
the step-error tables."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def bootstrap_interval(correct: Sequence[bool], resamples: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of the mean of ``correct``."""
    values = np.asarray(correct, dtype=float)
    if values.size == 0:
        return (0.0, 0.0)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(resamples, values.size))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def ratio_bootstrap_interval(parts: Sequence[tuple[int, int]], resamples: int = 5000,
                             seed: int = 0) -> tuple[float, float]:
    """95% interval, in percent, of sum(right) / sum(total) over ``parts`` of (right, total), resampling
    whole parts: the steps of one answer, whose slips cluster, move together."""
    if not parts:
        return (0.0, 0.0)
    values = np.asarray(parts, dtype=float)
    drawn = values[np.random.default_rng(seed).integers(0, len(values), size=(resamples, len(values)))]
    totals = drawn[..., 1].sum(axis=1)
    rates = 100 * drawn[..., 0].sum(axis=1) / np.where(totals > 0, totals, 1)
    return float(np.percentile(rates, 2.5)), float(np.percentile(rates, 97.5))
