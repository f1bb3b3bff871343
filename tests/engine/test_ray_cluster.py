"""``docfleet doctor --ray-address`` on a real cluster started with ``ray start``, and without one.

The cluster runs ``ray start --head --block`` in its own process group with its own temp dir, and
is stopped by signalling that process: ``ray stop`` would end every Ray instance on the machine.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from docfleet.engine.ray_cluster import ClusterUnreachable, check_listening  # noqa: E402

TOKEN_AUTH = importlib.util.find_spec("ray._private.authentication") is not None
START_TIMEOUT_S = 120


@dataclass(frozen=True)
class Cluster:
    address: str
    env: dict[str, str]  # what a process needs to connect: the cluster's auth token


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without Ray's connection settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_ADDRESS", "RAY_AUTH"))}
    return {**env, "COLUMNS": "200", **extra}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A one-node cluster (2 CPUs, no GPU) with token authentication, as Ray now defaults to."""
    command = shutil.which("ray", path=str(Path(sys.executable).parent)) or shutil.which("ray")
    if command is None:
        pytest.skip("the ray command is not installed")
    port = free_port()
    env = clean_env(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(16))
    # Ray's socket paths must fit in 107 bytes, so the temp dir stays short.
    short = "/tmp" if os.path.isdir("/tmp") else None
    temp_dir = tempfile.mkdtemp(prefix="docfleet-ray-", dir=short)
    log = Path(temp_dir) / "ray-start.log"
    argv = [command, "start", "--head", "--block", "--port", str(port), "--num-cpus", "2",
            "--num-gpus", "0", "--include-dashboard=false", "--disable-usage-stats",
            "--temp-dir", temp_dir]  # fmt: skip
    with open(log, "w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while "Ray runtime started" not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ray start did not start: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)
        yield Cluster(f"127.0.0.1:{port}", env)
    finally:
        proc.terminate()  # ray start --block stops the processes it started
        with suppress(subprocess.TimeoutExpired):
            proc.wait(60)
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # anything of this cluster still running
        proc.wait()
        shutil.rmtree(temp_dir, ignore_errors=True)


def python(code: str, env: dict[str, str]) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON object last."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_doctor_describes_the_cluster(cli, cluster: Cluster) -> None:
    done = cli("doctor", "--json", "--ray-address", cluster.address, env=cluster.env)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)["ray"]
    assert report["connected"] is True and report["error"] == ""
    assert report["address"] == cluster.address and report["existing_cluster"] is True
    assert report["ray_version"] == ray.__version__
    [node] = report["nodes"]
    assert (node["alive"], node["head"], node["cpus"], node["gpus"]) == (True, True, 2, 0)
    assert node["memory_bytes"] > 0 and node["node_id"]
    assert report["total"]["CPU"] == 2 and report["total"].get("GPU", 0) == 0
    assert not any(key.startswith("node:") for key in report["total"])
    assert report["available"]["CPU"] <= 2


def test_readable_report_lists_the_nodes(cli, cluster: Cluster) -> None:
    done = cli("doctor", "--ray-address", cluster.address, env=cluster.env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"cluster at {cluster.address} (an existing cluster)" in done.stdout
    assert "(head)" in done.stdout and "1 node(s); CPUs" in done.stdout


def test_nothing_listening_exits_1_and_names_ray_start(cli) -> None:
    address = f"127.0.0.1:{free_port()}"
    done = cli("doctor", "--json", "--ray-address", address, env=clean_env())
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["ray"] == {**report["ray"], "address": address, "connected": False}
    [problem] = [p for p in report["problems"] if address in p["what"]]
    assert "nothing answers" in problem["what"]
    assert "ray start --head" in problem["fix"] and "--ray-address HEAD_IP:6379" in problem["fix"]
    readable = cli("doctor", "--ray-address", address, env=clean_env())
    assert readable.returncode == 1 and "NOT reachable" in readable.stdout
    assert "ray start --head" in readable.stdout


@pytest.mark.skipif(not TOKEN_AUTH, reason="this Ray has no token authentication")
def test_a_wrong_token_exits_1_and_says_how_to_pass_it(cli, cluster: Cluster) -> None:
    # Ray retries a refused connection for 20 s by default; three tries show the same failure.
    env = {**cluster.env, "RAY_AUTH_TOKEN": "0" * 32, "RAY_gcs_server_port_wait_time_s": "3"}
    done = cli("doctor", "--json", "--ray-address", cluster.address, env=env)
    assert done.returncode == 1, done.stderr
    [problem] = [p for p in json.loads(done.stdout)["problems"] if cluster.address in p["what"]]
    assert "token" in problem["what"] and "RAY_AUTH_MODE=token" in problem["fix"]


def test_an_address_without_a_port_is_refused_at_once() -> None:
    with pytest.raises(ClusterUnreachable, match="expected HOST:PORT") as info:
        check_listening("10.0.0.5")
    assert "--ray-address 10.0.0.5:6379" in info.value.fix


def test_a_connection_this_process_holds_is_left_open(cluster: Cluster) -> None:
    code = (
        "import json, ray\n"
        "from docfleet.engine.ray_cluster import cluster_report\n"
        f"ray.init(address={cluster.address!r}, logging_level='ERROR', log_to_driver=False)\n"
        f"report = cluster_report({cluster.address!r})\n"
        "print(json.dumps({'still': ray.is_initialized(), 'nodes': len(report['nodes'])}))\n"
    )
    assert python(code, cluster.env) == {"still": True, "nodes": 1}


def test_a_local_instance_started_to_look_is_shut_down() -> None:
    code = (
        "import json, ray\n"
        "from docfleet.engine.ray_cluster import cluster_report\n"
        "report = cluster_report(None)\n"
        "print(json.dumps({'initialized': ray.is_initialized(), **report}))\n"
    )
    # RAY_ADDRESS=local: start a new instance even where `ray start` left one running here
    report = python(code, clean_env(RAY_ADDRESS="local"))
    assert report["initialized"] is False and report["existing_cluster"] is False
    [node] = report["nodes"]
    assert node["alive"] and node["cpus"] >= 1


def test_without_ray_the_report_says_how_to_install_it() -> None:
    code = (
        "import json, sys\n"
        "sys.modules['ray'] = None  # as if Ray were not installed\n"
        "from docfleet.engine.doctor import check_ray\n"
        "print(json.dumps(check_ray('10.0.0.5:6379')))\n"
    )
    report = python(code, clean_env())
    assert report["connected"] is False and 'pip install "docfleet[ray]"' in report["error"]
    assert report["fix"] == 'pip install "docfleet[ray]"'


def test_without_the_flag_ray_is_not_imported() -> None:
    code = (
        "import json, sys\n"
        "from docfleet.engine.doctor import build_report\n"
        "report = build_report().as_dict()\n"
        "print(json.dumps({'imported': 'ray' in sys.modules, 'key': 'ray' in report}))\n"
    )
    assert python(code, clean_env()) == {"imported": False, "key": False}
