"""The C sproto core and the Lua one agree: the same bytes for the same values,
the same values or the same error for the same (random, corrupted) packets."""

from __future__ import annotations

import random
from typing import Any

import pytest

from skylet._lua._sproto_accel import sproto_library
from sproto_support import Lua, bundle

pytestmark = pytest.mark.skipif(sproto_library()[0] is None, reason="no C sproto core")

# Random Player values from a seeded generator (Lua 5.4's xoshiro256** gives
# both runtimes the same sequence). Maps get at most one entry: the order of
# several follows each VM's string hashing, which differs between VMs.
GENERATE = r"""function(seed)
    math.randomseed(seed)
    local r = math.random
    local function str()
        local t = {}
        for i = 1, r(0, 12) do t[i] = string.char(r(0, 255)) end
        return table.concat(t)
    end
    local function int()
        local k = r(1, 5)
        if k == 1 then return r(0, 0x7ffe)
        elseif k == 2 then return r(-2^31, 2^31 - 1)
        elseif k == 3 then return r(math.mininteger, math.maxinteger)
        elseif k == 4 then return -r(1, 100)
        else return r(0x7fff, 0x10000) end
    end
    local function player(depth)
        local p = {}
        if r(2) == 1 then p.id = int() end
        if r(2) == 1 then p.name = str() end
        if r(2) == 1 then p.level = int() end
        if r(2) == 1 then p.hp = r(-100000, 100000) / 100 end
        if r(2) == 1 then p.pos = { x = r() * 1e6, y = -r(), z = r(1, 9) } end
        if r(2) == 1 then p.online = r(2) == 1 end
        if r(2) == 1 then
            local id = int()
            p.items = { [id] = { id = id, count = int(), name = str() } }
        end
        if r(2) == 1 then p.tags = {} for i = 1, r(0, 4) do p.tags[i] = str() end end
        if r(2) == 1 then p.scores = {} for i = 1, r(0, 6) do p.scores[i] = int() end end
        if r(2) == 1 then p.flags = {} for i = 1, r(0, 5) do p.flags[i] = r(2) == 1 end end
        if r(2) == 1 then p.avatar = str() end
        if r(2) == 1 then p.attrs = { [str()] = int() } end
        if r(2) == 1 then
            p.rates = {}
            for i = 1, r(0, 3) do p.rates[i] = (r() - 0.5) * 10 ^ r(-300, 300) end
        end
        if r(2) == 1 then
            p.prices = {}
            for i = 1, r(0, 3) do p.prices[i] = r(-10^9, 10^9) / 1000 end
        end
        if depth < 3 and r(3) == 1 then
            p.friends = {}
            for i = 1, r(0, 2) do p.friends[i] = player(depth + 1) end
        end
        if r(2) == 1 then p.speed = r() end
        if r(2) == 1 then p.big = int() end
        if r(2) == 1 then p.neg = int() end
        return p
    end
    local sp = sproto.new(BIN)
    local out = {}
    for i = 1, 60 do
        local bin = sp:encode("Player", player(0))
        out[i] = bin
    end
    return out
end"""

DECODE = r"""function(packets)
    local sp = sproto.new(BIN)
    local out = {}
    for i, p in ipairs(packets) do
        local ok, v = pcall(sp.decode, sp, "Player", p)
        local ok2, v2 = pcall(sp.pdecode, sp, "Player", p)
        out[i] = (ok and dump(v) or "error: " .. tostring(v)) .. " | "
            .. (ok2 and dump(v2) or "error: " .. tostring(v2))
    end
    return out
end"""


@pytest.fixture(scope="module")
def cores() -> dict[str, Any]:
    found = {}
    for name in ("lua", "c"):
        lua = Lua(name)
        lua.runtime.globals()[b"BIN"] = bundle("game")
        found[name] = lua
    return found


def values(table: Any) -> list[Any]:
    return [table[i] for i in range(1, len(table) + 1)]


@pytest.mark.parametrize("seed", range(8))
def test_the_same_values_give_the_same_bytes(cores: dict[str, Any], seed: int) -> None:
    lua_bytes = values(cores["lua"].func(GENERATE)(seed))
    c_bytes = values(cores["c"].func(GENERATE)(seed))
    assert lua_bytes == c_bytes
    assert len(set(lua_bytes)) > 50  # really different messages


def test_the_same_packets_give_the_same_values_or_errors(cores: dict[str, Any]) -> None:
    good = values(cores["c"].func(GENERATE)(99))
    rng = random.Random(5)
    packets = []
    for packet in good:
        packets.append(packet)
        for _ in range(5):
            bad = bytearray(packet)
            for _ in range(rng.randint(1, 4)):
                bad[rng.randrange(len(bad))] = rng.randrange(256)
            packets.append(bytes(bad[: rng.randint(0, len(bad))] if rng.random() < 0.3 else bad))
    results = {}
    for name, lua in cores.items():
        results[name] = values(lua.func(DECODE)(lua.runtime.table_from(packets)))
    assert results["lua"] == results["c"]
    assert any(b"error: " in r for r in results["c"]) and any(
        b"error: " not in r for r in results["c"]
    )
