"""Column summaries of a Parquet file, read one column at a time.

Numerical columns are read from the Arrow buffers with numpy alone (no pandas: the ``fast``
engine on Parquet files starts in a fraction of a second); other columns go through pandas.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modelmedic.drift.stats import ColumnStats, StatsSource, column_stats, column_types, float_stats
from modelmedic.errors import DataError, DriftError
from modelmedic.extras import require


def parquet_stats(path: str | Path, numerical: Sequence[str], categorical: Sequence[str]) -> StatsSource:
    """Summaries of the named columns of a Parquet file, read one column at a time.

    Peak memory is about the columns being summarised (one per thread) plus the
    summaries, whatever the width of the file.

    Raises:
        DataError: when the file is missing or not Parquet.
        DriftError: when it lacks one of the columns.
    """

    pq = require("pyarrow.parquet", purpose="pyarrow (parquet files)")
    path = Path(path)
    try:
        parquet = pq.ParquetFile(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path.name} as Parquet: {exc}") from None
    types = column_types(numerical, categorical)
    missing = [c for c in types if c not in set(parquet.schema_arrow.names)]
    if missing:
        raise DriftError(f"{path.name} lacks the columns {', '.join(missing)}; check the column names")

    def summarise(column: str) -> ColumnStats:  # a reader per column: columns may be read in threads
        data = pq.ParquetFile(path).read(columns=[column]).column(0)  # not read_table: it loads pandas
        dtype = _arrow_dtype(data.type) if types[column] == "numerical" else None
        if dtype is not None:  # numbers: numpy alone, no pandas
            return float_stats(_arrow_floats(data, dtype), dtype.kind in "iu" and data.null_count == 0)
        return column_stats(data.to_pandas().rename(column), types[column])

    return StatsSource(list(types), summarise, parquet.metadata.num_rows)


def _arrow_dtype(kind: Any) -> np.dtype | None:
    """The numpy dtype of an Arrow integer or float type (``None`` for any other type)."""
    # lazy: Parquet files only, already loaded by pyarrow.parquet
    import pyarrow as pa

    if pa.types.is_floating(kind):
        code = "f"
    elif pa.types.is_signed_integer(kind):
        code = "i"
    elif pa.types.is_unsigned_integer(kind):
        code = "u"
    else:
        return None
    return np.dtype(f"{code}{kind.bit_width // 8}")


def _arrow_floats(column: Any, dtype: np.dtype) -> np.ndarray:
    """The values of an Arrow column of numbers (``dtype``) as float64, NaN where missing.

    Read from the Arrow buffers: ``to_numpy`` would import pandas, ``cast`` pyarrow.compute.
    """
    parts = []
    for chunk in column.chunks:
        if not len(chunk):
            continue
        validity, data = chunk.buffers()[:2]
        values = np.frombuffer(data, dtype=dtype, count=len(chunk), offset=chunk.offset * dtype.itemsize)
        values = values.astype(np.float64, copy=dtype != np.float64)
        if chunk.null_count:
            valid = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
            values = np.where(valid[chunk.offset : chunk.offset + len(chunk)].astype(bool), values, np.nan)
        parts.append(values)
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.empty(0)
