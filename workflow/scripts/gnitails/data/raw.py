"""Raw files of the downloadable datasets: where they come from, checksums, download.

URLs and MD5 checksums are read from torchvision's own dataset classes, so they stay those
torchvision maintains. Each source keeps its files flat in ``resources/datasets/{source}/``;
a user without network access can place them there by hand. A download goes to a temporary
folder and is moved into place only after its checksum matches, so a failed or corrupt
download never leaves a file under the final name. Network errors are retried here, a
checksum mismatch is not (see ``ATTEMPTS``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from gnitails.data.errors import DataError

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class RawFile:
    name: str
    md5: str
    urls: tuple[str, ...]


MIRROR_ENV = "GNITAILS_DATA_MIRROR"


def raw_files(source: str) -> list[RawFile]:
    """The files making up a downloadable source, from torchvision's constants.

    With the environment variable GNITAILS_DATA_MIRROR set to a base URL, every file is
    fetched from ``{mirror}/{source}/{file name}`` instead (a local or institutional mirror).
    """
    files = _official_files(source)
    mirror = os.environ.get(MIRROR_ENV)
    if mirror:
        base = f"{mirror.rstrip('/')}/{source}"
        files = [RawFile(f.name, f.md5, (f"{base}/{f.name}",)) for f in files]
    return files


def _official_files(source: str) -> list[RawFile]:
    from torchvision.datasets import CIFAR10, MNIST, SVHN

    if source == "mnist":
        return [RawFile(n, m, tuple(u + n for u in MNIST.mirrors)) for n, m in MNIST.resources]
    if source == "cifar10":
        return [RawFile(CIFAR10.filename, CIFAR10.tgz_md5, (CIFAR10.url,))]
    if source == "svhn":
        return [RawFile(f, m, (u,)) for u, f, m in (SVHN.split_list[s] for s in ("train", "test"))]
    raise DataError(f"unknown downloadable source {source!r} (known: mnist, cifar10, svhn)")


def md5sum(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _checksum_error(source: str, path: Path, expected: str, actual: str) -> DataError:
    return DataError(
        f"{source}: checksum mismatch for {path} (md5 {actual}, expected {expected}); "
        "the file is corrupt or truncated: delete it and rerun"
    )


def _download(url: str, folder: str, name: str) -> None:
    from torchvision.datasets.utils import download_url

    download_url(url, folder, filename=name)


# Network and I/O errors are often transient (a dropped connection, a busy mirror), so each
# round tries every mirror and a failed round is retried after a growing pause. A checksum
# mismatch is never retried: the same bytes come back every time.
ATTEMPTS = 3
RETRY_WAIT = 5.0  # seconds before the second round; doubled for each further round


def _fetch(
    source: str, raw: RawFile, dest: Path, *, download=_download, attempts=ATTEMPTS, wait=RETRY_WAIT
) -> None:
    """Try each mirror, in rounds; move the file into place only once its MD5 matches."""
    errors = []
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".download-") as tmp:
        got = Path(tmp) / raw.name
        for attempt in range(attempts):
            if attempt:
                time.sleep(wait * 2 ** (attempt - 1))
            for url in raw.urls:
                # torchvision skips a file already present: drop what a failed try left.
                got.unlink(missing_ok=True)
                try:
                    download(url, tmp, raw.name)
                except (OSError, RuntimeError) as exc:  # URLError is an OSError
                    errors.append(f"{url}: {exc}")
                    continue
                actual = md5sum(got)
                if actual != raw.md5:
                    raise _checksum_error(source, got.relative_to(tmp), raw.md5, actual)
                shutil.move(got, dest)
                return
    tries = f" ({attempts} tries)" if attempts > 1 else ""
    raise DataError(
        f"{source}: cannot download {raw.name}{tries} ({'; '.join(dict.fromkeys(errors))}). "
        f"Without network access, place {raw.name} (md5 {raw.md5}) in {dest.parent}/ by hand "
        "and rerun."
    )


def raw_file(source: str, name: str) -> RawFile:
    """The raw file `name` of a downloadable source (a clear error for a name it lacks)."""
    files = {raw.name: raw for raw in raw_files(source)}
    if name not in files:
        raise DataError(f"{source} has no raw file {name!r} (its files: {', '.join(files)})")
    return files[name]


def fetch_raw(
    source: str,
    raw: RawFile,
    root: str | Path,
    *,
    timeout: float = 30.0,
    download=_download,
    attempts: int = ATTEMPTS,
    retry_wait: float = RETRY_WAIT,
) -> Path:
    """Make sure one raw file of `source` is in `root`, verified; return its path.

    A file already present (downloaded before, or placed by hand) is checked, not downloaded
    again. Network errors are retried `attempts` times in all; a checksum mismatch fails at once.
    """
    dest = Path(root) / raw.name
    if dest.exists():
        actual = md5sum(dest)
        if actual != raw.md5:
            raise _checksum_error(source, dest, raw.md5, actual)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)  # fail fast when offline instead of hanging
    try:
        _fetch(source, raw, dest, download=download, attempts=attempts, wait=retry_wait)
    finally:
        socket.setdefaulttimeout(previous)
    return dest


def download_source(source: str, root: str | Path, *, files=None, **fetch_options) -> Path:
    """Make sure every raw file of `source` is in `root`, verified; write and return the manifest.

    `files` overrides the registry, and `fetch_options` go to :func:`fetch_raw` (tests pass
    small files of their own and their own `download(url, folder, name)`).
    """
    root = Path(root)
    files = raw_files(source) if files is None else files
    for raw in files:
        fetch_raw(source, raw, root, **fetch_options)
    manifest = {
        "source": source,
        "files": {
            raw.name: {"md5": raw.md5, "bytes": (root / raw.name).stat().st_size} for raw in files
        },
    }
    path = root / MANIFEST
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return path


def verified_files(manifest_path: str | Path) -> dict[str, Path]:
    """Re-check every file a manifest lists (catches corruption after download)."""
    manifest_path = Path(manifest_path)
    try:
        manifest = json.loads(manifest_path.read_text())
        listed = manifest["files"]
        source = manifest["source"]
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"{manifest_path} is not a valid download manifest: {exc}") from exc
    paths = {}
    for name, info in listed.items():
        path = manifest_path.parent / name
        if not path.exists():
            raise DataError(
                f"{source}: {path} listed in {manifest_path} is missing; rerun the download"
            )
        actual = md5sum(path)
        if actual != info["md5"]:
            raise _checksum_error(source, path, info["md5"], actual)
        paths[name] = path
    return paths
