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

PARQUET_SUFFIXES = frozenset({".parquet", ".pq"})


def parquet_columns(path: str | Path) -> tuple[list[str], list[str]]:
    """The numerical and categorical columns of a Parquet file, from its schema alone, split
    as :func:`~modelmedic.drift.infer_columns` splits the file read into pandas (integers and
    floats are numerical; booleans and everything else categorical; a saved pandas index is
    not a column).

    Raises:
        DataError: when the file is missing or not Parquet.
    """
    pq = require("pyarrow.parquet", purpose="pyarrow (parquet files)")
    # lazy: Parquet files only, already loaded by pyarrow.parquet
    import pyarrow as pa

    path = Path(path)
    try:
        schema = pq.read_schema(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path.name} as Parquet: {exc}") from None
    index = set()
    if schema.pandas_metadata:
        index = {c for c in schema.pandas_metadata.get("index_columns", []) if isinstance(c, str)}
    names = [f.name for f in schema if f.name not in index]
    numerical = [
        n for n in names if pa.types.is_integer(schema.field(n).type) or pa.types.is_floating(schema.field(n).type)
    ]
    return numerical, [n for n in names if n not in numerical]


def parquet_stats(
    path: str | Path,
    numerical: Sequence[str],
    categorical: Sequence[str],
    non_finite: dict[str, int] | None = None,
) -> StatsSource:
    """Summaries of the named columns of a Parquet file, read one column at a time.

    Peak memory is about the columns being summarised (one per thread) plus the
    summaries, whatever the width of the file. With ``non_finite``, the ``inf`` and
    ``-inf`` values of each numerical column summarised are counted into it (the drift
    tests leave them out, as :func:`~modelmedic.quality.non_finite_counts` reports them).

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
            values = _arrow_floats(data, dtype)
            if non_finite is not None:
                non_finite[column] = int(np.isinf(values).sum())
            return float_stats(values, dtype.kind in "iu" and data.null_count == 0)
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
