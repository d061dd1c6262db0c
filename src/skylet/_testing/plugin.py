"""The pytest plugin: ``skylet_node`` and the virtual clock it runs on.

An ``async def`` test that asks for ``skylet_node`` runs under trio without
a marker, on a ``MockClock`` that jumps ahead whenever every task is blocked
(``skylet_clock``), so a service's ``skynet.sleep(360000)`` returns at once.
Each node is stopped after the test, and its log is attached to the report.

It lives beside pytest-trio: where pytest-trio runs a test (``trio_mode``,
or a ``trio`` marker), pytest-trio runs it, and the plugin only hands it
the clock; elsewhere the plugin runs the test itself. Both runners take
the test's clock from its arguments, so the plugin adds ``skylet_clock`` to
the signature of a test that asks for ``skylet_node`` and for no clock of
its own (``autojump_clock``, ``mock_clock``, ``skylet_clock``).
"""

from __future__ import annotations

import functools
import inspect
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import trio
import trio.testing

from ._node import NodeStarter

#: Fixtures that give a test a clock of its own: then no skylet_clock is added.
CLOCKS = frozenset({"skylet_clock", "autojump_clock", "mock_clock"})

# Test functions whose signature got skylet_clock from us (not from the user).
_clock_added: weakref.WeakSet[Any] = weakref.WeakSet()


@pytest.fixture
def skylet_clock() -> trio.testing.MockClock:
    """The virtual clock tests with ``skylet_node`` run on (autojump)."""
    return trio.testing.MockClock(autojump_threshold=0)


@pytest.fixture
def skylet_node() -> NodeStarter:
    """``node = await skylet_node(config, **keys)``: a node for this test.

    ``config`` is a config file or a mapping of config keys; the node
    (a :class:`skylet.Node` with ``logs(address)``, ``wait_idle()``,
    ``log_lines`` and ``printed``) has booted when the await returns and is
    stopped after the test.
    """
    return NodeStarter()


@pytest.hookimpl(wrapper=True)
def pytest_pycollect_makeitem(collector: Any, name: str, obj: object) -> Iterator[None]:
    if inspect.iscoroutinefunction(obj):
        _add_clock(obj)
    return (yield)


def _add_clock(function: Any) -> None:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # pragma: no cover - not a plain function
        return
    names = set(signature.parameters)
    if "skylet_node" not in names or names & CLOCKS:
        return
    clock = inspect.Parameter("skylet_clock", inspect.Parameter.KEYWORD_ONLY)
    params = list(signature.parameters.values())
    var_keyword = [p for p in params if p.kind is inspect.Parameter.VAR_KEYWORD]
    params = [p for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD]
    function.__signature__ = signature.replace(parameters=[*params, clock, *var_keyword])
    _clock_added.add(function)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    starter = getattr(item, "funcargs", {}).get("skylet_node")
    if not isinstance(starter, NodeStarter):
        starter = None
    elif isinstance(item, pytest.Function) and inspect.iscoroutinefunction(item.obj):
        item.obj = _wrap(item.obj, starter)
    try:
        return (yield)
    finally:
        if starter is not None:
            for title, text in starter.report():
                item.add_report_section("call", title, text)


def _wrap(test: Callable[..., Any], starter: NodeStarter) -> Callable[..., Any]:
    """The test inside a nursery that hosts its nodes, stopped when it ends."""
    function = getattr(test, "__func__", test)
    accepted = set(inspect.signature(test).parameters)
    if function in _clock_added:
        accepted.discard("skylet_clock")

    @functools.wraps(test)
    async def run_test(**kwargs: Any) -> None:
        args = {name: value for name, value in kwargs.items() if name in accepted}
        try:
            async with trio.open_nursery() as nursery:
                starter._nursery = nursery
                try:
                    await test(**args)
                finally:
                    starter._nursery = None
                    starter.stop_all()
        except BaseExceptionGroup as group:
            raise _sole(group) from None

    run_test._skylet_runs_it = True  # type: ignore[attr-defined]
    return run_test


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run the tests no other runner took (pytest-trio wraps what it runs)."""
    test = pyfuncitem.obj
    if not getattr(test, "_skylet_runs_it", False):
        return None
    params = set(inspect.signature(test).parameters)
    kwargs = {name: value for name, value in pyfuncitem.funcargs.items() if name in params}
    clocks = [value for value in kwargs.values() if isinstance(value, trio.abc.Clock)]
    if len(clocks) > 1:
        raise ValueError(f"a test can run on one clock, not {len(clocks)}: {clocks!r}")
    clock = clocks[0] if clocks else trio.testing.MockClock(autojump_threshold=0)
    trio.run(functools.partial(test, **kwargs), clock=clock)
    return True


def _sole(group: BaseExceptionGroup) -> BaseException:
    # Nurseries wrap what crosses them; a test wants the error itself.
    while len(group.exceptions) == 1 and isinstance(group.exceptions[0], BaseExceptionGroup):
        group = group.exceptions[0]
    return group.exceptions[0] if len(group.exceptions) == 1 else group
