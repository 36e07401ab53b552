"""SLURM: the cluster profile, the sbatch lines it yields, and runs on a real local cluster.

* `test_gpu_rules_request_one_gpu` needs no cluster: it takes every job's resources from a dry run
  with profiles/slurm and builds its sbatch line with the SLURM plugin's own functions. It covers
  every rule of the real workflow that declares a `gpu` resource, plus a probe rule.
* The `slurm` tests start a single-node SLURM on loopback (tools/slurm/start_local_slurm.sh, which
  installs it with apt if needed), run the test config and a deliberately failing job through
  `--executor slurm` with a profile derived from profiles/slurm, check the jobs in `sacct`, and
  stop the daemons they started. Without root or apt they are skipped with the reason; with
  CI=true they fail instead. GNITAILS_SLURM_TEST=0 skips them on purpose (not in CI).
The job ids and sbatch lines are printed in the "SLURM" section of pytest's summary.
"""

from __future__ import annotations

import atexit
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from conftest import ROOT, SNAKEFILE, TEST_CONFIG, job_stats, skip_or_fail_in_ci

PROFILE_DIR = ROOT / "profiles" / "slurm"
SLURM_TESTS = ROOT / "tests" / "slurm"
TOOLS = ROOT / "tools" / "slurm"
TEST_ARGS = ("--configfile", str(TEST_CONFIG), "--replace-workflow-config")

# Resources that ask for a GPU; the loopback node has none, so the test profile drops them.
GPU_RESOURCES = {"gpu", "gres", "gpu_model", "gpu_manufacturer", "cpus_per_gpu", "tasks_per_gpu"}
# Resources that tie a rule to one cluster: they belong in profiles, never in rules.
CLUSTER_RESOURCES = {
    "slurm_partition",
    "slurm_account",
    "slurm_extra",
    "slurm_cluster",
    "cluster",
    "clusters",
    "constraint",
    "qos",
    "gres",
    "gpu_model",
    "cpus_per_gpu",
}
# The whole SLURM part (apt install included) must finish within this many seconds. It only
# stops a hung cluster from hanging the suite, so it leaves a wide margin: the poll intervals
# (1, 12, 33, 64 s after submission) put several minutes into even a quiet run, and Snakemake's
# two starts per job take 3-5 times longer on a busy machine.
SLURM_BUDGET_S = float(os.environ.get("GNITAILS_SLURM_BUDGET_S", 900))
# Job time limits of the test profile (minutes, from tests/slurm/profile-overlay.yaml) must be
# at least this: a test job needs under a minute on a quiet machine.
MIN_TEST_JOB_RUNTIME = 30
DAEMONS = ("munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd")
CONF_MARKER = "# managed-by: start_local_slurm.sh"


# ------------------------------------------------------------------------------- helpers


def die_with_parent() -> None:
    """In the child: get SIGKILL if pytest dies, so no Snakemake outlives a killed test run."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def run_snakemake(snakefile: Path, *args: str, workdir: Path, timeout: float):
    """Snakemake from this venv on `snakefile`, results in `workdir` (output captured)."""
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}/usr/sbin{os.pathsep}{os.environ['PATH']}"}
    cmd = [str(bindir / "snakemake"), "-s", str(snakefile), "--directory", str(workdir), *args]
    workdir.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        preexec_fn=die_with_parent if sys.platform.startswith("linux") else None,
    )


def load_profile() -> dict:
    return yaml.safe_load((PROFILE_DIR / "profile.yaml").read_text())


def parse_value(text: str):
    try:
        return int(text)
    except ValueError:
        return text


def dry_run_jobs(snakefile: Path, *args: str, workdir: Path) -> list[dict]:
    """Every job of a dry run as {rule, output, threads, resources}, from Snakemake's listing."""
    run = run_snakemake(snakefile, "-n", "--forceall", *args, workdir=workdir, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    jobs: list[dict] = []
    for line in run.stdout.splitlines():
        header = re.fullmatch(r"(?:local)?rule (\w+):", line)
        if header:
            jobs.append({"rule": header[1], "output": [], "threads": 1, "resources": {}})
        elif jobs and line.startswith("    output: "):
            jobs[-1]["output"] = line.split(":", 1)[1].strip().split(", ")
        elif jobs and line.startswith("    threads: "):
            jobs[-1]["threads"] = int(line.split(":", 1)[1])
        elif jobs and line.startswith("    resources: "):
            pairs = line.split(":", 1)[1].strip().split(", ")
            jobs[-1]["resources"] = {
                key: parse_value(value) for key, value in (p.split("=", 1) for p in pairs)
            }
    assert jobs, f"no jobs in the dry run:\n{run.stdout[-2000:]}"
    return jobs


class _Resources(dict):
    """What the plugin reads from `job.resources`: `.get(name)` and attribute access."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def sbatch_line(rule: str, resources: dict, threads: int) -> str:
    """The sbatch call the SLURM plugin builds for a job (without --wrap), from its own code."""
    from snakemake_executor_plugin_slurm.submit_string import get_submit_command
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    job = SimpleNamespace(name=rule, threads=threads, resources=_Resources(resources))
    # get_account_arg / get_partition_arg validate against a live cluster; their output is just:
    account = resources.get("slurm_account")
    partition = resources.get("slurm_partition")
    params = {
        "run_uuid": "RUN_UUID",
        "slurm_logfile": f".snakemake/slurm_logs/rule_{rule}/%j.log",
        "comment_str": f"rule_{rule}",
        "account": f" -A {shlex.quote(str(account))}" if account else "",
        "partition": f" -p {shlex.quote(str(partition))}" if partition else "",
        "workdir": "/workdir",
    }
    return get_submit_command(job, params) + set_gres_string(job)


def gpu_flags(tokens: list[str]) -> list[str]:
    return [t for t in tokens if t.startswith(("--gpus", "--gres", "-G"))]


def option(tokens: list[str], name: str) -> str | None:
    return tokens[tokens.index(name) + 1] if name in tokens else None


def local_rules() -> set[str]:
    """Rules the workflow keeps on the submitting machine (`localrules:` / `localrule: True`)."""
    names: set[str] = set()
    for path in [SNAKEFILE, *sorted((ROOT / "workflow" / "rules").glob("*.smk"))]:
        text = path.read_text()
        for block in re.finditer(r"^localrules:[ \t]*(.*(?:\n[ \t]+\S.*)*)", text, re.M):
            names |= set(re.findall(r"\w+", block[1]))
        for rule in re.finditer(r"^rule (\w+):\n((?:[ \t]+.*\n|[ \t]*\n)*)", text, re.M):
            if re.search(r"^[ \t]+localrule:\s*True", rule[2], re.M):
                names.add(rule[1])
    return names


@pytest.fixture(scope="module")
def planned_jobs(tmp_path_factory) -> list[dict]:
    """The test config's jobs with their resources under profiles/slurm (a dry run)."""
    return dry_run_jobs(
        SNAKEFILE,
        "--workflow-profile",
        str(PROFILE_DIR),
        *TEST_ARGS,
        workdir=tmp_path_factory.mktemp("planned"),
    )


# ------------------------------------------------------------------ sbatch lines (no cluster)


@pytest.mark.workflow
def test_gpu_rules_request_one_gpu(tmp_path, planned_jobs, slurm_summary):
    profile = load_profile()
    profile_rules = profile.get("set-resources", {})
    # What the rules themselves declare (no profile at all).
    declared = dry_run_jobs(
        SNAKEFILE, "--workflow-profile", "none", *TEST_ARGS, workdir=tmp_path / "a"
    )
    local = local_rules()
    for job in declared:
        rule = job["rule"]
        if rule == "all" or rule.startswith(("fig_", "table_")):
            assert rule in local, f"plot/aggregation rule {rule} must be a local rule"
    for job in declared:
        found = CLUSTER_RESOURCES & set(job["resources"])
        assert not found, f"rule {job['rule']} declares cluster-specific resources {found}"
    gpu_rules = {job["rule"] for job in declared if "gpu" in job["resources"]}
    missing = gpu_rules - set(profile_rules)
    assert not missing, f"GPU rules without an entry in profiles/slurm set-resources: {missing}"
    assert not gpu_rules & local, f"GPU rules must run on the cluster: {gpu_rules & local}"

    # What the cluster profile makes of them: the real workflow, and a probe rule with gpu=1.
    jobs = [job for job in planned_jobs if job["rule"] not in local]
    probe = dry_run_jobs(
        SLURM_TESTS / "Snakefile",
        *("--workflow-profile", str(PROFILE_DIR), "gpu_probe"),
        workdir=tmp_path / "c",
    )
    assert [job["rule"] for job in probe] == ["gpu_probe"]
    assert probe[0]["resources"].get("gpu") == 1, "the probe rule must declare gpu=1"
    gpu_rules.add("gpu_probe")

    default_partition = profile["default-resources"]["slurm_partition"]
    seen: dict[str, str] = {}
    for job in jobs + probe:
        rule = job["rule"]
        line = sbatch_line(rule, job["resources"], job["threads"])
        tokens = shlex.split(line)
        wanted_partition = profile_rules.get(rule, {}).get("slurm_partition", default_partition)
        assert option(tokens, "-p") == wanted_partition, line
        if rule in gpu_rules:
            flags = gpu_flags(tokens)
            assert len(flags) == 1, f"{rule}: want exactly one GPU request, got {flags}: {line}"
            assert re.fullmatch(r"--gpus=(\w+:)?1|--gres=gpu(:\w+)?:1", flags[0]), line
            # No task geometry: with --ntasks-per-gpu (or --ntasks) > 1 the script runs twice.
            assert not any(t.startswith(("--ntasks", "--ntasks-per-gpu")) for t in tokens), line
            cpus = profile_rules.get(rule, {}).get("cpus_per_gpu")
            if cpus:
                assert f"--cpus-per-gpu={cpus}" in tokens, line
        else:
            assert not gpu_flags(tokens), f"CPU rule {rule} asks for a GPU: {line}"
            assert "--ntasks=1" in tokens, line
        seen.setdefault(rule, line)
    assert "train" in seen, "the test config must contain training jobs"
    slurm_summary.append(
        "sbatch lines that snakemake-executor-plugin-slurm builds (profiles/slurm):"
    )
    shown = [*sorted(gpu_rules - {"gpu_probe"}), "gpu_probe", "prepare_dataset"]
    slurm_summary.extend(f"  {rule:16} {seen[rule]}" for rule in shown if rule in seen)


# -------------------------------------------------------------- a real cluster on loopback


def skip_or_fail(reason: str):
    skip_or_fail_in_ci(reason, "the SLURM test")


def why_no_slurm() -> str | None:
    if os.environ.get("GNITAILS_SLURM_TEST") == "0":
        return "disabled with GNITAILS_SLURM_TEST=0"
    if not sys.platform.startswith("linux"):
        return f"needs Linux (this is {sys.platform})"
    if os.geteuid() != 0:
        return "needs root: it installs SLURM with apt and runs slurmctld/slurmd as root"
    installed = all(shutil.which(b, path="/usr/sbin:/usr/bin") for b in ("slurmctld", "sbatch"))
    if not installed and not shutil.which("apt-get"):
        return "SLURM is not installed and there is no apt-get to install it"
    conf = Path("/etc/slurm/slurm.conf")
    if (
        conf.exists()
        and CONF_MARKER not in conf.read_text(errors="replace")
        and os.environ.get("SLURM_LOCAL_FORCE_CONF") != "1"
    ):
        return f"{conf} belongs to another SLURM set-up; the test leaves it alone"
    return None


def alive(pid: int, name: str) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return False
    return comm == name and not re.search(r"^State:\s*Z", status, re.M)


class LocalSlurm:
    """The loopback cluster of tools/slurm: starts it, and stops only the daemons it started.

    Daemons that were already running are reused and left running, unless an earlier test
    run started them and died without stopping them (its pid is kept in run/pytest.owner).
    """

    def __init__(self, logdir: Path):
        self.state = Path(os.environ.get("SLURM_LOCAL_DIR", "/tmp/slurm_local"))
        self.owner = self.state / "run" / "pytest.owner"
        self.logdir = logdir
        self.deadline = time.monotonic() + SLURM_BUDGET_S
        self.started: list[str] = []
        self.notes: list[str] = []
        self.stopped = False

    def remaining(self, reserve: float = 0) -> float:
        left = self.deadline - time.monotonic() - reserve
        if left <= 5:
            pytest.fail(f"SLURM tests ran out of their {SLURM_BUDGET_S} s budget")
        return left

    def running(self) -> dict[str, int]:
        found = {}
        for name in DAEMONS:
            try:
                pid = int((self.state / "run" / f"{name}.pid").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
            if alive(pid, name):
                found[name] = pid
        return found

    def start(self, partitions: list[str]) -> None:
        before = self.running()
        try:
            owner = int(self.owner.read_text())
        except (OSError, ValueError):
            owner = None
        if before and owner is not None and not Path(f"/proc/{owner}").exists():
            self.notes.append(
                f"daemons {', '.join(before)} were left running by an earlier test run "
                f"(pid {owner}); this run stops them at the end"
            )
            before = {}
        elif before:
            self.notes.append(f"reusing running daemons {', '.join(before)} (left running)")
        atexit.register(self.stop)
        t0 = time.monotonic()
        cmd = [str(TOOLS / "start_local_slurm.sh"), "--partitions", ",".join(partitions)]
        try:
            proc = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                timeout=self.remaining(reserve=90),
            )
            output, rc = proc.stdout + proc.stderr, proc.returncode
        except subprocess.TimeoutExpired as exc:
            output, rc = f"{exc.stdout or ''}{exc.stderr or ''}\ntimed out", -1
        (self.logdir / "start_local_slurm.log").write_text(str(output))
        after = self.running()
        self.started = [name for name, pid in after.items() if before.get(name) != pid]
        if self.started:
            self.owner.write_text(str(os.getpid()))
        installed = "installing:" in str(output)
        self.notes.append(
            f"start_local_slurm.sh --partitions {','.join(partitions)}: rc {rc} in "
            f"{time.monotonic() - t0:.1f} s{' (apt install included)' if installed else ''}; "
            f"to stop at the end: {', '.join(self.started) or 'nothing'}"
        )
        if rc != 0:
            self.stop()
            tail = "\n".join(str(output).splitlines()[-15:])
            skip_or_fail(f"could not start a local SLURM cluster (rc {rc}):\n{tail}")

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        if not self.started:
            return
        t0 = time.monotonic()
        cmd = [str(TOOLS / "stop_local_slurm.sh"), "--only", ",".join(self.started)]
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=90
            )
            output = proc.stdout + proc.stderr
        except subprocess.TimeoutExpired:
            output = "stop_local_slurm.sh timed out"
        (self.logdir / "stop_local_slurm.log").write_text(output)
        left = set(self.running()) & set(self.started)
        if not left:
            self.owner.unlink(missing_ok=True)
        self.notes.append(
            f"stop_local_slurm.sh --only {','.join(self.started)}: {time.monotonic() - t0:.1f} s"
            + (f"; STILL RUNNING: {', '.join(sorted(left))}" if left else "")
        )

    def cancel_jobs_under(self, workdir: Path) -> None:
        """scancel whatever a test left queued or running in its workdir (after a timeout)."""
        try:
            out = subprocess.run(
                ["squeue", "-h", "-o", "%i|%Z"], capture_output=True, text=True, timeout=30
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            return
        ids = [
            i
            for i, wd in (line.split("|", 1) for line in out.splitlines() if "|" in line)
            if wd.startswith(str(workdir))
        ]
        if ids:
            subprocess.run(["scancel", *ids], capture_output=True, timeout=30)

    def sacct(self, job_ids: list[str]) -> dict[str, dict[str, str]]:
        fields = ["JobID", "State", "ExitCode", "Partition", "Account", "Elapsed", "Comment"]
        cmd = ["sacct", "-X", "-P", "-n", "-j", ",".join(job_ids), "-o", ",".join(fields)]
        records: dict[str, dict[str, str]] = {}
        for _ in range(20):  # slurmdbd may record the end of a job a moment later
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
            rows = [dict(zip(fields, line.split("|"), strict=False)) for line in out.splitlines()]
            records = {row["JobID"]: row for row in rows if row.get("JobID")}
            states = {(row.get("State") or "?").split()[0] for row in records.values()}
            if set(job_ids) <= set(records) and not states & {"PENDING", "RUNNING", "COMPLETING"}:
                break
            time.sleep(0.5)
        return records


def profile_partitions(profile: dict) -> list[str]:
    """Every partition the profile names, its default one first."""
    default = profile["default-resources"]["slurm_partition"]
    others = {
        res["slurm_partition"]
        for res in profile.get("set-resources", {}).values()
        if "slurm_partition" in res
    }
    return [default, *sorted(others - {default})]


def derive_test_profile(folder: Path) -> Path:
    """profiles/slurm without GPU resources, plus tests/slurm/profile-overlay.yaml.

    The GPU rules declare gpu=1 themselves, so the rules the profile lists get gpu=0: the
    loopback node has no GPU and would refuse the request."""
    profile = load_profile()
    overlay = yaml.safe_load((SLURM_TESTS / "profile-overlay.yaml").read_text())
    defaults = {k: v for k, v in profile["default-resources"].items() if k not in GPU_RESOURCES}
    defaults.update(overlay.pop("default-resources", {}))
    every_rule = overlay.pop("set-resources", {}).get("*", {})
    per_rule = {
        rule: {**{k: v for k, v in res.items() if k not in GPU_RESOURCES}, "gpu": 0, **every_rule}
        for rule, res in profile.get("set-resources", {}).items()
    }
    profile.update(overlay)
    profile["default-resources"] = defaults
    profile["set-resources"] = per_rule
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "profile.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return folder


def test_test_profile_gives_every_job_a_wide_time_limit(tmp_path):
    """No cluster needed: the derived test profile's runtime (sbatch -t) of every job."""
    profile = yaml.safe_load((derive_test_profile(tmp_path) / "profile.yaml").read_text())
    limits = {"default": profile["default-resources"]["runtime"]}
    limits |= {rule: res["runtime"] for rule, res in profile["set-resources"].items()}
    assert all(isinstance(v, int) and v >= MIN_TEST_JOB_RUNTIME for v in limits.values()), limits


SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)")


def submitted_jobs(output: str) -> list[dict[str, str]]:
    """The SLURM jobs Snakemake reports, with their rule (from the plugin's log path)."""
    jobs = []
    for _, slurm_id, log in SUBMITTED.findall(output):
        rule = re.search(r"/rule_(\w+)/", log)
        jobs.append({"id": slurm_id, "rule": rule[1] if rule else "?", "log": log})
    return jobs


def sacct_table(records: dict[str, dict[str, str]], jobs: list[dict[str, str]]) -> list[str]:
    cols = ["JobID", "State", "ExitCode", "Partition", "Account", "Elapsed", "Comment"]
    rows = [cols] + [[records.get(j["id"], {}).get(c, "?") for c in cols] for j in jobs]
    widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
    return [
        "  " + "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory, slurm_summary):
    reason = why_no_slurm()
    if reason:
        skip_or_fail(reason)
    cluster = LocalSlurm(tmp_path_factory.mktemp("slurm_daemons"))
    try:
        cluster.start(profile_partitions(load_profile()))
        yield cluster
    finally:
        cluster.stop()
        slurm_summary.extend(f"local SLURM: {note}" for note in cluster.notes)


def run_on_slurm(cluster: LocalSlurm, snakefile: Path, *args: str, workdir: Path, reserve: float):
    """Run Snakemake against the cluster within the budget; (returncode or None, output, wall)."""
    t0 = time.monotonic()
    try:
        run = run_snakemake(
            snakefile, *args, workdir=workdir, timeout=cluster.remaining(reserve=reserve)
        )
        rc, output = run.returncode, run.stdout + run.stderr
    except subprocess.TimeoutExpired as exc:  # Snakemake was killed; its jobs are cancelled below
        out, err = (
            x.decode() if isinstance(x, bytes) else x or "" for x in (exc.stdout, exc.stderr)
        )
        rc, output = None, f"{out}{err}\nKILLED after {exc.timeout:.0f} s (SLURM test budget)"
    finally:
        cluster.cancel_jobs_under(workdir)
    (workdir.parent / "snakemake.log").write_text(output)
    return rc, output, time.monotonic() - t0


def last_lines(output: str, n: int = 60) -> str:
    return "\n".join(output.splitlines()[-n:])


def one_job_per_rule(jobs: list[dict], local: set[str]) -> dict[str, str]:
    """A target file for one job of every rule that runs on the cluster (their inputs come along).

    Running every job of the test config would take minutes: each SLURM job starts Snakemake
    twice, and the plugin polls at growing intervals (1, 12, 33, 64 s after submission).
    """
    targets: dict[str, str] = {}
    for job in jobs:
        if job["rule"] not in local and job["output"]:
            targets.setdefault(job["rule"], job["output"][0])
    return targets


@pytest.mark.slurm
def test_test_config_runs_as_slurm_jobs(slurm_cluster, planned_jobs, tmp_path, slurm_summary):
    profile = load_profile()
    local = local_rules()
    targets = one_job_per_rule(planned_jobs, local)
    assert {"prepare_dataset", "train"} <= set(targets), targets
    test_profile = derive_test_profile(tmp_path / "profile")
    rc, output, wall = run_on_slurm(
        slurm_cluster,
        SNAKEFILE,
        *("--workflow-profile", str(test_profile), *TEST_ARGS, *targets.values()),
        workdir=tmp_path / "work",
        reserve=60,
    )
    assert f"Using workflow specific profile {test_profile}" in output, last_lines(output)
    assert rc == 0, last_lines(output)

    jobs = submitted_jobs(output)
    (tmp_path / "slurm_job_ids.txt").write_text(
        "".join(f"{job['id']} {job['rule']}\n" for job in jobs)
    )
    ran_locally = re.findall(r"^localrule (\w+):", output, re.M)
    assert set(ran_locally) <= local, f"ran locally but not a local rule: {ran_locally}"
    stats = job_stats(output)
    for rule, count in stats.items():
        on_slurm = sum(job["rule"] == rule for job in jobs)
        assert on_slurm == count, f"{rule}: {count} jobs, {on_slurm} submitted to SLURM"
    assert set(targets) <= set(stats), (targets, stats)

    records = slurm_cluster.sacct([job["id"] for job in jobs])
    default_partition = profile["default-resources"]["slurm_partition"]
    for job in jobs:
        record = records.get(job["id"])
        assert record, f"SLURM job {job['id']} ({job['rule']}) missing from sacct"
        assert record["State"] == "COMPLETED" and record["ExitCode"] == "0:0", record
        rule_res = profile.get("set-resources", {}).get(job["rule"], {})
        assert record["Partition"] == rule_res.get("slurm_partition", default_partition), record
        assert record["Comment"].startswith(f"rule_{job['rule']}"), record
    for target in targets.values():
        assert (tmp_path / "work" / target).exists(), target
    slurm_summary.append(
        f"test config via --executor slurm (profile derived from profiles/slurm), one job per "
        f"cluster rule {sorted(targets)}: {len(jobs)} SLURM jobs COMPLETED in {wall:.1f} s"
    )
    slurm_summary.extend(sacct_table(records, jobs))


@pytest.mark.slurm
def test_failing_job_is_reported_failed(slurm_cluster, tmp_path, slurm_summary):
    test_profile = derive_test_profile(tmp_path / "profile")
    work = tmp_path / "work"
    rc, output, wall = run_on_slurm(
        slurm_cluster,
        SLURM_TESTS / "Snakefile",
        *("--workflow-profile", str(test_profile), "--keep-going"),
        workdir=work,
        reserve=30,
    )
    assert rc is not None and rc != 0, "a failing SLURM job must fail the run:\n" + last_lines(
        output
    )
    jobs = {job["rule"]: job for job in submitted_jobs(output)}
    assert set(jobs) == {"hello", "boom"}, last_lines(output)
    records = slurm_cluster.sacct([job["id"] for job in jobs.values()])
    boom, hello = records[jobs["boom"]["id"]], records[jobs["hello"]["id"]]
    assert boom["State"] == "FAILED" and boom["ExitCode"] == "1:0", boom
    assert hello["State"] == "COMPLETED", hello
    assert f"SLURM-job '{jobs['boom']['id']}' failed" in output, last_lines(output)
    assert "Error in rule boom" in output, last_lines(output)
    assert not (work / "out" / "boom.txt").exists()
    # hello really ran inside its SLURM job
    hello_text = (work / "out" / "hello.txt").read_text()
    assert hello_text.strip() == f"hello from SLURM job {jobs['hello']['id']}"
    slurm_summary.append(
        f"deliberately failing workflow (tests/slurm/Snakefile): Snakemake rc {rc}, "
        f"boom FAILED in sacct, {wall:.1f} s"
    )
    slurm_summary.extend(sacct_table(records, list(jobs.values())))
