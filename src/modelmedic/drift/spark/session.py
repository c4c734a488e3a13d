"""Where the ``spark`` drift engine runs: a Spark session from modelmedic's settings.

``pyspark`` is an optional extra (``pip install 'modelmedic[spark]'``) imported only here
and in the engine's query module, never at start-up. The session is, in order: the one
``SPARK_REMOTE`` names (Spark Connect, ``sc://host:15002``), else the active session of
the process (a notebook's or a ``spark-submit`` job's), else a new one on the configured
master (``local[*]`` by default) with the ``--spark-conf key=value`` settings.

On Spark Connect the settings apply to the remote session where Spark allows it (SQL
settings; cluster settings such as executor memory belong to the server and are ignored).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from modelmedic.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

EXTRA_HINT = "the spark drift engine needs pyspark, from modelmedic's 'spark' extra: pip install pyspark"
CONNECT_HINT = "pip install 'modelmedic[spark]' (pyspark[connect])"
DEFAULT_MASTER = "local[*]"
# seconds to wait for a Spark Connect server to accept the connection (its client retries
# for 10 minutes and more before it reports a server that is not there)
CONNECT_TIMEOUT = 30.0
# a local session binds to the loopback interface and shows no web UI unless told otherwise
LOCAL_DEFAULTS = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.ui.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


def require_pyspark() -> None:
    """Check that pyspark can be imported.

    Raises:
        ConfigError: naming the ``spark`` extra when it cannot.
    """
    try:
        # lazy: optional, guarded by ImportError
        import pyspark  # noqa: F401  # heavy, optional: imported only when the spark engine is asked for
    except ImportError:
        raise ConfigError(EXTRA_HINT) from None


def parse_spark_conf(pairs: Sequence[str] | None) -> dict[str, str]:
    """``["spark.executor.memory=4g", ...]`` as a dict.

    Raises:
        ConfigError: for an item without ``=`` or with an empty key.
    """
    conf: dict[str, str] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--spark-conf '{pair}' is not key=value, e.g. spark.executor.memory=4g")
        conf[key.strip()] = value.strip()
    return conf


def spark_session(master: str | None = None, conf: Mapping[str, str] | None = None) -> SparkSession:
    """The session the engine runs its queries in (see the module docstring for which).

    Args:
        master: Spark master URL for a new session (``local[*]``, ``spark://host:7077``,
            ``yarn``, ``k8s://...``); ignored when ``SPARK_REMOTE`` is set or a session is active.
        conf: Spark settings for a new session (they win over the local defaults).

    Raises:
        ConfigError: when pyspark is missing or the session cannot start.
    """
    require_pyspark()
    # lazy: pyspark is an optional extra
    from pyspark.sql import SparkSession  # heavy, optional (see require_pyspark)

    settings = dict(conf or {})
    remote = os.environ.get("SPARK_REMOTE")
    try:
        if remote:
            _require_server(remote)
            builder: Any = SparkSession.builder.remote(remote)
            for key, value in settings.items():
                builder = builder.config(key, value)
            return builder.getOrCreate()
        active = SparkSession.getActiveSession()
        if active is not None:
            return active
        builder = SparkSession.builder.master(master or DEFAULT_MASTER).appName("modelmedic-drift")
        local = (master or DEFAULT_MASTER).startswith("local")
        if local:  # the JVM binds to the loopback interface from its first line on
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        for key, value in {**(LOCAL_DEFAULTS if local else {}), **settings}.items():
            builder = builder.config(key, value)
        return builder.getOrCreate()
    except ConfigError:
        raise
    except Exception as exc:  # py4j / JVM start-up errors have no common base class
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"cannot start Spark ({remote or master or DEFAULT_MASTER}): {first}") from None


def _require_server(remote: str) -> None:
    """Wait up to :data:`CONNECT_TIMEOUT` seconds for the Spark Connect server of ``remote``
    to accept a connection (TLS and tokens as the URL says).

    Raises:
        ConfigError: when none answers in time, or when the Spark Connect client's packages are missing.
        pyspark errors: when ``remote`` is not an ``sc://host:port`` URL.
    """
    try:
        # lazy: the Spark Connect client (grpcio) is part of the optional spark extra
        import grpc
        from pyspark.sql.connect.client import DefaultChannelBuilder  # heavy, optional (see require_pyspark)
    except ImportError as exc:
        raise ConfigError(f"SPARK_REMOTE needs the Spark Connect client ({exc}): {CONNECT_HINT}") from None

    channel = DefaultChannelBuilder(remote).toChannel()
    try:
        grpc.channel_ready_future(channel).result(timeout=CONNECT_TIMEOUT)
    except grpc.FutureTimeoutError:
        raise ConfigError(
            f"no Spark Connect server answers at {remote} (waited {CONNECT_TIMEOUT:.0f} s): "
            "start one (sbin/start-connect-server.sh) or unset SPARK_REMOTE"
        ) from None
    finally:
        channel.close()
