"""Hostile code in a local sandbox is contained and reported: a fork bomb, a memory hog, a CPU spin,
endless output, a network attempt, reading the host's secrets and files, writing outside scratch.

Run through the operations (``sandbox.create`` / ``sandbox.run_code``) with small limits. The
namespace cases need a working bubblewrap (CI installs it); the rest hold with rlimits alone.
"""

from __future__ import annotations

from typing import Any

import pytest

from neural_trader.host import Host
from neural_trader.testing import HostFactory
from neural_trader_plugins.sandboxes import isolation

SANDBOXED = isolation.probe().sandboxed
needs_bwrap = pytest.mark.skipif(not SANDBOXED, reason="bubblewrap cannot create namespaces here")
LIMITS = {"wall_s": 3, "cpu_s": 1, "memory_mb": 256, "processes": 16, "output_kb": 4, "file_size_mb": 1}


@pytest.fixture
def host(nt_host_factory: HostFactory, monkeypatch: pytest.MonkeyPatch) -> Host:
    monkeypatch.setenv("NT_SANDBOX_TEST_SECRET", "hunter2")
    monkeypatch.setenv("ALPACA_API_KEY", "AK-should-never-leak")
    made = nt_host_factory()
    made.call("sandbox.create", {"name": "hostile", "limits": LIMITS})
    return made


def run(host: Host, code: str, **extra: Any) -> dict[str, Any]:
    return host.call("sandbox.run_code", {"sandbox": "hostile", "code": code, **extra})


def test_a_fork_bomb_is_refused_and_its_children_are_killed(host: Host) -> None:
    if not isolation.probe().cgroup and isolation.probe().processes.startswith("not bounded"):
        pytest.skip("no pids cgroup and running as root: nothing here bounds processes (status says so)")
    out = run(host, "import os, time\nn = 0\ntry:\n    for _ in range(10000):\n        if os.fork() == 0:\n"
                    "            time.sleep(30)\n            os._exit(0)\n        n += 1\n"
                    "except OSError as e:\n    print('refused after', n, e.errno)\n")
    assert "refused after" in out["stdout"]
    assert int(out["stdout"].split()[2]) <= LIMITS["processes"]
    assert out["wall_s"] < 3  # the sleeping children did not hold the run
    if isolation.probe().cgroup:
        assert out["process_limit_hit"] and out["leftovers_killed"] > 0


def test_a_memory_hog_fails_inside_and_the_host_goes_on(host: Host) -> None:
    out = run(host, "x = bytearray(1 << 30)\nprint('allocated')")
    assert not out["ok"] and out["exit_code"] == 1
    assert "MemoryError" in out["stderr"] and "allocated" not in out["stdout"]


def test_a_cpu_spin_is_killed_by_the_cpu_limit(host: Host) -> None:
    out = run(host, "while True:\n    pass\n", limits={**LIMITS, "wall_s": 20})  # a busy machine is slow
    assert out["killed_by"] == "cpu_time" and out["signal"] == "SIGXCPU" and out["exit_code"] is None
    assert not out["ok"]


def test_sleeping_forever_is_killed_at_the_wall_clock_limit(host: Host) -> None:
    out = run(host, "import time\ntime.sleep(60)", limits={**LIMITS, "wall_s": 1})
    assert out["killed_by"] == "wall_time" and out["signal"] == "SIGKILL"
    assert 1 <= out["wall_s"] < 2.5


def test_endless_output_is_truncated_and_says_so(host: Host) -> None:
    out = run(host, "import sys\nwhile True:\n    sys.stdout.write('x' * 4096)\n")
    assert out["truncated"] and len(out["stdout"]) == LIMITS["output_kb"] * 1024
    assert out["stdout_bytes"] > 100 * len(out["stdout"])
    assert out["killed_by"] in ("cpu_time", "wall_time")


def test_the_environment_holds_no_secret_of_the_server(host: Host) -> None:
    out = run(host, "import os\nprint(sorted(os.environ))\nprint(repr(os.environ.get('NT_SANDBOX_TEST_SECRET')))")
    assert out["ok"]
    assert "NT_SANDBOX_TEST_SECRET" not in out["stdout"] and "ALPACA_API_KEY" not in out["stdout"]
    assert "hunter2" not in out["stdout"]


def test_secret_looking_variables_are_refused_at_create(host: Host) -> None:
    from neural_trader.errors import NtUserError

    for name in ("NT_DATABASE_URL", "MY_API_KEY", "GITHUB_TOKEN", "AWS_SECRET"):
        with pytest.raises(NtUserError, match="secret"):
            host.call("sandbox.create", {"name": "leaky", "env": {name: "x"}})


@needs_bwrap
def test_no_network(host: Host) -> None:
    out = run(host, "import socket\ntry:\n    socket.create_connection(('1.1.1.1', 53), timeout=2)\n    print('CONNECTED')\n"
                    "except OSError as e:\n    print('blocked', e.errno)\n")
    assert "blocked" in out["stdout"] and "CONNECTED" not in out["stdout"]


@needs_bwrap
def test_the_host_files_are_not_there(host: Host) -> None:
    import neural_trader

    repo_file = neural_trader.__file__
    out = run(host, f"import os\nfor p in [{repo_file!r}, '/root/.bashrc', '/etc/passwd', '/work/main/pyproject.toml']:\n"
                    "    print(p, os.path.exists(p))\nprint(sorted(os.listdir('/')))")
    assert out["ok"]
    assert " True" not in out["stdout"]


@needs_bwrap
def test_writes_outside_scratch_fail_and_scratch_writes_stay(host: Host) -> None:
    out = run(host, "import os\nfor p in ['/usr/evil', '/inputs/evil', '/evil']:\n    try:\n"
                    "        open(p, 'w').write('x')\n        print('WROTE', p)\n    except OSError as e:\n"
                    "        print('refused', p, e.errno)\nopen('/sandbox/ok.txt', 'w').write('kept')\n")
    assert "WROTE" not in out["stdout"] and out["stdout"].count("refused") == 3
    again = host.call("sandbox.exec", {"sandbox": "hostile", "command": ["cat", "/sandbox/ok.txt"]})
    assert again["stdout"] == "kept"


def test_a_big_file_is_stopped_by_the_file_size_limit(host: Host) -> None:
    out = run(host, "import os\ntry:\n    open('big', 'wb').write(b'x' * (4 << 20))\n    print('WROTE')\n"
                    "except OSError as e:\n    print('refused', e.errno)\n")
    assert "WROTE" not in out["stdout"]
    assert "refused" in out["stdout"] or out["signal"] == "SIGXFSZ"


def test_without_bubblewrap_status_says_rlimits_only(nt_host_factory: HostFactory,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NT_SANDBOXES_BWRAP", "0")
    made = nt_host_factory()
    status = made.call("sandbox.status", {})
    assert status["local_isolation"]["mode"] == "rlimits" and status["local_isolation"]["bwrap"] is None
    assert "rlimits only" in " ".join(status["local_isolation"]["notes"])
    assert status["local_isolation"]["network"].startswith("host")
    made.call("sandbox.create", {"name": "plain", "limits": LIMITS})
    out = made.call("sandbox.run_code", {"sandbox": "plain", "code": "while True:\n    pass\n",
                                         "limits": {**LIMITS, "wall_s": 20}})
    assert out["killed_by"] == "cpu_time"  # the rlimits still hold
