"""Retraining strategy specs: canonical names, bad and repeated specs."""

from __future__ import annotations

import pytest

from modelmedic.backtest import parse_strategies, parse_strategy
from modelmedic.errors import ConfigError

# -- parsing ---------------------------------------------------------------------------


def test_specs_parse_to_canonical_names():
    names = [
        s.name
        for s in parse_strategies(
            [
                "never",
                "periodic:4W+expanding",
                "drift:0.5+sliding:8W",
                "performance:1.3+recency:4W",
                "incremental",
                "drift:temp,hum",
            ]
        )
    ]
    assert names == [
        "never",
        "periodic:4W",
        "drift:0.5+sliding:8W",
        "performance:1.3+recency:4W",
        "incremental:mlp",
        "drift:temp,hum",
    ]
    assert len(parse_strategies(None)) >= 15


@pytest.mark.parametrize(
    "spec",
    [
        "sometimes",
        "periodic:0",
        "drift:1.5",
        "performance:x",
        "periodic:4W+fresh",
        "incremental:tree",
        "incremental+sliding:4W",
        "periodic:1M",
    ],
)
def test_bad_specs_are_config_errors(spec):
    with pytest.raises(ConfigError):
        parse_strategy(spec)


def test_repeated_specs_are_rejected():
    with pytest.raises(ConfigError, match="twice"):
        parse_strategies(["periodic:4W", "periodic:4W+expanding"])
