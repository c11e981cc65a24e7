"""Drift and fairness methods and thresholds: the documented defaults, and a model's own values
checked against them.

DEFAULTS, key by key:
- `psi_bins` (10): reference-quantile bins per numeric feature for PSI and the histograms;
  they are fixed when a reference's profile is built, so a change applies to profiles built
  after it.
- `psi_epsilon` (0.0001): the share given to an empty bin on either side, so PSI stays finite
  (the usual convention; an empty bin would otherwise make ln(p/q) infinite).
- `psi_threshold` (0.2): PSI at or above this is a large shift: marked on a drift run's page,
  and the limit of a `drift_psi` review check that names none.
- `numeric_method` ("auto"): "ks", "wasserstein" or "auto": KS when both sides have at most
  `large_sample_rows` values, otherwise the Wasserstein distance over the reference standard
  deviation (with very many rows any tiny shift makes a KS p-value vanish).
- `categorical_method` ("auto"): "chi2", "jensen_shannon" or "auto" (chi-squared up to
  `large_sample_rows`, Jensen-Shannon distance above).
- `large_sample_rows` (1000): where "auto" switches, as Evidently's DataDriftPreset does.
- `alpha` (0.05): a KS or chi-squared feature drifted when its Benjamini-Hochberg adjusted
  p-value is below this.
- `wasserstein_threshold` (0.1): drifted when the Wasserstein distance over the reference
  standard deviation reaches this.
- `jensen_shannon_threshold` (0.1): drifted when the Jensen-Shannon distance (base 2) reaches this.
- `share_drifted_threshold` (0.5): the dataset drifted when at least this share of its
  features did.
- `exact_max_rows` (1000000): up to this many current values per numeric feature are kept whole
  for the exact tests; past it KS stays exact (from counts on the reference values) and the
  Wasserstein distance is approximated, which the result names.
- `min_group_size` (30): fairness groups smaller than this are reported, not judged.
- `four_fifths` (0.8): the disparate impact ratio at or above which the four-fifths rule holds.
"""

import json
import math

DEFAULTS: dict[str, object] = {
    "psi_bins": 10,
    "psi_epsilon": 1e-4,
    "psi_threshold": 0.2,
    "numeric_method": "auto",
    "categorical_method": "auto",
    "large_sample_rows": 1000,
    "alpha": 0.05,
    "wasserstein_threshold": 0.1,
    "jensen_shannon_threshold": 0.1,
    "share_drifted_threshold": 0.5,
    "exact_max_rows": 1_000_000,
    "min_group_size": 30,
    "four_fifths": 0.8,
}

CHOICES = {
    "numeric_method": ("auto", "ks", "wasserstein"),
    "categorical_method": ("auto", "chi2", "jensen_shannon"),
}
# Whole numbers with their smallest allowed value.
COUNTS = {
    "psi_bins": 1,
    "large_sample_rows": 1,
    "exact_max_rows": 10_001,
    "min_group_size": 1,
}
# Numbers with the interval they must fall in (both ends allowed).
BOUNDED = {
    "psi_epsilon": (0.0, 0.1),
    "psi_threshold": (0.0, math.inf),
    "alpha": (0.0, 1.0),
    "wasserstein_threshold": (0.0, math.inf),
    "jensen_shannon_threshold": (0.0, 1.0),
    "share_drifted_threshold": (0.0, 1.0),
    "four_fifths": (0.0, 1.0),
}


def merged(values: dict) -> dict:
    """DEFAULTS with a model's own values over them; ValueError saying what is wrong and what
    is allowed when a key is unknown or a value does not fit."""
    if not isinstance(values, dict):
        raise ValueError("monitoring settings must be an object of setting names and values")
    unknown = sorted(set(values) - set(DEFAULTS))
    if unknown:
        raise ValueError(
            f"unknown setting {', '.join(map(repr, unknown))}; "
            f"the settings are {', '.join(sorted(DEFAULTS))}"
        )
    result = dict(DEFAULTS)
    for key, value in values.items():
        result[key] = _checked(key, value)
    return result


def _checked(key: str, value: object) -> object:
    if key in CHOICES:
        if value not in CHOICES[key]:
            raise ValueError(f"{key} must be one of {', '.join(CHOICES[key])}, not {_shown(value)}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} must be a number, not {_shown(value)}")
    if key in COUNTS:
        if not float(value).is_integer() or value < COUNTS[key]:
            raise ValueError(f"{key} must be a whole number of at least {COUNTS[key]}")
        return int(value)
    low, high = BOUNDED[key]
    if key == "alpha" and not 0 < value <= 1:
        raise ValueError("alpha must be a number above 0 and at most 1")
    if not (math.isfinite(value) and low <= value <= high):
        upper = "" if math.isinf(high) else f" and at most {high}"
        raise ValueError(f"{key} must be a number of at least {low}{upper}")
    return float(value)


def _shown(value: object) -> str:
    """A value as the JSON that sent it (null, true, "0.8"), which is what people typed."""
    return json.dumps(value, allow_nan=True, default=repr)
