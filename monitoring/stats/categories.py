"""Category codes for label, prediction, protected and categorical columns.

The same value must get the same name wherever it comes from: a CSV read as int64 (`1`), a
Parquet column of floats with NaN (`1.0`) and an object column (`"1"`) all name the category
"1". Only the distinct values are turned into text, so a million rows cost one factorize.
"""

import math
from collections.abc import Iterable
from datetime import date, datetime

import numpy as np
import pandas as pd

MISSING = -1  # the code of a missing value (None, NaN, NaT)


def category_name(value: object) -> str:
    """The text a category is known by in results: integral floats as integers, booleans as
    True/False, everything else as str()."""
    if isinstance(value, bool | np.bool_):
        return "True" if value else "False"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    if isinstance(value, pd.Timestamp | datetime | date):
        return value.isoformat()
    return str(value)


def category_order(name: str) -> tuple[int, float, str]:
    """Numbers in numeric order first (so "2" comes before "10"), then text in text order."""
    try:
        number = float(name)
    except ValueError:
        return (1, 0.0, name)
    return (0, number, name) if math.isfinite(number) else (1, 0.0, name)


def encode(values: object) -> tuple[np.ndarray, list[str]]:
    """Codes (int64, MISSING for missing values) and the sorted category names they index.

    A pandas Categorical keeps its unused categories, so a group with no rows is still named.
    """
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if isinstance(series.dtype, pd.CategoricalDtype):
        raw_codes = series.cat.codes.to_numpy(np.int64)
        uniques: Iterable[object] = series.cat.categories
    else:
        raw_codes, uniques = pd.factorize(series, use_na_sentinel=True)
        raw_codes = raw_codes.astype(np.int64, copy=False)
    names = [category_name(value) for value in uniques]
    labels = sorted(set(names), key=category_order)
    position = {name: index for index, name in enumerate(labels)}
    # The extra last entry maps the missing sentinel (-1) to itself.
    remap = np.array([position[name] for name in names] + [MISSING], dtype=np.int64)
    return remap[raw_codes], labels


def numeric_values(values: object) -> np.ndarray:
    """A float64 copy of a numeric column; anything that is not a finite number becomes NaN."""
    array = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(np.float64, na_value=np.nan)
    array = array.astype(np.float64, copy=True)
    array[~np.isfinite(array)] = np.nan
    return array
