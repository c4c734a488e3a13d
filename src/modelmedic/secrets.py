"""Secrets kept out of what modelmedic prints: URIs and messages with their passwords hidden.

Every message, answer or log record that names a store (an MLflow tracking URI, a database
URL, a model URI) shows it through :func:`masked`; text that may quote one (a library's
error message) goes through :func:`masked_text`::

    >>> masked("postgresql://bob:s3cret@db.example.com:5432/mlflow")
    'postgresql://bob:***@db.example.com:5432/mlflow'
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

HIDDEN = "***"
# query parameters that carry a secret (e.g. ``?password=…`` in a libpq URL, ``?token=…``)
_SECRET_PARAMS = re.compile(r"pass|secret|token|key|credential|signature|auth", re.IGNORECASE)
# ``scheme://user:password@`` anywhere in a text
_USERINFO = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s/:@]*:)(?P<password>[^\s/@]+)(?P<at>@)")
_QUERY_SECRET = re.compile(
    r"(?P<head>[?&;][^\s=&#]*(?:pass|secret|token|key|credential|signature|auth)[^\s=&#]*=)(?P<value>[^\s&#]+)",
    re.IGNORECASE,
)


def masked(uri: str) -> str:
    """``uri`` with its password and secret query parameters replaced by ``***``.

    A URI without secrets (a path, ``models:/name@champion``) comes back unchanged.
    """
    try:
        parts = urlsplit(uri)
    except ValueError:
        return masked_text(uri)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, has_password, _ = userinfo.partition(":")
        netloc = f"{user}:{HIDDEN}@{host}" if has_password else netloc
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_SECRET_PARAMS.search(name) for name, _ in pairs):
            query = urlencode([(n, HIDDEN if _SECRET_PARAMS.search(n) else v) for n, v in pairs], safe="*")
    if (netloc, query) == (parts.netloc, parts.query):
        return uri
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def masked_text(text: str) -> str:
    """``text`` with the password of every URI it quotes, and secret query values, hidden."""
    text = _USERINFO.sub(lambda m: f"{m['head']}{HIDDEN}{m['at']}", text)
    return _QUERY_SECRET.sub(lambda m: f"{m['head']}{HIDDEN}", text)
