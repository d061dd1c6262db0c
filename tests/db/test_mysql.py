"""skynet.db.mysql against a real MariaDB: login, queries, multi-result sets,
prepared statements, server errors (also mid-result), a dropped connection
and a wrong password.

The client is a real Lua service (tests/services/db/mysqlclient.lua).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import trio

import skylet
from db.dbservers import MariaDB, free_port, node_config

Call = Callable[..., Awaitable[Any]]


@pytest.fixture
async def node() -> AsyncIterator[skylet.Node]:
    async with skylet.open_node(node_config(), log=lambda line: None) as n:
        yield n


def login(server: MariaDB, **extra: Any) -> dict[str, Any]:
    return {
        "host": "127.0.0.1", "port": server.port, "user": server.user,
        "password": server.password, "database": server.database, "charset": "utf8mb4",
        **extra,
    }  # fmt: skip


async def client(node: skylet.Node, server: MariaDB | None = None, **extra: Any) -> Call:
    address = await node.newservice("mysqlclient")

    async def call(*args: Any) -> Any:
        return await node.call(address, "lua", *args)

    if server is not None:
        ok, version = await call("connect", login(server, **extra))
        assert ok is True, version
        assert "MariaDB" in version
    return call


@pytest.fixture
async def db(node: skylet.Node, mariadb_server: MariaDB) -> Call:
    return await client(node, mariadb_server)


async def test_query_rows_and_ok_packets(db: Call) -> None:
    assert (await db("query", "DROP TABLE IF EXISTS cats"))[0] is True
    ok, res = await db(
        "query",
        "CREATE TABLE cats (id SERIAL PRIMARY KEY, name VARCHAR(20), age TINYINT UNSIGNED,"
        " weight DOUBLE, price DECIMAL(6,2), born DATE, note TEXT)",
    )
    assert ok and res["affected_rows"] == 0 and res["server_status"] & 2  # autocommit
    ok, res = await db(
        "query",
        "INSERT INTO cats (name, age, weight, price, born, note) VALUES"
        " ('Bob', 3, 4.5, 12.25, '2020-03-01', NULL), ('', 255, -1, 0, NULL, 'x\\ny')",
    )
    assert res["affected_rows"] == 2 and res["insert_id"] == 1
    assert res["message"] == "Records: 2  Duplicates: 0  Warnings: 0"
    ok, rows = await db("query", "SELECT * FROM cats ORDER BY id")
    assert rows == [
        {"id": 1, "name": "Bob", "age": 3, "weight": 4.5, "price": 12.25, "born": "2020-03-01"},
        {"id": 2, "name": "", "age": 255, "weight": -1, "price": 0, "note": "x\ny"},
    ]
    assert await db("compact", True)
    ok, rows = await db("query", "SELECT id, name, note FROM cats ORDER BY id")
    assert rows == [[1, "Bob"], [2, "", "x\ny"]]  # compact: arrays (NULL is a hole)


async def test_unicode_and_a_large_value(db: Call) -> None:
    await db("query", "DROP TABLE IF EXISTS blobs")
    await db("query", "CREATE TABLE blobs (id INT PRIMARY KEY, t TEXT, b LONGBLOB)")
    big = "z" * 300_000  # several TCP reads, one 3-byte-length packet
    ok, res = await db("query", f"INSERT INTO blobs VALUES (1, '猫 é', '{big}')")
    assert ok, res
    ok, rows = await db("query", "SELECT t, LENGTH(b) AS n, b FROM blobs")
    assert rows[0]["t"] == "猫 é" and rows[0]["n"] == 300_000 and rows[0]["b"] == big


async def test_packets_over_16_mib_are_split_and_joined(mariadb_server: MariaDB) -> None:
    # 17 MiB: the query goes out as two packets, the row comes back as two.
    # (A write that large exceeds the node's default send buffer limit, 8 MiB.)
    config = node_config(socket_send_buffer_limit=64 << 20)
    async with skylet.open_node(config, log=lambda line: None) as node:
        db = await client(node, mariadb_server)
        await huge_row(db)


async def huge_row(db: Call) -> None:
    big = "0123456789abcdef" * (17 * 65536)
    await db("query", "DROP TABLE IF EXISTS huge")
    await db("query", "CREATE TABLE huge (id INT PRIMARY KEY, b LONGBLOB)")
    ok, res = await db("query", f"INSERT INTO huge VALUES (1, '{big}')")
    assert ok and res["affected_rows"] == 1, res
    ok, rows = await db("query", "SELECT b, LENGTH(b) AS n FROM huge")
    assert ok and rows[0]["n"] == len(big) and rows[0]["b"] == big
    await db("query", "DROP TABLE huge")


async def test_multi_result_sets(db: Call) -> None:
    ok, res = await db("query", "SELECT 1 AS a; SELECT 2 AS b, 'x' AS c; DO 0")
    assert ok
    assert res["multiresultset"] is True
    assert res[1] == [{"a": 1}] and res[2] == [{"b": 2, "c": "x"}]
    assert res[3]["affected_rows"] == 0
    assert "badresult" not in res


async def test_stored_procedure_results(db: Call) -> None:
    await db("query", "DROP PROCEDURE IF EXISTS two_sets")
    ok, res = await db(
        "query",
        "CREATE PROCEDURE two_sets(n INT) BEGIN SELECT n AS first; SELECT n * 2 AS second; END",
    )
    assert ok, res
    ok, res = await db("query", "CALL two_sets(21)")
    assert res[1] == [{"first": 21}] and res[2] == [{"second": 42}]
    assert res[3]["affected_rows"] == 0  # the CALL's own status


async def test_sql_error_is_a_bad_result_and_the_connection_goes_on(db: Call) -> None:
    ok, res = await db("query", "SELECT * FROM no_such_table")
    assert ok is True
    assert res["badresult"] is True and res["errno"] == 1146 and res["sqlstate"] == "42S02"
    assert "no_such_table" in res["err"]
    assert await db("query", "SELECT 7 AS seven") == (True, [{"seven": 7}])


async def test_error_in_a_later_result_set_keeps_the_earlier_ones(db: Call) -> None:
    ok, res = await db("query", "SELECT 1 AS a; SELECT * FROM no_such_table; SELECT 3")
    assert ok is True
    assert res["multiresultset"] is True and res[1] == [{"a": 1}] and 2 not in res
    assert res["badresult"] is True and res["errno"] == 1146
    assert await db("query", "SELECT 2 AS b") == (True, [{"b": 2}])


async def test_error_after_some_rows_mid_result(db: Call) -> None:
    # The subquery fails only on the third row: MariaDB has sent two rows by
    # then and ends the result with an ERR packet instead of EOF.
    await db("query", "DROP TABLE IF EXISTS midrows")
    await db("query", "CREATE TABLE midrows (id INT PRIMARY KEY)")
    await db("query", "INSERT INTO midrows VALUES (1), (2), (3), (4)")
    ok, res = await db(
        "query",
        "SELECT id, IF(id = 3, (SELECT 1 UNION SELECT 2), id) AS v FROM midrows ORDER BY id",
    )
    assert ok is True
    assert res["badresult"] is True and res["errno"] == 1242, res  # subquery returns > 1 row
    assert await db("query", "SELECT COUNT(*) AS n FROM midrows") == (True, [{"n": 4}])


async def test_prepared_statements(db: Call) -> None:
    await db("query", "DROP TABLE IF EXISTS typed")
    await db(
        "query",
        "CREATE TABLE typed (i TINYINT, u TINYINT UNSIGNED, m MEDIUMINT, b BIGINT, f FLOAT,"
        " d DOUBLE, s VARCHAR(50), bl BLOB, dt DATETIME, dd DATE, tm TIME, y YEAR,"
        " dec1 DECIMAL(8,3))",
    )
    stmt = await db("prepare", "INSERT INTO typed VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)")
    assert stmt["param_count"] == 13 and stmt["field_count"] == 0
    blob = bytes(range(256))
    ok, res = await db(
        "execute", stmt["prepare_id"], 13, -128, 255, -8_000_000, -(2**62), 1.5, 2.25,
        "hello", blob, "2020-03-20 15:30:40", "2021-12-31", "-12:34:56", 2024, 12.5,
    )  # fmt: skip
    assert ok and res["affected_rows"] == 1, res
    ok, res = await db("execute", stmt["prepare_id"], 13, *([None] * 13))  # NULLs
    assert ok and res["affected_rows"] == 1, res
    select = await db("prepare", "SELECT * FROM typed WHERE s = ? OR s IS NULL ORDER BY s DESC")
    assert select["param_count"] == 1 and select["field_count"] == 13
    ok, rows = await db("execute", select["prepare_id"], 1, "hello")
    assert ok, rows
    assert rows[0] == {
        "i": -128, "u": 255, "m": -8_000_000, "b": -(2**62), "f": 1.5, "d": 2.25, "s": "hello",
        "bl": blob, "dt": "2020-03-20 15:30:40", "dd": "2021-12-31", "tm": "-12:34:56",
        "y": 2024, "dec1": 12.5,
    }  # fmt: skip
    assert rows[1] == {}  # every column NULL
    assert (await db("stmt_reset", select["prepare_id"]))["server_status"] is not None
    assert await db("stmt_close", select["prepare_id"])
    # a closed statement is gone on the server
    ok, res = await db("execute", select["prepare_id"], 1, "x")
    assert ok is False or res.get("badresult")


async def test_prepare_errors_and_argument_count(db: Call) -> None:
    res = await db("prepare", "SELECT * FROM no_such_table WHERE a = ?")
    assert res["badresult"] is True and res["errno"] == 1146
    stmt = await db("prepare", "SELECT ? + ? AS s")
    ok, why = await db("execute", stmt["prepare_id"], 1, 5)
    assert ok is False and "param_count 2" in why
    assert await db("execute", stmt["prepare_id"], 2, 5, 6) == (True, [{"s": 11}])


async def test_concurrent_queries_on_one_connection(db: Call) -> None:
    results = await db("concurrent", [f"SELECT {i} AS n, SLEEP(0) AS z" for i in range(20)])
    assert [r[0]["n"] for r in results] == list(range(20))


async def test_ping_and_quote(db: Call) -> None:
    assert (await db("ping"))["affected_rows"] == 0
    quoted = await db("quote", "\\mysql escape %string test'test\"\n\0")
    assert quoted == "'\\\\mysql escape %string test\\'test\\\"\\n\\0'"
    assert await db("query", f"SELECT {quoted} AS q") == (
        True,
        [{"q": "\\mysql escape %string test'test\"\n\0"}],
    )


async def test_wrong_password_is_a_clear_error(node: skylet.Node, mariadb_server: MariaDB) -> None:
    bad = await client(node)
    ok, why = await bad("connect", login(mariadb_server, password="wrong"))
    assert ok is False
    assert "errno:1045" in why and "Access denied for user 'skylet'" in why, why
    ok, why = await bad("connect", login(mariadb_server, database="no_such_db"))
    assert ok is False and "errno:1049" in why, why
    good = await client(node, mariadb_server)
    assert (await good("query", "SELECT 1 AS one")) == (True, [{"one": 1}])


async def test_no_password_user_and_refused_port(
    node: skylet.Node, mariadb_server: MariaDB
) -> None:
    mariadb_server.sql("CREATE USER IF NOT EXISTS 'nopw'@'%'; GRANT SELECT ON *.* TO 'nopw'@'%'")
    nopw = await client(node)
    ok, _ = await nopw("connect", login(mariadb_server, user="nopw", password=""))
    assert ok is True
    assert await nopw("query", "SELECT CURRENT_USER() AS u") == (True, [{"u": "nopw@%"}])
    refused = await client(node)
    ok, why = await refused("connect", login(mariadb_server, port=free_port()))
    assert ok is False and "refused" in why, why


async def test_connection_killed_mid_query_fails_it_then_reconnects(
    node: skylet.Node, mariadb_server: MariaDB
) -> None:
    db = await client(node, mariadb_server)
    other = await client(node, mariadb_server)
    ok, rows = await db("query", "SELECT CONNECTION_ID() AS id")
    victim = rows[0]["id"]
    result: list[Any] = []

    async def slow() -> None:
        result.append(await db("query", "SELECT SLEEP(30) AS s"))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(slow)
        for _ in range(300):
            if "SLEEP(30)" in mariadb_server.sql("SHOW PROCESSLIST"):
                break
            await trio.sleep(0.01)
        mariadb_server.sql(f"KILL {victim}")
    ok, why = result[0]
    assert ok is False and why == "[Error: socket]", result  # socketchannel.error, at once
    # the next request logs in again on a new connection
    ok, rows = await db("query", "SELECT CONNECTION_ID() AS id")
    assert ok and rows[0]["id"] != victim
    assert (await other("query", "SELECT 1 AS one")) == (True, [{"one": 1}])


async def test_on_connect_queries_run_at_each_login(
    node: skylet.Node, mariadb_server: MariaDB
) -> None:
    setup = ["SET @greeting = 'hi'", "SET NAMES utf8mb4"]
    db = await client(node, mariadb_server, on_connect_sql=setup)
    assert await db("query", "SELECT @greeting AS g") == (True, [{"g": "hi"}])
    stmt = await db("prepare", "SELECT ? AS x")  # nothing of the login is left unread
    assert await db("execute", stmt["prepare_id"], 1, "y") == (True, [{"x": "y"}])
    ok, rows = await db("query", "SELECT CONNECTION_ID() AS id")
    mariadb_server.sql(f"KILL {rows[0]['id']}")
    for _ in range(100):  # the next request logs in again, and on_connect runs again
        ok, rows = await db("query", "SELECT @greeting AS g")
        if ok:
            break
    assert rows == [{"g": "hi"}]
