"""Nodes serving tests/services/http, and a self-signed certificate for https
(fixtures: tests/web/conftest.py)."""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import skylet

SERVICES = Path(__file__).parents[1] / "services" / "http"
#: As tests/conftest.py: run the nodes on N worker threads.
THREADS = os.environ.get("SKYLET_TEST_THREADS")


@dataclass
class Cert:
    certfile: Path
    keyfile: Path

    def client_context(self) -> ssl.SSLContext:
        """A client that trusts only this certificate."""
        return ssl.create_default_context(cafile=str(self.certfile))


def make_cert(folder: Path) -> Cert:
    """A self-signed certificate for localhost and 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    certfile.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Cert(certfile, keyfile)


class Log(list[str]):
    def matching(self, text: str) -> list[str]:
        return [line for line in self if text in line]


@dataclass
class Web:
    """A running node and the server service it started."""

    node: skylet.Node
    server: int
    port: int
    log: Log

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def newservice(self, name: str, *args: Any) -> int:
        return await self.node.newservice(name, *args)


WebFactory = Callable[..., AbstractAsyncContextManager[Web]]


def web_factory(cert: Cert) -> WebFactory:
    """``async with web_node("webserver", "main", "https") as web``."""

    @asynccontextmanager
    async def open_web(service: str, *args: str) -> AsyncIterator[Web]:
        log = Log()
        config: dict[str, Any] = {
            "luaservice": f"{SERVICES}/?.lua",
            "certfile": str(cert.certfile),
            "keyfile": str(cert.keyfile),
        }
        if THREADS:
            config["thread"] = int(THREADS)
        async with skylet.open_node(config, log=log.append, stdout=log.append) as node:
            server = await node.newservice(service, *args)
            port = await node.call(server, "lua", "port")
            yield Web(node, server, port, log)

    return open_web
