"""The accumulator protocol shared by every dataset-level metric.

Every accumulator is a small stateful object in the PySODMetrics / torchmetrics style:

* ``update(...)`` consumes one sample and **returns that sample's value(s)** (so a harness can
  log per-sample records without computing twice);
* ``compute() -> dict[str, float | np.ndarray]`` aggregates everything seen since the last
  ``reset()`` (it does not clear the state and can be called repeatedly);
* ``reset()`` forgets every sample;
* ``measure(...) -> dict`` computes one sample's statistics (JSON-able: numbers and lists) without
  touching the state, and ``add(stats)`` accumulates them: ``add(measure(x))`` is exactly
  ``update(x)``. The evaluation harness stores ``measure``'s output in its per-sample records and
  rebuilds a dataset figure from the records with ``add`` (max-F of the image-averaged curve, VOC mIoU
  from accumulated counts), so a resumed run needs no prediction twice.

Per-image means and NaN: several references average per-image values with a plain mean, so one
NaN image (e.g. an empty ground truth where the reference divides 0 by 0) makes the dataset value
NaN. Accumulators that average per image take ``nan_policy``: ``"propagate"`` (default, the
reference behaviour) or ``"omit"`` (mean over the non-NaN images). Their ``compute()`` always
reports ``n`` (images seen) and ``n_nan`` (images whose value was NaN).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

NAN_POLICIES = ("propagate", "omit")


def check_nan_policy(nan_policy: str) -> str:
    """Validate a ``nan_policy`` argument."""
    if nan_policy not in NAN_POLICIES:
        raise ValueError(f"nan_policy: expected one of {NAN_POLICIES}, got {nan_policy!r}")
    return nan_policy


def nan_aware_mean(values: Sequence[float], nan_policy: str) -> float:
    """Mean of per-sample values under ``nan_policy``; NaN when there is nothing to average."""
    arr = np.asarray(values, dtype=np.float64)
    if nan_policy == "omit":
        arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        return math.nan
    return float(arr.mean())


class Metric:
    """Base class of the accumulators (see the module docstring for the protocol)."""

    def update(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def compute(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def reset(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def measure(self, *args: Any, **kwargs: Any) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def add(self, stats: dict[str, Any]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        params = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        inner = ", ".join(f"{k}={v!r}" for k, v in params.items())
        return f"{type(self).__name__}({inner})"


class PerSampleMean(Metric):
    """Accumulator that stores one float per sample and averages them (NaN per ``nan_policy``).

    Subclasses implement :meth:`_value` (one sample -> float) and set ``_key``.
    """

    _key = "value"

    def __init__(self, nan_policy: str = "propagate") -> None:
        self.nan_policy = check_nan_policy(nan_policy)
        self._values: list[float] = []

    def _value(self, *args: Any, **kwargs: Any) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def measure(self, *args: Any, **kwargs: Any) -> dict[str, float]:
        return {"value": float(self._value(*args, **kwargs))}

    def add(self, stats: dict[str, Any]) -> None:
        self._values.append(float(stats["value"]))

    def update(self, *args: Any, **kwargs: Any) -> float:
        stats = self.measure(*args, **kwargs)
        self.add(stats)
        return stats["value"]

    @property
    def values(self) -> np.ndarray:
        """Per-sample values seen so far, in order (float64 array)."""
        return np.asarray(self._values, dtype=np.float64)

    def compute(self) -> dict[str, float]:
        vals = self.values
        return {
            self._key: nan_aware_mean(vals, self.nan_policy),
            "n": int(vals.size),
            "n_nan": int(np.isnan(vals).sum()),
        }

    def reset(self) -> None:
        self._values = []
