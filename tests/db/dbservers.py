"""Real database servers for the driver tests (a pytest plugin, loaded by
tests/conftest.py): one redis-server, one three-master Redis Cluster and one
MariaDB per test session, each started only if a selected test needs it.

Each runs Debian's server binary on a free 127.0.0.1 port in a temporary
directory, and stops when the session ends. MariaDB and the cluster take a
few seconds to set up, so they start in the background as soon as the tests
are collected; their fixtures wait for them. Where a binary is missing
(``apt-get install redis-server mariadb-server``) the tests that need it
skip, saying so.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

READY_TIMEOUT = 30.0
SERVICES = Path(__file__).parents[1] / "services" / "db"


def node_config(**extra: Any) -> dict[str, Any]:
    """A node for the driver tests: the test services, and worker threads
    when SKYLET_TEST_THREADS says so (as the core tests)."""
    threads = int(os.environ.get("SKYLET_TEST_THREADS", "1"))
    return {"thread": threads, "luaservice": f"{SERVICES}/?.lua", **extra}


class Unavailable(Exception):
    """The server cannot be had here; the message says why."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def need(binary: str, package: str) -> str:
    found = shutil.which(binary) or next(
        (p for p in (f"/usr/sbin/{binary}", f"/usr/bin/{binary}") if os.path.exists(p)), None
    )
    if found is None:
        raise Unavailable(
            f"{binary} not found: install Debian's {package} (apt-get install {package})"
        )
    return found


def wait_until(
    ready: Callable[[], bool], what: str, proc: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-1000:] if log.exists() else ""
            raise Unavailable(f"{what} exited at start ({proc.returncode}): {tail}")
        if ready():
            return
        time.sleep(0.02)
    raise Unavailable(f"{what} not ready after {READY_TIMEOUT:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- Redis ------------------------------------------------------------------


def resp(port: int, *commands: list[Any]) -> str:
    """Sends commands on one connection; the last reply as redis-cli prints it
    to a pipe (an error as its text, an array one item a line, nil as "")."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        reader = s.makefile("rb")
        for command in commands:
            args = [str(a).encode() for a in command]
            s.sendall(
                b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
            )
            reply = read_reply(reader)
        return reply


def read_reply(reader: Any) -> str:
    line = reader.readline()[:-2]
    kind, rest = line[:1], line[1:].decode()
    if kind in (b"+", b"-", b":"):
        return rest
    if kind == b"$":
        n = int(rest)
        return "" if n < 0 else reader.read(n + 2)[:-2].decode()
    if kind == b"*":
        return "\n".join(read_reply(reader) for _ in range(max(int(rest), 0)))
    raise AssertionError(f"bad reply {line!r}")


@dataclass
class Redis:
    """A redis-server (or the first node of a cluster, all in ``ports``);
    ``user``/``password`` name an ACL user for the auth tests."""

    port: int
    procs: list[subprocess.Popen[bytes]]
    ports: list[int] = field(default_factory=list)
    user: str = "skylet"
    password: str = "s3cret"

    def cli(self, *args: Any, port: int | None = None, db: int = 0) -> str:
        """One command (after SELECT db); the reply as text."""
        commands = [["SELECT", db]] if db else []
        return resp(port or self.port, *commands, list(args))

    def stop(self) -> None:
        for proc in self.procs:
            stop(proc)


def start_redis(where: Path, *extra: str) -> tuple[int, subprocess.Popen[bytes]]:
    server = need("redis-server", "redis-server")
    where.mkdir(parents=True, exist_ok=True)
    log = where / "redis.log"
    for _ in range(5):
        port = free_port()
        proc = subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(where),
             "--save", "", "--appendonly", "no", "--logfile", str(log), *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )  # fmt: skip

        def ready(port: int = port) -> bool:
            try:
                return resp(port, ["PING"]) == "PONG"
            except OSError:
                return False

        try:
            wait_until(ready, "redis-server", proc, log)
            return port, proc
        except Unavailable:
            stop(proc)  # most likely the port was taken meanwhile: try another
    raise Unavailable(f"redis-server would not start: see {log}")


def launch_redis(root: Path) -> Redis:
    port, proc = start_redis(root / "redis")
    server = Redis(port, [proc], [port])
    server.cli("ACL", "SETUSER", server.user, "on", f">{server.password}", "~*", "&*", "+@all")
    return server


def launch_cluster(root: Path) -> Redis:
    """Three masters, no replicas, the slots in three ranges (what
    ``redis-cli --cluster create`` does, without its one-second polls)."""
    cluster = Redis(0, [])
    try:
        for i in range(3):
            port, proc = start_redis(
                root / f"cluster{i}", "--cluster-enabled", "yes",
                "--cluster-config-file", str(root / f"cluster{i}" / "nodes.conf"),
                "--cluster-node-timeout", "2000",
            )  # fmt: skip
            cluster.procs.append(proc)
            cluster.ports.append(port)
        cluster.port = cluster.ports[0]
        bounds = [0, 5461, 10923, 16384]
        for i, port in enumerate(cluster.ports):
            cluster.cli("CLUSTER", "ADDSLOTSRANGE", bounds[i], bounds[i + 1] - 1, port=port)
            cluster.cli("CLUSTER", "SET-CONFIG-EPOCH", i + 1, port=port)
        for port in cluster.ports[1:]:
            cluster.cli("CLUSTER", "MEET", "127.0.0.1", port)

        def ready() -> bool:
            return all(
                "cluster_state:ok" in cluster.cli("CLUSTER", "INFO", port=p)
                and cluster.cli("CLUSTER", "NODES", port=p).count("connected") == 3
                for p in cluster.ports
            )

        wait_until(ready, "redis cluster", cluster.procs[0], root / "cluster0" / "redis.log")
        return cluster
    except BaseException:
        cluster.stop()
        raise


# -- MariaDB ----------------------------------------------------------------


@dataclass
class MariaDB:
    """A mariadbd with a database ``skylet`` and a user with a password."""

    port: int
    socket: Path
    client: str
    proc: subprocess.Popen[bytes]
    user: str = "skylet"
    password: str = "s3cret pass"
    database: str = "skylet"

    def sql(self, statement: str) -> str:
        """Runs SQL as root over the unix socket; its tab-separated output."""
        out = subprocess.run(
            [self.client, "--no-defaults", "-S", str(self.socket), "-uroot", "-N", "-B",
             "-e", statement],
            capture_output=True, check=True, timeout=20,
        )  # fmt: skip
        return out.stdout.decode().strip()


def launch_mariadb(root: Path) -> MariaDB:
    server = need("mariadbd", "mariadb-server")
    install = need("mariadb-install-db", "mariadb-server")
    client = need("mariadb", "mariadb-client")
    data, sock, log = root / "mariadb", root / "mysqld.sock", root / "mariadb.log"
    as_root = ["--user=root"] if os.geteuid() == 0 else []
    done = subprocess.run(
        [install, "--no-defaults", f"--datadir={data}", "--skip-test-db",
         "--auth-root-authentication-method=socket", "--innodb-log-file-size=4M", *as_root],
        capture_output=True, timeout=120,
    )  # fmt: skip
    if done.returncode != 0:
        raise Unavailable(f"mariadb-install-db failed: {done.stderr.decode()[-500:]}")
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [server, "--no-defaults", f"--datadir={data}", f"--socket={sock}", f"--port={port}",
             "--bind-address=127.0.0.1", "--skip-log-bin", "--skip-name-resolve",
             "--character-set-server=utf8mb4", "--innodb-buffer-pool-size=16M",
             "--innodb-log-file-size=4M", "--max-allowed-packet=64M",
             f"--pid-file={root / 'mariadb.pid'}", f"--log-error={log}", *as_root],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    db = MariaDB(port, sock, client, proc)

    def ready() -> bool:
        try:
            db.sql("SELECT 1")
            return True
        except subprocess.CalledProcessError:
            return False

    try:
        wait_until(ready, "mariadbd", proc, log)
        db.sql(
            f"CREATE DATABASE {db.database};"
            f"CREATE USER '{db.user}'@'%' IDENTIFIED BY '{db.password}';"
            f"GRANT ALL ON *.* TO '{db.user}'@'%';"
        )
    except BaseException:
        stop(proc)
        raise
    return db


# -- The plugin -------------------------------------------------------------

LAUNCHERS: dict[str, Callable[[Path], Any]] = {
    "redis_server": launch_redis,
    "redis_cluster": launch_cluster,
    "mariadb_server": launch_mariadb,
}


class Servers:
    """The servers this session's tests need, started in the background."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="skylet-db-"))
        self.pool = ThreadPoolExecutor(max_workers=len(LAUNCHERS))
        self.started: dict[str, Future[Any]] = {}

    def start(self, name: str) -> None:
        if name not in self.started:
            where = self.root / name
            where.mkdir()
            self.started[name] = self.pool.submit(LAUNCHERS[name], where)

    def get(self, name: str) -> Any:
        self.start(name)
        try:
            return self.started[name].result()
        except Unavailable as why:
            pytest.skip(str(why))

    def close(self) -> None:
        for future in self.started.values():
            try:
                server = future.result()
            except Exception:
                continue
            if isinstance(server, Redis):
                server.stop()
            else:
                stop(server.proc)
        self.pool.shutdown()
        shutil.rmtree(self.root, ignore_errors=True)


_servers: Servers | None = None


def servers() -> Servers:
    global _servers
    if _servers is None:
        _servers = Servers()
    return _servers


def pytest_collection_finish(session: pytest.Session) -> None:
    needed = {name for item in session.items for name in getattr(item, "fixturenames", ())}
    for name in LAUNCHERS:
        if name in needed:
            servers().start(name)


def pytest_sessionfinish(session: pytest.Session) -> None:
    global _servers
    if _servers is not None:
        _servers.close()
        _servers = None


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Redis]:
    yield servers().get("redis_server")


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[Redis]:
    yield servers().get("redis_cluster")


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDB]:
    yield servers().get("mariadb_server")
