"""What the ``spark`` engine reads: Parquet files or folders (partitioned by date, as data
lakes hold them), CSV files, tables the session knows by name, and databases over JDBC.

A source is one string: an existing path (``.csv`` is read as CSV with a header, anything
else as Parquet), a ``jdbc:`` URL with the table after ``#`` (``jdbc:postgresql://host/db#predictions``;
the JDBC driver must be on Spark's class path, e.g. ``--spark-conf
spark.jars.packages=org.postgresql:postgresql:42.7.13``), or else a table name
(``lake.predictions``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from modelmedic.errors import DataError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

_NUMBERS = ("tinyint", "smallint", "int", "bigint", "float", "double")
# named explicitly: a driver jar added by spark.jars is not seen by java.sql.DriverManager
JDBC_DRIVERS = {
    "postgresql": "org.postgresql.Driver",
    "mysql": "com.mysql.cj.jdbc.Driver",
    "sqlserver": "com.microsoft.sqlserver.jdbc.SQLServerDriver",
    "oracle": "oracle.jdbc.OracleDriver",
}


def read_source(session: SparkSession, source: str | Path) -> DataFrame:
    """The rows of ``source`` (see the module docstring) as a Spark frame.

    Raises:
        DataError: when Spark cannot read it (the first line of Spark's reason).
    """
    text = str(source)
    path = Path(text)
    try:
        if text.startswith("jdbc:"):
            url, _, table = text.partition("#")
            if not table:
                raise DataError(f"name the table after '#': {url}#<table>")
            driver = JDBC_DRIVERS.get(url.split(":")[1])
            return session.read.jdbc(url, table, properties={"driver": driver} if driver else None)
        if path.exists():
            if path.suffix.lower() == ".csv":
                return session.read.csv(str(path), header=True, inferSchema=True)
            return session.read.parquet(str(path))
        return session.table(text)
    except DataError:
        raise
    except Exception as exc:  # Spark's analysis and JVM errors share no base class
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        first = next((line.strip(": ") for line in lines if "Exception:" in line), lines[0])  # py4j: the Java cause
        raise DataError(f"Spark cannot read {text}: {first}") from None


def infer_spark_columns(frame: DataFrame) -> tuple[list[str], list[str]]:
    """Split columns into numerical and categorical by Spark type (numbers vs everything
    else; dates and timestamps are left out, as they are windows, not features)."""
    numerical, categorical = [], []
    for name, kind in frame.dtypes:
        if kind in _NUMBERS or kind.startswith("decimal"):
            numerical.append(name)
        elif not kind.startswith(("timestamp", "date")):
            categorical.append(name)
    return numerical, categorical
