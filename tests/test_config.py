"""Config validation: defaults are filled, every bad input is named before any work starts."""

from __future__ import annotations

import copy
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from gnitails.config import ConfigError, load_config, load_yaml, validate_config
from gnitails.sde.study import DEFAULTS as SDE_DEFAULTS

SHIPPED = (("config.yaml",), ("paper.yaml",), ("config.yaml", "fast.yaml"))  # fast: an overlay


def test_shipped_configs_are_valid(root):
    for names in SHIPPED:
        cfg = load_config(*(root / "config" / name for name in names))
        assert cfg["experiments"], names


def test_the_fast_overlay_only_shortens_the_default(root):
    """config/fast.yaml keeps the default's experiments, seeds and figures and asks for less of
    each budget it sets (steps, epochs, M values, SDE particles), never more."""
    default = load_config(root / "config" / "config.yaml")
    fast = load_config(root / "config" / "config.yaml", root / "config" / "fast.yaml")
    assert fast["figures"] == default["figures"]
    for name, exp in default["experiments"].items():
        short, full = fast["experiments"][name], exp
        assert (
            short["seeds"] == full["seeds"]
            and short["training"]["rules"] == full["training"]["rules"]
        )
        for key in ("steps", "epochs"):
            if full["training"].get(key) is not None:
                assert short["training"][key] <= full["training"][key], (name, key)
        if "m_values" in full["training"]:
            assert {1, max(full["training"]["m_values"])} <= set(short["training"]["m_values"])
            assert set(short["training"]["m_values"]) <= set(full["training"]["m_values"])
    for study, spec in default["sde"].items():
        n_full = spec.get("n_particles", SDE_DEFAULTS["n_particles"])
        assert fast["sde"][study]["n_particles"] <= n_full, study


def test_defaults_are_filled(test_config):
    cfg = validate_config(test_config)
    sin = cfg["datasets"]["sinusoids"]
    assert sin["frequencies"] == list(range(5, 55, 5))
    assert sin["input_dim"] == 1 and sin["output_dim"] == 1
    assert cfg["datasets"]["digits"]["test_fraction"] == 0.25
    noise = cfg["experiments"]["sin_add"]["noise"]
    assert noise["inject_input"] is True and noise["inject_output"] is False
    assert cfg["experiments"]["sin_add"]["training"]["batch_size"] is None


def test_library_specs_take_their_defaults_from_the_schema_only(monkeypatch):
    """The schema is the one place defaults are written: the specs the library builds from
    config blocks have none of their own, and follow a changed schema default."""
    import dataclasses

    from gnitails import config
    from gnitails.models import ModelSpec
    from gnitails.noise.dump import DumpSpec
    from gnitails.training import TrainingSpec

    sentinels = {"steps", "epochs"}  # None = not given (exactly one of them is)
    for spec in (TrainingSpec, ModelSpec, DumpSpec):
        own = [
            f.name
            for f in dataclasses.fields(spec)
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        ]
        assert set(own) <= sentinels, (spec.__name__, own)

    schema = copy.deepcopy(config._schema())
    schema["$defs"]["training"]["properties"]["replace_draws"]["default"] = 24
    schema["$defs"]["model"]["properties"]["width"]["default"] = 12
    schema["$defs"]["noise_dump"]["properties"]["draws"]["default"] = 7
    monkeypatch.setattr(config, "_schema", lambda: schema)
    assert TrainingSpec.from_config({"lr": 0.1, "steps": 5}).replace_draws == 24
    assert ModelSpec.from_config({"arch": "mlp"}).width == 12
    assert DumpSpec.from_config({}).draws == 7


def problems_of(cfg) -> str:
    with pytest.raises(ConfigError) as info:
        validate_config(cfg)
    return str(info.value)


def test_unknown_top_level_key(test_config):
    test_config["experimnets"] = {}
    msg = problems_of(test_config)
    assert "experimnets" in msg and "not allowed" in msg


def test_unknown_key_in_dataset_names_the_key(test_config):
    test_config["datasets"]["sinusoids"]["frequncies"] = [5]
    msg = problems_of(test_config)
    assert "datasets.sinusoids" in msg and "frequncies" in msg


def test_key_of_another_source_is_rejected(test_config):
    test_config["datasets"]["digits"]["n_train"] = 10  # a sinusoids key
    assert "n_train" in problems_of(test_config)


def test_wrong_type_names_the_key(test_config):
    test_config["experiments"]["sin_add"]["training"]["steps"] = "many"
    msg = problems_of(test_config)
    assert "experiments.sin_add.training.steps" in msg and "'many'" in msg


def test_negative_sigma(test_config):
    test_config["experiments"]["sin_add"]["noise"]["sigma"] = -0.1
    msg = problems_of(test_config)
    assert "experiments.sin_add.noise.sigma" in msg and "-0.1" in msg


def test_zero_sigma(test_config):
    test_config["experiments"]["sin_add"]["noise"]["sigma"] = 0
    assert "experiments.sin_add.noise.sigma" in problems_of(test_config)


def test_empty_seed_list(test_config):
    test_config["experiments"]["sin_add"]["seeds"] = []
    msg = problems_of(test_config)
    assert "experiments.sin_add.seeds" in msg and "empty" in msg


def test_unknown_dataset_source(test_config):
    test_config["datasets"]["sinusoids"]["source"] = "imagenet"
    msg = problems_of(test_config)
    assert "datasets.sinusoids.source" in msg and "imagenet" in msg


def test_experiment_with_undefined_dataset(test_config):
    test_config["experiments"]["sin_add"]["dataset"] = "sinusoid"
    msg = problems_of(test_config)
    assert "experiments.sin_add.dataset" in msg and "'sinusoid'" in msg


def test_figure_with_undefined_experiment(test_config):
    test_config["figures"]["fig_lm"]["experiments"].append("mnist_mult")
    msg = problems_of(test_config)
    assert "figures.fig_lm.experiments" in msg and "'mnist_mult'" in msg


def test_unknown_figure(test_config):
    test_config["figures"]["fig_lm2"] = {"experiments": ["sin_add"]}
    assert "fig_lm2" in problems_of(test_config)


def test_convnet_needs_images(test_config):
    test_config["experiments"]["sin_add"]["model"] = {"arch": "convnet"}
    msg = problems_of(test_config)
    assert "experiments.sin_add.model.arch" in msg and "sinusoids" in msg


def test_bad_subset_size(test_config):
    test_config["datasets"]["digits"]["train_subset"] = -5
    assert "datasets.digits.train_subset" in problems_of(test_config)


def test_every_problem_is_listed(test_config):
    test_config["experiments"]["sin_add"]["noise"]["sigma"] = -1
    test_config["experiments"]["digits_mult"]["seeds"] = []
    msg = problems_of(test_config)
    assert "2 problems" in msg
    assert "sin_add.noise.sigma" in msg and "digits_mult.seeds" in msg


def test_bad_experiment_name(test_config):
    test_config["experiments"]["sin add"] = test_config["experiments"].pop("sin_add")
    assert "sin add" in problems_of(test_config)


def test_malformed_yaml_names_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets:\n  sinusoids: {source: sinusoids\n")
    with pytest.raises(ConfigError) as info:
        load_yaml(bad)
    assert str(bad) in str(info.value) and "not valid YAML" in str(info.value)


def test_config_must_be_a_mapping(tmp_path):
    bad = tmp_path / "list.yaml"
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="list.yaml: the config must be a mapping"):
        load_config(bad)


def test_overlay_overrides_nested_keys(root, tmp_path):
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("experiments:\n  sin_add:\n    seeds: [7]\n")
    cfg = load_config(root / "config" / "config.yaml", overlay)
    assert cfg["experiments"]["sin_add"]["seeds"] == [7]
    assert cfg["experiments"]["sin_add"]["noise"]["mode"] == "additive"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("experiments.sin_add.noise.sigma", float("nan")),
        ("experiments.sin_add.training.lr", float("inf")),
        ("experiments.sin_add.training.lr", float("nan")),
        ("datasets.sinusoids.amplitude", float("-inf")),
        ("experiments.sin_add.model.init_scale", float("nan")),
    ],
)
def test_nan_and_infinity_are_never_valid_numbers(test_config, path, value):
    *parents, leaf = path.split(".")
    node = test_config
    for key in parents:
        node = node[key]
    node[int(leaf) if isinstance(node, list) else leaf] = value
    msg = problems_of(test_config)
    assert f"{path}: {value} is not a valid number" in msg


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [("training", "steps", 1500.0), ("training", "eval_every", 10.0), (None, "seeds", [0.0])],
)
def test_integers_must_be_written_as_integers(test_config, section, key, value):
    exp = test_config["experiments"]["sin_add"]
    (exp[section] if section else exp)[key] = value
    msg = problems_of(test_config)
    assert key in msg and "is not of type 'integer'" in msg


def test_a_duplicate_key_names_the_file_and_both_lines(tmp_path):
    cfg = tmp_path / "dup.yaml"
    cfg.write_text("datasets:\n  a: {source: sinusoids}\nfigures: {}\ndatasets: {}\n")
    with pytest.raises(ConfigError, match=r"dup.yaml is not valid YAML.*duplicate key 'datasets'"):
        load_yaml(cfg)
    with pytest.raises(ConfigError, match="first at line 1"):
        load_yaml(cfg)


def test_a_binary_file_is_named_not_a_traceback(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(ConfigError, match="c.yaml is not a text"):
        load_config(cfg)


def test_a_sigma_list_of_the_wrong_length_is_refused_before_training(test_config):
    test_config["experiments"]["sin_add"]["noise"]["sigma"] = [0.1, 0.1]
    msg = problems_of(test_config)
    assert "experiments.sin_add.noise.sigma: a list needs one std per activation" in msg


def test_noise_switched_off_everywhere_is_refused(test_config):
    exp = test_config["experiments"]["sin_add"]
    depth = exp["model"].get("depth", 0)
    exp["noise"]["sigma"] = [0.0] * (depth + 1) + [0.5]  # only the output, which is not noised
    assert "no layer gets noise" in problems_of(test_config)


@pytest.mark.parametrize(
    ("block", "key", "value", "message"),
    [
        ("training", "batch_size", 65, "training.batch_size: 65 exceeds the 64 training examples"),
        ("noise_dump", "batch", 100, "noise_dump.batch: 100 exceeds the 64"),
        ("noise_dump", "minibatch_size", 65, "noise_dump.minibatch_size: 65 exceeds the 64"),
        ("noise_dump", "run", "m3", "noise_dump.run: 'm3' is not a run of the experiment"),
        ("noise_dump", "seeds", [7], "noise_dump.seeds: [7] are not among the experiment's seeds"),
        ("noise_dump", "steps", [0, 10**6], "noise_dump.steps: 1000000 lies outside"),
    ],
)
def test_sizes_and_dump_references_are_checked_against_the_experiment(
    test_config, block, key, value, message
):
    exp = test_config["experiments"]["sin_add"]
    assert test_config["datasets"]["sinusoids"]["n_train"] == 64
    exp.setdefault(block, {})[key] = value
    assert f"experiments.sin_add.{message}" in problems_of(test_config)


def test_a_train_subset_larger_than_the_source_is_refused(test_config):
    test_config["datasets"]["digits"]["train_subset"] = 5000
    assert "datasets.digits.train_subset: asks for 5000 examples" in problems_of(test_config)


def test_a_custom_potential_that_can_be_found_is_accepted(test_config):
    potential = {"kind": "custom", "target": "gnitails.sde.potentials:Quartic"}
    test_config["sde"]["ou_tiny"]["potential"] = potential
    validate_config(test_config)


def test_digits_training_size_matches_the_prepared_split(test_config):
    from gnitails.config import train_size
    from gnitails.data.digits import make_digits

    for fraction in (0.25, 0.3):
        n = len(make_digits(seed=0, test_fraction=fraction).x_train)
        assert train_size({"source": "digits", "test_fraction": fraction}) == n


# --- `make check-config` / `make dry-run` with a CONFIG path holding spaces and a quote ------


def make(root, *args):
    """`make` in the repository, the venv target taken as made (-o venv: no install here)."""
    # This interpreter's folder first on PATH: `python` in the recipes is the test's own.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(root), "-o", "venv", *args],
        capture_output=True,
        text=True,
        env=env,
    )


@pytest.fixture
def spaced_dir(tmp_path):
    folder = tmp_path / "dir with space's"
    folder.mkdir()
    return folder


def test_make_check_config_takes_a_path_with_spaces(root, spaced_dir):
    cfg = spaced_dir / "c.yaml"
    cfg.write_text((root / "tests" / "config" / "test.yaml").read_text())
    done = make(root, "check-config", f"CONFIG={cfg}")
    assert done.returncode == 0, done.stderr
    assert f"{cfg}: valid" in done.stdout


def test_make_check_config_refuses_a_bad_config_in_a_path_with_spaces(root, spaced_dir):
    cfg = spaced_dir / "c.yaml"
    cfg.write_text((root / "tests" / "config" / "test.yaml").read_text() + "experimnets: {}\n")
    done = make(root, "check-config", f"CONFIG={cfg}")
    assert done.returncode != 0
    assert str(cfg) in done.stderr and "experimnets" in done.stderr


@pytest.mark.parametrize("target", ["dry-run", "run"])
def test_make_passes_a_spaced_config_path_to_snakemake_as_one_argument(root, spaced_dir, target):
    cfg = spaced_dir / "c.yaml"
    done = make(root, "-n", target, f"CONFIG={cfg}")  # -n: print the commands, run nothing
    assert done.returncode == 0, done.stderr
    for line in done.stdout.splitlines():
        argv = shlex.split(line)
        if "--configfile" in argv:
            assert argv[argv.index("--configfile") + 1] == str(cfg)
        if argv[:3] == ["python", "-m", "gnitails.config"]:
            assert argv[3:] == [str(cfg)]
    assert "--configfile" in done.stdout


def test_make_merges_an_overlay_over_the_default(root, spaced_dir):
    overlay = spaced_dir / "o.yaml"
    done = make(root, "-n", "run", f"OVERLAY={overlay}")
    assert done.returncode == 0, done.stderr
    default = "config/config.yaml"
    for line in done.stdout.splitlines():
        argv = shlex.split(line)
        if "--configfile" in argv:
            i = argv.index("--configfile")
            assert argv[i + 1 : i + 4] == [default, str(overlay), "--replace-workflow-config"]
        if argv[:3] == ["python", "-m", "gnitails.config"]:
            assert argv[3:] == [default, str(overlay)]
    assert "--configfile" in done.stdout
    # ... and a bad overlay is named before Snakemake starts.
    overlay.write_text("experiments: {sin_add: {training: {steps: -3}}}\n")
    done = make(root, "check-config", f"OVERLAY={overlay}")
    assert done.returncode != 0
    assert str(overlay) in done.stderr and "experiments.sin_add.training.steps" in done.stderr


# --- the bad-config battery, as a user meets it: `python -m gnitails.config FILE` ------------

E = "experiments.sin_add"
NAN, INF = float("nan"), float("inf")

# (dotted key to set in tests/config/test.yaml, value, what the one-screen message must say)
BAD_VALUES = [
    # NaN and infinity are never valid numbers
    (f"{E}.noise.sigma", NAN, f"{E}.noise.sigma: nan is not a valid number"),
    (f"{E}.training.lr", NAN, f"{E}.training.lr: nan"),
    (f"{E}.training.lr", INF, f"{E}.training.lr: inf"),
    ("experiments.digits_mult.training.lr", -INF, "experiments.digits_mult.training.lr: -inf"),
    (f"{E}.model.init_scale", NAN, f"{E}.model.init_scale: nan"),
    ("datasets.sinusoids.amplitude", INF, "datasets.sinusoids.amplitude: inf"),
    ("sde.ou_tiny.step", NAN, "sde.ou_tiny.step: nan"),
    ("sde.ou_tiny.alphas.0", NAN, "sde.ou_tiny.alphas.0: nan"),
    ("sde.ou_tiny.potential.curvature", INF, "sde.ou_tiny.potential.curvature: inf"),
    # integers stay integers
    (f"{E}.training.steps", 1500.0, "1500.0 is not of type 'integer'"),
    (f"{E}.training.eval_every", 10.5, "10.5 is not of type 'integer'"),
    (f"{E}.seeds", [0.0], "0.0 is not of type 'integer'"),
    ("datasets.sinusoids.n_train", 64.0, "datasets.sinusoids.n_train"),
    ("sde.ou_tiny.n_particles", 2000.0, "sde.ou_tiny.n_particles"),
    (f"{E}.model.width", 16.0, f"{E}.model.width"),
    # unknown keys and wrong types
    (f"{E}.trainig", {"lr": 0.1}, "trainig"),
    (f"{E}.model.widht", 3, "widht"),
    ("figurs", {}, "figurs"),
    (f"{E}.training.lr", "fast", "'fast'"),
    (f"{E}.model.width", "wide", "'wide'"),
    (f"{E}.seeds", 3, f"{E}.seeds: 3 is not of type 'array'"),
    (f"{E}.noise.mode", "subtractive", "'subtractive'"),
    (f"{E}.training.rules", ["gni_x"], "'gni_x'"),
    ("datasets.sinusoids.source", "imagenet", "datasets.sinusoids.source"),
    ("sde.ou_tiny.potential.kind", "cubic", "'cubic'"),
    (
        "sde.ou_tiny.potential",
        {"kind": "custom", "target": "no_such_module:make"},
        "sde.ou_tiny.potential.target: module 'no_such_module' of 'no_such_module:make' cannot",
    ),
    (
        "sde.ou_tiny.potential",
        {"kind": "custom", "target": "gnitails.nope:make"},
        "sde.ou_tiny.potential.target: module 'gnitails.nope'",
    ),
    # negative or zero sizes
    ("datasets.sinusoids.n_train", -64, "datasets.sinusoids.n_train"),
    (f"{E}.model.width", 0, f"{E}.model.width"),
    (f"{E}.training.steps", -1, f"{E}.training.steps"),
    (f"{E}.training.batch_size", 0, f"{E}.training.batch_size"),
    ("sde.ou_tiny.n_particles", -5, "sde.ou_tiny.n_particles"),
    (f"{E}.seeds", [], f"{E}.seeds"),
    # noise that cannot be what was meant
    (f"{E}.noise.sigma", [0.1, 0.1], f"{E}.noise.sigma: a list needs one std per activation"),
    (f"{E}.noise.sigma", [0.0, 0.0, 0.0, 0.0], f"{E}.noise.sigma: no layer gets noise"),
    (f"{E}.noise.sigma", -0.1, f"{E}.noise.sigma"),
    # sizes and references checked against the dataset and the experiment
    (f"{E}.training.batch_size", 65, f"{E}.training.batch_size: 65 exceeds the 64"),
    (f"{E}.noise_dump.batch", 100, f"{E}.noise_dump.batch: 100 exceeds the 64"),
    (f"{E}.noise_dump.minibatch_size", 65, f"{E}.noise_dump.minibatch_size: 65 exceeds"),
    (f"{E}.noise_dump.run", "m3", f"{E}.noise_dump.run: 'm3' is not a run"),
    (f"{E}.noise_dump.seeds", [7], f"{E}.noise_dump.seeds: [7] are not among"),
    (f"{E}.noise_dump.steps", [0, 10**6], f"{E}.noise_dump.steps: 1000000 lies outside"),
    ("datasets.digits.train_subset", 5000, "datasets.digits.train_subset: asks for 5000"),
    (f"{E}.dataset", "sinusoid", f"{E}.dataset"),
    ("figures.fig_lm.experiments", ["sin_add", "nope"], "figures.fig_lm.experiments"),
    (f"{E}.model.arch", "convnet", f"{E}.model.arch"),
]


def set_key(cfg: dict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    node = cfg
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    node[int(leaf) if isinstance(node, list) else leaf] = value


def validate_file(path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    cmd = [sys.executable, "-m", "gnitails.config", str(path)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env)


def assert_refused(path: Path, *fragments: str) -> None:
    done = validate_file(path)
    assert done.returncode == 2, done.stdout
    assert str(path) in done.stderr and "Traceback" not in done.stderr
    for fragment in fragments:
        assert fragment in done.stderr


@pytest.mark.parametrize(("key", "value", "message"), BAD_VALUES)
def test_validator_refuses_bad_values_naming_the_key(tmp_path, test_config, key, value, message):
    import yaml

    set_key(test_config, key, value)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(test_config, sort_keys=False))  # NaN, inf as .nan, .inf
    assert_refused(path, message)


# (file content, what the message must say)
BAD_FILES = {
    "duplicate-key": (b"datasets: {}\nexperiments: {}\ndatasets: {}\n", "duplicate key 'datasets'"),
    "duplicate-nested-key": (
        b"experiments:\n  e:\n    training:\n      lr: 0.1\n      lr: 0.2\n",
        "duplicate key 'lr'",
    ),
    "binary": (b"\x89PNG\r\n\x1a\n\xff\xfe\x00", "is not a text (UTF-8) file"),
    "empty": (b"", "'datasets' is a required property"),
    "list": (b"- 1\n- 2\n", "the config must be a mapping, got list"),
    "scalar": (b"hello\n", "the config must be a mapping, got str"),
    "bad-syntax": (b"datasets:\n  sinusoids: {source: sinusoids\n", "is not valid YAML"),
    "tab-indent": (b"datasets:\n\tsinusoids: {}\n", "is not valid YAML"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_validator_refuses_bad_files_naming_the_file(tmp_path, case):
    content, message = BAD_FILES[case]
    path = tmp_path / "c.yaml"
    path.write_bytes(content)
    assert_refused(path, message)


@pytest.mark.parametrize("what", ["missing", "directory"])
def test_validator_refuses_a_path_that_is_no_file(tmp_path, what):
    path = tmp_path / "c.yaml"
    if what == "directory":
        path.mkdir()
    assert_refused(path, "cannot read config file")
