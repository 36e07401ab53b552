"""Atomic writes keep the user's umask (not mkstemp's 0600) and leave nothing on failure."""

from __future__ import annotations

import os
import stat

import pytest

from gnitails.atomic import atomic_path, umask_mode, write_bytes


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


def test_written_files_get_the_umask_permissions(tmp_path, umask_027):
    assert umask_mode() == 0o640
    write_bytes(tmp_path / "sub" / "f.bin", b"abc")
    mode = stat.S_IMODE((tmp_path / "sub" / "f.bin").stat().st_mode)
    assert mode == 0o640 and (tmp_path / "sub" / "f.bin").read_bytes() == b"abc"


def test_a_failed_write_leaves_neither_file_nor_temporary(tmp_path):
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("crash")
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]


def test_noise_dumps_and_prepared_data_are_group_readable(tmp_path):
    import numpy as np

    from gnitails.data.prepared import save_prepared
    from gnitails.data.sinusoids import make_sinusoids
    from gnitails.noise.dump import save_dump

    old = os.umask(0o022)
    try:
        save_dump(tmp_path / "d.npz", {"z_mc/weight/1": np.zeros((2, 3), np.float32)}, {"a": 1})
        save_prepared(tmp_path / "p.npz", make_sinusoids(seed=0, n_train=8, n_test=4))
    finally:
        os.umask(old)
    for name in ("d.npz", "p.npz"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644
