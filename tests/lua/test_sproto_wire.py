"""skylet's sproto writes and reads skynet's bytes: the vectors skynet's own
sprotoparser and sproto.core wrote (tests/sproto_vectors.json)."""

from __future__ import annotations

from typing import Any

import pytest

from sproto_support import CORES, VECTORS, Lua, bundle, schema_text


@pytest.fixture(scope="module", params=CORES)
def lua(request: pytest.FixtureRequest) -> Lua:
    return Lua(request.param)


SCHEMAS = sorted(name for name, s in VECTORS["schemas"].items() if s["bundle"] != "ERROR")


@pytest.mark.parametrize("name", SCHEMAS)
def test_parser_writes_skynets_bundle(lua: Lua, name: str) -> None:
    parse = lua.func("parser.parse")
    assert parse(schema_text(name)).hex() == VECTORS["schemas"][name]["bundle"]


MESSAGES = {m["name"]: m for m in VECTORS["messages"]}


@pytest.fixture(scope="module")
def codec(lua: Lua) -> Any:
    return lua.func(
        """{
        encode = function(bin, typename, src)
            local v = assert(load("return " .. src))()
            return sproto.new(bin):encode(typename, v)
        end,
        decode = function(bin, typename, data)
            local v, n = sproto.new(bin):decode(typename, data)
            return dump(v), n
        end,
        }"""
    )


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_encode_gives_skynets_bytes(codec: Any, name: str) -> None:
    m = MESSAGES[name]
    got = codec.encode(bundle(m["schema"]), m["type"].encode(), m["source"].encode("latin-1"))
    assert got.hex() == m["encoded"]


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_decode_of_skynets_bytes_gives_skynets_values(codec: Any, name: str) -> None:
    m = MESSAGES[name]
    encoded = bytes.fromhex(m["encoded"])
    text, used = codec.decode(bundle(m["schema"]), m["type"].encode(), encoded)
    assert text == bytes.fromhex(m["decoded"])
    assert used == len(encoded)


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_packed_messages_match_skynets(lua: Lua, name: str) -> None:
    m = MESSAGES[name]
    pack, unpack = lua.func("core.pack"), lua.func("core.unpack")
    assert pack(bytes.fromhex(m["encoded"])).hex() == m["packed"]
    unpacked = unpack(bytes.fromhex(m["packed"]))
    assert unpacked[: len(m["encoded"]) // 2].hex() == m["encoded"]
    assert len(unpacked) % 8 == 0 and set(unpacked[len(m["encoded"]) // 2 :]) <= {0}


@pytest.mark.parametrize("case", VECTORS["packs"], ids=lambda case: case["name"])
def test_zero_packing_matches_skynets(lua: Lua, case: dict[str, str]) -> None:
    pack, unpack = lua.func("core.pack"), lua.func("core.unpack")
    raw = bytes.fromhex(case["raw"])
    assert lua.func(case["source"]) == raw
    assert pack(raw).hex() == case["packed"]
    assert unpack(bytes.fromhex(case["packed"])).hex() == case["unpacked"]


RPC = {name: bytes.fromhex(h) for name, h in VECTORS["rpc"].items()}


def test_rpc_requests_match_skynets(lua: Lua) -> None:
    requests = lua.func(
        """function(bin)
        local sp = sproto.new(bin)
        local request = sp:host("package"):attach(sp)
        return request("login", { account = "alice", token = "\\1\\0\\2", version = 3 }, 1),
            request("move", { x = 1, y = 2, z = 3 }, 2),
            request("heartbeat"),
            request("chat", { text = "hi" }, nil, "ud!")
        end"""
    )
    login, move, heartbeat, chat = requests(bundle("game"))
    assert login == RPC["login_request"]
    assert move == RPC["move_request"]
    assert heartbeat == RPC["heartbeat_push"]
    assert chat == RPC["chat_ud"]


def test_a_skylet_server_answers_skynet_requests_as_skynet_does(lua: Lua) -> None:
    serve = lua.func(
        """function(bin, login, move, chat)
        local server = sproto.new(bin):host "package"
        local kind, name, args, respond = server:dispatch(login)
        assert(kind == "REQUEST" and name == "login", name)
        assert(args.account == "alice" and args.token == "\\1\\0\\2" and args.version == 3)
        local answer = respond({ ok = true, player = { id = 1, name = "Alice" } })
        local _, mname, margs, mrespond = server:dispatch(move)
        assert(mname == "move" and margs.x == 1.0 and margs.z == 3.0)
        local _, cname, cargs, crespond, ud = server:dispatch(chat)
        assert(cname == "chat" and cargs.text == "hi" and crespond == nil and ud == "ud!")
        return answer, mrespond(nil, "done")
        end"""
    )
    login_answer, move_answer = serve(
        bundle("game"), RPC["login_request"], RPC["move_request"], RPC["chat_ud"]
    )
    assert login_answer == RPC["login_response"]
    assert move_answer == RPC["move_response"]


def test_a_skylet_client_reads_skynet_responses(lua: Lua) -> None:
    client = lua.func(
        """function(bin, login_response, move_response)
        local sp = sproto.new(bin)
        local host = sp:host "package"
        local request = host:attach(sp)
        request("login", { account = "alice" }, 1)
        request("move", { x = 1 }, 2)
        local kind, session, result = host:dispatch(login_response)
        assert(kind == "RESPONSE" and session == 1)
        local mkind, msession, mresult, ud = host:dispatch(move_response)
        return dump(result), msession, mresult == nil, ud
        end"""
    )
    result, session, empty, ud = client(bundle("game"), RPC["login_response"], RPC["move_response"])
    assert result == b'{["ok"]=true,["player"]={["id"]=1,["name"]="Alice"}}'
    assert (session, empty, ud) == (2, True, b"done")
