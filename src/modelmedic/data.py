"""Data sets: download, verify, cache and load.

The built-in data is the UCI Bike Sharing data set (Fanaee-T and Gama, 2013; CC BY 4.0).
It is downloaded from UCI once, verified against known SHA-256 sums and cached in the user
cache folder; ``MODELMEDIC_DATA_DIR`` (a folder or a zip) replaces the download.
Users' own CSV or Parquet files load through the same code with their own
:class:`~modelmedic.schema.DatasetSchema`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from modelmedic.config import Settings, get_settings
from modelmedic.errors import ChecksumError, DataError, DownloadError
from modelmedic.extras import require
from modelmedic.schema import DatasetSchema, builtin_schema

if TYPE_CHECKING:
    import pandas as pd

BIKE_SHA256 = {
    "hour.csv": "e03de4ee4ef4dc376ac6e04bf829673c6269e8eba5c60fa121640fa2f829504f",
    "day.csv": "a6bcf826782d3c0fbfdcbeead17cd0884185a0dafe8ff10cd48a874ee7ba18be",
}
DATA_HINT = "set MODELMEDIC_DATA_DIR (or pass --data) to a folder or zip holding hour.csv and day.csv"
_CHUNK = 1 << 16


def sha256_file(path: Path) -> str:
    """Return the hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: Path, expected: str) -> None:
    """Check a file's SHA-256.

    Raises:
        ChecksumError: when the file's hash differs from ``expected``.
    """
    actual = sha256_file(path)
    if actual != expected:
        raise ChecksumError(
            f"{path.name} has SHA-256 {actual[:12]}…, expected {expected[:12]}…: the file is "
            f"corrupt or not the UCI original; delete it or {DATA_HINT}"
        )


def _atomic_write(dest: Path, chunks: Iterable[bytes], expected_sha: str | None = None) -> None:
    """Write ``chunks`` to ``dest`` through a temporary file in the same folder.

    The checksum is verified before the rename, so a bad file never appears at ``dest``.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        if expected_sha is not None:
            verify_file(tmp, expected_sha)
            tmp.chmod(0o644)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def extract_bike_zip(zip_path: Path, dest: Path) -> Path:
    """Extract and verify ``hour.csv`` and ``day.csv`` from a UCI zip into ``dest``.

    Raises:
        DataError: when the zip is truncated, corrupt or lacks a file.
        ChecksumError: when an extracted file has the wrong hash (nothing is written).
    """
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = {Path(n).name: n for n in archive.namelist() if not n.endswith("/")}
            for name, sha in BIKE_SHA256.items():
                if name not in members:
                    raise DataError(f"{zip_path.name} holds no {name}: it is not the UCI bike data zip")
                with archive.open(members[name]) as src:
                    _atomic_write(dest / name, iter(lambda s=src: s.read(_CHUNK), b""), sha)
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile, OSError, zlib.error) as exc:
        if isinstance(exc, FileNotFoundError):
            raise DataError(f"{zip_path} not found; {DATA_HINT}") from None
        raise DataError(f"{zip_path.name} is truncated or corrupt ({exc}); download it again or {DATA_HINT}") from None
    return dest


def _verified_folder(folder: Path) -> Path:
    missing = [n for n in BIKE_SHA256 if not (folder / n).is_file()]
    if missing:
        raise DataError(f"{folder} holds no {', '.join(missing)}; {DATA_HINT}")
    for name, sha in BIKE_SHA256.items():
        verify_file(folder / name, sha)
    return folder


def _cached_ok(folder: Path) -> bool:
    try:
        _verified_folder(folder)
    except DataError:
        return False
    return True


def download(url: str, dest: Path, *, timeout: float = 30.0, progress: bool = True) -> Path:
    """Download ``url`` to ``dest`` atomically, with a progress bar.

    Raises:
        DownloadError: on any network failure or an incomplete transfer.
    """
    # lazy: rich only when printing
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    request = urllib.request.Request(url, headers={"User-Agent": "modelmedic"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            received = 0
            with Progress(
                *Progress.get_default_columns(),
                DownloadColumn(),
                TransferSpeedColumn(),
                disable=not progress,
                transient=True,
            ) as bar:
                task = bar.add_task(f"download {dest.name}", total=total)

                def chunks() -> Iterable[bytes]:
                    nonlocal received
                    while block := response.read(_CHUNK):
                        received += len(block)
                        bar.update(task, advance=len(block))
                        yield block

                _atomic_write(dest, chunks())
            if total is not None and received != total:
                dest.unlink(missing_ok=True)
                raise DownloadError(f"download of {url} stopped after {received} of {total} bytes")
    except DownloadError:
        raise
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        dest.unlink(missing_ok=True)
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"could not download {url} ({reason})") from None
    return dest


def ensure_bike_data(
    source: str | Path | None = None, settings: Settings | None = None, *, progress: bool = True
) -> Path:
    """Return a folder holding the verified ``hour.csv`` and ``day.csv``.

    ``source`` (or ``settings.data_dir``) may be a folder or a zip; otherwise the data come
    from the cache, downloaded from UCI the first time only.

    Raises:
        DataError: when the data cannot be obtained or verified; the message says what to do.
    """
    settings = settings or get_settings()
    source = Path(source) if source is not None else settings.data_dir
    cache = settings.resolved_cache_dir() / "bike-sharing"
    if source is not None:
        if source.is_dir():
            return _verified_folder(source)
        if source.is_file():
            if not zipfile.is_zipfile(source):
                raise DataError(f"{source} is neither a folder nor a valid zip; {DATA_HINT}")
            return extract_bike_zip(source, cache)
        raise DataError(f"{source} does not exist; {DATA_HINT}")
    if _cached_ok(cache):
        return cache
    errors = []
    with tempfile.TemporaryDirectory(prefix="modelmedic-") as tmp:
        for url in settings.data_urls:
            zip_path = Path(tmp) / "bike-sharing.zip"
            try:
                download(url, zip_path, progress=progress)
                return extract_bike_zip(zip_path, cache)
            except DataError as exc:
                errors.append(str(exc))
    raise DownloadError(f"{errors[-1] if errors else 'no download URL configured'}; offline? {DATA_HINT}")


def read_table(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet file (only ``columns`` when given).

    Raises:
        DataError: when the file is missing, of an unknown kind or unreadable.
    """
    # lazy: pandas costs ~0.4 s to import
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} not found")
    suffix = path.suffix.lower()
    try:
        if suffix in {".parquet", ".pq"}:
            require("pyarrow", purpose="pyarrow (parquet files)")
            return pd.read_parquet(path, columns=columns)
        if suffix in {".csv", ".txt", ".gz"}:
            usecols = (lambda c: c in set(columns)) if columns else None
            return pd.read_csv(path, usecols=usecols)
    except Exception as exc:
        raise DataError(f"cannot read {path.name}: {exc}") from None
    raise DataError(f"{path.name}: expected a .csv or .parquet file")


def prepare_frame(raw: pd.DataFrame, schema: DatasetSchema, source: str = "data") -> pd.DataFrame:
    """Type a raw table by its schema: a sorted ``DatetimeIndex`` and categorical columns.

    Excluded columns are dropped; the target is kept when present (it may be absent in
    unlabelled production data).

    Raises:
        DataError: when required columns are missing or the timestamps do not parse.
    """
    # lazy: pandas costs ~0.4 s to import
    import pandas as pd

    needed = [c for c in schema.required_columns if c != schema.target]
    missing = [c for c in needed if c not in raw.columns]
    if missing:
        raise DataError(f"{source} lacks the columns {', '.join(missing)} that dataset '{schema.name}' needs")
    keep = [c for c in raw.columns if c not in schema.exclude and c != schema.datetime]
    frame = raw[keep].copy()
    try:
        stamps = pd.to_datetime(raw[schema.datetime])
    except (ValueError, TypeError) as exc:
        raise DataError(f"{source}: column '{schema.datetime}' holds values that are not dates ({exc})") from None
    if schema.hour:
        stamps = stamps + pd.to_timedelta(raw[schema.hour].astype(int), unit="h")
    frame.index = pd.DatetimeIndex(stamps, name="datetime")
    for col in schema.numerical:
        if not pd.api.types.is_numeric_dtype(frame[col]):
            try:
                frame[col] = pd.to_numeric(frame[col])
            except (ValueError, TypeError):
                raise DataError(f"{source}: numerical column '{col}' holds non-numbers") from None
    for col in schema.categorical:
        frame[col] = frame[col].astype("category")
    return frame.sort_index(kind="stable")


def load_bike(
    kind: str = "hour",
    source: str | Path | None = None,
    settings: Settings | None = None,
    *,
    progress: bool = True,
) -> pd.DataFrame:
    """Load the UCI Bike Sharing data (``kind`` ``hour`` or ``day``) as a typed DataFrame.

    Raises:
        DataError: when the data cannot be obtained, verified or parsed.
    """
    if kind not in {"hour", "day"}:
        raise DataError(f"unknown bike data kind '{kind}': use 'hour' or 'day'")
    folder = ensure_bike_data(source, settings, progress=progress)
    schema = builtin_schema(f"bike-{kind}")
    return prepare_frame(read_table(folder / f"{kind}.csv"), schema, f"{kind}.csv")


def describe_bike(kind: str, folder: Path, settings: Settings | None = None) -> dict[str, object]:
    """Describe the verified bike data in ``folder``: file, rows, first and last hour, columns.

    Returns:
        ``folder``, ``file``, ``rows``, ``start``, ``end`` (``YYYY-MM-DD HH:MM``), ``columns``
        and ``verified`` (``sha256``).

    Raises:
        DataError: when the data cannot be obtained, verified or parsed.
    """
    frame = load_bike(kind, folder, settings, progress=False)
    return {
        "folder": str(folder),
        "file": f"{kind}.csv",
        "rows": len(frame),
        "start": f"{frame.index.min():%Y-%m-%d %H:%M}",
        "end": f"{frame.index.max():%Y-%m-%d %H:%M}",
        "columns": list(frame.columns),
        "verified": "sha256",
    }


def load_dataset(
    path: str | Path | None = None,
    schema: DatasetSchema | None = None,
    settings: Settings | None = None,
    *,
    progress: bool = True,
) -> tuple[pd.DataFrame, DatasetSchema]:
    """Load a data set and its schema: the bike data by default, else a user's file.

    ``path`` may be a CSV/Parquet file (then ``schema`` is required), or a bike data
    folder/zip (then the built-in hourly schema applies).

    Raises:
        DataError: on missing or invalid data.
    """
    if path is not None and Path(path).suffix.lower() in {".csv", ".parquet", ".pq"}:
        if schema is None:
            raise DataError(f"{Path(path).name} needs a dataset description: pass --schema FILE.toml")
        columns = [*schema.required_columns, *schema.extra]
        raw = read_table(path)
        raw = raw[[c for c in raw.columns if c in set(columns)]]
        return prepare_frame(raw, schema, Path(path).name), schema
    if schema is not None and schema.name not in {"bike-hour", "bike-day"}:
        raise DataError(f"dataset '{schema.name}' needs a data file: pass --data FILE.csv")
    schema = schema or builtin_schema("bike-hour")
    kind = schema.name.removeprefix("bike-")
    return load_bike(kind, path, settings, progress=progress), schema
