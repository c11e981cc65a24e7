"""How an evaluation reads its data: a stored Parquet file in chunks of rows, and a reference
profile's sorted numeric columns as one NumPy file. Plain files and no Django (like
monitoring.stats, but with pyarrow): monitoring.datasets hands them what the storage API opened,
and the bench the files it wrote, so the bench measures the reading that evaluations do.
"""

from collections.abc import Iterator
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

CHUNK_ROWS = 200_000


def parquet_chunks(
    source: str | IO[bytes], columns: list[str] | None = None, rows: int = CHUNK_ROWS
) -> Iterator[pd.DataFrame]:
    """The file's rows as DataFrames of at most `rows` rows: memory bounded by the chunk.

    Without Arrow's pre-buffering, which reads the column chunks of several row groups at once
    and ahead ("set to False if you want to prioritize minimal memory usage over maximum
    speed", its documentation says): at a million rows it held about 150 MB more.
    """
    parquet = pq.ParquetFile(source, pre_buffer=False)
    for batch in parquet.iter_batches(batch_size=rows, columns=columns):
        yield batch.to_pandas()


def write_sorted(target: IO[bytes], columns: dict[str, np.ndarray]) -> None:
    """The sorted numeric columns as one uncompressed .npz (each column loads alone)."""
    arrays: dict[str, Any] = {n: np.asarray(v, dtype=np.float64) for n, v in columns.items()}
    np.savez(target, **arrays)


def read_sorted(source: IO[bytes], column: str) -> np.ndarray:
    """One column of what write_sorted wrote (KeyError if it holds no such column)."""
    with np.load(source, allow_pickle=False) as columns:
        return columns[column]
