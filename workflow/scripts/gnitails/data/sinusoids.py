"""The paper's toy regression data: a sum of sines with random phases.

y(t) = sum_k A sin(2 pi (k t + phi_k)), phi_k ~ U(0, 1), k in the configured frequencies. Training
inputs sit on the paper's grid t = 0, 1/N, ..., (N - 1)/N; the held-out test inputs are drawn
uniformly on [0, 1) from the same seeded generator (the authors had no test set).
"""

from __future__ import annotations

import numpy as np

from gnitails.data.prepared import Prepared


def sum_of_sines(t: np.ndarray, frequencies, phases, amplitude: float) -> np.ndarray:
    freqs = np.asarray(frequencies, dtype=np.float64)
    return amplitude * np.sin(2 * np.pi * (np.outer(t, freqs) + phases)).sum(axis=1)


def make_sinusoids(
    *,
    seed: int,
    n_train: int = 200,
    n_test: int = 200,
    input_dim: int = 1,
    input_noise_std: float = 0.0,
    output_dim: int = 1,
    frequencies=(5, 10, 15, 20, 25, 30, 35, 40, 45, 50),
    amplitude: float = 1.0,
) -> Prepared:
    rng = np.random.default_rng(seed)
    # Draw order is part of the format: phases, test abscissae, then input noise.
    phases = rng.uniform(size=len(frequencies))
    t_train = np.arange(n_train) / n_train
    t_test = rng.uniform(size=n_test)

    def split(t):
        x = np.repeat(t[:, None], input_dim, axis=1)
        x = x + input_noise_std * rng.standard_normal(x.shape)
        y = np.repeat(sum_of_sines(t, frequencies, phases, amplitude)[:, None], output_dim, axis=1)
        return x.astype(np.float32), y.astype(np.float32)

    x_train, y_train = split(t_train)
    x_test, y_test = split(t_test)
    meta = {
        "source": "sinusoids",
        "task": "regression",
        "seed": seed,
        "phases": phases.tolist(),
        "frequencies": list(frequencies),
        "amplitude": amplitude,
        "input_noise_std": input_noise_std,
    }
    return Prepared(x_train, y_train, x_test, y_test, meta)
