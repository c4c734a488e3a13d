"""The data set: real download code against a loopback HTTP server, verification, loading."""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from modelmedic.config import Settings
from modelmedic.data import BIKE_SHA256, ensure_bike_data, load_bike, load_dataset, prepare_frame
from modelmedic.errors import ChecksumError, DataError, DownloadError
from modelmedic.schema import builtin_schema, load_schema


def make_zip(bike_dir: Path, *, corrupt_hour: bool = False) -> bytes:
    """A zip laid out like UCI's, built from the test data (the cache holds no Readme.txt)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ("Readme.txt", "day.csv", "hour.csv"):
            if not (bike_dir / name).is_file():
                continue
            data = (bike_dir / name).read_bytes()
            if corrupt_hour and name == "hour.csv":
                data = data.replace(b"2011-01-01", b"2011-01-02", 1)
            archive.writestr(name, data)
    return buffer.getvalue()


class Server:
    """A loopback HTTP server with routes: path -> (bytes, behaviour)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[bytes, str]] = {}
        self.hits: list[str] = []
        routes, hits = self.routes, self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                if self.path not in routes:
                    self.send_error(404)
                    return
                body, how = routes[self.path]
                self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if how == "drop":  # announce everything, send a third, hang up
                    self.wfile.write(body[: len(body) // 3])
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    yield srv
    srv.close()


def settings_for(tmp_path: Path, urls: list[str]) -> Settings:
    return Settings(cache_dir=tmp_path / "cache", data_urls=urls, data_dir=None, home=tmp_path / "home")


def test_download_verifies_caches_and_never_downloads_twice(server: Server, bike_dir: Path, tmp_path: Path) -> None:
    server.routes["/bike.zip"] = (make_zip(bike_dir), "ok")
    settings = settings_for(tmp_path, [f"{server.url}/missing.zip", f"{server.url}/bike.zip"])
    folder = ensure_bike_data(settings=settings, progress=False)
    for name, sha in BIKE_SHA256.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == sha
    assert server.hits == ["/missing.zip", "/bike.zip"]  # the first URL failed, the second served
    assert ensure_bike_data(settings=settings, progress=False) == folder
    assert len(server.hits) == 2
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temp files left


def test_corrupt_file_in_zip_is_refused_and_not_cached(server: Server, bike_dir: Path, tmp_path: Path) -> None:
    server.routes["/bike.zip"] = (make_zip(bike_dir, corrupt_hour=True), "ok")
    settings = settings_for(tmp_path, [f"{server.url}/bike.zip"])
    with pytest.raises(DataError, match="SHA-256"):
        ensure_bike_data(settings=settings, progress=False)
    assert not (tmp_path / "cache" / "bike-sharing" / "hour.csv").exists()


def test_truncated_zip_is_a_clear_error(server: Server, bike_dir: Path, tmp_path: Path) -> None:
    server.routes["/bike.zip"] = (make_zip(bike_dir)[:5000], "ok")
    settings = settings_for(tmp_path, [f"{server.url}/bike.zip"])
    with pytest.raises(DataError, match="MODELMEDIC_DATA_DIR"):
        ensure_bike_data(settings=settings, progress=False)


def test_dropped_connection_is_a_download_error(server: Server, bike_dir: Path, tmp_path: Path) -> None:
    server.routes["/bike.zip"] = (make_zip(bike_dir), "drop")
    settings = settings_for(tmp_path, [f"{server.url}/bike.zip"])
    with pytest.raises(DownloadError, match="MODELMEDIC_DATA_DIR"):
        ensure_bike_data(settings=settings, progress=False)
    assert not (tmp_path / "cache" / "bike-sharing" / "hour.csv").exists()


def test_no_network_says_how_to_work_offline(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, ["http://127.0.0.1:9/nothing-listens-here.zip"])
    with pytest.raises(DownloadError, match="MODELMEDIC_DATA_DIR"):
        ensure_bike_data(settings=settings, progress=False)


def test_local_zip_and_folder_are_verified(bike_dir: Path, tmp_path: Path) -> None:
    archive = tmp_path / "Bike-Sharing-Dataset.zip"
    archive.write_bytes(make_zip(bike_dir))
    settings = settings_for(tmp_path, [])
    assert (ensure_bike_data(archive, settings, progress=False) / "hour.csv").is_file()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "hour.csv").write_bytes((bike_dir / "hour.csv").read_bytes()[:-10])
    (bad / "day.csv").write_bytes((bike_dir / "day.csv").read_bytes())
    with pytest.raises(ChecksumError):
        ensure_bike_data(bad, settings, progress=False)
    with pytest.raises(DataError, match="neither a folder nor a valid zip"):
        not_zip = tmp_path / "x.zip"
        not_zip.write_text("hello")
        ensure_bike_data(not_zip, settings, progress=False)


def test_hourly_frame_is_typed(bike: pd.DataFrame, bike_schema) -> None:
    assert len(bike) == 17379
    assert isinstance(bike.index, pd.DatetimeIndex) and bike.index.is_monotonic_increasing
    assert bike.index[0] == pd.Timestamp("2011-01-01 00:00") and bike.index[-1] == pd.Timestamp("2012-12-31 23:00")
    assert (bike.index.hour == bike["hr"]).all()
    for col in bike_schema.categorical:
        assert isinstance(bike[col].dtype, pd.CategoricalDtype)
    assert "casual" not in bike and "registered" not in bike and "instant" not in bike
    assert {"casual", "registered"} <= set(bike_schema.exclude)
    assert not {"casual", "registered", "cnt"} & set(bike_schema.features)


def test_daily_frame(bike_dir: Path, tmp_path: Path) -> None:
    day = load_bike("day", bike_dir, settings_for(tmp_path, []), progress=False)
    assert len(day) == 731 and (day.index.hour == 0).all()


def test_csv_missing_columns_is_a_clear_error(bike_dir: Path) -> None:
    raw = pd.read_csv(bike_dir / "hour.csv").drop(columns=["temp", "hum"])
    with pytest.raises(DataError, match="temp, hum"):
        prepare_frame(raw, builtin_schema("bike-hour"), "hour.csv")


def test_users_own_data_with_a_toml_description(tmp_path: Path) -> None:
    (tmp_path / "shop.toml").write_text(
        'name = "shop"\ndatetime = "ts"\ntarget = "sales"\nnumerical = ["price"]\ncategorical = ["store"]\n'
    )
    frame = pd.DataFrame(
        {
            "ts": pd.date_range("2024-01-01", periods=6, freq="D").astype(str)[::-1],
            "price": [1.0, 2, 3, 4, 5, 6],
            "store": list("abcabc"),
            "sales": [3, 4, 5, 6, 7, 8],
            "note": "x",
        }
    )
    frame.to_parquet(tmp_path / "shop.parquet")
    loaded, schema = load_dataset(tmp_path / "shop.parquet", load_schema(tmp_path / "shop.toml"))
    assert schema.features == ["price", "store"]
    assert loaded.index.is_monotonic_increasing and "note" not in loaded
    assert isinstance(loaded["store"].dtype, pd.CategoricalDtype)
    with pytest.raises(DataError, match="--schema"):
        load_dataset(tmp_path / "shop.parquet")
