"""What an agent holding a large shared config table costs.

Runs ``bench/shareddata/bench_shared.lua`` (it runs unchanged on skynet)
for sharetable, sharedata and datasheet, touching the whole table or one
record, one fresh node per case, and prints the ``BENCH`` figures:
``rss_kb_per_agent`` and ``lua_kb_per_agent`` are what an agent holding
the table costs beyond an agent that holds nothing.

Usage: ``python bench/shared_memory.py [--agents 50] [--records 5000]
[--skynet DIR]``; with ``--skynet`` (a built skynet tree) each case also
runs on skynet, side by side.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent / "shareddata"
LIBS = ("sharetable", "sharedata", "datasheet")
TOUCH = ("one", "all")


def _config(extra: dict[str, object], skynet_root: Path | None) -> str:
    lines = [f'{k} = "{v}"' for k, v in extra.items()]
    if skynet_root is None:
        lines += ["thread = 1", 'start = "bench_shared"', f'luaservice = "{HERE}/?.lua"']
    else:
        root = f"{skynet_root}/"
        lines += [
            "thread = 1",
            "harbor = 0",
            'start = "bench_shared"',
            'bootstrap = "snlua bootstrap"',
            f'cpath = "{root}cservice/?.so"',
            f'luaservice = "{root}service/?.lua;{HERE}/?.lua"',
            f'lualoader = "{root}lualib/loader.lua"',
            f'lua_path = "{root}lualib/?.lua;{root}lualib/?/init.lua"',
            f'lua_cpath = "{root}luaclib/?.so"',
        ]
    return "\n".join(lines) + "\n"


def run(extra: dict[str, object], skynet_root: Path | None) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "config.lua"
        cfg.write_text(_config(extra, skynet_root))
        if skynet_root is None:
            cmd = [sys.executable, "-m", "skylet", "run", str(cfg)]
            cwd = tmp
        else:
            cmd = [str(skynet_root / "skynet"), str(cfg)]
            cwd = str(skynet_root)
        out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600).stdout
    for line in out.splitlines():
        if line.startswith("BENCH"):
            return line
    return "no BENCH line:\n" + out[-2000:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--skynet", type=Path, help="a built skynet tree, to run it side by side")
    args = parser.parse_args()
    for lib in LIBS:
        for touch in TOUCH:
            extra = {"shared_lib": lib, "touch": touch, "agents": args.agents}
            extra["records"] = args.records
            print("skylet", run(extra, None), flush=True)
            if args.skynet:
                print("skynet", run(extra, args.skynet.resolve()), flush=True)


if __name__ == "__main__":
    main()
