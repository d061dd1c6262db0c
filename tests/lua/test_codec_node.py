"""Services pack with the C codec when the node has it; ``msgpack = "lua"`` falls back."""

from __future__ import annotations

from pathlib import Path

import pytest

import skylet
from skylet import SkyletError

SERVICES = Path(__file__).resolve().parents[1] / "services" / "codec"

MOVE = {"id": 7, "x": 1.5, "y": -2, "tag": "unit"}


def config(**extra: object) -> dict[str, object]:
    return {"luaservice": f"{SERVICES}/?.lua", **extra}


@pytest.mark.parametrize(
    ("setting", "codec"), [(None, "c"), ("auto", "c"), ("c", "c"), ("lua", "lua")]
)
async def test_service_codec_follows_config(setting: str | None, codec: str) -> None:
    lines: list[str] = []
    extra = {} if setting is None else {"msgpack": setting}
    async with skylet.open_node(config(**extra), log=lines.append) as node:
        probe = await node.newservice("codec_probe")
        assert await node.call(probe, "lua", "which") == codec
        assert await node.call(probe, "lua", "sealed") == (True, "", codec == "c")
        got = await node.call(probe, "lua", "relay", "move", MOVE, None, b"\xff\x00", 2**40)
        assert got == ("move", MOVE, None, b"\xff\x00", 2**40)
        assert type(got[1]["x"]) is float and type(got[1]["y"]) is int
    assert not [line for line in lines if "msgpack" in line]


async def test_bad_msgpack_setting_is_a_config_error() -> None:
    with pytest.raises(SkyletError, match="msgpack must be one of auto, c, lua, not 'fast'"):
        async with skylet.open_node(config(msgpack="fast")):
            pass  # pragma: no cover - the node does not start
