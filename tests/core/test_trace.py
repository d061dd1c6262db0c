"""skynet's message tracing: skynet.trace, traceproto, tracetag, tracelog,
tracecall, and the debug protocol's TRACELOG."""

from __future__ import annotations

import re

from apinode import api_node, run_lua
from conftest import Lines

TRACE = re.compile(r"\] <TRACE (:[0-9a-f]{8}-\d+)> \d+ (\w+(?: \w+)?)(?: : (.*))?$")


def traced(log: Lines) -> list[tuple[str, str, str]]:
    out = []
    for line in log:
        m = TRACE.search(line)
        if m:
            out.append((line[1:10], m.group(1), m.group(2), m.group(3) or ""))
    return [(addr, tag, what) for addr, tag, what, _ in out]


async def test_a_traced_call_is_followed_into_the_callee(autojump_clock) -> None:
    log = Lines()
    async with api_node(log) as node:
        code = """
          local skynet = require 'skynet'
          local slave = skynet.newservice('slave')
          skynet.trace('demo')
          local tag = skynet.tracetag()
          skynet.call(slave, 'lua', 'ping', 5, 'x')
          return tag, slave
        """
        tag, slave = await run_lua(node, code)
    steps = [(addr, what) for addr, t, what in traced(log) if t == tag]
    caller = tag[:9]
    callee = f":{slave:08x}"
    assert steps == [
        (caller, "trace demo"),
        (caller, "call"),
        (callee, "request"),
        (callee, "sleep"),
        (callee, "resume"),
        (callee, "response"),
        (callee, "end"),
        (caller, "resume"),
        (caller, "response"),  # the traced coroutine answers its own request
        (caller, "end"),
    ]
    call_line = next(line for line in log if f"<TRACE {tag}>" in line and " call : " in line)
    assert " : =eval:6 " in call_line  # where the call was made
    assert log.matching("TRACE nil")  # skynet.trace logs the previous tag


async def test_traceproto_traces_every_request_of_a_protocol() -> None:
    log = Lines()
    async with api_node(log) as node:
        slave = await node.newservice("slave")
        await node.call(slave, "debug", "TRACELOG", "lua", True)
        await node.call(slave, "lua", "ping", 0, "a")
        await node.call(slave, "debug", "TRACELOG", False)  # proto defaults to lua
        await node.call(slave, "lua", "ping", 0, "b")
    assert log.matching("Turn trace log true for lua")
    assert log.matching("Turn trace log false for lua")
    whats = [what for addr, _, what in traced(log) if addr == f":{slave:08x}"]
    assert whats == ["trace", "sleep", "resume", "response", "end"]


async def test_tracelog_and_tracecall_write_under_a_given_tag() -> None:
    log = Lines()
    async with api_node(log) as node:
        code = """
          local skynet = require 'skynet'
          local slave = skynet.newservice('slave')
          skynet.tracelog('mytag', 'hello')
          local msg = skynet.tracecall('mytag', slave, 'lua', skynet.pack('ping', 0, 'r'))
          return skynet.unpack(msg)
        """
        assert await run_lua(node, code) == "r"
    lines = [line.split("> ", 1)[1] for line in log if "<TRACE mytag>" in line]
    whats = [" ".join(x.split()[1:]) for x in lines]
    assert whats[0] == "hello" and whats[1] == "tracecall begin" and whats[-1] == "tracecall end"
    assert "request" in whats and "response" in whats


async def test_untraced_services_log_no_trace_lines() -> None:
    log = Lines()
    async with api_node(log) as node:
        slave = await node.newservice("slave")
        await node.call(slave, "lua", "ping", 0, "a")
    assert not log.matching("<TRACE")


async def test_a_traced_call_that_fails_logs_error_and_no_resume() -> None:
    log = Lines()
    async with api_node(log) as node:
        code = """
          local skynet = require 'skynet'
          local slave = skynet.newservice('slave')
          skynet.trace()
          local tag = skynet.tracetag()
          local ok = pcall(skynet.call, slave, 'lua', 'fail')
          return tag, ok
        """
        tag, ok = await run_lua(node, code)
    assert ok is False
    whats = [what for _, t, what in traced(log) if t == tag]
    assert whats == ["trace", "call", "request", "error", "response", "end"]
