"""sprotoparser without lpeg: what it accepts, and one-line errors with the line."""

from __future__ import annotations

from typing import Any

import pytest

from sproto_support import CORES, Lua, bundle


@pytest.fixture(scope="module", params=CORES)
def lua(request: pytest.FixtureRequest) -> Lua:
    return Lua(request.param)


@pytest.fixture(scope="module")
def parse(lua: Lua) -> Any:
    return lua.func("function(text, name) return parser.parse(text, name) end")


@pytest.fixture(scope="module")
def parse_error(lua: Lua) -> Any:
    fn = lua.func(
        """function(text, name)
        local ok, err = pcall(parser.parse, text, name)
        assert(not ok, "parsed")
        return err
        end"""
    )
    return lambda text, name=None: fn(text.encode(), name and name.encode()).decode()


def test_blanks_comments_and_layout_do_not_change_the_bundle(parse: Any) -> None:
    tidy = b".package { type 0 : integer session 1 : integer }\nquit 4 {}\n"
    loose = (
        b"# header comment\r\n"
        b"  .package\t{ # the package\n"
        b"\ttype 0:integer\n"
        b"   session   1   :   integer # trailing\n"
        b"}quit 4{}   # no blank needed between items"
    )
    assert parse(tidy) == parse(loose)
    assert parse(b"") == parse(b"# only a comment") == b"\0\0"


def test_a_name_is_resolved_from_the_inner_type_outwards(lua: Lua, parse: Any) -> None:
    # In A.B, `C` is A.B.C when that exists, then A.C, then the top-level C.
    text = b"""
    .C { top 0 : integer }
    .A {
        .C { mid 0 : integer }
        .B {
            .C { inner 0 : integer }
            c 0 : C
        }
        b 0 : B
        c 1 : C
    }
    .D { c 0 : C  ac 1 : A.C  abc 2 : A.B.C }
    """
    check = lua.func(
        """function(bin)
        local sp = sproto.new(bin)
        local function roundtrip(t, v) return dump(sp:decode(t, sp:encode(t, v))) end
        return roundtrip("A", { b = { c = { inner = 1, mid = 2 } }, c = { mid = 3, top = 4 } }),
            roundtrip("D", { c = { top = 5, mid = 6 }, ac = { mid = 7 }, abc = { inner = 8 } })
        end"""
    )
    a, d = check(parse(text))
    assert a == b'{["b"]={["c"]={["inner"]=1}},["c"]={["mid"]=3}}'
    assert d == b'{["abc"]={["inner"]=8},["ac"]={["mid"]=7},["c"]={["top"]=5}}'


def test_protocols_without_types_give_a_loadable_bundle(lua: Lua, parse: Any) -> None:
    # skynet's parser fails an assertion here; this one writes the bundle.
    check = lua.func(
        """function(bin)
        local sp = sproto.new(bin)
        return sp:exist_proto("foo"), sp:request_encode("foo")
        end"""
    )
    assert check(parse(b"foo 1 {}")) == (True, b"", 1)


def test_the_example_schema_is_skynets_c2s(parse: Any) -> None:
    from sproto_support import schema_text

    assert parse(schema_text("c2s")) == bundle("c2s")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (".A {\n a 0 : integer\n b 0 : string\n}", "redefine tag 0 in type A at [=text] line (3)"),
        (".A {\n a 0 : integer\n a 1 : string\n}", "redefine a in type A at [=text] line (3)"),
        (".A {}\n\n.A {}", "redefined A at [=text] line (3)"),
        (".A { .B {}\n .B {} }", "redefined A.B at [=text] line (2)"),
        ("\n.A { a 0 : Missing }", "Undefined type Missing in type A at [=text] line (2)"),
        (
            "\nfoo 1 {\n request Nope }",
            "Undefined request type Nope in protocol foo at [=text] line (3)",
        ),
        ("foo 1 {}\nbar 1 {}", "redefined protocol tag 1 at bar at [=text] line (2)"),
        ("foo 1 {}\nfoo 2 {}", "redefined foo at [=text] line (2)"),
        (
            "foo 1 { request {}\n request {} }",
            "redefine request in protocol foo at [=text] line (2)",
        ),
        (".A {\n a 0 integer }", "syntax error at [=text] line (2): expected ':' near 'integer'"),
        (
            "foo 1 { query X }",
            "syntax error at [=text] line (1): expected request, response or '}' near 'query'",
        ),
        (".A { a 0 : integer }\n$", 'syntax error at [=text] line (2): unexpected character "$"'),
        (".A { a 0x : integer }", "syntax error at [=text] line (1): bad number '0x'"),
        (
            ".A {\n",
            "syntax error at [=text] line (2): expected a field name or '}' near 'end of file'",
        ),
        (
            ".A { a.b 0 : integer }",
            "syntax error at [=text] line (1): expected a field name or '}' near 'a.b'",
        ),
        ("\n\n.A { a 32767 : integer }", "tag 32767 out of range (0..32766) at [=text] line (3)"),
        (".A { a 0 : *B(id) }\n.B { x 0 : integer }", "Invalid map index :id at [=text] line (1)"),
        (".A { a 0 : *B(c) } .B { c 0 : B }", "Invalid map index :c at [=text] line (1)"),
        (
            ".A { a 0 : *B() }\n.B { x 0 : integer }",
            "Invalid map definition: a, must only have two fields at [=text] line (1)",
        ),
        (
            ".A { a 0 : B(id) } .B { id 0 : integer }",
            "only an array can have a key: a (id) at [=text] line (1)",
        ),
        (
            ".A { a 0 : integer(x) }",
            "integer(x) needs a number of decimal digits at [=text] line (1)",
        ),
    ],
)
def test_a_bad_schema_is_one_line_naming_the_line(parse_error: Any, text: str, error: str) -> None:
    assert parse_error(text) == error


def test_the_error_names_the_file(parse_error: Any) -> None:
    assert parse_error(".A {", "proto/c2s.sproto") == (
        "syntax error at [proto/c2s.sproto] line (1): "
        "expected a field name or '}' near 'end of file'"
    )


def test_only_text_parses(parse_error: Any, lua: Lua) -> None:
    fn = lua.func("function() local ok, e = pcall(parser.parse, {}) return e end")
    assert b"schema text must be a string, not table" in fn()
