"""µs per skynet.pack / skynet.unpack of typical messages: C codec vs Lua codec.

Timed inside Lua with os.clock, so the figures are the codec's own cost
(plus one Lua->C call for the C codec), not lupa's. Usage:

    python bench/codec.py [iterations]    (default 500000)
"""

from __future__ import annotations

import sys
from pathlib import Path

import lupa.lua54 as lupa

from skylet._lua import _accel

LUALIB = Path(_accel.__file__).resolve().parent / "lualib"

BENCH = r"""
local mp, iterations = ...
local pack, unpack, clock = mp.pack, mp.unpack, os.clock
local cases = {
    {"move", function(i) return "move", {id = i, x = 1.5, y = -2, tag = "unit"} end},
    {"ping", function(i) return "ping", i end},
}
local out = {}
for _, case in ipairs(cases) do
    local name, make = case[1], case[2]
    -- the message is built outside the timed loops: only the codec is timed
    local a, b = make(12345)
    local msg = pack(a, b)
    for i = 1, iterations // 10 do pack(a, b); unpack(msg) end  -- warm up
    local t0 = clock()
    for _ = 1, iterations do pack(a, b) end
    local t1 = clock()
    for _ = 1, iterations do unpack(msg) end
    local t2 = clock()
    out[#out + 1] = string.format("%s\t%d\t%.3f\t%.3f", name, #msg,
        (t1 - t0) / iterations * 1e6, (t2 - t1) / iterations * 1e6)
end
return table.concat(out, "\n")
"""


def run(codec: str, iterations: int) -> list[list[str]]:
    runtime = lupa.LuaRuntime(register_eval=False, register_builtins=False, encoding=None)
    if codec == "c":
        path, why = _accel.codec_library()
        if path is None:
            raise SystemExit(f"C codec unavailable: {why}")
        module = _accel.open_in(runtime, path)
    else:
        runtime.execute(f'package.path = "{LUALIB}/?.lua"'.encode())
        module = runtime.eval('(require "skylet.msgpack")')
    text = runtime.execute(BENCH.encode(), module, iterations).decode()
    return [line.split("\t") for line in text.splitlines()]


def main() -> None:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 500_000
    results = {codec: run(codec, iterations) for codec in ("c", "lua")}
    print(f"codec µs per call, {iterations} iterations, timed in Lua with os.clock")
    print(f"{'message':8} {'bytes':>5} {'codec':5} {'pack µs':>8} {'unpack µs':>9}")
    for i in range(len(results["c"])):
        for codec in ("c", "lua"):
            name, size, pack_us, unpack_us = results[codec][i]
            print(f"{name:8} {size:>5} {codec:5} {float(pack_us):8.3f} {float(unpack_us):9.3f}")
    for i, row in enumerate(results["c"]):
        name = row[0]
        speedup_pack = float(results["lua"][i][2]) / float(row[2])
        speedup_unpack = float(results["lua"][i][3]) / float(row[3])
        print(f"{name}: C is {speedup_pack:.1f}x faster to pack, {speedup_unpack:.1f}x to unpack")


if __name__ == "__main__":
    main()
