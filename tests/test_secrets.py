"""Masking: no password of a store URI survives into a message."""

from __future__ import annotations

import pytest

from modelmedic.secrets import masked, masked_text


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("postgresql://bob:s3cret@db.example.com:5432/mlflow", "postgresql://bob:***@db.example.com:5432/mlflow"),
        ("postgres://u:p%40ss@h/d", "postgres://u:***@h/d"),
        ("http://bob:s3cret@127.0.0.1:5000/", "http://bob:***@127.0.0.1:5000/"),
        (
            "postgresql://h/d?user=u&password=s3cret&sslmode=require",
            "postgresql://h/d?user=u&password=***&sslmode=require",
        ),
        ("https://host/x?token=abc", "https://host/x?token=***"),
        ("http://bob@127.0.0.1:5000", "http://bob@127.0.0.1:5000"),
        ("sqlite:////tmp/home/mlflow.db", "sqlite:////tmp/home/mlflow.db"),
        ("models:/bike-demand@champion", "models:/bike-demand@champion"),
        ("runs:/abc/model", "runs:/abc/model"),
    ],
)
def test_masked(uri: str, expected: str) -> None:
    assert masked(uri) == expected


def test_masked_text_hides_every_quoted_password() -> None:
    text = (
        "API request to http://bob:s3cret@127.0.0.1:9/api/2.0/mlflow/x failed; "
        "then postgresql+psycopg://a:b%2Fc@db/x?sslpassword=zz&mode=1 too"
    )
    found = masked_text(text)
    assert "s3cret" not in found and "b%2Fc" not in found and "zz" not in found
    assert "http://bob:***@127.0.0.1:9/api" in found and "sslpassword=***&mode=1" in found
