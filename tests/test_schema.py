"""Dataset descriptions: the built-in bike schema and users' TOML/YAML files."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelmedic.errors import ConfigError
from modelmedic.schema import DatasetSchema, builtin_schema, load_schema


def test_bike_schema_roles() -> None:
    schema = builtin_schema("bike-hour")
    assert schema.target == "cnt" and schema.hour == "hr"
    assert schema.features == [
        "temp",
        "atemp",
        "hum",
        "windspeed",
        "hr",
        "weekday",
        "mnth",
        "season",
        "holiday",
        "workingday",
        "weathersit",
    ]
    assert schema.column_type("season") == "categorical" and schema.column_type("temp") == "numerical"


def test_yaml_description(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text("name: d\ndatetime: when\ntarget: y\nnumerical: [a, b]\ncategorical: [c]\n")
    assert load_schema(path).features == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "d"\ntarget = "y"\nnumerical = ["a"]\n', "'datetime' is required"),
        ('name = "d"\ndatetime = "t"\ntarget = "y"\nnumerical = ["a"]\ncolour = 1\n', "unknown keys colour"),
        ('name = "d"\ndatetime = "t"\ntarget = "y"\nnumerical = ["y"]\n', "cannot be a feature"),
        ('name = "d"\ndatetime = "t"\ntarget = "y"\nnumerical = "a"\n', "must be a list"),
        ('name = "d"\ndatetime = "t"\ntarget = "y"\nnumerical = ["a"]\nexclude = ["a"]\n', "excluded"),
        ('name = "d"\ndatetime = "t"\ntarget = "y"\n', "at least one"),
        ("name = [", "not valid TOML"),
    ],
)
def test_invalid_descriptions(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "d.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_schema(path)


def test_unknown_builtin() -> None:
    with pytest.raises(ConfigError, match="bike-hour"):
        builtin_schema("nope")


def test_with_features_keeps_the_rest() -> None:
    schema = builtin_schema().with_features(numerical=["temp"], categorical=[])
    assert isinstance(schema, DatasetSchema) and schema.features == ["temp"] and schema.target == "cnt"
