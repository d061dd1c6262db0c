"""The demo game server (config/demo.lua) and examples/client.py, over real TCP.

Written with skylet's pytest kit (the ``skylet_node`` fixture), as a user's
project would test its own services: no node plumbing, virtual time, and the
node's log attached to the report of a test that fails.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from skylet.testing import NodeStarter

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "config" / "demo.lua"


@pytest.fixture(autouse=True)
def in_repository_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the demo's paths are relative, as skynet's are


async def test_scripted_demo_plays_over_tcp_and_exits(skylet_node: NodeStarter) -> None:
    node = await skylet_node(DEMO, demo_port=0, demo_exit=True)
    assert await node.wait_stopped() == 0  # main's skynet.abort()
    log = "\n".join(node.log_lines)
    assert re.search(r"demo: game server listening on 127\.0\.0\.1:\d+", log)
    assert log.count("watchdog: client") >= 3
    for hero in ("hero1", "hero2", "hero3"):
        assert f"{hero}> join {hero}  =>  welcome {hero}" in log
        assert f"{hero}> say hello from {hero}  =>  said to 3 players" in log
    assert "demo: 3 players online, total score 18" in log
    assert "demo: leaderboard hero1 6, hero2 6, hero3 6" in log
    assert log.rstrip().endswith("demo: done")


async def test_the_python_leaderboard_ranks_what_the_lua_world_reports(
    skylet_node: NodeStarter,
) -> None:
    node = await skylet_node(DEMO, demo_port=0, demo_players=0)
    # The world takes the caller's address as the player: here, the test.
    assert await node.call(".world", "lua", "join", "ann") == 1
    assert await node.call(".world", "lua", "score", 4) == 4
    assert await node.call(".world", "lua", "score", 3) == 7
    leaderboard = await node.call(".service", "lua", "QUERY", "leaderboard")
    await node.wait_idle()  # the world's reports are sends: let them land
    assert await node.call(leaderboard, "lua", "top", 3) == [{"name": "ann", "score": 7}]
    await node.call(leaderboard, "lua", "record", "bob", 9)
    assert await node.call(leaderboard, "lua", "top", 1) == [{"name": "bob", "score": 9}]
    listed = await node.call(".launcher", "lua", "LIST")
    assert listed[f":{leaderboard:08x}"].endswith(
        "(module ./config/demo/leaderboard.py, class Leaderboard)"
    )


async def test_example_client_plays_against_the_demo(skylet_node: NodeStarter) -> None:
    node = await skylet_node(DEMO, demo_port=0, demo_players=0)
    listening = re.search(r"listening on 127\.0\.0\.1:(\d+)", "\n".join(node.log_lines))
    assert listening is not None
    port = int(listening.group(1))
    commands = ["join ann", "score 5", "score 2", "say hi", "nonsense", "stats", "quit"]
    client = [sys.executable, str(ROOT / "examples" / "client.py"), "127.0.0.1", str(port)]
    # In a thread with a real-time timeout: the test's clock is virtual.
    done = await trio.to_thread.run_sync(
        lambda: subprocess.run([*client, *commands], capture_output=True, timeout=20, check=False)
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
