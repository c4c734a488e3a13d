"""The model bank: every model any strategy could deploy, trained once, with its predictions.

A retraining strategy only ever deploys "the model trained at boundary ``w`` on training
window ``W``" (``W``: ``expanding``, ``sliding:13W``, ``recency:4W`` ...; the label
cutoff at ``w`` is the boundary minus the label delay). The bank trains each distinct
``(W, w)`` once, in worker processes, and keeps its predictions for every row from its
cutoff on (what it would predict in any later window, and on the rows a loss estimator
learns from). Any schedule of retrains is then scored by arithmetic on those predictions
(:mod:`modelmedic.backtest.schedules`), with the same numbers a walk-forward replay gives.

Two training windows that select the same rows (``sliding:52W`` in the first year is
``expanding``) share one model. Predictions are cached on disk, one file per training
window, keyed by a digest of the data, the model settings and the reference period, so a
second search on the same data trains nothing.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from modelmedic.backtest.cache import limit_threads
from modelmedic.backtest.engine import backtest_windows
from modelmedic.errors import DataError
from modelmedic.retraining.error_triggers import DLE_HOLDOUT
from modelmedic.retraining.policies import TrainingPolicy, parse_duration, window_length
from modelmedic.retraining.strategies import parse_strategy
from modelmedic.windows import day_end, select_period

if TYPE_CHECKING:
    from collections.abc import Callable

    from modelmedic.backtest.config import BacktestConfig
    from modelmedic.schema import DatasetSchema

REFERENCE = "reference"
SHADOW = "reference-shadow"  # the reference model's policy at its cutoff minus the DLE holdout
BANK_WINDOWS = (
    "expanding",
    "sliding:4W",
    "sliding:8W",
    "sliding:13W",
    "sliding:26W",
    "sliding:39W",
    "sliding:52W",
    "recency:4W",
)
CACHE_VERSION = 1


def parse_policy(spec: str) -> TrainingPolicy:
    """A training-window policy from its spec (``expanding``, ``sliding:8W``, ``recency:4W``).

    Raises:
        ConfigError: for an unknown policy or a bad duration.
    """
    return parse_strategy(f"periodic:1+{spec}").policy  # type: ignore[union-attr]


def data_digest(frame: pd.DataFrame, schema: DatasetSchema, config: BacktestConfig) -> str:
    """A digest of the data, the column roles and everything a bank model depends on."""
    h = hashlib.sha256()
    h.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    h.update(repr(schema).encode())
    settings = [config.kind, config.estimator_params, config.seed, config.reference_start, config.reference_end]
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return h.hexdigest()[:24]


@dataclass(frozen=True)
class Job:
    """One model to train: its key, its policy (``None``: the reference rows) and label cutoff."""

    key: str
    policy: str | None
    cutoff: pd.Timestamp


def training_rows(
    frame: pd.DataFrame, config: BacktestConfig, policy: str | None, cutoff: pd.Timestamp
) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The rows (and weights) the model ``(policy, cutoff)`` learns from.

    ``policy`` ``None`` means the reference period (cut at ``cutoff`` for its shadow).
    """
    if policy is None:
        rows = select_period(frame, config.reference_start, config.reference_end)
        return rows.iloc[: rows.index.searchsorted(cutoff)], None
    return parse_policy(policy).select(frame.iloc[: frame.index.searchsorted(cutoff)], cutoff)


def train_job(
    frame: pd.DataFrame, schema: DatasetSchema, config: BacktestConfig, job: Job
) -> tuple[str, int, np.ndarray, float, int]:
    """Train ``job``'s model and predict every row from its cutoff on.

    Returns:
        ``(key, first row predicted, predictions, training CPU seconds, training rows)``.

    Raises:
        DataError: when the training window holds no labelled rows.
    """
    # lazy: modelmedic.model imports numpy
    from modelmedic.model import build_model, fit, predict

    rows, weights = training_rows(frame, config, job.policy, job.cutoff)
    if rows.empty or rows[schema.target].notna().sum() == 0:
        raise DataError(f"{job.policy or REFERENCE}: no labelled rows in the training set before {job.cutoff}")
    began = time.process_time()
    model = fit(build_model(config.kind, schema, config.seed, **config.estimator_params), rows, schema, weights)
    seconds = time.process_time() - began
    start = 0 if job.key == REFERENCE else int(frame.index.searchsorted(job.cutoff))
    return job.key, start, predict(model, frame.iloc[start:], schema), seconds, len(rows)


_WORKER: dict[str, Any] = {}


def _init_worker(frame: pd.DataFrame, schema: DatasetSchema, config: BacktestConfig) -> None:
    _WORKER["limit"] = limit_threads()
    _WORKER.update(frame=frame, schema=schema, config=config)


def _train_in_worker(jobs: list[Job]) -> list[tuple[str, int, np.ndarray, float, int]]:
    return [train_job(_WORKER["frame"], _WORKER["schema"], _WORKER["config"], job) for job in jobs]


class ModelBank:
    """Every ``(training window, retrain boundary)`` model of a backtest, trained once.

    Args:
        frame: The whole history (sorted ``DatetimeIndex``).
        schema: Its column roles.
        config: Windows, label delay, model, reference period, workers.
        windows: The training-window specs in the bank (default :data:`BANK_WINDOWS`).
        cache_dir: Where predictions are cached (``None``: no cache).

    Attributes:
        windows: The backtest's windows; ``bounds`` their row ranges.
        boundaries, cutoffs: Each window's begin and label cutoff (begin - label delay).
        retrain_weeks: The windows at whose boundary new labels exist (a retrain is possible).
        trained: How many models this process trained (the rest came from the cache).
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        schema: DatasetSchema,
        config: BacktestConfig,
        windows: tuple[str, ...] | list[str] = BANK_WINDOWS,
        cache_dir: Path | None = None,
    ) -> None:

        self.frame, self.schema, self.config = frame, schema, config
        self.policies = [parse_policy(w).spec for w in windows]
        self.windows = backtest_windows(frame, config)
        self.bounds = [
            (int(frame.index.searchsorted(w.begin)), int(frame.index.searchsorted(w.end))) for w in self.windows
        ]
        self.delay, self.length = parse_duration(config.label_delay), window_length(config.window)
        self.boundaries = [w.begin for w in self.windows]
        self.cutoffs = [b - self.delay for b in self.boundaries]
        self.reference_cutoff = day_end(config.reference_end)
        self.retrain_weeks = [i for i, c in enumerate(self.cutoffs) if c > self.reference_cutoff]
        self.actual = frame[schema.target].to_numpy(dtype=float)
        self.cache_dir = cache_dir
        self.digest = data_digest(frame, schema, config)
        self.predictions: dict[str, tuple[int, np.ndarray]] = {}
        self.train_seconds: dict[str, float] = {}
        self.training_size: dict[str, int] = {}
        self.alias: dict[str, str] = {}
        self.trained = 0
        self.window_rows = np.array([self._count(lo, hi) for lo, hi in self.bounds])
        self._window_sums: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    # -- keys ---------------------------------------------------------------------------

    @staticmethod
    def key(policy: str, cutoff: pd.Timestamp) -> str:
        """The key of the model of ``policy`` at label cutoff ``cutoff`` (as the engine names it)."""
        return f"{policy}@{cutoff.isoformat()}"

    def model_key(self, policy: str, window: int) -> str:
        """The key of the model a retrain at the boundary of ``window`` deploys."""
        return self.key(policy, self.cutoffs[window])

    def shadow_key(self, key: str) -> str:
        """The key of the model whose errors fit ``key``'s loss estimator (the same policy, earlier)."""
        if key == REFERENCE:
            return SHADOW
        policy, _, cutoff = key.partition("@")

        return self.key(policy, pd.Timestamp(cutoff) - DLE_HOLDOUT * self.length)

    def _count(self, lo: int, hi: int) -> int:

        return int((~np.isnan(self.actual[lo:hi])).sum())

    def jobs(self) -> list[Job]:
        """Every model of the bank: the reference, its shadow, each policy at each retrain cutoff."""
        jobs = [
            Job(REFERENCE, None, self.reference_cutoff),
            Job(SHADOW, None, self.reference_cutoff - DLE_HOLDOUT * self.length),
        ]
        for policy in self.policies:
            cutoffs = [self.cutoffs[w] for w in self.retrain_weeks]
            shadows = [c - DLE_HOLDOUT * self.length for c in cutoffs]
            for cutoff in sorted(set(cutoffs) | set(shadows)):
                jobs.append(Job(self.key(policy, cutoff), policy, cutoff))
        return jobs

    def _identity(self, job: Job) -> tuple[Any, ...] | None:
        """What the model learns from (equal identities give equal models); ``None``: no labels."""
        rows, weights = training_rows(self.frame, self.config, job.policy, job.cutoff)
        if job.key != REFERENCE and (rows.empty or rows[self.schema.target].notna().sum() == 0):
            return None
        if job.policy is None:
            return (job.key,)
        end = int(self.frame.index.searchsorted(job.cutoff))
        return ("rows", end - len(rows), end) if weights is None else (job.key,)

    # -- building -----------------------------------------------------------------------

    def build(self, progress: Callable[[int], None] | None = None) -> ModelBank:
        """Train (or load from the cache) every model of the bank; returns ``self``.

        Raises:
            DataError: when the reference period holds no labelled rows.
        """
        jobs = self.jobs()
        canonical: dict[tuple[Any, ...], str] = {}
        todo: list[Job] = []
        for job in jobs:
            identity = self._identity(job)
            if identity is None:
                continue  # no labelled rows before the cutoff (no shadow for the earliest models)
            if identity in canonical:
                self.alias[job.key] = canonical[identity]
                continue
            canonical[identity] = job.key
            self.alias[job.key] = job.key
            todo.append(job)
        cached = self._load_cache()
        missing = [j for j in todo if j.key not in cached]
        for key, value in cached.items():
            self.predictions[key] = (value[0], value[1])
            self.train_seconds[key], self.training_size[key] = value[2], value[3]
        if progress and len(todo) > len(missing):
            progress(len(todo) - len(missing))
        for key, start, values, seconds, size in self._train(missing, progress):
            self.predictions[key] = (start, values)
            self.train_seconds[key], self.training_size[key] = seconds, size
            self.trained += 1
        if missing:
            self._save_cache()
        return self

    def _train(self, jobs: list[Job], progress: Callable[[int], None] | None) -> list[Any]:

        if not jobs:
            return []
        # costliest first (long training sets), in chunks small enough to balance the workers
        jobs = sorted(jobs, key=lambda j: -len(training_rows(self.frame, self.config, j.policy, j.cutoff)[0]))
        if self.config.workers <= 1:
            with limit_threads():
                out = []
                for job in jobs:
                    out.append(train_job(self.frame, self.schema, self.config, job))
                    if progress:
                        progress(1)
                return out
        chunks = [jobs[i :: max(1, len(jobs) // 6)] for i in range(max(1, len(jobs) // 6))]
        out = []
        context = multiprocessing.get_context("spawn")  # never fork a process that loaded OpenMP
        with ProcessPoolExecutor(
            self.config.workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(self.frame, self.schema, self.config),
        ) as pool:
            futures = [pool.submit(_train_in_worker, chunk) for chunk in chunks]
            for future in as_completed(futures):
                done = future.result()
                out.extend(done)
                if progress:
                    progress(len(done))
        return out

    # -- cache --------------------------------------------------------------------------

    def _cache_file(self, policy: str) -> Path | None:
        if self.cache_dir is None:
            return None
        safe = policy.replace(":", "-").replace("@", "-")
        return self.cache_dir / f"bank-v{CACHE_VERSION}-{self.digest}-{safe}.npz"

    def _groups(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for key in self.predictions:
            groups.setdefault(REFERENCE if key in (REFERENCE, SHADOW) else key.partition("@")[0], []).append(key)
        return groups

    def _load_cache(self) -> dict[str, tuple[int, np.ndarray, float, int]]:

        found: dict[str, tuple[int, np.ndarray, float, int]] = {}
        for policy in [REFERENCE, *self.policies]:
            path = self._cache_file(policy)
            if path is None or not path.is_file():
                continue
            with np.load(path, allow_pickle=False) as data:
                keys = [str(k) for k in data["keys"]]
                starts, seconds, sizes, offsets = data["starts"], data["seconds"], data["sizes"], data["offsets"]
                values = data["values"]
                for i, key in enumerate(keys):
                    found[key] = (
                        int(starts[i]),
                        values[offsets[i] : offsets[i + 1]].copy(),
                        float(seconds[i]),
                        int(sizes[i]),
                    )
        return found

    def _save_cache(self) -> None:

        if self.cache_dir is None:
            return
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        for policy, keys in self._groups().items():
            path = self._cache_file(policy)
            assert path is not None
            arrays = [self.predictions[k][1] for k in keys]
            offsets = np.concatenate([[0], np.cumsum([len(a) for a in arrays])]).astype(np.int64)
            tmp = path.with_suffix(".tmp.npz")
            np.savez(
                tmp,
                keys=np.array(keys),
                starts=np.array([self.predictions[k][0] for k in keys], dtype=np.int64),
                seconds=np.array([self.train_seconds[k] for k in keys]),
                sizes=np.array([self.training_size[k] for k in keys], dtype=np.int64),
                offsets=offsets,
                values=np.concatenate(arrays) if arrays else np.empty(0),
            )
            tmp.replace(path)

    # -- reading ------------------------------------------------------------------------

    def has(self, key: str) -> bool:
        """Whether the bank holds the model ``key``."""
        return key in self.alias and self.alias[key] in self.predictions

    def predict(self, key: str, lo: int, hi: int) -> np.ndarray:
        """The model ``key``'s predictions for rows ``lo`` to ``hi`` of the frame.

        Raises:
            DataError: for a model not in the bank, or rows before its cutoff.
        """
        if not self.has(key):
            raise DataError(f"the model bank holds no model '{key}'")
        start, values = self.predictions[self.alias[key]]
        if lo < start:
            raise DataError(f"model '{key}' has no predictions before its label cutoff")
        return values[lo - start : hi - start]

    def window_sums(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """Per window: the model's sum of absolute and of squared errors (NaN where it cannot serve)."""
        key = self.alias.get(key, key)
        if key not in self._window_sums:
            start = self.predictions[key][0]
            absolute, squared = np.full(len(self.windows), np.nan), np.full(len(self.windows), np.nan)
            for i, (lo, hi) in enumerate(self.bounds):
                if lo >= start:
                    actual, predicted = self.actual[lo:hi], self.predict(key, lo, hi)
                    ok = ~(np.isnan(actual) | np.isnan(predicted))
                    error = predicted[ok] - actual[ok]
                    absolute[i], squared[i] = float(np.abs(error).sum()), float((error**2).sum())
            self._window_sums[key] = (absolute, squared)
        return self._window_sums[key]
