"""Drift results and the engine interface shared by every drift engine.

An engine is fitted once on a reference and then compares any number of current
windows to it (``fit`` / ``calculate``, as NannyML's calculators). Whether a score means
drift depends on the test: p-value tests drift when the score is *below* the threshold,
distance tests when it is *at or above* it (:func:`is_drifted`).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from modelmedic.errors import ConfigError, DriftError

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pandas as pd

    from modelmedic.schema import DatasetSchema

ColumnType = Literal["numerical", "categorical"]
TestKind = Literal["p_value", "distance"]


@dataclass(frozen=True)
class StatTest:
    """A statistical test known to modelmedic, named by evidently's test id.

    Two names are spelled out where evidently abbreviates: ``energy`` (evidently ``ed``) and
    ``epps_singleton`` (evidently ``es``).
    """

    name: str
    kind: TestKind
    default_threshold: float
    column_types: tuple[ColumnType, ...]
    title: str


# evidently 0.7's tests (legacy.calculations.stattests), their direction and defaults
STATTESTS: dict[str, StatTest] = {
    t.name: t
    for t in (
        StatTest("ks", "p_value", 0.05, ("numerical",), "K-S p_value"),
        StatTest("chisquare", "p_value", 0.05, ("categorical",), "chi-square p_value"),
        StatTest("z", "p_value", 0.05, ("categorical",), "Z-test p_value"),
        StatTest("wasserstein", "distance", 0.1, ("numerical",), "Wasserstein distance (normed)"),
        StatTest("jensenshannon", "distance", 0.1, ("numerical", "categorical"), "Jensen-Shannon distance"),
        StatTest("psi", "distance", 0.1, ("numerical", "categorical"), "PSI"),
        StatTest("kl_div", "distance", 0.1, ("numerical", "categorical"), "Kullback-Leibler divergence"),
        StatTest("hellinger", "distance", 0.1, ("numerical", "categorical"), "Hellinger distance"),
        StatTest("anderson", "p_value", 0.1, ("numerical",), "Anderson-Darling k-sample p_value"),
        StatTest("cramer_von_mises", "p_value", 0.1, ("numerical",), "Cramer-von Mises p_value"),
        StatTest("mannw", "p_value", 0.05, ("numerical",), "Mann-Whitney U-rank p_value"),
        StatTest("energy", "distance", 0.1, ("numerical",), "Energy-distance"),
        StatTest("fisher_exact", "p_value", 0.1, ("categorical",), "Fisher's exact p_value"),
        StatTest("g_test", "p_value", 0.1, ("categorical",), "G-test p_value"),
        StatTest("t_test", "p_value", 0.05, ("numerical",), "t-test p_value"),
        StatTest("empirical_mmd", "p_value", 0.1, ("numerical",), "Empirical MMD p_value"),
        StatTest("TVD", "p_value", 0.1, ("categorical",), "Total-Variation-Distance p_value"),
        StatTest("epps_singleton", "p_value", 0.05, ("numerical",), "Epps-Singleton p_value"),
    )
}


def stattest(name: str) -> StatTest:
    """Return the test called ``name``.

    Raises:
        ConfigError: for an unknown test; the message lists the known ones.
    """
    try:
        return STATTESTS[name]
    except KeyError:
        raise ConfigError(f"unknown stattest '{name}'; choose one of: {', '.join(STATTESTS)}") from None


def is_drifted(test: str | StatTest, score: float, threshold: float) -> bool:
    """Whether ``score`` of ``test`` means drift at ``threshold``.

    p-value tests drift when ``score < threshold``; distance tests when ``score >= threshold``.
    """
    kind = (stattest(test) if isinstance(test, str) else test).kind
    return score < threshold if kind == "p_value" else score >= threshold


def is_numerical(series: pd.Series) -> bool:
    """Whether ``series`` holds numbers a numerical test can read (booleans are not)."""
    # lazy: pandas takes half a second to import; loaded where frames are handled
    import pandas as pd

    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


@dataclass(frozen=True)
class ColumnDrift:
    """The drift of one column: which test ran, its score, threshold and verdict.

    ``score`` and ``drifted`` are ``None`` when the test could not run; ``error`` then
    says why (e.g. an empty window). A column that could not be tested is never counted
    as "no drift".
    """

    column: str
    column_type: ColumnType
    stattest: str
    threshold: float
    score: float | None
    drifted: bool | None
    error: str | None = None

    @classmethod
    def from_score(cls, column: str, column_type: ColumnType, test: str, threshold: float, score: float) -> ColumnDrift:
        """The result of ``test`` scoring ``score``: its verdict by :func:`is_drifted`.

        Returns:
            A tested column, or an untested one (with ``error``) when the score is NaN.
        """
        if math.isnan(score):
            message = f"the {stattest(test).title} is undefined for these data (NaN)"
            return cls(column, column_type, test, threshold, None, None, message)
        return cls(column, column_type, test, threshold, score, is_drifted(test, score, threshold))

    @property
    def ok(self) -> bool:
        """Whether the test ran and produced a verdict."""
        return self.drifted is not None

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON shape of one column."""
        out: dict[str, Any] = {
            "type": self.column_type,
            "stattest": self.stattest,
            "score": None if self.score is None or math.isnan(self.score) else self.score,
            "threshold": self.threshold,
            "drifted": self.drifted,
        }
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class DriftResult:
    """Drift of every column of a current data set against a reference.

    The dataset-level verdict is computed from the per-column results actually obtained:
    ``share = drifted / tested`` and ``drifted = share >= drift_share``; with no column
    tested the verdict is ``None`` (insufficient data), never ``False``.
    """

    columns: dict[str, ColumnDrift]
    drift_share: float = 0.5
    reference_rows: int = 0
    current_rows: int = 0
    engine: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tested(self) -> list[ColumnDrift]:
        """Columns whose test ran."""
        return [c for c in self.columns.values() if c.ok]

    @property
    def n_drifted(self) -> int:
        """Number of drifted columns."""
        return sum(1 for c in self.tested if c.drifted)

    @property
    def share(self) -> float | None:
        """Share of drifted columns among those tested (``None`` when none was)."""
        tested = self.tested
        return self.n_drifted / len(tested) if tested else None

    @property
    def drifted(self) -> bool | None:
        """Dataset drift: ``share >= drift_share``; ``None`` with insufficient data."""
        share = self.share
        return None if share is None else share >= self.drift_share

    @property
    def drifted_columns(self) -> list[str]:
        """Names of drifted columns, in column order."""
        return [c.column for c in self.tested if c.drifted]

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape documented in the README."""
        dataset: dict[str, Any] = {
            "columns": len(self.tested),
            "drifted_columns": self.n_drifted,
            "share": self.share,
            "drift_share": self.drift_share,
            "drifted": self.drifted,
        }
        untested = [c.column for c in self.columns.values() if not c.ok]
        if untested:
            dataset["untested_columns"] = untested
        return {"dataset": dataset, "columns": {k: v.to_dict() for k, v in self.columns.items()}}

    def to_df(self) -> pd.DataFrame:
        """One row per column: column, column_type, stattest, threshold, score, drifted, error."""
        # lazy: pandas takes half a second to import; loaded where frames are handled
        import pandas as pd

        rows = [asdict(c) for c in self.columns.values()]
        columns = ["column", "column_type", "stattest", "threshold", "score", "drifted", "error"]
        return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True)
class DriftTests:
    """Which drift tests run and when a data set drifts (``drift_share`` of its columns do):
    the options a user chooses, as in :class:`DriftOptions`, which adds the columns."""

    stattest: str | None = None
    threshold: float | None = None
    per_column_stattest: Mapping[str, str] = field(default_factory=dict)
    per_column_threshold: Mapping[str, float] = field(default_factory=dict)
    drift_share: float = 0.5

    def __post_init__(self) -> None:
        # None (an option left out) means no override
        object.__setattr__(self, "per_column_stattest", dict(self.per_column_stattest or {}))
        object.__setattr__(self, "per_column_threshold", dict(self.per_column_threshold or {}))


@dataclass(frozen=True)
class DriftOptions:
    """What to test and how: the columns, test choice, thresholds and dataset share.

    ``stattest`` / ``threshold`` apply to every column unless ``per_column_stattest`` /
    ``per_column_threshold`` override them; ``None`` means evidently's default choice
    (by reference size, column type and number of unique values) and the test's default
    threshold. A column with fewer than ``min_rows`` usable values on either side is not
    tested (:func:`insufficient_data`).

    Raises:
        ConfigError: for an unknown test, a test that does not fit a column's type, an
            override naming an untested column, or a share outside (0, 1].
    """

    numerical: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    stattest: str | None = None
    threshold: float | None = None
    per_column_stattest: Mapping[str, str] = field(default_factory=dict)
    per_column_threshold: Mapping[str, float] = field(default_factory=dict)
    drift_share: float = 0.5
    min_rows: int = 10

    def __post_init__(self) -> None:
        for name in [self.stattest, *self.per_column_stattest.values()]:
            if name is not None:
                stattest(name)
        if not 0 < self.drift_share <= 1:
            raise ConfigError(f"drift share {self.drift_share} must be in (0, 1]")
        unknown = (set(self.per_column_stattest) | set(self.per_column_threshold)) - set(self.columns)
        if unknown:
            raise ConfigError(f"overrides name columns that are not tested: {', '.join(sorted(unknown))}")
        both = set(self.numerical) & set(self.categorical)
        if both:
            raise ConfigError(f"columns cannot be both numerical and categorical: {', '.join(sorted(both))}")
        if self.min_rows < 1:
            raise ConfigError(f"min_rows {self.min_rows} must be at least 1")
        for column in self.columns:
            test = self.column_stattest(column)
            column_type = self.column_type(column)
            if test is not None and column_type not in stattest(test).column_types:
                raise ConfigError(
                    f"stattest '{test}' does not apply to {column_type} column '{column}'; "
                    f"pick a test per column (e.g. {column}=psi) or one that fits both types"
                )

    @classmethod
    def from_schema(
        cls,
        schema: DatasetSchema,
        tests: DriftTests | None = None,
        *,
        outputs: Sequence[str] = (),
        min_rows: int = 10,
    ) -> DriftOptions:
        """The options testing the features of ``schema`` and the numerical ``outputs``
        (target and prediction columns) with ``tests``.

        A global ``stattest``/``threshold`` applies to the outputs only when the test accepts
        numerical columns. Without outputs, overrides naming non-features are left out.

        Raises:
            ConfigError: for unknown tests, tests unfit for a column, or unknown columns.
        """
        tests = tests or DriftTests()
        per_test, per_threshold = dict(tests.per_column_stattest), dict(tests.per_column_threshold)
        if not outputs:
            return cls(
                numerical=tuple(schema.numerical),
                categorical=tuple(schema.categorical),
                stattest=tests.stattest,
                threshold=tests.threshold,
                per_column_stattest={c: t for c, t in per_test.items() if c in schema.features},
                per_column_threshold={c: t for c, t in per_threshold.items() if c in schema.features},
                drift_share=tests.drift_share,
                min_rows=min_rows,
            )
        covered = list(schema.features)
        if tests.stattest is None or "numerical" in stattest(tests.stattest).column_types:
            covered += list(outputs)
        chosen = dict.fromkeys(covered, tests.stattest) if tests.stattest else {}
        thresholds = dict.fromkeys(covered, tests.threshold) if tests.threshold is not None else {}
        return cls(
            numerical=(*schema.numerical, *outputs),
            categorical=tuple(schema.categorical),
            per_column_stattest={**chosen, **per_test},
            per_column_threshold={**thresholds, **per_threshold},
            drift_share=tests.drift_share,
            min_rows=min_rows,
        )

    @property
    def columns(self) -> list[str]:
        """Tested columns, numerical first."""
        return [*self.numerical, *self.categorical]

    def column_type(self, column: str) -> ColumnType:
        """``numerical`` or ``categorical``."""
        return "numerical" if column in self.numerical else "categorical"

    def column_stattest(self, column: str) -> str | None:
        """The test asked for ``column`` (``None``: the engine's default choice)."""
        return self.per_column_stattest.get(column, self.stattest)

    def column_threshold(self, column: str) -> float | None:
        """The threshold asked for ``column`` (``None``: the test's default)."""
        return self.per_column_threshold.get(column, self.threshold)

    def resolved_threshold(self, column: str, test: str) -> float:
        """The threshold asked for ``column``, else the default of ``test`` (the one that runs)."""
        threshold = self.column_threshold(column)
        return stattest(test).default_threshold if threshold is None else threshold


def insufficient_data(reference_values: int, current_values: int, min_rows: int) -> str | None:
    """Why a column cannot be tested, given its count of usable values on each side.

    Returns:
        A message starting with "insufficient data", or ``None`` when both sides hold at
        least ``min_rows`` usable (non-missing, finite) values.
    """
    for side, count in (("reference", reference_values), ("current data", current_values)):
        if count == 0:
            return f"insufficient data: no non-missing values in the {side}"
        if count < min_rows:
            return f"insufficient data: {count} non-missing values in the {side}, need at least {min_rows}"
    return None


def require_columns(frame: pd.DataFrame, columns: list[str], side: str) -> None:
    """Check that ``frame`` (called ``side`` in the message) holds every one of ``columns``.

    Raises:
        DriftError: naming the missing columns.
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DriftError(f"the {side} lacks the columns {', '.join(missing)}; check the column names")


class DriftEngine(ABC):
    """Fit once on a reference, then :meth:`calculate` drift for any current data."""

    name: ClassVar[str]

    def __init__(self, options: DriftOptions) -> None:
        self.options = options

    @abstractmethod
    def fit(self, reference: pd.DataFrame) -> DriftEngine:
        """Learn what the engine needs of the reference; return ``self``.

        Raises:
            DriftError: when the reference lacks a column or holds no rows.
        """

    @abstractmethod
    def calculate(self, current: pd.DataFrame) -> DriftResult:
        """Compare ``current`` with the fitted reference (never mutating either)."""


ENGINES: dict[str, type[DriftEngine]] = {}


def register_engine(cls: type[DriftEngine]) -> type[DriftEngine]:
    """Class decorator: make an engine available by its ``name``."""
    ENGINES[cls.name] = cls
    return cls
