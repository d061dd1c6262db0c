"""``skylet``: the command line. Exit status 2 for user mistakes, as argparse."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

import trio

from .._core._errors import ConfigError, LaunchError, SkyletError
from .._core._node import Node
from . import _console_client as console_client

USAGE_ERROR = 2


def _fail(message: str, status: int) -> int:
    print(f"skylet: {message}", file=sys.stderr)
    return status


async def _serve(node: Node) -> int:
    async def stop_on_signal() -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                node.logger.log(0, f"{signal.Signals(signum).name} received, stopping the node")
                node.stop(0)
                return

    async with trio.open_nursery() as nursery:
        nursery.start_soon(stop_on_signal)
        status = await node.run()
        nursery.cancel_scope.cancel()
    return status


def _run(config: str) -> int:
    try:
        node = Node(config)
    except ConfigError as exc:
        return _fail(str(exc), USAGE_ERROR)
    except SkyletError as exc:
        return _fail(f"{config}: {exc}", USAGE_ERROR)
    try:
        return trio.run(_serve, node)
    except LaunchError as exc:
        return _fail(f"boot failed: {exc}", 1)
    except BaseExceptionGroup as group:
        launch = group.subgroup(LaunchError)
        if launch is not None and launch.exceptions:
            return _fail(f"boot failed: {_first(launch)}", 1)
        raise


def _console(args: argparse.Namespace) -> int:
    try:
        host, port = console_client.parse_endpoint(args.endpoint)
    except ValueError as exc:
        return _fail(str(exc), USAGE_ERROR)
    if args.command == "inject":
        problem = console_client.check_script(args.file)
        if problem is not None:
            return _fail(problem, USAGE_ERROR)
    try:
        with console_client.ConsoleClient(host, port) as client:
            if args.command == "inject":
                return console_client.inject(client, args.target, args.file)
            return console_client.interactive(client)
    except console_client.ConsoleError as exc:
        return _fail(str(exc), 1)


def _first(group: BaseExceptionGroup) -> BaseException:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="skylet", description="Run skynet-style Lua services in one Python process."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="run a node from a config file in skynet's format")
    run.add_argument("config", help="the config file, e.g. config/demo.lua")
    console = commands.add_parser("console", help="talk to a node's debug console")
    console.add_argument("endpoint", metavar="HOST:PORT", help="where the debug console listens")
    inject = commands.add_parser(
        "inject", help="inject a Lua script (a hotfix) into running services"
    )
    inject.add_argument("endpoint", metavar="HOST:PORT", help="where the debug console listens")
    inject.add_argument(
        "target", metavar="TARGET", help="an address (:0000000a, .name) or a service file name"
    )
    inject.add_argument("file", metavar="FILE", help="the Lua script")
    commands.add_parser(
        "bench", help="run the benchmark workloads (skylet bench --help)", add_help=False
    )
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        from ._bench import main as bench

        return bench(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "run":
        return _run(args.config)
    if args.command in ("console", "inject"):
        return _console(args)
    parser.error(f"unknown command {args.command}")  # pragma: no cover
    return USAGE_ERROR  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
