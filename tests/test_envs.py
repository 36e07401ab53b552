"""The conda envs that cluster users build pin the same versions as requirements.lock."""

from __future__ import annotations

import re

import pytest
import yaml

# conda-forge names that differ from the PyPI names in the lock file
CONDA_TO_PIP = {"pytorch": "torch", "matplotlib-base": "matplotlib", "pyyaml": "pyyaml"}


def lock_pins(root) -> dict[str, str]:
    pins = {}
    for line in (root / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def env_files(root):
    return sorted((root / "workflow" / "envs").glob("*.yaml"))


def test_there_are_envs(root):
    assert {p.stem for p in env_files(root)} >= {"torch", "stats", "plot"}


@pytest.mark.parametrize("name", ["torch", "stats", "plot"])
def test_env_pins_match_the_lock(root, name):
    where = f"workflow/envs/{name}.yaml"
    env = yaml.safe_load((root / where).read_text())
    assert env["channels"] == ["conda-forge", "nodefaults"]
    pins = lock_pins(root)
    for dep in env["dependencies"]:
        package, _, version = dep.partition("=")
        assert version, f"{where}: {dep} is not pinned"
        if package == "python":
            continue
        pip_name = CONDA_TO_PIP.get(package, package)
        assert pip_name in pins, f"{where}: {package} is not in requirements.lock"
        assert pins[pip_name] == version, (
            f"{where} pins {package}={version}, requirements.lock has {pins[pip_name]}"
        )


def rule_blocks(root):
    for path in sorted((root / "workflow" / "rules").glob("*.smk")):
        text = path.read_text()
        for match in re.finditer(r"^rule (\w+):\n((?:[ \t]+.*\n|\n)*)", text, re.M):
            yield path, match.group(1), match.group(2)


def test_every_rule_names_an_existing_env(root):
    rules = list(rule_blocks(root))
    assert {"download_dataset", "prepare_dataset"} <= {rule for _, rule, _ in rules}
    for path, rule, body in rules:
        if "script:" not in body and "shell:" not in body:
            continue  # target rules run nothing
        env = re.search(r'conda:\s*\n\s*"([^"]+)"', body)
        assert env, f"{path.name}: rule {rule} has no conda env"
        assert (path.parent / env.group(1)).resolve().exists(), (
            f"rule {rule}: {env.group(1)} missing"
        )
