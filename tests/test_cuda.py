"""The CUDA paths: training, the noise dump, the SDE engine and the torch stable sampler on a GPU.

Marked ``cuda`` and skipped where no CUDA device exists; ``bench/gpu_check.sh`` runs them.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gnitails.data.sinusoids import make_sinusoids
from gnitails.gni import NoiseSpec
from gnitails.models import build_model
from gnitails.noise import DumpSpec, compute_dump
from gnitails.sde import Quadratic, simulate
from gnitails.stable import fit, sample
from gnitails.training import load_model, train_run

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

EXP = {
    "dataset": "sinusoids",
    "model": {"arch": "mlp", "width": 16, "depth": 2},
    "noise": {"mode": "additive", "sigma": 0.1},
    "training": {
        "rules": ["gni_m", "explicit"],
        "m_values": [4],
        "lr": 0.01,
        "steps": 20,
        "eval_every": 10,
    },
    "seeds": [0],
}


@pytest.mark.parametrize("run", ["m4", "explicit"])
def test_training_on_cuda_matches_cpu_in_meaning(tmp_path, run):
    data = make_sinusoids(seed=0, n_train=100, n_test=20)
    runs = {
        dev: train_run(EXP, data, run=run, seed=0, out_dir=tmp_path / dev, device=dev, log=None)
        for dev in ("cpu", "cuda")
    }
    gpu, cpu = runs["cuda"].metrics, runs["cpu"].metrics
    assert gpu["step"].tolist() == cpu["step"].tolist() == [0, 10, 20]
    assert np.isfinite(gpu["train_loss"]).all()
    # Same initial weights (seeded on the CPU), so the losses at step 0 agree to rounding.
    assert gpu["train_loss"][0] == pytest.approx(cpu["train_loss"][0], rel=1e-4)
    assert gpu["train_loss"].iloc[-1] < gpu["train_loss"][0] * 1.5
    net, meta = load_model(tmp_path / "cuda" / "models.pt")
    assert meta["run"] == run and next(net.parameters()).device.type == "cpu"


def test_noise_dump_on_cuda():
    data = make_sinusoids(seed=0, n_train=40, n_test=10)
    net = build_model({"arch": "mlp", "width": 8, "depth": 2}, (1,), 1)
    spec = NoiseSpec.from_config({"mode": "additive", "sigma": 0.1}, net.n_layers)
    dump = DumpSpec.from_config(dict(m=10, draws=24, forward_draws=5, minibatch_size=8))
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    cpu = compute_dump(net, x, y, "regression", spec, dump, seed=1, step=0)
    gpu = compute_dump(net.cuda(), x.cuda(), y.cuda(), "regression", spec, dump, seed=1, step=0)
    assert gpu.keys() == cpu.keys()
    for k, a in gpu.items():
        assert isinstance(a, np.ndarray) and a.dtype == np.float32 and a.shape == cpu[k].shape
        assert np.isfinite(a).all(), k


def test_sde_engine_torch_cuda_matches_the_stationary_law():
    sim = simulate(
        Quadratic(1.0), 1.5, 0.5, 1.0, 0.01, 50_000, 500, seed=0, backend="torch", device="cuda"
    )
    w = np.asarray(sim.states, dtype=np.float64).ravel()
    assert np.isfinite(w).all()
    assert fit(w).alpha == pytest.approx(1.5, abs=0.05)


def test_stable_sampler_torch_cuda():
    x = sample(
        1.5, 0.5, 2.0, 1.0, 200_000, dtype=np.float32, seed=3, backend="torch", device="cuda"
    )
    assert x.device.type == "cuda" and x.dtype == torch.float32
    f = fit(x.cpu().numpy())
    for k, want in (("alpha", 1.5), ("beta", 0.5), ("scale", 2.0), ("loc", 1.0)):
        assert abs(getattr(f, k) - want) < 5 * f.se[k], k
