"""skynet.cluster between real processes on 127.0.0.1.

Node "a" runs in the test process (a real node, its own sockets); "b" and "c"
are `skylet run` processes started once per module; tests that kill a peer
start their own ("d"). All use tests/services/cluster, which is written
against skynet's API only.

With SKYNET_ROOT set to a built skynet checkout, every test runs a second
time with b, c and d real skynet nodes (skylet calls skynet), plus a skylet
process "s" that skynet's b calls (skynet calls skylet). CI has no skynet.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trio

import skylet

SERVICES = Path(__file__).parents[1] / "services" / "cluster"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


SKYNET_ROOT = os.environ.get("SKYNET_ROOT")
#: skylet peers run on this many threads (SKYLET_TEST_THREADS, as the core tests)
THREADS = int(os.environ.get("SKYLET_TEST_THREADS", "1"))


@dataclass
class Peer:
    name: str
    config: Path
    kind: str = "skylet"
    log: Path | None = None  # its logger file
    process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        if self.kind == "skylet":
            command = [sys.executable, "-m", "skylet", "run", str(self.config)]
        else:
            command = [f"{SKYNET_ROOT}/skynet", str(self.config)]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )

    def wait_ready(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if line.startswith("READY"):
                return
            if not line:
                break
        raise AssertionError(f"cluster node {self.name} did not start")

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None


def skynet_config(name: str, names_file: Path, log: Path) -> str:
    root = SKYNET_ROOT
    return (
        f'thread = 2\nharbor = 0\nstart = "clusternode"\nbootstrap = "snlua bootstrap"\n'
        f'cpath = "{root}/cservice/?.so"\nlualoader = "{root}/lualib/loader.lua"\n'
        f'luaservice = "{root}/service/?.lua;{SERVICES}/?.lua"\n'
        f'lua_path = "{root}/lualib/?.lua;{root}/lualib/?/init.lua"\n'
        f'lua_cpath = "{root}/luaclib/?.so"\n'
        f'cluster = "{names_file}"\ncluster_self = "{name}"\n'
        f'snax = "{SERVICES}/?.lua"\nlogger = "{log}"\n'
    )


def make_peers(where: Path, kinds: dict[str, str]) -> tuple[Path, dict[str, Peer]]:
    """A cluster names file (a free port per name) and a config per peer."""
    lines = [f'{name} = "127.0.0.1:{free_port()}"' for name in kinds]
    lines += ["down = false", "__nowaiting = true"]
    names_file = where / "clustername.lua"
    names_file.write_text("\n".join(lines) + "\n")
    peers = {}
    for name, kind in kinds.items():
        config = where / f"{name}.lua"
        log = where / f"{name}.log"
        if kind == "skynet":
            config.write_text(skynet_config(name, names_file, log))
        else:
            config.write_text(
                f'start = "clusternode"\nluaservice = "{SERVICES}/?.lua"\n'
                f'cluster = "{names_file}"\ncluster_self = "{name}"\nthread = {THREADS}\n'
                f'snax = "{SERVICES}/?.lua"\nlogger = "{log}"\n'
            )
        peers[name] = Peer(name, config, kind, log)
    return names_file, peers


@pytest.fixture(
    scope="module",
    params=[
        "skylet",
        pytest.param("skynet", marks=pytest.mark.skipif(not SKYNET_ROOT, reason="no SKYNET_ROOT")),
    ],
)
def peers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, dict[str, Peer]]]:
    kind = request.param
    where = tmp_path_factory.mktemp("cluster")
    kinds = {"b": kind, "c": kind, "gone": kind, "d": kind}
    if kind == "skynet":
        kinds["s"] = "skylet"  # what skynet's b calls
        kinds["s2"] = "skylet"  # what skynet's b calls, killed and restarted
    names_file, peers = make_peers(where, kinds)
    del peers["gone"]  # in the names, nobody listening
    running = [peer for name, peer in peers.items() if name not in ("d", "s2")]
    for peer in running:
        peer.start()
    try:
        for peer in running:
            peer.wait_ready()
        yield names_file, peers
    finally:
        for peer in peers.values():
            peer.kill()


@pytest.fixture
async def caller(peers: tuple[Path, dict[str, Peer]]) -> AsyncIterator[Any]:
    """call(cmd, ...): the caller service of node "a", in this process."""
    names_file, _ = peers
    config = {
        "luaservice": f"{SERVICES}/?.lua",
        "cluster": str(names_file),
        "thread": THREADS,
        "snax": f"{SERVICES}/?.lua",
    }
    async with skylet.open_node(config, log=lambda line: None) as node:
        address = await node.newservice("caller")

        async def call(*args: Any) -> Any:
            return await node.call(address, "lua", *args)

        yield call


async def test_call_keeps_values_nil_and_types(caller: Any) -> None:
    got = await caller("call", "b", "@echo", "echo", 1, None, 2.5, "x", b"\xff\x00", None)
    assert got == (1, None, 2.5, "x", b"\xff\x00", None)
    kinds = await caller("call", "b", ".echo", "types", 1, 2.0, None, "s", {"k": [1, 2]})
    assert kinds == ("integer,float,nil,string,table", 5)


async def test_query_and_registered_names(caller: Any) -> None:
    echo = await caller("query", "b", "echo")
    assert isinstance(echo, int) and echo > 0
    # the numeric address the query answered reaches the same service
    assert await caller("call", "b", echo, "whoami") == "b"
    with pytest.raises(skylet.CallError, match="name not found"):
        await caller("query", "b", "nosuch")
    with pytest.raises(skylet.CallError, match="Invalid name"):
        await caller("call", "b", "@nosuch", "echo")


async def test_register_and_unregister_a_name_on_the_remote_node(caller: Any) -> None:
    # b's caller service registers itself as "tmp" on b; a service has one
    # cluster name, so "@caller" goes (as in skynet)
    await caller("call", "b", "@caller", "register", "tmp")
    pong, address = await caller("call", "b", "@tmp", "ping")
    assert pong == "pong" and await caller("query", "b", "tmp") == address
    with pytest.raises(skylet.CallError, match="Invalid name"):
        await caller("call", "b", "@caller", "ping")
    await caller("call", "b", "@tmp", "unregister", "tmp")
    # b's agents dropped their cached names: "@tmp" is gone
    with pytest.raises(skylet.CallError, match="Invalid name"):
        await caller("call", "b", "@tmp", "ping")
    with pytest.raises(skylet.CallError, match="name not found"):
        await caller("query", "b", "tmp")
    # its number still reaches it; give it its name back for the other tests
    await caller("call", "b", address, "register", "caller")
    assert await caller("call", "b", "@caller", "ping") == ("pong", address)


async def test_send_and_proxy(caller: Any) -> None:
    await caller("send", "c", "@echo", "push", "sent")
    await caller("proxysend", "c", "@echo", "push", "proxied")
    assert await caller("proxycall", "c", "@echo", "whoami") == "c"
    pushed = await caller("call", "c", "@echo", "pushed")
    assert pushed[-2:] == ["sent", "proxied"]


async def test_a_proxy_forwards_messages_as_they_are(
    caller: Any, peers: tuple[Path, dict[str, Peer]]
) -> None:
    # the proxy does not unpack and pack again: nils, floats, binary survive
    got = await caller("proxycall", "b", ".echo", "echo", 1, None, 2.5, b"\xff\x00", None)
    assert got == (1, None, 2.5, b"\xff\x00", None)
    # a remote error comes back through the proxy (skynet's agent sends no text)
    why = "proxied failure" if kind_of(peers) == "skylet" else "failed"
    with pytest.raises(skylet.CallError, match=why):
        await caller("proxycall", "b", "@echo", "fail", "proxied failure")


async def test_cluster_snax_req_and_post_across_nodes(caller: Any) -> None:
    # found through b's service_mgr (".service" QUERY snaxd), then by the
    # address given: a cluster name, and the number it stands for
    note, total, who = await caller("snax", "b", "snaxcounter", None, "first", 2)
    assert (note, who) == ("first", "b")
    note, total2, _ = await caller("snax", "b", "snaxcounter", "@snaxcounter", "second", 3)
    assert (note, total2) == ("second", total + 3)
    handle = await caller("query", "b", "snaxcounter")
    note, total3, _ = await caller("snax", "b", "snaxcounter", handle, {"k": 1}, 0)
    assert (note, total3) == ({"k": 1}, total2)


async def test_cluster_snax_from_the_other_node(
    caller: Any, peers: tuple[Path, dict[str, Peer]]
) -> None:
    # b's caller uses cluster.snax on a third node: skynet's b to skylet's s, or c
    third = "s" if kind_of(peers) == "skynet" else "c"
    got = await caller("call", "b", "@caller", "snax", third, "snaxcounter", None, "via b", 5)
    note, total, who = got
    assert (note, who) == ("via b", third) and total >= 5


async def wait_for_lines(log: Path | None, wanted: list[str]) -> str:
    """log's text once it has the lines matching `wanted` (regexes), in order."""
    assert log is not None
    deadline = time.monotonic() + 5
    while True:
        text = log.read_text() if log.exists() else ""
        found = [re.search(w, text) for w in wanted]
        if all(found) or time.monotonic() > deadline:
            break
        await trio.sleep(0.05)
    assert all(found), text
    starts = [m.start() for m in found if m]
    assert starts == sorted(starts), text
    return text


def traced_there(tag: str) -> list[str]:
    """skynet's lines for a request traced by `tag` from another node."""
    return [
        rf"<TRACE {re.escape(tag)}> \d+ {what}"
        for what in ("tracecall begin", "request", "tracecall end")
    ]


def tags_sent(text: str, node: str) -> list[str]:
    """The tags the traced calls from this log's node gave `node`, in order
    (asserting skynet's lines on the way)."""
    remotes = []
    for tag in re.findall(r"<TRACE (:[0-9a-f]{8}-\d+)> \d+ trace (?:cluster|proxy)", text):
        # the sender's "session" line names the tag the other node gets,
        # "(nodename-node-session)tag", then says "cluster node" under it
        remote = re.search(
            rf"\[(:[0-9a-f]{{8}})\] <TRACE {re.escape(tag)}> \d+ session "
            rf"(\(\S+-{node}-\d+\){re.escape(tag)})",
            text,
        )
        assert remote is not None, text
        sender, sent = remote[1], remote[2]
        assert re.search(rf"\[{sender}\] <TRACE {re.escape(sent)}> \d+ cluster {node}", text), text
        # the sender answers the traced caller (skynet.ret's line), then ends
        assert re.search(
            rf"\[{sender}\] <TRACE {re.escape(tag)}> \d+ response\n"
            rf"[\s\S]*?\[{sender}\] <TRACE {re.escape(tag)}> \d+ end",
            text[remote.end() :],
        ), text
        remotes.append(sent)
    assert remotes, text
    return remotes


async def test_a_traced_call_is_traced_on_both_nodes(
    peers: tuple[Path, dict[str, Peer]],
) -> None:
    names_file, running = peers
    lines: list[str] = []
    config = {"luaservice": f"{SERVICES}/?.lua", "cluster": str(names_file), "thread": THREADS}
    async with skylet.open_node(config, log=lines.append) as node:
        address = await node.newservice("caller")
        assert await node.call(address, "lua", "traced", "b", "@echo", "echo", "t") == "t"
        # a request in several parts keeps its tag too
        big = "x" * 100 * 1024
        got = await node.call(address, "lua", "traced", "b", "@echo", "len", big)
        assert got == (len(big), "xxxx", "xxxx")
        # b's traced call to a third node: skynet's b to skylet's s, or c
        third = "s" if kind_of(peers) == "skynet" else "c"
        got = await node.call(
            address, "lua", "call", "b", "@caller", "traced", third, "@echo", "whoami"
        )
        assert got == third
        # through a proxy: the proxy's call to the sender carries the tag on
        assert await node.call(address, "lua", "traced_proxy", "b", "@echo", "whoami") == "b"
    # a -> b: this node's lines, then b's
    tags = tags_sent("\n".join(lines), "b")
    assert len(tags) == 3
    # nodename as skynet's: host name (blanks made _) and pid
    host = "".join("_" if ch <= " " else ch for ch in socket.gethostname())
    assert all(tag.startswith(f"({host}{os.getpid()}-b-") for tag in tags), tags
    for tag in tags:
        await wait_for_lines(running["b"].log, traced_there(tag))
    # b -> third: b's lines (b's only trace starts there), then the third's
    text = await wait_for_lines(running["b"].log, [r"trace cluster"])
    (tag,) = tags_sent(text, third)
    await wait_for_lines(running[third].log, traced_there(tag))


async def test_128_kib_argument_and_answer(caller: Any) -> None:
    big = "y" * 128 * 1024 + "tail"
    assert await caller("call", "b", "@echo", "len", big) == (len(big), "yyyy", "tail")
    answer = await caller("call", "b", "@echo", "big", 128 * 1024)
    assert answer == "b" * 128 * 1024


async def test_a_small_call_passes_between_a_large_messages_parts(caller: Any) -> None:
    # The kernel cannot take 6 MiB at once: the small call's request is
    # written while the big one's 32 KiB parts still wait (low priority), so
    # it goes out between them, and both arrive intact. (Which answer comes
    # first depends on how fast the peer reads; against skylet the small one
    # usually does.)
    order = await caller("race", "b", "@echo", 6 * 1024 * 1024)
    assert sorted(order) == ["big", "small"]


async def test_a_message_over_the_send_buffer_limit_is_refused_not_sent(
    caller: Any, peers: tuple[Path, dict[str, Peer]]
) -> None:
    with pytest.raises(skylet.CallError, match="exceeds socket_send_buffer_limit"):
        await caller("call", "b", "@echo", "len", b"z" * (8 * 1024 * 1024 + 1))
    if kind_of(peers) == "skylet":  # skynet has no such limit
        with pytest.raises(skylet.CallError, match=r"an answer of .* exceeds"):
            await caller("call", "b", "@echo", "big", 8 * 1024 * 1024 + 1)
    assert await caller("call", "b", "@echo", "whoami") == "b"  # the link is fine


async def test_100_pushes_then_a_call_that_sees_them_all(caller: Any) -> None:
    before = len(await caller("call", "b", "@echo", "pushed"))
    pushed = await caller("pushes_then_call", "b", "@echo", 100)
    assert pushed[before:] == list(range(1, 101))


def kind_of(peers: tuple[Path, dict[str, Peer]]) -> str:
    return peers[1]["b"].kind


async def test_remote_error_is_raised_in_the_caller(
    caller: Any, peers: tuple[Path, dict[str, Peer]]
) -> None:
    # skynet's agent answers a failed call without its text
    why = r"echo\.lua:[0-9]+: boom" if kind_of(peers) == "skylet" else "call failed"
    with pytest.raises(skylet.CallError, match=why):
        await caller("call", "b", "@echo", "fail", "boom")
    assert await caller("call", "b", "@echo", "whoami") == "b"  # the link goes on


async def test_three_nodes_a_calls_b_which_calls_c(
    caller: Any, peers: tuple[Path, dict[str, Peer]]
) -> None:
    assert await caller("call", "b", "@caller", "call", "c", "@echo", "whoami") == "c"
    if kind_of(peers) == "skynet":  # skynet's b calls the skylet node s, both ways
        via_b = ("call", "b", "@caller")
        assert await caller(*via_b, "call", "s", "@echo", "whoami") == "s"
        assert await caller(*via_b, "call", "s", "@echo", "len", "z" * 131072) == (
            131072,
            "zzzz",
            "zzzz",
        )
        assert await caller(*via_b, "call", "s", "@echo", "big", 131072) == "b" * 131072
        pushed = await caller(*via_b, "pushes_then_call", "s", "@echo", 100)
        assert pushed[-100:] == list(range(1, 101))
        assert isinstance(await caller(*via_b, "query", "s", "echo"), int)
        assert await caller(*via_b, "proxycall", "s", "@echo", "whoami") == "s"
        # skynet's sender drops the error text: only that the call failed arrives
        with pytest.raises(skylet.CallError, match="call failed"):
            await caller(*via_b, "call", "s", "@echo", "fail", "boom")


@pytest.mark.parametrize(
    ("node", "why"),
    [
        ("gone", "gone.*cannot connect.*refused"),
        ("down", r"cluster node \[down\] is down"),
        ("nowhere", r"cluster node \[nowhere\] is absent"),
    ],
)
async def test_unreachable_node_fails_within_a_second(caller: Any, node: str, why: str) -> None:
    start = time.monotonic()
    with pytest.raises(skylet.CallError, match=why):
        await caller("call", node, "@echo", "whoami")
    assert time.monotonic() - start < 1.0


async def test_peer_killed_mid_call_fails_pending_calls_then_restart_works(
    caller: Any, peers: tuple[Path, dict[str, Peer]]
) -> None:
    d = peers[1]["d"]
    d.start()
    await trio.to_thread.run_sync(d.wait_ready)
    assert await caller("call", "d", "@echo", "whoami") == "d"
    results: list[Any] = []

    async def slow_calls() -> None:
        results.append(await caller("concurrent", "d", "@echo", 3, "slow", 1000))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(slow_calls)
        await trio.sleep(0.3)
        killed = time.monotonic()
        d.kill()
    assert time.monotonic() - killed < 1.0
    [failures] = results
    assert len(failures) == 3
    assert all("connection lost" in why for why in failures), failures
    d.start()
    await trio.to_thread.run_sync(d.wait_ready)
    assert await caller("call", "d", "@echo", "whoami") == "d"
    d.kill()


async def test_reload_switches_address(caller: Any, peers: tuple[Path, dict[str, Peer]]) -> None:
    names_file, _ = peers
    addresses = dict(
        line.split(" = ") for line in names_file.read_text().splitlines() if '"' in line
    )
    assert await caller("call", "b", "@echo", "whoami") == "b"
    await caller("reload", {"b": addresses["c"].strip('"')})
    assert await caller("call", "b", "@echo", "whoami") == "c"
    await caller("reload", {"b": False})
    with pytest.raises(skylet.CallError, match="is down"):
        await caller("call", "b", "@echo", "whoami")
    await caller("reload", {"b": addresses["b"].strip('"')})
    assert await caller("call", "b", "@echo", "whoami") == "b"


async def test_opt_in_call_timeout(peers: tuple[Path, dict[str, Peer]]) -> None:
    names_file, _ = peers
    config = {
        "luaservice": f"{SERVICES}/?.lua",
        "cluster": str(names_file),
        "cluster_call_timeout": 0.3,
    }
    async with skylet.open_node(config, log=lambda line: None) as node:
        address = await node.newservice("caller")
        start = time.monotonic()
        with pytest.raises(skylet.CallError, match=r"timed out after 0.3s"):
            await node.call(address, "lua", "call", "b", "@echo", "slow", 500)
        assert 0.25 < time.monotonic() - start < 2
        # the late answer is dropped; the link still serves
        assert await node.call(address, "lua", "call", "b", "@echo", "whoami") == "b"


async def test_without_nowaiting_a_call_to_an_unknown_node_waits_for_reload(
    peers: tuple[Path, dict[str, Peer]], tmp_path: Path
) -> None:
    names_file, _ = peers
    b_address = next(
        line.split(" = ")[1].strip('"')
        for line in names_file.read_text().splitlines()
        if line.startswith("b = ")
    )
    waiting_names = tmp_path / "names.lua"
    waiting_names.write_text("")  # no __nowaiting: skynet's default
    config = {"luaservice": f"{SERVICES}/?.lua", "cluster": str(waiting_names)}
    async with skylet.open_node(config, log=lambda line: None) as node:
        address = await node.newservice("caller")
        got: list[Any] = []

        async def call_late() -> None:
            got.append(await node.call(address, "lua", "call", "late", "@echo", "whoami"))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(call_late)
            await trio.sleep(0.2)
            assert got == []  # still waiting for "late" to be named
            await node.call(address, "lua", "reload", {"late": b_address})
        assert got == ["b"]


@pytest.mark.parametrize(
    ("key", "value"),
    [("cluster_call_timeout", "soon"), ("cluster_call_timeout", -1), ("cluster", 5)],
)
def test_cluster_config_keys_are_checked(key: str, value: Any) -> None:
    with pytest.raises(skylet.ConfigError, match=f"config key '{key}'"):
        skylet.Node({key: value})


async def test_skynet_calling_skylet_failures(
    caller: Any, peers: tuple[Path, dict[str, Peer]]
) -> None:
    """skynet's b calls skylet nodes: a dead one, one killed mid-call, reload."""
    if kind_of(peers) != "skynet":
        pytest.skip("skynet calling skylet: with SKYNET_ROOT only")
    via_b = ("call", "b", "@caller")
    start = time.monotonic()
    with pytest.raises(skylet.CallError):
        await caller(*via_b, "call", "gone", "@echo", "whoami")
    assert time.monotonic() - start < 1.0
    s2 = peers[1]["s2"]
    s2.start()
    await trio.to_thread.run_sync(s2.wait_ready)
    assert await caller(*via_b, "call", "s2", "@echo", "whoami") == "s2"
    results: list[Any] = []

    async def slow_calls() -> None:
        results.append(await caller(*via_b, "concurrent", "s2", "@echo", 3, "slow", 1000))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(slow_calls)
        await trio.sleep(0.3)
        killed = time.monotonic()
        s2.kill()
    assert time.monotonic() - killed < 1.0
    [failures] = results  # skynet's own sender: "call failed", without a reason
    assert len(failures) == 3 and all("call failed" in why for why in failures), failures
    s2.start()
    await trio.to_thread.run_sync(s2.wait_ready)
    assert await caller(*via_b, "call", "s2", "@echo", "whoami") == "s2"
    # reload on skynet's side: "s2" now means s
    names_file, _ = peers
    addresses = dict(
        line.split(" = ") for line in names_file.read_text().splitlines() if '"' in line
    )
    await caller(*via_b, "reload", {"s2": addresses["s"].strip('"')})
    assert await caller(*via_b, "call", "s2", "@echo", "whoami") == "s"
    await caller(*via_b, "reload", {"s2": addresses["s2"].strip('"')})
    s2.kill()
