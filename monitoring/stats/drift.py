"""Data drift of current data against a reference profile, feature by feature, in one pass over
the current chunks.

Each feature gets PSI on the reference's quantile bins (profile.py) with the out-of-range bin
(for categories: the reference's categories plus one cell for unseen ones), an empty cell
counting as `psi_epsilon` of its side so PSI stays finite; and one test chosen by its type and
the sample sizes (options.py): two-sample KS (scipy.stats.ks_2samp) or the Wasserstein distance
over the reference's standard deviation (scipy.stats.wasserstein_distance; the deviation is
taken as at least 0.001, as Evidently does, so a constant reference does not divide by zero)
for numbers; chi-squared on the 2 × categories table of reference and current counts
(scipy.stats.chi2_contingency without Yates' correction: both sides are samples, so it is a test
of homogeneity, not a goodness of fit against frequencies taken as exact; categories empty on
both sides are left out) or the Jensen-Shannon distance in base 2
(scipy.spatial.distance.jensenshannon) for categories. The KS and chi-squared p-values of the
features are adjusted together (Benjamini-Hochberg, scipy.stats.false_discovery_control).

Memory stays bounded: categories and bins are counts that add up across chunks; a numeric
column is kept whole only up to `exact_max_rows` values. Past that, KS is still exact: its
statistic comes from the current values counted on the reference's distinct values, and SciPy
itself uses the asymptotic p-value at those sizes. The Wasserstein distance is then approximated
(current values between two reference values count as spread evenly between them), and the
feature's "approximation" says so.

`options` is options.merged() of the model's settings, plus, from the caller, optionally
"prediction_column" (the current data's prediction column) and "prediction_reference_column"
(the profiled reference column to compare it with; the same name when not given). The
prediction is reported apart, not counted among the features nor in their p-value adjustment.
"""

from collections.abc import Callable, Iterable
from functools import partial

import numpy as np
import pandas as pd
from scipy import spatial, stats

from monitoring.stats.categories import numeric_values
from monitoring.stats.options import merged
from monitoring.stats.performance import number
from monitoring.stats.profile import bin_counts, category_counts

CALLER_OPTIONS = ("prediction_column", "prediction_reference_column")
MIN_REFERENCE_STD = 0.001


def compare(
    profile: dict,
    sorted_reference: Callable[[str], np.ndarray],
    current_chunks: Iterable[pd.DataFrame],
    options: dict,
) -> dict:
    """Drift of every profiled column, the prediction's, and the dataset's verdict."""
    settings = merged({key: value for key, value in options.items() if key not in CALLER_OPTIONS})
    prediction = options.get("prediction_column") or None
    prediction_reference = options.get("prediction_reference_column") or prediction
    columns = profile["columns"]
    if prediction_reference is not None and prediction_reference not in columns:
        raise ValueError(f"the reference profile has no column {prediction_reference!r}")
    names = {name: name for name in columns if name != prediction_reference}
    if prediction is not None:
        names[prediction] = prediction_reference
    trackers: dict[str, _NumericTracker | _CategoryTracker] = {
        current: (
            _NumericTracker(columns[reference], partial(sorted_reference, reference), settings)
            if columns[reference]["type"] == "numeric"
            else _CategoryTracker(columns[reference])
        )
        for current, reference in names.items()
    }
    rows = 0
    for chunk in current_chunks:
        rows += len(chunk)
        for name, tracker in trackers.items():
            if name not in chunk.columns:
                raise ValueError(f"the current data has no column {name!r}")
            tracker.add(chunk[name])

    results = {}
    for name in list(trackers):  # each let go once done: one feature's columns held at a time
        results[name] = trackers.pop(name).result(name, settings)
    prediction_result = results.pop(prediction) if prediction is not None else None
    features = list(results.values())
    _adjust(features, settings)
    if prediction_result is not None:
        _adjust([prediction_result], settings)
    features.sort(key=lambda feature: (not feature["drifted"], -(feature["psi"] or 0.0)))
    judged = [feature for feature in features if feature["psi"] is not None]
    drifted = sum(1 for feature in judged if feature["drifted"])
    share = drifted / len(judged) if judged else None
    psis = [feature["psi"] for feature in judged]
    return {
        "rows_reference": profile["rows"],
        "rows_current": rows,
        "options": {
            **settings,
            "prediction_column": prediction,
            "prediction_reference_column": prediction_reference,
        },
        "features": features,
        "prediction": prediction_result,
        "share_drifted": share,
        "drifted": share is not None and share >= settings["share_drifted_threshold"],
        "summary": {
            "share_drifted": share,
            "drifted_features": drifted,
            "max_psi": max(psis) if psis else None,
            "prediction_psi": prediction_result["psi"] if prediction_result else None,
        },
    }


def psi(reference_counts: np.ndarray, current_counts: np.ndarray, epsilon: float) -> float | None:
    """Population stability index of two count vectors over the same cells."""
    reference_total, current_total = reference_counts.sum(), current_counts.sum()
    if reference_total == 0 or current_total == 0:
        return None
    expected = np.maximum(reference_counts / reference_total, epsilon)
    actual = np.maximum(current_counts / current_total, epsilon)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def wasserstein(sorted_reference: np.ndarray, current: np.ndarray) -> float:
    """scipy.stats.wasserstein_distance(reference, current), ∫|F_ref − F_cur|, with the
    reference already sorted. Sorting the current sample and placing each value of either
    sample by a search in the other merges them; counting each side's values up to each merged
    value gives both CDFs there (where the next value is equal the gap is 0, so ties need no
    care). The terms are SciPy's, summed in the same order.
    """
    reference, ordered = sorted_reference, np.sort(current)
    size = reference.size + ordered.size
    from_reference = np.zeros(size, dtype=bool)
    merged = np.empty(size)
    reference_at = np.arange(reference.size) + np.searchsorted(ordered, reference, side="left")
    current_at = np.arange(ordered.size) + np.searchsorted(reference, ordered, side="right")
    merged[reference_at], merged[current_at] = reference, ordered
    from_reference[reference_at] = True
    reference_up_to = np.cumsum(from_reference)[:-1]
    current_up_to = np.arange(1, size) - reference_up_to
    differences = np.abs(reference_up_to / reference.size - current_up_to / ordered.size)
    return float(np.sum(differences * np.diff(merged)))


def _adjust(features: list[dict], settings: dict) -> None:
    """Benjamini-Hochberg over the features that have a p-value; then each one's verdict."""
    tested = [f for f in features if f.get(f"{f['method']}_pvalue") is not None]
    if tested:
        raw = np.array([f[f"{f['method']}_pvalue"] for f in tested])
        for feature, adjusted in zip(
            tested, stats.false_discovery_control(raw, method="bh"), strict=True
        ):
            feature["pvalue_adjusted"] = float(adjusted)
    for feature in features:
        method = feature["method"]
        if feature["psi"] is None:
            feature["drifted"] = False
        elif method in ("ks", "chi2"):
            adjusted = feature["pvalue_adjusted"]
            feature["drifted"] = adjusted is not None and adjusted < settings["alpha"]
        elif method == "wasserstein":
            value = feature["wasserstein_over_ref_std"]
            feature["drifted"] = value is not None and value >= settings["wasserstein_threshold"]
        else:
            value = feature["jensen_shannon"]
            feature["drifted"] = value is not None and value >= settings["jensen_shannon_threshold"]


def _feature(name: str, kind: str, method: str, **values) -> dict:
    return {
        "name": name,
        "type": kind,
        "method": method,
        "pvalue_adjusted": None,
        "drifted": False,
        "approximation": "",
        **values,
    }


class _CategoryTracker:
    """Current category counts, added up chunk by chunk."""

    def __init__(self, column: dict):
        self.column = column
        self.counts: dict[str, int] = {}
        self.missing = 0

    def add(self, values: pd.Series) -> None:
        self.missing += category_counts(values, self.counts)

    def result(self, name: str, settings: dict) -> dict:
        categories = self.column["categories"]
        reference = np.array([*self.column["counts"], 0], dtype=np.int64)
        known = set(categories)
        unseen = sum(count for label, count in self.counts.items() if label not in known)
        current = np.array([*(self.counts.get(c, 0) for c in categories), unseen], dtype=np.int64)
        method = settings["categorical_method"]
        if method == "auto":
            large = min(reference.sum(), current.sum()) > settings["large_sample_rows"]
            method = "jensen_shannon" if large else "chi2"
        values: dict = {"psi": number(psi(reference, current, settings["psi_epsilon"]))}
        measurable = values["psi"] is not None
        if method == "chi2":
            values["chi2_statistic"] = values["chi2_pvalue"] = None
            if measurable:
                table = np.vstack([reference, current])
                table = table[:, table.sum(axis=0) > 0]
                test = stats.chi2_contingency(table, correction=False)
                values["chi2_statistic"] = number(test.statistic)
                values["chi2_pvalue"] = number(test.pvalue)
        else:
            values["jensen_shannon"] = None
            if measurable:
                values["jensen_shannon"] = number(
                    spatial.distance.jensenshannon(
                        reference / reference.sum(), current / current.sum(), base=2
                    )
                )
        return _feature(
            name,
            "categorical",
            method,
            **values,
            missing_reference=self.column["missing"],
            missing_current=self.missing,
            unseen_categories=unseen,
            reference_hist={
                "categories": categories,
                "counts": self.column["counts"],
                "unseen": 0,
            },
            current_hist={"counts": current[:-1].tolist(), "unseen": unseen},
        )


def _add_runs(counts: np.ndarray, places: np.ndarray) -> None:
    """counts[p] += how often p is in `places` (sorted): one addition per distinct place,
    where a bincount would write the whole of `counts` (a million cells) for every chunk."""
    if places.size == 0:
        return
    starts = np.flatnonzero(np.r_[True, places[1:] != places[:-1]])
    counts[places[starts]] += np.diff(np.r_[starts, places.size])


class _NumericTracker:
    """Current bin counts, and the column itself while it is small enough to keep whole;
    past `exact_max_rows` values, counts on the reference's distinct values instead."""

    def __init__(self, column: dict, load_reference: Callable[[], np.ndarray], settings: dict):
        self.column = column
        self.edges = np.asarray(column["edges"], dtype=np.float64)
        self.load_reference = load_reference
        self.reference: np.ndarray | None = None
        self.limit = settings["exact_max_rows"]
        self.counts = np.zeros(max(self.edges.size - 1, 0), dtype=np.int64)
        self.out_of_range = 0
        self.missing = 0
        self.size = 0
        self.kept: list[np.ndarray] | None = []
        # Past the limit: per reference distinct value, current values below (left) and up to
        # (right) it, and the distances of the values outside the reference range.
        self.distinct = np.empty(0)
        self.left = self.right = np.empty(0, dtype=np.int64)
        self.below = self.above = 0.0

    def add(self, values: pd.Series) -> None:
        array = numeric_values(values)
        present = array[~np.isnan(array)]
        self.missing += int(array.size - present.size)
        self.size += int(present.size)
        counts, outside = bin_counts(self.edges, present)
        if counts.size:
            self.counts += counts
        self.out_of_range += outside
        if self.kept is not None:
            self.kept.append(present)
            if self.size <= self.limit:
                return
            present = np.concatenate(self.kept)
            self.kept = None
            self._start_counting()
        self._count(present)

    def _sorted_reference(self) -> np.ndarray:
        if self.reference is None:
            self.reference = np.asarray(self.load_reference(), dtype=np.float64)
        return self.reference

    def _start_counting(self) -> None:
        # Not kept: the result loads the reference again, rather than every feature holding it
        # beside its counts while the chunks go by.
        self.distinct = np.unique(np.asarray(self.load_reference(), dtype=np.float64))
        self.left = np.zeros(self.distinct.size + 1, dtype=np.int64)
        self.right = np.zeros(self.distinct.size + 1, dtype=np.int64)

    def _count(self, values: np.ndarray) -> None:
        if self.distinct.size == 0:
            return
        # Sorted first, the search walks the distinct values in order (ten times faster with a
        # million of them); a value's place on the right is its place on the left, one further
        # when it equals the distinct value there.
        ordered = np.sort(values)
        left = np.searchsorted(self.distinct, ordered, side="left")
        equal = self.distinct[np.minimum(left, self.distinct.size - 1)] == ordered
        _add_runs(self.left, left)
        _add_runs(self.right, left + equal)
        low, high = self.distinct[0], self.distinct[-1]
        self.below += float(np.sum(low - values[values < low]))
        self.above += float(np.sum(values[values > high] - high))

    def result(self, name: str, settings: dict) -> dict:
        reference = self._sorted_reference()
        current = np.concatenate(self.kept) if self.kept else np.empty(0)
        method = settings["numeric_method"]
        if method == "auto":
            large = min(reference.size, self.size) > settings["large_sample_rows"]
            method = "wasserstein" if large else "ks"
        reference_cells = np.array([*self.column["counts"], 0], dtype=np.int64)
        current_cells = np.array([*self.counts, self.out_of_range], dtype=np.int64)
        values: dict = {"psi": number(psi(reference_cells, current_cells, settings["psi_epsilon"]))}
        approximation = ""
        measurable = reference.size > 0 and self.size > 0
        if method == "ks":
            values["ks_statistic"] = values["ks_pvalue"] = None
            if measurable:
                statistic, pvalue = (
                    self._counted_ks(reference)
                    if self.kept is None
                    else stats.ks_2samp(reference, current)
                )
                values["ks_statistic"], values["ks_pvalue"] = number(statistic), number(pvalue)
        else:
            values["wasserstein_over_ref_std"] = None
            if measurable:
                if self.kept is None:
                    distance = self._counted_wasserstein(reference)
                    approximation = (
                        f"Wasserstein distance from the {self.size} current values counted on "
                        f"the reference's distinct values (more than {self.limit} current values)"
                    )
                else:
                    distance = wasserstein(reference, current)
                scale = max(float(self.column["std"]), MIN_REFERENCE_STD)
                values["wasserstein_over_ref_std"] = number(distance / scale)
        result = _feature(
            name,
            "numeric",
            method,
            **values,
            missing_reference=self.column["missing"],
            missing_current=self.missing,
            unseen_categories=0,
            reference_hist={
                "edges": self.column["edges"],
                "counts": self.column["counts"],
                "out_of_range": 0,
            },
            current_hist={"counts": self.counts.tolist(), "out_of_range": self.out_of_range},
        )
        result["approximation"] = approximation
        return result

    def _counted_ks(self, reference: np.ndarray) -> tuple[float, float]:
        """ks_2samp's statistic and (asymptotic, as SciPy's at these sizes) p-value from counts.

        The difference of the two empirical CDFs only changes at sample values; between two
        reference values it is largest at the first and smallest just before the next, where
        the current CDF counts the current values below that next value. Those are the values
        ks_2samp evaluates, computed with the same divisions, so the statistic is identical.
        Counting starts past `exact_max_rows` (at least 10,001) current values, where ks_2samp
        switches from the exact p-value to the asymptotic one too.
        """
        n1, n2 = reference.size, self.size
        reference_up_to = np.searchsorted(reference, self.distinct, side="right")
        current_up_to = np.cumsum(self.left)[:-1]  # current values ≤ each distinct value
        current_below = np.cumsum(self.right)[:-1]  # current values < each distinct value
        at_values = reference_up_to / n1 - current_up_to / n2
        reference_before = np.r_[0, reference_up_to[:-1]]
        before_values = reference_before / n1 - current_below / n2
        differences = np.r_[at_values, before_values]
        smallest = np.clip(-differences.min(), 0, 1)
        largest = differences.max()
        statistic = float(smallest if smallest > largest else largest)
        m, n = sorted([float(n1), float(n2)], reverse=True)
        pvalue = stats.kstwo.sf(statistic, np.round(m * n / (m + n)))
        return statistic, float(np.clip(pvalue, 0, 1))

    def _counted_wasserstein(self, reference: np.ndarray) -> float:
        """∫|F_ref − F_cur| with the current CDF, between two reference values, midway
        between its values there; exact outside the reference's range."""
        n1, n2 = reference.size, self.size
        reference_up_to = np.searchsorted(reference, self.distinct, side="right") / n1
        current_up_to = np.cumsum(self.left)[:-1] / n2
        current_below = np.cumsum(self.right)[:-1] / n2
        current_between = (current_up_to[:-1] + current_below[1:]) / 2
        inside = np.sum(np.abs(reference_up_to[:-1] - current_between) * np.diff(self.distinct))
        return float(inside + (self.below + self.above) / n2)
