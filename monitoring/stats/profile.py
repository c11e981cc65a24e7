"""A reference dataset's profile: what every later drift evaluation needs of it, built once.

Per numeric column: bin edges at the reference quantiles (0, 1/bins, …, 1, duplicates merged;
a constant column gets the one bin [c, c]), the reference counts per bin, moments and the
missing count; the column itself, sorted with missing values removed, is returned apart (KS and
Wasserstein need the whole sample, and it is stored as a NumPy file, not as JSON).
Per categorical column: each category's count and the missing count.

Bins are closed on the right, the first also on the left: [e0, e1], (e1, e2], …, (e(k-1), ek].
A value outside [e0, ek] falls in the out-of-range bin, which PSI counts as one more cell.

Missing means None, NaN or an infinite number; missing values are counted, never binned.
"""

from collections.abc import Iterable

import numpy as np
import pandas as pd

from monitoring.stats.categories import MISSING, category_order, encode, numeric_values

PROFILE_FORMAT = 1


def quantile_edges(sorted_values: np.ndarray, bins: int) -> np.ndarray:
    """Bin edges at the quantiles of a sorted sample (NumPy's linear interpolation)."""
    if sorted_values.size == 0:
        return np.empty(0)
    edges = np.unique(np.quantile(sorted_values, np.linspace(0.0, 1.0, bins + 1)))
    return np.repeat(edges, 2) if edges.size == 1 else edges


def bin_counts(edges: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, int]:
    """Counts of finite values per bin of `edges`, and how many fell outside [e0, ek]."""
    values = values[~np.isnan(values)]
    if edges.size == 0:
        return np.empty(0, dtype=np.int64), int(values.size)
    inside = (values >= edges[0]) & (values <= edges[-1])
    bins = np.maximum(np.searchsorted(edges, values[inside], side="left"), 1) - 1
    counts = np.bincount(bins, minlength=edges.size - 1).astype(np.int64)
    return counts, int(values.size - inside.sum())


def moments(values: np.ndarray) -> dict:
    """Count, mean, population standard deviation, min and max of finite values (None if empty)."""
    finite = values[~np.isnan(values)]
    if finite.size == 0:
        return {"count": 0, "mean": None, "std": None, "min": None, "max": None}
    return {
        "count": int(finite.size),
        "mean": float(finite.mean()),
        "std": float(finite.std()),
        "min": float(finite.min()),
        "max": float(finite.max()),
    }


def category_counts(values: object, into: dict[str, int]) -> int:
    """Adds a column's category counts to `into`; returns its missing count."""
    codes, labels = encode(values)
    counts = np.bincount(codes[codes != MISSING], minlength=len(labels))
    for label, count in zip(labels, counts.tolist(), strict=True):
        into[label] = into.get(label, 0) + count
    return int((codes == MISSING).sum())


def build_profile(
    chunks: Iterable[pd.DataFrame], numeric: list[str], categorical: list[str], bins: int = 10
) -> tuple[dict, dict[str, np.ndarray]]:
    """The JSON-able profile of the reference data read in `chunks`, and each numeric column
    sorted with its missing values removed (float64)."""
    if bins < 1:
        raise ValueError("bins must be at least 1")
    parts: dict[str, list[np.ndarray]] = {name: [] for name in numeric}
    missing = dict.fromkeys([*numeric, *categorical], 0)
    frequencies: dict[str, dict[str, int]] = {name: {} for name in categorical}
    rows = 0
    for chunk in chunks:
        rows += len(chunk)
        for name in numeric:
            values = numeric_values(_column(chunk, name))
            present = values[~np.isnan(values)]
            missing[name] += int(values.size - present.size)
            parts[name].append(present)
        for name in categorical:
            missing[name] += category_counts(_column(chunk, name), frequencies[name])

    columns: dict[str, dict] = {}
    sorted_columns: dict[str, np.ndarray] = {}
    for name in numeric:
        values = np.concatenate(parts.pop(name) or [np.empty(0)])
        values.sort()  # in place: a column's copy less at the peak
        sorted_columns[name] = values
        edges = quantile_edges(values, bins)
        counts, _ = bin_counts(edges, values)
        columns[name] = {
            "type": "numeric",
            "missing": missing[name],
            **moments(values),
            "edges": edges.tolist(),
            "counts": counts.tolist(),
        }
    for name in categorical:
        labels = sorted(frequencies[name], key=category_order)
        columns[name] = {
            "type": "categorical",
            "missing": missing[name],
            "count": sum(frequencies[name].values()),
            "categories": labels,
            "counts": [frequencies[name][label] for label in labels],
        }
    profile = {"format": PROFILE_FORMAT, "rows": rows, "bins": bins, "columns": columns}
    return profile, sorted_columns


def _column(chunk: pd.DataFrame, name: str) -> pd.Series:
    if name not in chunk.columns:
        raise ValueError(f"the data has no column {name!r}")
    return chunk[name]
