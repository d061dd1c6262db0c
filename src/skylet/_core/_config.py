"""Load a node config written in skynet's config format.

A config file is Lua source, evaluated once in a throwaway, sandboxed Lua 5.4 VM::

    thread = 8
    harbor = 0
    root = "$HOME/game/"            -- $NAME is replaced by an environment variable
    luaservice = root .. "service/?.lua"
    include "common.lua"            -- relative to the directory of this file

Every global assigned becomes a config key; all files share one environment, so
later assignments win, across ``include`` too.  As in skynet, ``$NAME`` (``$``
then letters, digits, ``_``) is replaced textually in the whole source before
compiling, comments included: an unset variable is an error even in a comment.
Config code sees no standard library (no ``os``, ``io``, ``print``, ``require``,
``load``), only ``include``, operators and string methods.  Values must be
strings, numbers or booleans; ``env_string`` gives what ``skynet.getenv`` returns.
"""

from __future__ import annotations

import errno
import math
import os
import re
import stat
from collections.abc import Mapping

from lupa import lua54

from ._errors import ConfigError

ConfigValue = str | int | float | bool

_MAX_MEMORY = 64 * 1024 * 1024  # bytes the config VM may allocate
_BUDGET = 10_000_000  # Lua VM instructions config code may run
_VAR = re.compile(rb"\$([A-Za-z0-9_]+)")  # Lua's %$([%w_%d]+) in the C locale
_BAD_VALUE = "must be a string, number or boolean, not"
_NEWLINE = re.compile(rb"\n\r?|\r\n?")  # what Lua's lexer counts as one line break

# Runs with the real globals; config chunks only ever see `env`.  `open` (the
# Python reader) is an upvalue of `include` only: unreachable without `debug`.
# Chunks are named "@<n>" with files[n] the real name, because Lua cuts chunk
# names longer than 60 bytes in messages; positions are mapped back below, and
# our own errors are tables so Lua adds no position (or chunk name) to them.
_LOADER = b"""
local open, name, key, code, budget = ...
local getinfo, sethook, load, error, type = debug.getinfo, debug.sethook, load, error, type
local values, lines, active, files, current, env = {}, {}, {}, {}, name, nil
local function fail(message) error({message}, 0) end
local function unmangle(message)  -- "<n>:line: msg" -> "file:line: msg"
  return (message:gsub("^(%d+):", function(n) return (files[tonumber(n)] or n) .. ":" end, 1))
end
local function locate(level)  -- "file:line" of the nearest config code at or above level
  for i = level + 1, math.huge do
    local info = getinfo(i, "Sl")
    if not info then return current end
    local src = info.source
    if src:sub(1, 1) == "@" then return files[tonumber(src:sub(2))] .. ":" .. info.currentline end
  end
end
local function run(file, file_key, source)
  files[#files + 1] = file
  local chunk, err = load(source, "@" .. #files, "t", env)
  if not chunk then fail(unmangle(err)) end
  local outer = current
  active[file_key], current = true, file
  chunk()
  active[file_key], current = nil, outer
end
local function include(path)
  -- after `return include "x"` the caller's frame is gone: name only the file
  local here = getinfo(1, "t").istailcall and current or locate(2)
  if type(path) ~= "string" then fail(here .. ": include: bad file name " .. type(path)) end
  local file, file_key, source = open(current, path)
  if file == nil then fail(here .. ": include: " .. file_key) end
  if file == false then fail(file_key) end
  if active[file_key] then fail(here .. ": include: cycle through " .. file) end
  run(file, file_key, source)
end
env = setmetatable({}, {
  __index = function(_, k)
    if k == "include" and values[k] == nil then return include end
    return values[k]
  end,
  __newindex = function(_, k, v)  -- env stays empty so every assignment lands here
    if type(k) ~= "string" then fail(locate(2) .. ": config key is a " .. type(k)) end
    values[k], lines[k] = v, locate(2)
  end,
})
sethook(function() fail(locate(2) .. ": config code ran too long") end, "", budget)
local ok, err = pcall(run, name, key, code)
sethook()
if ok then return values, lines end
return nil, type(err) == "table" and err[1] or unmangle(err)
"""


def _text(data: bytes) -> str:
    """Decode bytes from Lua for a message, keeping undecodable bytes visible."""
    return data.decode("utf-8", "backslashreplace")


def _one_line(message: str) -> str:
    return " ".join(message.splitlines())


def _read(file: str) -> bytes:
    """Read a config file: a regular file only (not a FIFO or /dev/zero), size-capped."""
    if "\0" in file:  # os.stat would raise ValueError
        raise OSError(errno.EINVAL, "NUL byte in file name")
    if not stat.S_ISREG(os.stat(file).st_mode):
        raise OSError(errno.EINVAL, "not a regular file")
    with open(file, "rb") as f:
        data = f.read(_MAX_MEMORY + 1)
    if len(data) > _MAX_MEMORY:
        raise OSError(errno.EFBIG, "file too large")
    return data


def _substitute(source: bytes, file: str) -> bytes:
    """Replace every ``$NAME`` in ``source`` by the environment variable NAME."""

    def replace(match: re.Match[bytes]) -> bytes:
        name = match.group(1).decode("ascii")
        value = os.environ.get(name)
        if value is None:
            line = 1 + len(_NEWLINE.findall(source, 0, match.start()))
            raise ConfigError(_one_line(f"{file}:{line}: environment variable {name} is not set"))
        return os.fsencode(value)

    return _VAR.sub(replace, source)


def _open(current: bytes, path: bytes) -> tuple[object, ...]:
    """Read a file ``include``d from ``current`` for the loader, never raising.

    Returns ``(file, key, source)``, or ``(None, why)`` if it cannot be read,
    or ``(False, message)`` if a ``$NAME`` is unset.
    """
    file = os.path.join(os.path.dirname(os.fsdecode(current)), os.fsdecode(path))
    try:
        data = _read(file)
        key = os.path.normcase(os.path.realpath(file))  # identity for cycle detection
    except FileNotFoundError:
        return None, os.fsencode(f"cannot open {file}")
    except OSError as e:
        return None, os.fsencode(f"cannot open {file}: {e.strerror}")
    try:
        source = _substitute(data, file)
    except ConfigError as e:
        return False, os.fsencode(str(e))
    return os.fsencode(file), os.fsencode(key), source


class ConfigValues(dict[str, ConfigValue]):
    """A config file's keys, and where each was set (``places``: key -> ``file:line``)."""

    places: dict[str, str]


def load_config(path: str | os.PathLike[str]) -> ConfigValues:
    """Evaluate the config file at ``path`` and return its keys, sorted by name.

    Raises ConfigError (one line, ``file:line:`` first where there is a place)
    if a file is missing, fails to compile or run, names an unset ``$NAME``,
    includes itself, assigns a value that is not a string, number or boolean,
    or exceeds the instruction or memory budget.
    """
    name = os.fspath(path)
    try:
        data = _read(name)
    except FileNotFoundError:
        raise ConfigError(_one_line(f"config file not found: {name}")) from None
    except OSError as e:
        raise ConfigError(_one_line(f"cannot read config file {name}: {e.strerror}")) from None
    code = _substitute(data, name)
    key = os.path.normcase(os.path.realpath(name))
    lua = lua54.LuaRuntime(
        register_eval=False,
        register_builtins=False,
        encoding=None,  # bytes both ways: we decode (and report bad UTF-8) ourselves
        unpack_returned_tuples=True,
        max_memory=_MAX_MEMORY,
    )
    lua.execute(b"python = nil; package.loaded.python = nil")  # before any config code
    loader = lua.globals()[b"load"](_LOADER, b"=loader", b"t")
    too_big = f"{name}: config uses too much memory (over {_MAX_MEMORY >> 20} MiB)"
    try:
        values, lines = loader(_open, os.fsencode(name), os.fsencode(key), code, _BUDGET)
    except lua54.LuaMemoryError:
        raise ConfigError(too_big) from None
    except lua54.LuaError:  # the loader broke outside its pcall; its message is internal
        raise ConfigError(f"{name}: config loader failed") from None
    if values is None:
        message = _text(lines)
        raise ConfigError(too_big if message == "not enough memory" else _one_line(message))
    result = ConfigValues()
    result.places = {}
    for raw_key, value in sorted(values.items()):
        place, what = _text(lines[raw_key]), f"config key '{_text(raw_key)}'"
        if not isinstance(value, bytes | bool | int | float):
            kind = lua54.lua_type(value) or type(value).__name__
            raise ConfigError(_one_line(f"{place}: {what} {_BAD_VALUE} {kind}"))
        try:
            key = raw_key.decode()
            result[key] = value.decode() if isinstance(value, bytes) else value
        except UnicodeDecodeError:
            raise ConfigError(_one_line(f"{place}: {what} is not valid UTF-8")) from None
        result.places[key] = place
    return result


def normalize_config(
    values: Mapping[str, object], source: str = "<config>"
) -> dict[str, ConfigValue]:
    """Check a config given as a Python mapping and return it as a plain dict.

    Keys must be str and values str, int, float or bool; otherwise ConfigError
    names ``source`` and the bad key.
    """
    result: dict[str, ConfigValue] = {}
    for key, value in values.items():
        if not isinstance(key, str):
            raise ConfigError(_one_line(f"{source}: config key {key!r} is not a string"))
        if not isinstance(value, str | int | float | bool):
            kind = type(value).__name__
            raise ConfigError(_one_line(f"{source}: config key '{key}' {_BAD_VALUE} {kind}"))
        result[key] = value
    return result


def env_string(value: ConfigValue) -> str:
    """The string ``skynet.getenv`` returns for ``value`` (Lua's ``tostring``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):  # glibc prints a NaN's sign, and Lua's 0/0 has it set
            return "-nan" if math.copysign(1.0, value) < 0 else "nan"
        text = f"{value:.14g}"
        # Lua 5.4 (tostringbuff) marks a float that prints like an integer with ".0"
        return text + ".0" if set(text) <= set("-0123456789") else text
    return value
