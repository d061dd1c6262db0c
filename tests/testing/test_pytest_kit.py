"""The pytest kit (``skylet_node``), tried on user projects made by pytester.

Each project is a temp directory with services and tests and no conftest:
the plugin comes from skylet's ``pytest11`` entry point.
"""

from __future__ import annotations

import pytest

COUNTER = """
local skynet = require "skynet"
require "skynet.manager"
local count = 0
local CMD = {}
function CMD.incr(by) count = count + (by or 1) return count end
function CMD.nap(ticks)
  skynet.sleep(ticks)
  skynet.error("woke at", skynet.now())
  return skynet.now()
end
function CMD.later(ticks)
  skynet.timeout(ticks, function() skynet.error("later") end)
end
skynet.start(function()
  skynet.dispatch("lua", function(session, source, cmd, ...)
    local f = assert(CMD[cmd], "unknown command")
    if session ~= 0 then skynet.ret(skynet.pack(f(...))) else f(...) end
  end)
  skynet.register(".counter")
end)
"""

MAIN = """
local skynet = require "skynet"
skynet.start(function() skynet.newservice("counter") end)
"""

SCORES = """
import skylet


class Scores(skylet.Service):
    async def init(self):
        self.best = {}

    async def add(self, name, points):
        self.best[name] = max(points, self.best.get(name, 0))
        return self.best[name]
"""

FIX = """
local hotfix = require "skylet.hotfix"
local count
return hotfix.patch {
  ["_P.lua.CMD.incr"] = function(by) count = count + 100 * (by or 1) return count end,
}
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".lua", **{"service/counter": COUNTER, "service/main": MAIN})
    pytester.makefile(".py", **{"service/scores": SCORES})
    pytester.makefile(".lua", fix=FIX)
    pytester.makefile(
        ".lua",
        config='start = "main"\nluaservice = "./service/?.lua"\npyservice = "./service/?.py"\n',
    )
    return pytester


USER_TESTS = """
import time

import pytest

import skylet

CONFIG = {"start": "main", "luaservice": "service/?.lua", "pyservice": "service/?.py"}


async def test_counter_from_a_dict(skylet_node):
    node = await skylet_node(CONFIG)
    assert await node.call(".counter", "lua", "incr", 5) == 5


async def test_counter_from_a_config_file_and_keys(skylet_node):
    node = await skylet_node("config.lua", answer=42)
    assert await node.call(".counter", "lua", "incr") == 1
    assert node.env["answer"] == "42"


async def test_an_hour_of_service_time_passes_at_once(skylet_node):
    node = await skylet_node(CONFIG)
    started = time.monotonic()
    assert await node.call(".counter", "lua", "nap", 360000) == 360000
    assert time.monotonic() - started < 5
    assert node.logs(".counter") == ["woke at 360000"]


async def test_nodes_in_one_test_share_nothing(skylet_node):
    one = await skylet_node(CONFIG)
    two = await skylet_node(CONFIG)
    assert await one.call(".counter", "lua", "incr", 5) == 5
    assert await two.call(".counter", "lua", "incr", 1) == 1
    a = await one.newservice("scores")
    b = await two.newservice("scores")
    assert await one.call(a, "lua", "add", "ann", 3) == 3
    assert await two.call(b, "lua", "add", "ann", 1) == 1


async def test_helpers_inject_logs_and_wait_idle(skylet_node):
    node = await skylet_node(CONFIG)
    counter = node.resolve(".counter").handle
    with open("fix.lua") as f:
        result = await node.inject(counter, f.read(), "fix.lua")
    assert result.ok, result.output
    assert await node.call(counter, "lua", "incr", 1) == 100
    node.send(counter, "lua", "later", 0)
    await node.wait_idle()
    assert node.logs(counter) == ["later"]
    node.send(counter, "lua", "later", 500)
    await node.wait_idle()  # a pending timer is idle too
    assert node.logs(counter) == ["later"]


async def test_a_node_that_cannot_boot_raises(skylet_node):
    with pytest.raises(skylet.LaunchError, match="nowhere"):
        await skylet_node({"start": "nowhere", "luaservice": "service/?.lua"})


STOPPED = []


async def test_first_leaves_a_node_running(skylet_node):
    STOPPED.append(await skylet_node(CONFIG))


def test_then_it_was_stopped():
    assert STOPPED and STOPPED[0].scheduler.stopping
"""


def test_a_project_without_conftest_or_config_uses_the_kit(project: pytest.Pytester) -> None:
    project.makepyfile(test_user=USER_TESTS)
    result = project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=8)


def test_a_failing_test_reports_the_logs_of_its_nodes(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_fails="""
CONFIG = {"start": "main", "luaservice": "service/?.lua"}

async def test_fails(skylet_node):
    node = await skylet_node(CONFIG)
    await node.call(".counter", "lua", "nap", 100)
    other = await skylet_node(CONFIG)
    await other.call(".counter", "lua", "nap", 7)
    assert False, "on purpose"

async def test_passes(skylet_node):
    node = await skylet_node(CONFIG)
    await node.call(".counter", "lua", "nap", 3)
"""
    )
    result = project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*Captured skylet node 1 log call*",
            "[:00000006] woke at 100",
            "*Captured skylet node 2 log call*",
            "[:00000006] woke at 7",
        ]
    )
    result.stdout.no_fnmatch_line("*woke at 3*")  # a passing test's logs stay quiet


def test_the_kit_works_where_pytest_trio_runs_every_async_test(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\ntrio_mode = true\n")
    project.makepyfile(
        test_trio_mode=USER_TESTS
        + """

@pytest.fixture
async def scores_name():
    yield "ann"  # an async fixture: pytest-trio's to run


async def test_beside_an_async_fixture(skylet_node, scores_name):
    node = await skylet_node(CONFIG)
    scores = await node.newservice("scores")
    assert await node.call(scores, "lua", "add", scores_name, 2) == 2
    assert await node.call(".counter", "lua", "nap", 360000) == 360000


async def test_with_a_clock_of_its_own(skylet_node, autojump_clock):
    node = await skylet_node(CONFIG)
    assert await node.call(".counter", "lua", "nap", 360000) == 360000
    assert autojump_clock.current_time() >= 3600
"""
    )
    result = project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=10)
