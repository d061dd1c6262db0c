"""A small MongoDB server for the driver's tests: OP_MSG over TCP on 127.0.0.1.

Written from MongoDB's published wire protocol (OP_MSG: header of four int32,
uint32 flagBits, sections; section kind 0 = one BSON document) and its
command reference; documents are coded with pymongo's ``bson``. It keeps
collections in memory and answers the commands the driver sends (insert,
update, delete, find / getMore / killCursors, count, aggregate with $match /
$sort / $skip / $limit / $count, findAndModify, createIndexes, drop,
dropIndexes, hello / ismaster) and authenticates with SCRAM-SHA-1 as
RFC 5802 and MongoDB define it. Every message received is kept in
``messages`` so tests can check the wire itself.

Commands named ``lie_*`` make it answer with a malformed reply, to test the
driver's handling of bad input.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import itertools
import os
import struct
import time
from dataclasses import dataclass, field
from typing import Any

import trio
from bson.son import SON

import bson

OP_MSG = 2013
HEADER = struct.Struct("<iiii")  # length, requestID, responseTo, opCode


@dataclass
class Message:
    request_id: int
    response_to: int
    opcode: int
    flags: int
    kind: int
    raw: bytes
    document: SON[str, Any]

    @property
    def command(self) -> str:
        return next(iter(self.document))


def op_msg(response_to: int, document: Any, request_id: int = 1) -> bytes:
    body = struct.pack("<iiiI", request_id, response_to, OP_MSG, 0) + b"\0" + bson.encode(document)
    return struct.pack("<i", len(body) + 4) + body


def parse_message(raw: bytes) -> Message:
    length, request_id, response_to, opcode = HEADER.unpack_from(raw)
    assert length == len(raw), (length, len(raw))
    (flags,) = struct.unpack_from("<I", raw, 16)
    kind = raw[20]
    document = bson.decode(raw[21:], codec_options=bson.CodecOptions(document_class=SON))
    return Message(request_id, response_to, opcode, flags, kind, raw, document)


def payload_text(payload: Any) -> str:
    """A SASL payload: BinData, or a base64 string (what skynet's driver sends;
    MongoDB then answers in base64 strings too)."""
    if isinstance(payload, str):
        return base64.b64decode(payload).decode()
    return bytes(payload).decode()


def payload_as(request: Any, text: str) -> Any:
    """The reply's payload in the request's form."""
    if isinstance(request, str):
        return base64.b64encode(text.encode()).decode()
    return bson.Binary(text.encode())


def matches(doc: dict[str, Any], query: dict[str, Any]) -> bool:
    for key, want in query.items():
        have = doc.get(key)
        if isinstance(want, dict) and want and all(k.startswith("$") for k in want):
            for op, arg in want.items():
                if op == "$gt" and not (have is not None and have > arg):
                    return False
                if op == "$gte" and not (have is not None and have >= arg):
                    return False
                if op == "$lt" and not (have is not None and have < arg):
                    return False
                if op == "$in" and have not in arg:
                    return False
        elif have != want:
            return False
    return True


def apply_update(doc: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    if not any(k.startswith("$") for k in update):
        return {"_id": doc.get("_id"), **update}
    doc = dict(doc)
    for key, value in update.get("$set", {}).items():
        doc[key] = value
    for key, value in update.get("$inc", {}).items():
        doc[key] = doc.get(key, 0) + value
    for key in update.get("$unset", {}):
        doc.pop(key, None)
    return doc


def sort_docs(docs: list[dict[str, Any]], spec: dict[str, Any] | None) -> list[dict[str, Any]]:
    for key, direction in reversed(list((spec or {}).items())):
        docs = sorted(docs, key=lambda d: (d.get(key) is None, d.get(key)), reverse=direction < 0)
    return docs


def group(docs: list[dict[str, Any]], spec: dict[str, Any]) -> list[dict[str, Any]]:
    """$group with an _id of null or "$field", and $sum of a number or "$field"."""
    groups: dict[Any, dict[str, Any]] = {}
    key = spec["_id"]
    for d in docs:
        k = d.get(key[1:]) if isinstance(key, str) and key.startswith("$") else None
        out = groups.setdefault(k, {"_id": k})
        for name, acc in spec.items():
            if name == "_id":
                continue
            ((op, arg),) = acc.items()
            assert op == "$sum", op
            value = d.get(arg[1:], 0) if isinstance(arg, str) else arg
            out[name] = out.get(name, 0) + value
    return list(groups.values())


@dataclass
class User:
    name: str
    password: str
    salt: bytes = field(default_factory=lambda: os.urandom(16))
    iterations: int = 4096

    def salted(self) -> bytes:
        digest = hashlib.md5(f"{self.name}:mongo:{self.password}".encode()).hexdigest()
        return hashlib.pbkdf2_hmac("sha1", digest.encode(), self.salt, self.iterations)


class MongoServer:
    def __init__(
        self, users: list[User] | None = None, require_auth: bool = False, port: int = 0
    ) -> None:
        self.collections: dict[str, list[dict[str, Any]]] = {}
        self.indexes: dict[str, list[dict[str, Any]]] = {}
        self.messages: list[Message] = []
        self.users = {u.name: u for u in users or []}
        self.require_auth = require_auth
        self.cursors: dict[int, tuple[str, list[dict[str, Any]]]] = {}
        self.cursor_ids = itertools.count(1 << 40)
        self.killed: list[int] = []
        self.connections = 0
        self.port = port
        self.wall_start = self.clock_start = 0.0
        self.auth_log: list[str] = []

    async def serve(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        self.wall_start, self.clock_start = time.time(), trio.current_time()
        listeners = await trio.open_tcp_listeners(self.port, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started(self.port)
        await trio.serve_listeners(self.handle, listeners)

    async def handle(self, stream: trio.SocketStream) -> None:
        self.connections += 1
        state: dict[str, Any] = {"authenticated": not self.require_auth}
        buffer = b""
        try:
            while True:
                while len(buffer) < 4 or len(buffer) < struct.unpack_from("<i", buffer)[0]:
                    chunk = await stream.receive_some(65536)
                    if not chunk:
                        return
                    buffer += chunk
                length = struct.unpack_from("<i", buffer)[0]
                raw, buffer = buffer[:length], buffer[length:]
                msg = parse_message(raw)
                self.messages.append(msg)
                reply = self.answer(msg, state)
                if not msg.flags & 2:
                    await stream.send_all(reply)
                if lie_then_close(msg.command):
                    return
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return
        finally:
            await stream.aclose()

    # ----- answers

    def now(self) -> float:
        """Wall-clock seconds, advancing with trio's clock (virtual in tests)."""
        return self.wall_start + trio.current_time() - self.clock_start

    def answer(self, msg: Message, state: dict[str, Any]) -> bytes:
        doc = msg.document
        name = msg.command
        self.expire(self.now())
        lie = LIES.get(name)
        if lie is not None:
            return lie(msg.request_id)
        handler = getattr(self, f"cmd_{name}", None)
        if handler is None:
            result: dict[str, Any] = {"ok": 0, "errmsg": f"no such command: '{name}'", "code": 59}
        elif not state["authenticated"] and name not in OPEN_COMMANDS:
            result = {"ok": 0, "errmsg": "command requires authentication", "code": 13}
        else:
            result = handler(doc, state)
        return op_msg(msg.request_id, result)

    def ns(self, doc: dict[str, Any], key: str) -> str:
        return f"{doc['$db']}.{doc[key]}"

    def cmd_ismaster(self, doc: Any, state: Any) -> dict[str, Any]:
        return {"ismaster": True, "maxWireVersion": 17, "ok": 1}

    cmd_isMaster = cmd_hello = cmd_ismaster

    def cmd_ping(self, doc: Any, state: Any) -> dict[str, Any]:
        return {"ok": 1}

    def cmd_insert(self, doc: Any, state: Any) -> dict[str, Any]:
        coll = self.collections.setdefault(self.ns(doc, "insert"), [])
        errors = []
        for i, d in enumerate(doc["documents"]):
            d = dict(d)
            d.setdefault("_id", bson.ObjectId())
            clash = self.duplicate(self.ns(doc, "insert"), coll, d)
            if clash:
                errors.append({"index": i, "code": 11000, "errmsg": clash})
                continue
            coll.append(d)
        result: dict[str, Any] = {"n": len(doc["documents"]) - len(errors), "ok": 1}
        if errors:
            result["writeErrors"] = errors
        return result

    def cmd_update(self, doc: Any, state: Any) -> dict[str, Any]:
        coll = self.collections.setdefault(self.ns(doc, "update"), [])
        n = modified = 0
        upserted = []
        for i, u in enumerate(doc["updates"]):
            hits = [j for j, d in enumerate(coll) if matches(d, u["q"])]
            if not u.get("multi"):
                hits = hits[:1]
            for j in hits:
                coll[j] = apply_update(coll[j], u["u"])
            n += len(hits)
            modified += len(hits)
            if not hits and u.get("upsert"):
                new = apply_update({"_id": bson.ObjectId(), **u["q"]}, u["u"])
                coll.append(new)
                upserted.append({"index": i, "_id": new["_id"]})
                n += 1
        result: dict[str, Any] = {"n": n, "nModified": modified, "ok": 1}
        if upserted:
            result["upserted"] = upserted
        return result

    def cmd_delete(self, doc: Any, state: Any) -> dict[str, Any]:
        name = self.ns(doc, "delete")
        coll = self.collections.get(name, [])
        n = 0
        for d in doc["deletes"]:
            hits = [x for x in coll if matches(x, d["q"])]
            if d.get("limit") == 1:
                hits = hits[:1]
            for x in hits:
                coll.remove(x)
            n += len(hits)
        return {"n": n, "ok": 1}

    def _batch(self, name: str, docs: list[dict[str, Any]], size: int | None, first: bool) -> Any:
        size = size or 101
        batch, rest = docs[:size], docs[size:]
        cursor_id = 0
        if rest:
            cursor_id = next(self.cursor_ids)
            self.cursors[cursor_id] = (name, rest)
        key = "firstBatch" if first else "nextBatch"
        return {"cursor": {"id": bson.Int64(cursor_id), "ns": name, key: batch}, "ok": 1}

    def cmd_find(self, doc: Any, state: Any) -> dict[str, Any]:
        name = self.ns(doc, "find")
        docs = [d for d in self.collections.get(name, []) if matches(d, doc.get("filter", {}))]
        docs = sort_docs(docs, doc.get("sort"))
        docs = docs[doc.get("skip", 0) :]
        if doc.get("limit"):
            docs = docs[: doc["limit"]]
        projection = doc.get("projection") or {}
        if projection:
            keep = {k for k, v in projection.items() if v} | {"_id"}
            docs = [{k: v for k, v in d.items() if k in keep} for d in docs]
        return self._batch(name, docs, doc.get("batchSize"), True)

    def cmd_getMore(self, doc: Any, state: Any) -> dict[str, Any]:
        cursor_id = int(doc["getMore"])
        if cursor_id not in self.cursors:
            return {"ok": 0, "errmsg": f"cursor id {cursor_id} not found", "code": 43}
        name, rest = self.cursors.pop(cursor_id)
        return self._batch(name, rest, doc.get("batchSize"), False)

    def cmd_killCursors(self, doc: Any, state: Any) -> dict[str, Any]:
        for c in doc["cursors"]:
            self.killed.append(int(c))
            self.cursors.pop(int(c), None)
        return {"ok": 1}

    def cmd_count(self, doc: Any, state: Any) -> dict[str, Any]:
        docs = [
            d
            for d in self.collections.get(self.ns(doc, "count"), [])
            if matches(d, doc.get("query", {}))
        ]
        docs = docs[doc.get("skip", 0) :]
        if doc.get("limit"):
            docs = docs[: doc["limit"]]
        return {"n": len(docs), "ok": 1}

    def cmd_aggregate(self, doc: Any, state: Any) -> dict[str, Any]:
        name = self.ns(doc, "aggregate")
        docs = list(self.collections.get(name, []))
        for stage in doc["pipeline"]:
            ((op, arg),) = stage.items()
            if op == "$match":
                docs = [d for d in docs if matches(d, arg)]
            elif op == "$sort":
                docs = sort_docs(docs, arg)
            elif op == "$skip":
                docs = docs[arg:]
            elif op == "$limit":
                docs = docs[:arg]
            elif op == "$group":
                docs = group(docs, arg)
            elif op == "$count":
                docs = [{arg: len(docs)}] if docs else []
            else:
                return {"ok": 0, "errmsg": f"Unrecognized pipeline stage name: '{op}'"}
        return self._batch(name, docs, doc.get("cursor", {}).get("batchSize"), True)

    def cmd_findAndModify(self, doc: Any, state: Any) -> dict[str, Any]:
        coll = self.collections.setdefault(self.ns(doc, "findAndModify"), [])
        hits = sort_docs([d for d in coll if matches(d, doc["query"])], doc.get("sort"))
        if not hits:
            if doc.get("upsert") and "update" in doc:
                new = apply_update({"_id": bson.ObjectId(), **doc["query"]}, doc["update"])
                coll.append(new)
                return {"value": new if doc.get("new") else None, "ok": 1}
            return {"value": None, "ok": 1}
        old = hits[0]
        index = coll.index(old)
        if doc.get("remove"):
            coll.pop(index)
            return {"value": old, "ok": 1}
        coll[index] = apply_update(old, doc["update"])
        return {"value": coll[index] if doc.get("new") else old, "ok": 1}

    def cmd_createIndexes(self, doc: Any, state: Any) -> dict[str, Any]:
        self.indexes.setdefault(self.ns(doc, "createIndexes"), []).extend(doc["indexes"])
        return {"numIndexesAfter": len(self.indexes[self.ns(doc, "createIndexes")]) + 1, "ok": 1}

    def cmd_dropIndexes(self, doc: Any, state: Any) -> dict[str, Any]:
        name = self.ns(doc, "dropIndexes")
        keep = [i for i in self.indexes.get(name, []) if doc["index"] not in ("*", i["name"])]
        self.indexes[name] = keep
        return {"ok": 1}

    def duplicate(self, ns: str, coll: list[dict[str, Any]], doc: dict[str, Any]) -> str | None:
        """MongoDB's E11000 message if doc clashes with coll on _id or a unique index."""
        indexes = [{"name": "_id_", "key": {"_id": 1}}]
        indexes += [i for i in self.indexes.get(ns, []) if i.get("unique")]
        for index in indexes:
            keys = list(index["key"])
            if all(k not in doc for k in keys[1:]) and keys[0] not in doc:
                continue
            value = {k: doc.get(k) for k in keys}
            if any(all(x.get(k) == v for k, v in value.items()) for x in coll if x is not doc):
                shown = ", ".join(f"{k}: {v!r}" for k, v in value.items())
                return (
                    f"E11000 duplicate key error collection: {ns} index: {index['name']}"
                    f" dup key: {{ {shown} }}"
                )
        return None

    def expire(self, now: float) -> None:
        """TTL indexes: drop documents whose date field is older than expireAfterSeconds."""
        for ns, indexes in self.indexes.items():
            for index in indexes:
                if "expireAfterSeconds" not in index:
                    continue
                field = next(iter(index["key"]))
                limit = index["expireAfterSeconds"]
                coll = self.collections.get(ns, [])
                coll[:] = [
                    d
                    for d in coll
                    if not (
                        isinstance(d.get(field), datetime.datetime)
                        and d[field].timestamp() + limit < now
                    )
                ]

    def cmd_drop(self, doc: Any, state: Any) -> dict[str, Any]:
        name = self.ns(doc, "drop")
        if name not in self.collections:
            return {"ok": 0, "errmsg": "ns not found", "code": 26}
        del self.collections[name]
        return {"ok": 1}

    # ----- SCRAM-SHA-1 (RFC 5802), the server's side

    def cmd_saslStart(self, doc: Any, state: Any) -> dict[str, Any]:
        assert doc["mechanism"] == "SCRAM-SHA-1"
        client_first = payload_text(doc["payload"])
        assert client_first.startswith("n,,"), client_first
        bare = client_first[3:]
        fields = dict(kv.split("=", 1) for kv in bare.split(","))
        user = self.users.get(fields["n"].replace("=2C", ",").replace("=3D", "="))
        if user is None:
            self.auth_log.append("unknown user")
            return {"ok": 0, "errmsg": "Authentication failed.", "code": 18}
        nonce = fields["r"] + base64.b64encode(os.urandom(18)).decode()
        server_first = f"r={nonce},s={base64.b64encode(user.salt).decode()},i={user.iterations}"
        state["scram"] = (user, bare, server_first, nonce)
        return {
            "conversationId": 1,
            "done": False,
            "payload": payload_as(doc["payload"], server_first),
            "ok": 1,
        }

    def cmd_saslContinue(self, doc: Any, state: Any) -> dict[str, Any]:
        if "scram" not in state:
            return {"ok": 0, "errmsg": "no SASL conversation", "code": 17}
        payload = payload_text(doc["payload"])
        if payload == "":
            state["authenticated"] = True
            return {
                "conversationId": 1,
                "done": True,
                "payload": payload_as(doc["payload"], ""),
                "ok": 1,
            }
        user, client_bare, server_first, nonce = state["scram"]
        fields = dict(kv.split("=", 1) for kv in payload.split(","))
        without_proof = f"c={fields['c']},r={fields['r']}"
        if fields["r"] != nonce or fields["c"] != "biws":
            return {"ok": 0, "errmsg": "Authentication failed.", "code": 18}
        salted = user.salted()
        client_key = hmac.digest(salted, b"Client Key", "sha1")
        auth_message = f"{client_bare},{server_first},{without_proof}".encode()
        signature = hmac.digest(hashlib.sha1(client_key).digest(), auth_message, "sha1")
        proof = base64.b64decode(fields["p"])
        if bytes(a ^ b for a, b in zip(proof, signature, strict=True)) != client_key:
            self.auth_log.append("bad proof")
            return {"ok": 0, "errmsg": "Authentication failed.", "code": 18}
        self.auth_log.append(f"authenticated {user.name}")
        server_key = hmac.digest(salted, b"Server Key", "sha1")
        verifier = base64.b64encode(hmac.digest(server_key, auth_message, "sha1")).decode()
        return {
            "conversationId": 1,
            "done": False,
            "payload": payload_as(doc["payload"], f"v={verifier}"),
            "ok": 1,
        }

    def cmd_logout(self, doc: Any, state: Any) -> dict[str, Any]:
        state["authenticated"] = not self.require_auth
        return {"ok": 1}


OPEN_COMMANDS = {"saslStart", "saslContinue", "ismaster", "isMaster", "hello", "ping"}


def _reply(response_to: int, body: bytes, opcode: int = OP_MSG, flags: int = 0) -> bytes:
    msg = struct.pack("<iiiI", 1, response_to, opcode, flags) + body
    return struct.pack("<i", len(msg) + 4) + msg


GOOD = bson.encode({"ok": 1})

#: Malformed replies, by the command that asks for them.
LIES: dict[str, Any] = {
    "lie_opcode": lambda rid: _reply(rid, b"\0" + GOOD, opcode=1),
    "lie_checksum": lambda rid: _reply(rid, b"\0" + GOOD + b"\0\0\0\0", flags=1),
    "lie_flags": lambda rid: _reply(rid, b"\0" + GOOD, flags=1 << 16),
    "lie_section": lambda rid: _reply(rid, b"\1" + GOOD),
    "lie_two_sections": lambda rid: _reply(rid, b"\0" + GOOD + b"\0" + GOOD),
    "lie_bson": lambda rid: _reply(rid, b"\0" + GOOD[:-1] + b"\x07"),
    "lie_short_bson": lambda rid: _reply(rid, b"\0" + b"\x40\0\0\0\x10a\0\1\0\0\0\0"),
    "lie_length": lambda rid: struct.pack("<i", -5) + b"\0" * 16,
    "lie_huge": lambda rid: struct.pack("<i", 1 << 30),
    "lie_truncated": lambda rid: _reply(rid, b"\0" + GOOD)[:-3],  # then the server hangs up
}


def lie_then_close(name: str) -> bool:
    return name in ("lie_truncated", "lie_length", "lie_huge")
