"""The demo game server (config/demo.lua) and examples/client.py, over real TCP."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import trio

import skylet

ROOT = Path(__file__).resolve().parent.parent


def demo_config(tmp_path: Path, **keys: object) -> Path:
    """The demo config with some keys (booleans, numbers) overridden; port 0: the OS picks."""
    lines = [f'include "{ROOT / "config" / "demo.lua"}"', "demo_port = 0"]
    lines += [f"{key} = {str(value).lower()}" for key, value in keys.items()]
    path = tmp_path / "demo.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(autouse=True)
def in_repository_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the demo's paths are relative, as skynet's are


async def test_scripted_demo_plays_over_tcp_and_exits(tmp_path: Path) -> None:
    lines: list[str] = []
    node = skylet.Node(demo_config(tmp_path, demo_exit=True), log=lines.append)
    with trio.fail_after(20):
        assert await node.run() == 0
    log = "\n".join(lines)
    assert re.search(r"demo: game server listening on 127\.0\.0\.1:\d+", log)
    assert log.count("watchdog: client") >= 3
    for hero in ("hero1", "hero2", "hero3"):
        assert f"{hero}> join {hero}  =>  welcome {hero}" in log
        assert f"{hero}> say hello from {hero}  =>  said to 3 players" in log
    assert "demo: 3 players online, total score 18" in log
    assert log.rstrip().endswith("demo: done")


async def test_example_client_plays_against_the_demo(tmp_path: Path) -> None:
    lines: list[str] = []
    config = demo_config(tmp_path, demo_players=0)
    async with skylet.open_node(config, log=lines.append):
        listening = re.search(r"listening on 127\.0\.0\.1:(\d+)", "\n".join(lines))
        assert listening is not None
        port = int(listening.group(1))
        commands = ["join ann", "score 5", "score 2", "say hi", "nonsense", "stats", "quit"]
        client = [sys.executable, str(ROOT / "examples" / "client.py"), "127.0.0.1", str(port)]
        with trio.fail_after(20):
            done = await trio.run_process(
                [*client, *commands],
                capture_stdout=True,
                capture_stderr=True,
                check=False,
            )
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().splitlines() == [
        "welcome ann, 1 online",
        "ann has 5 points",
        "ann has 7 points",
        "* ann says: hi",
        "said to 1 players",
        'error: unknown command "nonsense" (join, score, say, stats, quit)',
        "1 online, total score 7",
        "bye",
    ]


def test_example_client_reports_a_server_that_is_not_there() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "client.py"), "127.0.0.1", str(port), "stats"],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert done.returncode == 1
    assert f"client: cannot connect to 127.0.0.1:{port}" in done.stderr
