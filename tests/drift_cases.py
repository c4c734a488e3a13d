"""Random and edge-case drift data, and the checks that two drift results agree: shared by
the fast engine's tests (against evidently) and the Spark engine's (against the fast one)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import strategies as st

from modelmedic.drift import DriftOptions, DriftResult, insufficient_data, is_drifted

NUMERICAL_TESTS = ["ks", "wasserstein", "jensenshannon", "psi", "kl_div", "hellinger"]
CATEGORICAL_TESTS = ["z", "chisquare", "jensenshannon", "psi", "kl_div", "hellinger"]
REL, ABS = 1e-9, 1e-12


# -- random data sets ---------------------------------------------------------------------


def _column(rng: np.random.Generator, kind: str, size: int, shift: float, spread: int) -> pd.Series:
    if kind == "ties":  # continuous values rounded, so both sides share some values
        return pd.Series(np.round(rng.normal(shift, 1 + shift, size), spread % 3))
    if kind == "few":  # low-cardinality numbers; the current side may hold unseen ones
        return pd.Series(rng.integers(0, 1 + spread + int(shift * 2), size))
    if kind == "wide":  # integers with more than 20 distinct values (binned tests)
        return pd.Series(rng.integers(0, 25 + spread * 3, size) + int(shift * 5))
    if kind == "constant":
        return pd.Series(np.full(size, float(spread % 2) + (shift > 0.5)))
    pool = np.array(["a", "b", "c", "d", "e", "f", "g"])[: 2 + spread + int(shift * 2)]
    values = pd.Series(rng.choice(pool, size), dtype=object)
    return values.astype("category") if spread % 2 else values


KINDS = {"ties": "numerical", "few": "numerical", "wide": "numerical", "constant": "numerical", "cat": "categorical"}


@st.composite
def drift_cases(draw: Any) -> tuple[pd.DataFrame, pd.DataFrame, DriftOptions]:
    """A reference and a current frame with one column of every kind, and options for them."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_ref = draw(st.one_of(st.integers(1, 60), st.integers(990, 1010), st.integers(1011, 2500)))
    n_cur = draw(st.one_of(st.integers(1, 40), st.integers(41, 600)))
    frames = []
    for size, shift in ((n_ref, 0.0), (n_cur, draw(st.sampled_from([0.0, 0.3, 1.0])))):
        frame = pd.DataFrame({k: _column(rng, k, size, shift, draw(st.integers(0, 4))) for k in KINDS})
        for column in KINDS:
            missing = draw(st.sampled_from([0.0, 0.0, 0.2, 1.0]))
            if missing:
                frame[column] = frame[column].mask(rng.random(size) < missing)
            elif column in ("few", "wide") and draw(st.booleans()):
                frame[column] = frame[column].astype(float)  # integers on one side, floats on the other
        if draw(st.booleans()):
            frame.loc[frame.index[:1], "ties"] = np.inf
        frames.append(frame)
    forced = draw(st.booleans())
    per_column = {}
    if forced:
        per_column = {
            c: draw(st.sampled_from(NUMERICAL_TESTS if t == "numerical" else CATEGORICAL_TESTS))
            for c, t in KINDS.items()
        }
    options = DriftOptions(
        numerical=tuple(c for c, t in KINDS.items() if t == "numerical"),
        categorical=tuple(c for c, t in KINDS.items() if t == "categorical"),
        per_column_stattest=per_column,
        min_rows=draw(st.sampled_from([1, 10])),
    )
    return frames[0], frames[1], options


# -- what evidently does, column by column ------------------------------------------------


def evidently_column(reference: pd.Series, current: pd.Series, column: str, options: DriftOptions) -> tuple:
    """(test, score, drifted) from evidently's legacy stattests, as its ValueDrift runs them."""
    from evidently.legacy.calculations.stattests import get_stattest
    from evidently.legacy.core import ColumnType

    from modelmedic.drift.evidently_engine import evidently_stattests, evidently_test_id, usable_values

    ref, cur = usable_values(reference), usable_values(current)
    forced = options.column_stattest(column)
    column_type = ColumnType.Numerical if options.column_type(column) == "numerical" else ColumnType.Categorical
    test = get_stattest(ref, cur, column_type, None if forced is None else evidently_test_id(forced))
    name = {t.name: n for n, t in evidently_stattests().items()}[test.name]
    if insufficient_data(len(ref), len(cur), options.min_rows):
        return name, None, None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = test(ref, cur, column_type, options.column_threshold(column))
    except Exception:
        return name, None, None
    score = float(result.drift_score)
    if math.isnan(score):
        return name, None, None
    return name, score, is_drifted(name, score, result.actual_threshold)


def assert_same(fast: DriftResult, expected: dict[str, tuple]) -> None:
    """Every column: the same test, the same score (or both untested), the same verdict."""
    for column, (test, score, drifted) in expected.items():
        got = fast.columns[column]
        assert got.stattest == test, column
        if score is None:
            assert got.score is None and got.drifted is None and got.error, (column, got)
        else:
            assert got.score == pytest.approx(score, rel=REL, abs=ABS), (column, got, score)
            assert got.drifted == drifted, (column, got, score)


def assert_same_results(fast: DriftResult, evidently: DriftResult) -> None:
    assert_same(fast, {c: (d.stattest, d.score, d.drifted) for c, d in evidently.columns.items()})
    assert fast.drifted == evidently.drifted


# -- random data sets: fast vs evidently ---------------------------------------------------
