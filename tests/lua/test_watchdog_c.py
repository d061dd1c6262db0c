"""The C watchdog (skylet/_lua/_lwatchdog.c) on its own, in plain lupa runtimes.

Its ``resume`` and ``wrap`` replace Lua's in every service VM, so they must
behave exactly as Lua 5.4's: each case below runs the same chunk once with
Lua's coroutine functions and once with the watchdog's, and compares what
it saw. Then: the sandbox, interrupts from another thread, and hammering.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lupa.lua54 as lupa
import pytest

from skylet import SkyletError
from skylet._lua import _watchdog
from skylet._lua._watchdog import Watch, choose_watchdog, new_watch, open_in, watchdog_library

LIBRARY, WHY = watchdog_library()
pytestmark = pytest.mark.skipif(LIBRARY is None, reason=f"C watchdog unavailable: {WHY}")

# Serializes what a case records: every value, nil and the count included.
RECORDER = r"""
local function dump(v)
  local t = type(v)
  if t == "string" then return string.format("%q", v) end
  if t == "table" then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    local parts = {}
    for _, k in ipairs(keys) do parts[#parts + 1] = dump(k) .. "=" .. dump(v[k]) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  if t == "thread" or t == "function" or t == "userdata" then return t end
  return tostring(v)
end
return function(chunk)
  local log = {}
  chunk(function(...)
    local n, parts = select("#", ...), {}
    for i = 1, n do parts[i] = dump((select(i, ...))) end
    log[#log + 1] = n .. ": " .. table.concat(parts, ", ")
  end)
  return table.concat(log, "\n")
end
"""


def plain_runtime() -> Any:
    return lupa.LuaRuntime(register_eval=False, register_builtins=False, encoding=None)


def watched_runtime() -> tuple[Any, Watch]:
    """A runtime whose coroutine.resume/wrap are the watchdog's, as boot.lua sets them."""
    runtime = plain_runtime()
    watch = new_watch()
    assert LIBRARY is not None
    module = open_in(runtime, LIBRARY, watch)
    runtime.eval("function(m) coroutine.resume = m.resume; coroutine.wrap = m.wrap end")(module)
    return runtime, watch


def run_case(runtime: Any, source: str) -> str:
    recorder = runtime.execute(RECORDER.encode())
    chunk = runtime.eval("load")(source.encode(), b"=case")
    if isinstance(chunk, tuple):
        raise AssertionError(chunk[1])
    return recorder(chunk).decode()


CASES = {
    "values cross both ways": """
        local record = ...
        local co = coroutine.create(function(a, b)
          record("start", a, b)
          local c, d = coroutine.yield(a + b, "x")
          record("got", c, d)
          local e = coroutine.yield()
          return e, nil, "end"
        end)
        record(coroutine.resume(co, 1, 2))
        record(coroutine.status(co))
        record(coroutine.resume(co, "c", nil))
        record(coroutine.resume(co, nil, nil, 7))
        record(coroutine.status(co))
        record(coroutine.resume(co))
        record(coroutine.resume(co, 1))
    """,
    "errors": """
        local record = ...
        for _, e in ipairs({ "boom", {code = 7}, false, 42 }) do
          local co = coroutine.create(function() error(e) end)
          record(coroutine.resume(co))
          record(coroutine.status(co))
          record(coroutine.resume(co))
        end
        record(coroutine.resume(coroutine.create(function() error() end)))
        record(coroutine.resume(coroutine.create(function() error("lvl0", 0) end)))
        record(coroutine.resume(coroutine.create(function() local x; return x.y end)))
        local co = coroutine.create(function() coroutine.yield(1); error("late") end)
        record(coroutine.resume(co))
        record(coroutine.resume(co))
        record(coroutine.resume(co))
    """,
    "running, normal and main coroutines": """
        local record = ...
        local main, ismain = coroutine.running()
        record(ismain, coroutine.resume(main))
        local co
        co = coroutine.create(function()
          record(coroutine.resume(co))
          record(coroutine.isyieldable(), coroutine.status(co))
          record(coroutine.resume(main))
          local inner = coroutine.create(function()
            record(coroutine.status(co))
            record(coroutine.resume(co))
            return "inner done"
          end)
          record(coroutine.resume(inner))
          return "outer done"
        end)
        record(coroutine.resume(co))
    """,
    "many values": """
        local record = ...
        local t = {}
        for i = 1, 5000 do t[i] = i end
        local co = coroutine.create(function(...)
          local n = select("#", ...)
          local got = table.pack(coroutine.yield(table.unpack(t)))
          return n, got.n, got[1], got[got.n]
        end)
        local r = table.pack(coroutine.resume(co, table.unpack(t)))
        record(r.n, r[1], r[2], r[r.n])
        record(coroutine.resume(co, table.unpack(t, 1, 300)))
    """,
    "too many values": """
        local record = ...
        local big = {}
        for i = 1, 600000 do big[i] = i end
        -- the resumer already holds 600,000 values: 600,000 more do not fit
        local giver = coroutine.create(function() coroutine.yield(table.unpack(big)) end)
        local function hold(...) return coroutine.resume(giver) end
        record(hold(table.unpack(big)))
        -- the coroutine holds 600,000 varargs: 600,000 arguments do not fit
        local holder = coroutine.create(function(...) coroutine.yield() return select("#", ...) end)
        record(coroutine.resume(holder, table.unpack(big)))
        record(coroutine.resume(holder, table.unpack(big)))
        record(coroutine.status(holder))
    """,
    "bad arguments": """
        local record = ...
        record(pcall(coroutine.resume))
        record(pcall(coroutine.resume, nil))
        record(pcall(coroutine.resume, 42))
        record(pcall(coroutine.resume, {}))
        record(pcall(function() return coroutine.resume("x") end))
        record(pcall(function() return coroutine.resume() end))
        record(pcall(coroutine.wrap))
        record(pcall(coroutine.wrap, 42))
        record(pcall(function() return coroutine.wrap({}) end))
    """,
    "wrap": """
        local record = ...
        local gen = coroutine.wrap(function(a)
          for i = 1, 3 do a = coroutine.yield(i + a) end
          return "done", nil
        end)
        record(gen(10), gen(20), gen(30))
        record(gen(40))
        record(pcall(gen))
        record(pcall(function() return gen() end))
        record(pcall(function() return coroutine.wrap(function() error("inside") end)() end))
        record(pcall(function() return coroutine.wrap(function() error({1}) end)() end))
        record(pcall(function() return coroutine.wrap(function() error() end)() end))
        record(pcall(coroutine.wrap(function() error("via pcall") end)))
    """,
    "wrap closes a failed coroutine": """
        local record = ...
        local closed = {}
        local w = coroutine.wrap(function()
          local x <close> = setmetatable({}, {__close = function(_, err)
            closed[#closed + 1] = tostring(err)
          end})
          coroutine.yield(1)
          error("after yield")
        end)
        record(w())
        record(pcall(function() return w() end))
        record(table.concat(closed, ";"))
        record(pcall(function() return w() end))
    """,
    "yields through pcall and metamethods": """
        local record = ...
        local co = coroutine.create(function()
          local ok, v = pcall(coroutine.yield, "in pcall")
          record("after pcall", ok, v)
          local t = setmetatable({}, {__index = function(_, k) return coroutine.yield(k) end})
          return t.key
        end)
        record(coroutine.resume(co))
        record(coroutine.resume(co, "v1"))
        record(coroutine.resume(co, "v2"))
        record(coroutine.status(co))
    """,
    "close": """
        local record = ...
        local co = coroutine.create(function() coroutine.yield() end)
        coroutine.resume(co)
        record(coroutine.close(co))
        record(coroutine.status(co))
        record(coroutine.resume(co))
    """,
    "C stack overflow": """
        local record = ...
        local depth = 0
        local function dive()
          depth = depth + 1
          local ok, err = coroutine.resume(coroutine.create(dive))
          if not ok then error(err, 0) end
        end
        record(pcall(dive))
        record(depth)
    """,
}


@pytest.mark.parametrize("name", CASES)
def test_resume_and_wrap_behave_as_luas(name: str) -> None:
    expected = run_case(plain_runtime(), CASES[name])
    runtime, _ = watched_runtime()
    assert run_case(runtime, CASES[name]) == expected


def test_cases_see_what_they_test() -> None:
    # A few anchors, so that the comparison above compares something.
    seen = run_case(plain_runtime(), CASES["running, normal and main coroutines"])
    assert seen.count("cannot resume non-suspended coroutine") == 4
    seen = run_case(plain_runtime(), CASES["bad arguments"])
    assert "case:7: bad argument #1 to 'resume' (thread expected, got string)" in seen
    assert "bad argument #1 to 'coroutine.resume' (thread expected, got nil)" in seen
    seen = run_case(plain_runtime(), CASES["too many values"])
    assert "too many results to resume" in seen and "too many arguments to resume" in seen
    seen = run_case(plain_runtime(), CASES["C stack overflow"])
    assert seen == '2: false, "C stack overflow"\n1: 198'  # at the same depth
    seen = run_case(plain_runtime(), CASES["wrap closes a failed coroutine"])
    assert '1: "case:9: after yield"' in seen  # what __close got


# ----- sandbox -----


def test_lua_code_never_holds_the_slot() -> None:
    runtime, _ = watched_runtime()
    # resume finds the slot in the registry: it has no upvalue to look at or replace
    assert runtime.eval("debug.getupvalue(coroutine.resume, 1)") is None
    assert runtime.eval("debug.setupvalue(coroutine.resume, 1, {})") is None
    # a wrapped function's only upvalue is its coroutine; replacing it fails cleanly
    check = runtime.eval(
        """function()
          local w = coroutine.wrap(function() return 1 end)
          local name, value = debug.getupvalue(w, 1)
          assert(type(value) == "thread")
          debug.setupvalue(w, 1, io.stdout)
          return pcall(w)
        end"""
    )
    assert check() == (False, b"wrapped function lost its coroutine")


def test_opening_without_an_offer_or_twice_gives_nothing() -> None:
    assert LIBRARY is not None
    runtime = plain_runtime()
    opener = runtime.eval("package.loadlib")(LIBRARY.encode(), _watchdog.ENTRY.encode())
    assert opener() is None  # nothing offered: the VM keeps Lua's functions
    watch = new_watch()
    with watch.offered():
        assert opener() is not None
    other = new_watch()
    with other.offered():
        assert opener() is None  # the VM has its slot already
    assert other.interrupt("x") is False


# ----- interrupts -----


def interrupt_soon(watch: Watch, why: str, delay: float = 0.05) -> threading.Timer:
    timer = threading.Timer(delay, watch.interrupt, args=(why,))
    timer.start()
    return timer


# Each loop runs for seconds and then returns: a missed interrupt fails, never hangs.
LOOPS = {
    "main thread": "local n = 0 while n < 3e8 do n = n + 1 end",
    "coroutine": """
        local co = coroutine.create(function() local n = 0 while n < 3e8 do n = n + 1 end end)
        assert(coroutine.resume(co))""",
    "wrapped in created": """
        local co = coroutine.create(function()
          coroutine.wrap(function() for _ = 1, 3e8 do end end)()
        end)
        assert(coroutine.resume(co))""",
    "yielding to and fro": """
        local co = coroutine.wrap(function() while true do coroutine.yield() end end)
        for _ = 1, 1e7 do co() end""",
}


@pytest.mark.parametrize("where", LOOPS)
def test_interrupt_from_another_thread_stops_the_running_state(where: str) -> None:
    runtime, watch = watched_runtime()
    timer = interrupt_soon(watch, "stop right there")
    with pytest.raises(lupa.LuaError, match=r"case:\d+: stop right there"):
        runtime.eval("load")(LOOPS[where].encode(), b"=case")()
    timer.join()
    # The hook removed itself: the runtime runs on, unhooked.
    assert runtime.eval("debug.gethook()") is None
    assert runtime.eval("coroutine.wrap(function() return 7 end)()") == 7


def test_interrupt_caught_by_pcall_and_a_second_one() -> None:
    runtime, watch = watched_runtime()
    loop = runtime.eval(
        """function()
          local ok, err = pcall(function() local n = 0 while n < 3e8 do n = n + 1 end end)
          return ok, err
        end"""
    )
    for why in ("first", "second"):
        timer = interrupt_soon(watch, why)
        ok, err = loop()
        timer.join()
        assert ok is False and err.endswith(why.encode())


CALLS_IN = b"local function f() return 1 end local x = f() return x"


def test_interrupt_of_an_idle_vm_waits_for_the_next_code_to_call_in() -> None:
    # What Python calls directly on the main thread (skynet.lua's
    # dispatch_message) must not raise before it is inside its own error
    # handling: a few instructions there run, the next call in raises.
    runtime, watch = watched_runtime()
    assert watch.interrupt("while idle") is True
    assert runtime.execute(b"local n = 0 for i = 1, 10 do n = n + i end return n") == 55
    with pytest.raises(lupa.LuaError, match=r"^\[string \"<python>\"\]:1: while idle"):
        runtime.execute(CALLS_IN)
    assert runtime.execute(CALLS_IN) == 1


def test_interrupt_in_a_coroutine_does_not_wait() -> None:
    runtime, watch = watched_runtime()
    run = runtime.eval(
        """function(interrupt)
          return coroutine.resume(coroutine.create(function() interrupt(); return "ran on" end))
        end"""
    )
    ok, err = run(lambda: watch.interrupt("now"))
    assert ok is False and err.endswith(b"now")


def test_long_messages_are_cut_to_the_slot() -> None:
    runtime, watch = watched_runtime()
    watch.interrupt("x" * 1000)
    with pytest.raises(lupa.LuaError) as caught:
        runtime.execute(CALLS_IN)
    assert str(caught.value).count("x") == 239


def test_interrupt_after_the_vm_closed_reaches_nothing() -> None:
    runtime, watch = watched_runtime()
    assert watch.interrupt("armed") is True
    del runtime
    gc.collect()
    assert watch.interrupt("too late") is False


def test_slot_dropped_by_the_node_first_still_serves_the_vm() -> None:
    runtime, watch = watched_runtime()
    del watch
    gc.collect()
    assert runtime.eval("coroutine.wrap(function(...) return ... end)(1, 2)") == (1, 2)


class Hammer:
    """A thread interrupting every watch in ``targets``, over and over."""

    def __init__(self) -> None:
        self.targets: list[Watch] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for watch in list(self.targets):
                watch.interrupt("hammer")
            time.sleep(0.0001)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def hammer() -> Iterator[Hammer]:
    running = Hammer()
    yield running
    running.stop()


CHURN = """function(rounds)
  local done = 0
  for i = 1, rounds do
    local ok = pcall(function()
      local co = coroutine.create(function(a)
        for j = 1, 3 do a = a + coroutine.yield(j) end
        return a
      end)
      local _, v = coroutine.resume(co, i)
      while coroutine.status(co) ~= "dead" do _, v = coroutine.resume(co, v) end
      local w = coroutine.wrap(function(x) return coroutine.yield(x) end)
      w(i)
      w(i)
    end)
    if ok then done = done + 1 end
    if i % 20 == 0 then collectgarbage() end
  end
  return done
end"""


def test_hammering_while_coroutines_come_and_go(hammer: Hammer) -> None:
    runtime, watch = watched_runtime()
    churn = runtime.eval(CHURN)
    hammer.targets.append(watch)
    done = interrupted = 0
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        try:
            rounds = churn(200)
        except lupa.LuaError as exc:
            assert "hammer" in str(exc) or "error in error handling" in str(exc), exc
            interrupted += 1
        else:
            done += rounds
            interrupted += 200 - rounds  # caught by the pcall in churn
    hammer.stop()
    assert done > 0 and interrupted > 0
    try:  # the last interrupt may still be pending
        runtime.execute(CALLS_IN)
    except lupa.LuaError as exc:
        assert "hammer" in str(exc)
    assert churn(100) == 100  # and nothing is left armed


def test_hammering_while_vms_open_and_close(hammer: Hammer) -> None:
    watches = []
    for _ in range(100):
        runtime, watch = watched_runtime()
        hammer.targets.append(watch)
        watches.append(watch)
        try:
            runtime.eval(CHURN)(20)
        except lupa.LuaError as exc:
            assert "hammer" in str(exc)
        del runtime
        if len(hammer.targets) > 10:
            del hammer.targets[0]
    gc.collect()
    assert not any(watch.interrupt("after") for watch in watches)


# ----- loading and choosing -----


def test_watchdog_library_is_built_into_the_package() -> None:
    assert LIBRARY is not None and WHY == ""
    assert Path(LIBRARY).parent == Path(_watchdog.__file__).resolve().parent
    assert Path(LIBRARY).name.startswith("_lwatchdog")


def test_missing_or_broken_library_is_refused_with_a_reason(tmp_path: Path) -> None:
    path, why = _watchdog.load_library(None)
    assert path is None and "_lwatchdog extension is not in" in why
    junk = tmp_path / "_lwatchdog.so"
    junk.write_bytes(b"not a library")
    path, why = _watchdog.load_library(junk)
    assert path is None and why.startswith("_lwatchdog.so: ")


def test_choose_watchdog() -> None:
    assert LIBRARY is not None
    logged: list[str] = []
    for setting in (None, "auto", "c"):
        assert choose_watchdog(setting, logged.append) == LIBRARY.encode()
    assert choose_watchdog("lua", logged.append) is None
    assert logged == []
    missing = (None, "no compiler")
    assert choose_watchdog("auto", logged.append, missing) is None
    assert logged == [
        "runaway_check: C watchdog unavailable, services run under a Lua count hook (no compiler)"
    ]
    with pytest.raises(SkyletError, match=r'runaway_check = "c" but .* unavailable: no compiler'):
        choose_watchdog("c", logged.append, missing)
    with pytest.raises(SkyletError, match="runaway_check must be one of auto, c, lua, not 'C'"):
        choose_watchdog("C", logged.append)
