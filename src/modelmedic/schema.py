"""Column roles of a tabular data set: datetime, target, prediction, numerical, categorical.

A :class:`DatasetSchema` is described once (the bike data's descriptions ship in
``modelmedic/datasets/*.toml``; users write their own in TOML or YAML) and every part of
modelmedic reads column roles from it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from modelmedic.errors import ConfigError

PREDICTION = "prediction"


@dataclass(frozen=True)
class DatasetSchema:
    """The roles of a data set's columns.

    Attributes:
        name: A short name, used in experiment and model names.
        datetime: The column holding timestamps (or dates when ``hour`` is set).
        target: The column the model predicts.
        numerical: Numerical feature columns.
        categorical: Categorical feature columns (stored as pandas ``category``).
        hour: Optional column of hours added to ``datetime`` (the bike data's ``hr``).
        exclude: Columns never used as features (identifiers, leakage such as the bike
            data's ``casual`` and ``registered``, which sum to the target).
        extra: Columns kept (e.g. for the service) but neither features nor target.
        segments: Columns whose values define segments for error analysis.
        freq: The expected frequency of rows (``h`` hourly, ``D`` daily), if regular.
        prediction: The name given to the model's output column.
    """

    name: str
    datetime: str
    target: str
    numerical: tuple[str, ...]
    categorical: tuple[str, ...] = ()
    hour: str | None = None
    exclude: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    freq: str | None = None
    prediction: str = PREDICTION
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        features = list(self.numerical) + list(self.categorical)
        if not features:
            raise ConfigError(f"dataset '{self.name}': list at least one numerical or categorical feature")
        dupes = sorted({c for c in features if features.count(c) > 1})
        if dupes:
            raise ConfigError(f"dataset '{self.name}': columns listed twice: {', '.join(dupes)}")
        if self.target in features:
            raise ConfigError(f"dataset '{self.name}': the target '{self.target}' cannot be a feature")
        leaked = sorted(set(features) & set(self.exclude))
        if leaked:
            raise ConfigError(f"dataset '{self.name}': excluded columns used as features: {', '.join(leaked)}")

    @property
    def features(self) -> list[str]:
        """All feature columns, numerical first, in a stable order."""
        return [*self.numerical, *self.categorical]

    @property
    def required_columns(self) -> list[str]:
        """Columns a raw file must contain."""
        cols = [self.datetime, *([self.hour] if self.hour else []), self.target, *self.features]
        return list(dict.fromkeys(cols))

    def column_type(self, column: str) -> str:
        """Return ``"numerical"`` or ``"categorical"`` for a feature column.

        Raises:
            ConfigError: if the column is not a feature of this schema.
        """
        if column in self.numerical:
            return "numerical"
        if column in self.categorical:
            return "categorical"
        raise ConfigError(f"'{column}' is not a feature of dataset '{self.name}'")

    def with_features(self, numerical: list[str] | None = None, categorical: list[str] | None = None) -> DatasetSchema:
        """Return a copy with other feature lists (``None`` keeps the current one)."""
        return replace(
            self,
            numerical=tuple(numerical) if numerical is not None else self.numerical,
            categorical=tuple(categorical) if categorical is not None else self.categorical,
        )

    @classmethod
    def from_mapping(cls, raw: dict[str, Any], source: str = "<mapping>") -> DatasetSchema:
        """Build a schema from a parsed TOML/YAML mapping.

        Raises:
            ConfigError: when a required key is missing or a key is unknown.
        """
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown keys {', '.join(unknown)}; allowed: {', '.join(sorted(known))}")
        for key in ("name", "datetime", "target"):
            if not raw.get(key):
                raise ConfigError(f"{source}: the key '{key}' is required")
        values = dict(raw)
        for key in ("numerical", "categorical", "exclude", "extra", "segments"):
            if key in values:
                if isinstance(values[key], str) or not isinstance(values[key], list | tuple):
                    raise ConfigError(f"{source}: '{key}' must be a list of column names")
                values[key] = tuple(str(v) for v in values[key])
        values.setdefault("numerical", ())
        return cls(**values)


def load_schema(path: str | Path) -> DatasetSchema:
    """Read a data set description from a TOML or YAML file.

    Raises:
        ConfigError: if the file is missing, unreadable or invalid.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"dataset description {path} not found: pass a .toml or .yaml file")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in {".yaml", ".yml"}:
            # lazy: YAML only when a YAML file is read
            import yaml

            raw = yaml.safe_load(text)
        else:
            raw = tomllib.loads(text)
    except Exception as exc:  # parse errors of either format
        raise ConfigError(f"{path} is not valid {path.suffix.lstrip('.').upper()}: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys to values")
    return DatasetSchema.from_mapping(raw, source=str(path))


def builtin_schema(name: str = "bike-hour") -> DatasetSchema:
    """Return a built-in data set description (``bike-hour`` or ``bike-day``).

    Raises:
        ConfigError: for an unknown name.
    """
    files = resources.files("modelmedic") / "datasets"
    target = files / f"{name}.toml"
    if not target.is_file():
        names = sorted(p.name.removesuffix(".toml") for p in files.iterdir() if p.name.endswith(".toml"))
        raise ConfigError(f"unknown built-in dataset '{name}'; choose one of: {', '.join(names)}")
    return DatasetSchema.from_mapping(tomllib.loads(target.read_text("utf-8")), source=name)
