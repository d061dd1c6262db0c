"""sproto's Lua API on skylet: schema queries, RPC, defaults, and bad input.

Bad input is a clear Lua error in the caller, never a crash: values of the
wrong type, garbage and truncated packets, broken schema bundles.
"""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from sproto_support import CORES, Lua, bundle


@pytest.fixture(scope="module", params=CORES)
def lua(request: pytest.FixtureRequest) -> Lua:
    return Lua(request.param)


@pytest.fixture(scope="module")
def game(lua: Lua) -> Any:
    return lua.func("function(bin) return sproto.new(bin) end")(bundle("game"))


def error_of(lua: Lua, code: str, *args: Any) -> str:
    """The message of the error `code` (a function body over sp, ...) raises."""
    fn = lua.func(
        "function(...) local ok, err = pcall(function(sp, ...) " + code + " end, ...) "
        "assert(not ok, 'no error') return tostring(err) end"
    )
    return fn(*args).decode()


def test_exist_type_and_exist_proto(lua: Lua, game: Any) -> None:
    check = lua.func(
        """function(sp)
        return sp:exist_type("Player"), sp:exist_type("Player.Attr"), sp:exist_type("Nope"),
            sp:exist_proto("login"), sp:exist_proto(2), sp:exist_proto("nope"), sp:exist_proto(99),
            sp:exist_proto(2.5), sp:exist_proto(2.0)
        end"""
    )
    assert check(game) == (True, True, False, True, True, False, False, False, True)


def test_request_and_response_encode_decode(lua: Lua, game: Any) -> None:
    run = lua.func(
        """function(sp)
        local req, tag = sp:request_encode("login", { account = "a", version = 2 })
        local args, name = sp:request_decode("login", req)
        local resp = sp:response_encode("login", { ok = true })
        local none, tag2 = sp:request_encode("heartbeat", { ignored = 1 })
        local nothing, name2 = sp:request_decode("heartbeat", "")
        return tag, dump(args), name, dump(sp:response_decode("login", resp)),
            none, tag2, nothing, name2, sp:response_encode("move"), sp:response_decode("move", "")
        end"""
    )
    assert run(game) == (
        1,
        b'{["account"]="a",["version"]=2}',
        b"login",
        b'{["ok"]=true}',
        b"",
        3,
        None,
        b"heartbeat",
        b"",
    )  # lupa drops the trailing nil


def test_decode_fills_a_given_table_and_says_how_many_bytes_it_used(lua: Lua, game: Any) -> None:
    run = lua.func(
        """function(sp)
        local bin = sp:encode("Item", { id = 1, name = "x" })
        local into = { kept = true }
        local t, n = sp:decode("Item", bin .. "trailing bytes", into)
        return t == into, dump(into), n, #bin
        end"""
    )
    same, text, used, size = run(game)
    assert same and used == size
    assert text == b'{["id"]=1,["kept"]=true,["name"]="x"}'


def test_pencode_and_pdecode(lua: Lua, game: Any) -> None:
    run = lua.func(
        """function(sp)
        local v = { id = math.maxinteger, neg = math.mininteger, tags = { "a", "b" } }
        local packed = sp:pencode("Player", v)
        return #packed < #sp:encode("Player", v), dump(sp:pdecode("Player", packed)) == dump(v)
        end"""
    )
    assert run(game) == (True, True)


def test_maps_round_trip(lua: Lua, game: Any) -> None:
    run = lua.func(
        """function(sp)
        local v = { items = {}, attrs = {} }
        for i = 1, 40 do
            v.items[i * 7] = { id = i * 7, count = i }
            v.attrs["k" .. i] = -i
        end
        return dump(sp:decode("Player", sp:encode("Player", v))) == dump(v)
        end"""
    )
    assert run(game) is True


def test_default(lua: Lua, game: Any) -> None:
    run = lua.func(
        """function(sp)
        return dump(sp:default("Item")), dump(sp:default("login", "REQUEST")),
            dump(sp:default("Player").pos), dump(sp:default("Player").items),
            sp:default("move", "RESPONSE"), sp:default("heartbeat", "REQUEST")
        end"""
    )
    assert run(game) == (
        b'{["count"]=0,["id"]=0,["name"]=""}',
        b'{["account"]="",["token"]="",["version"]=0}',
        b'{["__type"]="Vec3"}',
        b'{["__array"]="Item"}',
        None,
    )  # and the last nil, dropped by lupa
    assert "Invalid type" in error_of(lua, 'sp:default("login", "BOTH")', game)


def test_rpc_sessions(lua: Lua, game: Any) -> None:
    run = lua.func(
        """function(sp)
        local client, server = sp:host "package", sp:host "package"
        local request = client:attach(sp)
        local out = {}
        -- two requests in flight, answered out of order
        local _, _, a1, r1 = server:dispatch(request("login", { account = "one" }, 10))
        local _, _, a2, r2 = server:dispatch(request("login", { account = "two" }, 11))
        local k, s, res = client:dispatch(r2({ ok = false }))
        out[#out + 1] = k .. " " .. s .. " " .. tostring(res.ok) .. " " .. a2.account
        k, s, res = client:dispatch(r1({ ok = true }))
        out[#out + 1] = k .. " " .. s .. " " .. tostring(res.ok) .. " " .. a1.account
        -- `response nil`: the answer carries no body
        local _, name, _, r3 = server:dispatch(request("move", { x = 1 }, 12))
        k, s, res = client:dispatch(r3())
        out[#out + 1] = k .. " " .. s .. " " .. tostring(res) .. " " .. name
        -- a session answered once is gone
        local ok, err = pcall(client.dispatch, client, r1({ ok = true }))
        out[#out + 1] = tostring(err)
        return table.concat(out, "|")
        end"""
    )
    lines = run(game).decode().split("|")
    assert lines[:3] == ["RESPONSE 11 false two", "RESPONSE 10 true one", "RESPONSE 12 nil move"]
    assert re.fullmatch(r".*sproto\.lua:\d+: Unknown session", lines[3])


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ('sp:encode("Item", { id = "seven" })', "Item.id[0] is not an integer (Is a string)"),
        ('sp:encode("Item", { id = 1.5 })', "Item.id[0] is not an integer (Is a number)"),
        ('sp:encode("Item", { name = 7 })', "Item.name[0] is not a string (Is a number)"),
        ('sp:encode("Player", { online = 1 })', "Player.online[0] is not a boolean (Is a number)"),
        (
            'sp:encode("Player", { scores = { 1, "x" } })',
            "Player.scores[2] is not an integer (Is a string)",
        ),
        (
            'sp:encode("Player", { flags = { true, 0 } })',
            "Player.flags[2] is not a boolean (Is a number)",
        ),
        (
            'sp:encode("Player", { tags = { "a", {} } })',
            "Player.tags[2] is not a string (Is a table)",
        ),
        ('sp:encode("Player", { pos = 5 })', "Player.pos[0] is not a table (Is a number)"),
        (
            'sp:encode("Player", { friends = { 5 } })',
            "Player.friends[1] is not a table (Is a number)",
        ),
        (
            'sp:encode("Player", { tags = "abc" })',
            "Player.tags(1) should be a table or an userdata with metamethods (Is a string)",
        ),
        ('sp:encode("Player", nil)', "sproto encode Player: expected a table, got nil"),
        ('sp:encode("Nope", {})', "type not found: Nope"),
        ('local t = { id = 1 } t.friends = { t } sp:encode("Player", t)', "The table is too deep"),
        ('sp:request_encode("nope", {})', "nope not found"),
        ('sp:response_encode("move", {})', "bad argument #2 to 'encode' (nil expected, got table)"),
    ],
)
def test_encoding_a_wrong_value_is_a_clear_error(
    lua: Lua, game: Any, code: str, error: str
) -> None:
    assert error_of(lua, code, game).endswith(error)


def test_numeric_strings_and_integral_floats_are_integers(lua: Lua, game: Any) -> None:
    # as sproto's C binding reads them (lua_tointegerx)
    run = lua.func(
        """function(sp)
        return dump(sp:decode("Item", sp:encode("Item", { id = "12", count = 3.0 })))
        end"""
    )
    assert run(game) == b'{["count"]=3,["id"]=12}'


@pytest.mark.parametrize(
    ("packet", "error"),
    [
        (b"", "decode error: truncated header (Item)"),
        (b"\x01", "decode error: truncated header (Item)"),
        (b"\x02\x00\x00\x00", "decode error: truncated header (Item)"),
        (b"\x01\x00\x00\x00\x05\x00\x00\x00ab", "decode error: truncated data (Item)"),
        (b"\x01\x00\x00\x00\x05\x00", "decode error: truncated data (Item)"),
        (
            b"\x02\x00\x01\x00\x00\x00\x03\x00\x00\x00\x01\x02\x03",
            "decode error: bad integer size of count (Item)",
        ),
        (b"\x02\x00\x03\x00\x04\x00", "decode error: bad value of name (Item)"),
    ],
)
def test_a_broken_packet_is_a_decode_error(lua: Lua, game: Any, packet: bytes, error: str) -> None:
    assert error_of(lua, 'return sp:decode("Item", ...)', game, packet) == error


@pytest.mark.parametrize(
    ("packet", "error"),
    [
        (b"\xff", "Invalid unpack stream"),
        (b"\xff\x00\x01\x02", "Invalid unpack stream"),
        (b"\x03\x01", "Invalid unpack stream"),
    ],
)
def test_a_broken_packed_stream_is_an_unpack_error(
    lua: Lua, game: Any, packet: bytes, error: str
) -> None:
    assert error_of(lua, "return sproto.unpack(...)", game, packet) == error
    assert error_of(lua, "return sp:host('package'):dispatch(...)", game, packet) == error


def test_dispatch_of_a_bad_rpc_packet_is_a_clear_error(lua: Lua, game: Any) -> None:
    packs = lua.func(
        """function(sp)
        local p = sp:host "package"
        return sproto.pack(sp:encode("package", { type = 99, session = 1 })),
            sproto.pack(sp:encode("package", {})),
            sproto.pack(sp:encode("package", { session = 5 }))
        end"""
    )
    unknown_proto, no_session, unknown_session = packs(game)
    dispatch = "return sp:host('package'):dispatch(...)"
    assert error_of(lua, dispatch, game, unknown_proto).endswith("99 not found")
    assert error_of(lua, dispatch, game, no_session).endswith("session not found")
    assert error_of(lua, dispatch, game, unknown_session).endswith("Unknown session")


def test_garbage_never_crashes_decoding(lua: Lua, game: Any) -> None:
    # Every prefix and random corruption of a real packet decodes or raises a
    # Lua error with a message; nothing else (no Python exception, no hang).
    fuzz = lua.func(
        """function(sp, packets)
        local errors, decoded = {}, 0
        for _, p in ipairs(packets) do
            local ok, err = pcall(sp.decode, sp, "Player", p)
            if ok then decoded = decoded + 1 else errors[#errors + 1] = err end
            ok, err = pcall(sp.pdecode, sp, "Player", p)
            if ok then decoded = decoded + 1 else errors[#errors + 1] = err end
        end
        return decoded, errors
        end"""
    )
    from sproto_support import VECTORS

    good = bytes.fromhex(next(m for m in VECTORS["messages"] if m["name"] == "player")["encoded"])
    rng = random.Random(14)
    packets = [good[:n] for n in range(len(good))]
    for _ in range(400):
        bad = bytearray(good)
        for _ in range(rng.randint(1, 6)):
            bad[rng.randrange(len(bad))] = rng.randrange(256)
        packets.append(bytes(bad))
    packets += [rng.randbytes(rng.randint(0, 64)) for _ in range(200)]
    table = lua.runtime.table_from(packets)
    decoded, errors = fuzz(game, table)
    messages = {bytes(e).decode(errors="replace") for e in errors.values()}
    assert decoded > 0 and messages
    allowed = ("decode error", "Invalid unpack stream", "Can't find", "The table is too deep")
    assert all(m.startswith(allowed) for m in messages), messages - {
        m for m in messages if m.startswith(allowed)
    }


@pytest.mark.parametrize(
    "bundle_bytes",
    [b"", b"\x05\x00", b"\x01\x00\x00\x00\x10\x00\x00\x00", b"\x03\x00\x00\x00\x00\x00\x00\x00"],
)
def test_a_broken_schema_bundle_is_a_clear_error(lua: Lua, bundle_bytes: bytes) -> None:
    err = error_of(lua, "return sproto.new(...)", None, bundle_bytes)
    assert "invalid sproto schema bundle" in err


def test_every_truncated_bundle_is_refused(lua: Lua) -> None:
    good = bundle("game")
    check = lua.func("function(bin) return (core.newproto(bin)) ~= nil end")
    assert check(good)
    assert not any(check(good[:n]) for n in range(len(good)))
