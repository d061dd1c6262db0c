"""Real database servers for the driver tests, one of each per test session.

Each fixture starts Debian's server binary on a free 127.0.0.1 port in a
temporary directory and stops it when the session ends. Where a binary is
missing (``apt-get install redis-server mariadb-server``) the tests that need
it skip, saying so.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

READY_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def need(binary: str, package: str) -> str:
    path = shutil.which(binary) or next(
        (p for p in (f"/usr/sbin/{binary}", f"/usr/bin/{binary}") if os.path.exists(p)), None
    )
    if path is None:
        pytest.skip(f"{binary} not found: install Debian's {package} (apt-get install {package})")
    return path


def wait_until(ready: object, what: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            pytest.skip(f"{what} exited at start ({proc.returncode}): {tail}")
        if ready():  # type: ignore[operator]
            return
        time.sleep(0.05)
    proc.kill()
    pytest.skip(f"{what} not ready after {READY_TIMEOUT:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- Redis ------------------------------------------------------------------


@dataclass
class Redis:
    """A redis-server; ``user``/``password`` name an ACL user for auth tests."""

    port: int
    cli_path: str
    proc: subprocess.Popen[bytes]
    user: str = "skylet"
    password: str = "s3cret"
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def cli(self, *args: str, port: int | None = None) -> str:
        out = subprocess.run(
            [self.cli_path, "-h", "127.0.0.1", "-p", str(port or self.port), *args],
            capture_output=True,
            check=True,
            timeout=20,
        )
        return out.stdout.decode().strip()


def start_redis(where: Path, *extra: str) -> tuple[int, subprocess.Popen[bytes]]:
    server = need("redis-server", "redis-server")
    where.mkdir(parents=True, exist_ok=True)
    for _ in range(5):
        port = free_port()
        log = where / "redis.log"
        proc = subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(where),
             "--save", "", "--appendonly", "no", "--logfile", str(log), *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )  # fmt: skip

        def ready(port: int = port) -> bool:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    return s.recv(64).startswith(b"+PONG")
            except OSError:
                return False

        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None and not ready():
            time.sleep(0.02)
        if proc.poll() is None and ready():
            return port, proc
        stop(proc)  # most likely the port was taken meanwhile: try another
    pytest.skip(f"redis-server would not start: see {where / 'redis.log'}")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Redis]:
    port, proc = start_redis(tmp_path_factory.mktemp("redis"))
    server = Redis(port, need("redis-cli", "redis-server"), proc)
    server.cli("ACL", "SETUSER", server.user, "on", f">{server.password}", "~*", "&*", "+@all")
    yield server
    stop(proc)


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Redis]:
    """Three masters, no replicas, every slot assigned (redis-cli --cluster create)."""
    root = tmp_path_factory.mktemp("redis-cluster")
    procs: list[subprocess.Popen[bytes]] = []
    ports: list[int] = []
    try:
        for i in range(3):
            port, proc = start_redis(
                root / str(i), "--cluster-enabled", "yes",
                "--cluster-config-file", str(root / f"nodes-{i}.conf"),
                "--cluster-node-timeout", "2000",
            )  # fmt: skip
            procs.append(proc)
            ports.append(port)
        cluster = Redis(ports[0], need("redis-cli", "redis-server"), procs[0], procs=procs)
        cluster.cli(
            "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
            "--cluster-replicas", "0", "--cluster-yes",
        )  # fmt: skip

        def ready() -> bool:
            return all("cluster_state:ok" in cluster.cli("CLUSTER", "INFO", port=p) for p in ports)

        wait_until(ready, "redis cluster", procs[0], root / "0" / "redis.log")
        cluster.ports = ports  # type: ignore[attr-defined]
        yield cluster
    finally:
        for proc in procs:
            stop(proc)


# -- MariaDB ----------------------------------------------------------------


@dataclass
class MariaDB:
    """A mariadbd with a database ``skylet`` and a user with a password."""

    port: int
    socket: Path
    client: str
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


@pytest.fixture(scope="session")
def mariadb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    server = need("mariadbd", "mariadb-server")
    install = need("mariadb-install-db", "mariadb-server")
    client = need("mariadb", "mariadb-client")
    root = tmp_path_factory.mktemp("mariadb")
    data, sock, log = root / "data", root / "mysqld.sock", root / "mariadb.log"
    as_root = ["--user=root"] if os.geteuid() == 0 else []
    done = subprocess.run(
        [install, "--no-defaults", f"--datadir={data}", "--skip-test-db",
         "--auth-root-authentication-method=socket", *as_root],
        capture_output=True, timeout=120,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"mariadb-install-db failed: {done.stderr.decode()[-500:]}")
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [server, "--no-defaults", f"--datadir={data}", f"--socket={sock}", f"--port={port}",
             "--bind-address=127.0.0.1", "--skip-log-bin", "--skip-name-resolve",
             "--character-set-server=utf8mb4",
             "--innodb-buffer-pool-size=16M", "--max-allowed-packet=64M",
             f"--pid-file={root / 'mariadb.pid'}", f"--log-error={log}", *as_root],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    db = MariaDB(port, sock, client)

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
        yield db
    finally:
        stop(proc)
