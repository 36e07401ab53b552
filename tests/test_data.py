"""Data stage: generated data matches its definition, raw formats parse, files are verified."""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from gnitails.config import ConfigError, validate_config
from gnitails.data import DataError, Prepared, load_prepared, prepare_dataset, save_prepared
from gnitails.data.raw import (
    RawFile,
    download_source,
    fetch_raw,
    md5sum,
    raw_file,
    raw_files,
    verified_files,
)
from gnitails.data.readers import read_idx
from gnitails.data.sinusoids import make_sinusoids


def spec(source: str, **extra) -> dict:
    """A validated dataset entry (defaults filled), via a minimal config."""
    cfg = {
        "datasets": {"d": {"source": source, **extra}},
        "experiments": {
            "e": {
                "dataset": "d",
                "model": {"arch": "mlp"},
                "noise": {"mode": "additive", "sigma": 0.1},
                "training": {"lr": 0.1, "steps": 1},
                "seeds": [0],
            }
        },
    }
    return validate_config(cfg)["datasets"]["d"]


# --- sinusoids -----------------------------------------------------------------------------


def test_sinusoids_follow_their_definition():
    data = prepare_dataset("s", spec("sinusoids", seed=3))
    t = np.arange(200) / 200
    assert np.array_equal(data.x_train[:, 0], t.astype(np.float32))
    phases = np.array(data.meta["phases"])
    assert ((phases >= 0) & (phases < 1)).all() and len(phases) == 10

    def target(t):  # written out independently of the library's vectorised version
        pairs = zip(range(5, 55, 5), phases, strict=True)
        return sum(np.sin(2 * np.pi * (k * t + p)) for k, p in pairs)

    np.testing.assert_allclose(data.y_train[:, 0], target(t), atol=1e-5)
    # Held-out points: same function, abscissae uniform on [0, 1) and not the training grid.
    t_test = data.x_test[:, 0].astype(np.float64)
    assert 0 <= t_test.min() and t_test.max() < 1 and not np.isin(t_test, t).all()
    np.testing.assert_allclose(data.y_test[:, 0], target(t_test), atol=1e-4)


def test_sinusoids_are_seeded():
    a = make_sinusoids(seed=1)
    b = make_sinusoids(seed=1)
    c = make_sinusoids(seed=2)
    assert np.array_equal(a.y_train, b.y_train) and np.array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.y_train, c.y_train)


def test_sinusoid_dimensions_and_input_noise():
    data = make_sinusoids(seed=0, n_train=4000, input_dim=5, output_dim=3, input_noise_std=0.5)
    assert data.x_train.shape == (4000, 5) and data.y_train.shape == (4000, 3)
    # Outputs are identical columns (as in the paper); inputs are t + N(0, 0.5^2) per column.
    assert np.array_equal(data.y_train[:, 0], data.y_train[:, 2])
    residual = data.x_train - (np.arange(4000) / 4000)[:, None]
    assert abs(residual.std() - 0.5) < 0.01 and abs(residual.mean()) < 0.01


# --- digits --------------------------------------------------------------------------------


def test_digits_split_is_stratified_and_scaled():
    data = prepare_dataset("d", spec("digits", seed=0, test_fraction=0.2))
    assert len(data.x_train) + len(data.x_test) == 1797
    assert abs(len(data.x_test) - 0.2 * 1797) <= 1
    assert data.x_train.shape[1:] == (1, 8, 8)
    assert 0 <= data.x_train.min() and data.x_train.max() == 1
    train_freq = np.bincount(data.y_train) / len(data.y_train)
    test_freq = np.bincount(data.y_test) / len(data.y_test)
    assert np.abs(train_freq - test_freq).max() < 0.01


def test_digits_subset_is_seeded_and_sized():
    a = prepare_dataset("d", spec("digits", seed=0, train_subset=100))
    b = prepare_dataset("d", spec("digits", seed=0, train_subset=100))
    assert len(a.x_train) == 100 and np.array_equal(a.x_train, b.x_train)


def test_subset_larger_than_data_names_the_key():
    # The config check refuses it first; preparing checks again (a spec built by hand).
    with pytest.raises(ConfigError, match=r"datasets\.d\.train_subset: asks for 5000"):
        spec("digits", seed=0, train_subset=5000)
    unchecked = {"source": "digits", "seed": 0, "test_fraction": 0.25, "train_subset": 5000}
    with pytest.raises(DataError, match=r"datasets\.d\.train_subset: asks for 5000"):
        prepare_dataset("d", unchecked)


# --- prepared format -----------------------------------------------------------------------


def test_prepared_round_trip(tmp_path):
    data = make_sinusoids(seed=0)
    path = tmp_path / "s.npz"
    save_prepared(path, data)
    back = load_prepared(path)
    for key in ("x_train", "y_train", "x_test", "y_test"):
        assert np.array_equal(getattr(back, key), getattr(data, key))
    assert back.meta == data.meta
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left beside it


@pytest.mark.parametrize("cut", [0.5, 0.95])
def test_truncated_npz_is_named(tmp_path, cut):
    path = tmp_path / "s.npz"
    save_prepared(path, make_sinusoids(seed=0))
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * cut)])
    with pytest.raises(DataError, match=r"s\.npz is corrupt or truncated"):
        load_prepared(path)


def test_npz_without_required_arrays_is_named(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, x=np.zeros(3))
    with pytest.raises(DataError, match=r"other\.npz lacks the arrays"):
        load_prepared(path)


def test_inconsistent_data_is_refused(tmp_path):
    good = make_sinusoids(seed=0)
    bad = Prepared(good.x_train, good.y_train[:10], good.x_test, good.y_test, good.meta)
    with pytest.raises(DataError, match="x_train has 200 rows but y_train has 10"):
        save_prepared(tmp_path / "bad.npz", bad)
    assert not any(tmp_path.iterdir())


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        save_prepared(tmp_path / "s.npz", make_sinusoids(seed=0))
    assert not any(tmp_path.iterdir())


# --- raw formats, written by the tests in the real on-disk layouts ---------------------------


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    return header + array.astype(np.uint8).tobytes()


def write_mnist(folder: Path, rng) -> dict:
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (20, 28, 28)),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, 20),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (8, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, 8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, arr in arrays.items():
        (folder / name).write_bytes(gzip.compress(idx_bytes(arr)))
    return arrays


def write_cifar10(folder: Path, rng) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    batches = {}
    with tarfile.open(folder / "cifar-10-python.tar.gz", "w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            entry = {
                "data": rng.integers(0, 256, (4, 3072), dtype=np.uint8),
                "labels": list(rng.integers(0, 10, 4)),
            }
            batches[name] = entry
            blob = pickle.dumps(entry)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return batches


def write_svhn(folder: Path, rng) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    mats = {}
    for split, n in (("train", 6), ("test", 3)):
        x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
        y = rng.integers(1, 11, (n, 1))  # SVHN labels 1..10, where 10 means the digit 0
        savemat(folder / f"{split}_32x32.mat", {"X": x, "y": y})
        mats[split] = (x, y)
    return mats


def as_registry(folder: Path) -> list[RawFile]:
    return [
        RawFile(p.name, md5sum(p), ("http://127.0.0.1:9/unused",)) for p in sorted(folder.iterdir())
    ]


def test_idx_reader_detects_truncation(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((5, 3, 3)))[:-4]))
    with pytest.raises(DataError, match="truncated"):
        read_idx(path)


@pytest.mark.parametrize("source", ["mnist", "cifar10", "svhn"])
def test_downloaded_sources_prepare_from_real_formats(tmp_path, source):
    rng = np.random.default_rng(0)
    folder = tmp_path / "resources" / "datasets" / source
    written = {"mnist": write_mnist, "cifar10": write_cifar10, "svhn": write_svhn}[source](
        folder, rng
    )
    manifest = download_source(source, folder, files=as_registry(folder))
    data = prepare_dataset(source, spec(source, seed=0), manifest)
    assert data.meta["task"] == "classification" and data.x_train.dtype == np.float32
    assert 0 <= data.x_train.min() and data.x_train.max() <= 1
    if source == "mnist":
        first = written["train-images-idx3-ubyte.gz"][0] / 255
        np.testing.assert_allclose(data.x_train[0, 0], first, rtol=1e-6)
        assert np.array_equal(data.y_test, written["t10k-labels-idx1-ubyte.gz"])
    elif source == "cifar10":
        assert data.x_train.shape == (20, 3, 32, 32) and data.x_test.shape == (4, 3, 32, 32)
        np.testing.assert_allclose(
            data.x_test.reshape(4, -1) * 255, written["test_batch"]["data"], atol=1e-4
        )
    else:
        x, y = written["train"]
        assert data.x_train.shape == (6, 3, 32, 32)
        np.testing.assert_allclose(data.x_train[0, :, 0, 0] * 255, x[0, 0, :, 0], atol=1e-4)
        assert np.array_equal(data.y_train, y.ravel() % 10) and data.y_train.max() <= 9


def test_downloaded_subset(tmp_path):
    folder = tmp_path / "mnist"
    write_mnist(folder, np.random.default_rng(1))
    manifest = download_source("mnist", folder, files=as_registry(folder))
    data = prepare_dataset("m", spec("mnist", seed=0, train_subset=5, test_subset=2), manifest)
    assert len(data.x_train) == 5 and len(data.x_test) == 2


def test_present_file_with_wrong_checksum_is_named(tmp_path):
    folder = tmp_path / "mnist"
    write_mnist(folder, np.random.default_rng(0))
    files = as_registry(folder)
    files[0] = RawFile(files[0].name, "0" * 32, files[0].urls)
    with pytest.raises(DataError, match=rf"checksum mismatch for .*{files[0].name}"):
        download_source("mnist", folder, files=files)
    assert not (folder / "manifest.json").exists()


def test_fetch_raw_verifies_a_present_file_without_downloading(tmp_path):
    folder = tmp_path / "mnist"
    write_mnist(folder, np.random.default_rng(0))
    raw = as_registry(folder)[0]

    def no_download(url, folder, name):
        raise AssertionError(f"{name} is present, yet fetched from {url}")

    assert fetch_raw("mnist", raw, folder, download=no_download) == folder / raw.name
    (folder / raw.name).write_bytes(b"garbage")
    with pytest.raises(DataError, match="checksum mismatch"):
        fetch_raw("mnist", raw, folder, download=no_download)


def test_raw_file_is_looked_up_by_name():
    assert raw_file("svhn", "test_32x32.mat").name == "test_32x32.mat"
    with pytest.raises(DataError, match=r"svhn has no raw file 'x.mat' \(its files: train_32x32"):
        raw_file("svhn", "x.mat")


def test_corruption_after_download_is_caught(tmp_path):
    folder = tmp_path / "svhn"
    write_svhn(folder, np.random.default_rng(0))
    manifest = download_source("svhn", folder, files=as_registry(folder))
    (folder / "test_32x32.mat").write_bytes(b"garbage")
    with pytest.raises(DataError, match="checksum mismatch"):
        verified_files(manifest)


def test_offline_download_names_dataset_and_folder(tmp_path):
    # Port 9 (discard) on loopback refuses connections: a fast, local stand-in for "offline".
    files = [RawFile("train_32x32.mat", "0" * 32, ("http://127.0.0.1:9/train_32x32.mat",))]
    folder = tmp_path / "resources" / "datasets" / "svhn"
    with pytest.raises(DataError) as info:
        download_source("svhn", folder, files=files, timeout=5, retry_wait=0)
    msg = str(info.value)
    assert msg.startswith("svhn: cannot download train_32x32.mat")
    assert str(folder) in msg and "by hand" in msg
    assert sorted(p.name for p in folder.iterdir()) == []  # no partial file, no temp folder


@pytest.fixture
def http_server(tmp_path):
    """A loopback HTTP server serving tmp_path/www (stops by itself at teardown)."""
    import functools
    import http.server
    import threading

    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_download_over_http_is_verified_and_placed(tmp_path, http_server):
    www, url = http_server
    write_mnist(www, np.random.default_rng(0))
    files = [
        RawFile(f.name, f.md5, (f"{url}/missing/{f.name}", f"{url}/{f.name}"))
        for f in as_registry(www)
    ]
    folder = tmp_path / "mnist"
    manifest = download_source("mnist", folder, files=files)  # first mirror 404s, second works
    assert set(verified_files(manifest)) == {f.name for f in files}


def test_download_with_checksum_mismatch_leaves_nothing(tmp_path, http_server):
    www, url = http_server
    (www / "t10k-labels-idx1-ubyte.gz").write_bytes(b"truncated download")
    files = [RawFile("t10k-labels-idx1-ubyte.gz", "0" * 32, (f"{url}/t10k-labels-idx1-ubyte.gz",))]
    folder = tmp_path / "mnist"
    with pytest.raises(DataError, match="checksum mismatch for t10k-labels-idx1-ubyte.gz"):
        download_source("mnist", folder, files=files)
    assert list(folder.iterdir()) == []


class FakeDownload:
    """Stands in for the network: each call takes the next outcome, bytes to write or an error."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.calls = []

    def __call__(self, url, folder, name):
        self.calls.append(url)
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, Exception):
            (Path(folder) / name).write_bytes(b"partial")  # as a dropped connection leaves it
            raise outcome
        (Path(folder) / name).write_bytes(outcome)


@pytest.fixture
def sleeps(monkeypatch):
    waited = []
    monkeypatch.setattr("gnitails.data.raw.time.sleep", waited.append)
    return waited


def test_checksum_mismatch_is_not_retried(tmp_path, sleeps):
    # The same bytes come back every time: one try, no pause, nothing left behind.
    fake = FakeDownload(b"not the real file")
    files = [RawFile("t10k-labels-idx1-ubyte.gz", "0" * 32, ("http://a/x", "http://b/x"))]
    folder = tmp_path / "mnist"
    with pytest.raises(DataError, match="checksum mismatch for t10k-labels-idx1-ubyte.gz"):
        download_source("mnist", folder, files=files, download=fake)
    assert fake.calls == ["http://a/x"] and sleeps == []
    assert list(folder.iterdir()) == []


def test_network_errors_are_retried_until_the_file_arrives(tmp_path, sleeps):
    good = gzip.compress(idx_bytes(np.arange(5)))
    fake = FakeDownload(ConnectionResetError("reset"), OSError("timed out"), good)
    files = [RawFile("t10k-labels-idx1-ubyte.gz", hashlib.md5(good).hexdigest(), ("http://a/x",))]
    folder = tmp_path / "mnist"
    manifest = download_source("mnist", folder, files=files, download=fake, retry_wait=2)
    assert len(fake.calls) == 3 and sleeps == [2, 4]  # growing pauses between rounds
    assert verified_files(manifest)["t10k-labels-idx1-ubyte.gz"].read_bytes() == good


def test_network_errors_give_up_after_all_tries(tmp_path, sleeps):
    fake = FakeDownload(OSError("connection refused"))
    files = [RawFile("train_32x32.mat", "0" * 32, ("http://a/x", "http://b/x"))]
    folder = tmp_path / "svhn"
    with pytest.raises(DataError, match=r"cannot download train_32x32.mat \(3 tries\)") as info:
        download_source("svhn", folder, files=files, download=fake, attempts=3)
    assert len(fake.calls) == 6 and len(sleeps) == 2
    assert "http://b/x: connection refused" in str(info.value)
    assert list(folder.iterdir()) == []


def test_registry_uses_torchvision_checksums():
    from torchvision.datasets import MNIST

    files = {f.name: f for f in raw_files("mnist")}
    for name, md5 in MNIST.resources:
        assert files[name].md5 == md5 and all(u.endswith(name) for u in files[name].urls)
