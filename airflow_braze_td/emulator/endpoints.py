"""Treasure Data's endpoint families as the emulator answers them: Postback, Import, Data Ingestion
(records.in) and the REST control plane, with the limits and status codes TD documents.
"""

from __future__ import annotations

import hashlib
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from airflow_braze_td.emulator.auth import Access, KeyRing, postback_key, td1_key
from airflow_braze_td.emulator.formats import JSON_ROWS, MSGPACK_GZ, POSTBACK, BodyError, msgpack_gz_rows
from airflow_braze_td.emulator.protocol import Request, Response, error, json_response
from airflow_braze_td.emulator.store import AlreadyExists, DatabaseMissing, Store

POSTBACK_MAX_BODY = 1_048_064
INGEST_MAX_BODY = 5_000_000
INGEST_MAX_RECORD = 1_000_000
INGEST_MAX_RECORDS = 500
INGEST_BATCH_TYPE = "application/vnd.treasuredata.v1+json"
INGEST_SINGLE_TYPE = "application/vnd.treasuredata.v1.single+json"
RESERVED_COLUMNS = ("uuid",)
NAME_FORM = re.compile(r"[a-z0-9_]{3,255}")
UNIQUE_ID_FORM = re.compile(r"[0-9a-f]{1,255}")
INGEST_RESERVED_PREFIXES = frozenset({"v3", "postback", "_emulator"})

Handler = Callable[..., Response]


@dataclass(frozen=True)
class Route:
    family: str
    handler: Handler
    args: tuple[str, ...]

    def __call__(self, request: Request) -> Response:
        return self.handler(request, *self.args)


def _td_time(epoch: float | None) -> str | None:
    return None if epoch is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def _bad_names(*names: str) -> Response | None:
    for name in names:
        if not NAME_FORM.fullmatch(name):
            return error(400, "InvalidName", f"{name!r} is not a valid name: use 3-255 characters of [a-z0-9_]")
    return None


def _table_object(database: str, info: dict[str, Any]) -> dict[str, Any]:
    """A table as TD's REST API describes it (the fields td-client reads)."""
    created = _td_time(info["created_at"])
    return {
        "id": zlib.crc32(f"{database}.{info['name']}".encode()),
        "name": info["name"],
        "database": database,
        "type": "log",
        "count": info["count"],
        "estimated_storage_size": info["size"],
        "schema": "[]",
        "created_at": created,
        "updated_at": created,
        "counter_updated_at": _td_time(info["last_import"]),
        "last_log_timestamp": _td_time(info["last_import"]),
        "expire_days": None,
        "delete_protected": False,
    }


def _gunzip_bounded(body: bytes, limit: int) -> bytes:
    """Decompress at most `limit` + 1 bytes, so an oversize (or bomb) body is caught without inflating it all."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    data = inflater.decompress(body, limit + 1)
    if len(data) <= limit and not inflater.eof:
        raise BodyError("gzip body is truncated")
    return data


class TreasureDataAPI:
    """Routes and answers the non-admin requests."""

    def __init__(self, store: Store, keys: KeyRing, strict_postback: bool = False) -> None:
        self.store = store
        self.keys = keys
        self.strict_postback = strict_postback
        self._routes: list[tuple[str, str, tuple[str, ...], Handler]] = [
            ("POST", "postback", ("postback", "v3", "event", "*", "*"), self.postback),
            ("PUT", "import", ("v3", "table", "import_with_id", "*", "*", "*", "*"), self.import_with_id),
            ("PUT", "import", ("v3", "table", "import", "*", "*", "*"), self.import_without_id),
            ("POST", "control", ("v3", "database", "create", "*"), self.create_database),
            ("GET", "control", ("v3", "database", "list"), self.list_databases),
            ("POST", "control", ("v3", "table", "create", "*", "*"), self.create_table),
            ("POST", "control", ("v3", "table", "create", "*", "*", "*"), self.create_table),
            ("GET", "control", ("v3", "table", "list", "*"), self.list_tables),
            ("GET", "control", ("v3", "table", "show", "*", "*"), self.show_table),
        ]

    # -- routing -----------------------------------------------------------------------------------

    def route(self, method: str, segments: list[str]) -> Route | Response:
        """The route for a request, or the 404/405 answer when there is none."""
        path_matched = False
        for route_method, family, pattern, handler in self._routes:
            if len(pattern) == len(segments) and all(p in ("*", s) for p, s in zip(pattern, segments)):
                if route_method == method:
                    args = tuple(s for p, s in zip(pattern, segments) if p == "*")
                    return Route(family, handler, args)
                path_matched = True
        if len(segments) == 2 and segments[0] not in INGEST_RESERVED_PREFIXES:
            if method == "POST":
                return Route("ingest", self.ingest, tuple(segments))
            path_matched = True
        if path_matched:
            return error(405, "MethodNotAllowed", f"{method} is not allowed here")
        return error(404, "NotFound", "no such endpoint")

    def _require(self, request: Request, needed: Access) -> Response | None:
        """401 without a valid key; 403 when a write-only key asks for master access."""
        access = self.keys.access(td1_key(request.headers))
        if access is None:
            return error(401, "Unauthorized", "missing or invalid API key (Authorization: TD1 <key>)")
        if needed is Access.MASTER and access is not Access.MASTER:
            return error(403, "Forbidden", "this call needs a master API key; write-only keys can only import")
        return None

    # -- 1. postback -------------------------------------------------------------------------------

    def postback(self, request: Request, database: str, table: str) -> Response:
        """One JSON object is one row. A bad key still gets 200: TD validates it after answering."""
        if len(request.body) > POSTBACK_MAX_BODY:
            return error(413, "RequestEntityTooLarge", f"postback bodies are limited to {POSTBACK_MAX_BODY} bytes")
        invalid = _bad_names(database, table)
        if invalid:
            return invalid
        try:
            row = orjson.loads(request.body)
        except orjson.JSONDecodeError as exc:
            return error(400, "InvalidJSON", f"body is not valid JSON: {exc}")
        if not isinstance(row, dict):
            return error(400, "InvalidJSON", "body must be one JSON object")
        if self.keys.access(postback_key(request.headers, request.query)) is None:
            if self.strict_postback:
                return error(403, "Forbidden", "missing or invalid write key")
            return Response(200, note="dropped: bad key")
        self.store.ensure_table(database, table)
        self.store.add_batch(database, table, POSTBACK, request.body, 1)
        return Response(200)

    # -- 2. import ---------------------------------------------------------------------------------

    def import_with_id(self, request: Request, database: str, table: str, unique_id: str, fmt: str) -> Response:
        if not UNIQUE_ID_FORM.fullmatch(unique_id):
            return error(400, "InvalidUniqueId", "unique_id must be lower-case hex")
        return self._import(request, database, table, fmt, unique_id)

    def import_without_id(self, request: Request, database: str, table: str, fmt: str) -> Response:
        return self._import(request, database, table, fmt, None)

    def _import(self, request: Request, database: str, table: str, fmt: str, unique_id: str | None) -> Response:
        """Rows of a msgpack.gz body; a repeated unique_id answers 200 and stores nothing (safe retries)."""
        started = time.perf_counter()
        denied = self._require(request, Access.WRITE) or _bad_names(database, table)
        if denied:
            return denied
        if fmt != MSGPACK_GZ:
            return error(400, "UnsupportedFormat", f"format {fmt!r} is not supported; use msgpack.gz")
        if not self.store.table_exists(database, table):
            missing = f"table {database}.{table}" if self.store.database_exists(database) else f"database {database}"
            return error(404, "NotFound", f"{missing} does not exist")
        try:
            row_count = len(msgpack_gz_rows(request.body))
        except BodyError as exc:
            return error(400, "InvalidBody", str(exc))
        stored = not row_count or self.store.add_batch(database, table, MSGPACK_GZ, request.body, row_count, unique_id)
        reply = {
            "elapsed_time": time.perf_counter() - started,
            "database": database,
            "table": table,
            "md5_hex": hashlib.md5(request.body).hexdigest(),
            "unique_id": unique_id,
        }
        response = json_response(200, reply)
        if not stored:
            response.note = "dropped: duplicate unique_id"
        return response

    # -- 3. data ingestion (records.in) ------------------------------------------------------------

    def ingest(self, request: Request, database: str, table: str) -> Response:
        """1-500 records per request; each gets a receipt, and failed ones make the answer a 206."""
        denied = self._require(request, Access.WRITE) or _bad_names(database, table)
        if denied:
            return denied
        media_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if media_type not in (INGEST_BATCH_TYPE, INGEST_SINGLE_TYPE):
            expected = f"{INGEST_BATCH_TYPE} or {INGEST_SINGLE_TYPE}"
            return error(415, "UnsupportedMediaType", f"Content-Type must be {expected}")
        body = request.body
        try:
            if (request.headers.get("Content-Encoding") or "").strip().lower() == "gzip":
                body = _gunzip_bounded(body, INGEST_MAX_BODY)
        except (BodyError, zlib.error) as exc:
            return error(400, "InvalidBody", f"body is not valid gzip: {exc}")
        if len(body) > INGEST_MAX_BODY:
            return error(413, "RequestEntityTooLarge", f"requests are limited to {INGEST_MAX_BODY} bytes")
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return error(400, "InvalidJSON", f"body is not valid JSON: {exc}")
        if media_type == INGEST_SINGLE_TYPE:
            records = [parsed]
        elif isinstance(parsed, dict) and isinstance(parsed.get("events"), list):
            records = parsed["events"]
        else:
            return error(400, "InvalidJSON", 'body must be {"events": [...]}')
        if not records:
            return error(400, "NoRecords", "a request needs at least one record")
        if len(records) > INGEST_MAX_RECORDS:
            return error(413, "TooManyRecords", f"a request holds at most {INGEST_MAX_RECORDS} records")
        receipts, accepted = self._receipts(records, request.fail_records)
        if accepted:
            self.store.ensure_table(database, table)
            self.store.add_batch(database, table, JSON_ROWS, b"[" + b",".join(accepted) + b"]", len(accepted))
        status = 200 if len(accepted) == len(records) else 206
        return json_response(status, {"receipts": receipts})

    @staticmethod
    def _receipts(records: list[Any], fail_records: frozenset[int]) -> tuple[list[dict[str, Any]], list[bytes]]:
        """One receipt per record, and the JSON of each accepted record with reserved columns removed."""
        receipts: list[dict[str, Any]] = []
        accepted: list[bytes] = []
        for index, record in enumerate(records):
            if index in fail_records:
                receipts.append(_failed("InternalError", "injected retryable failure", retryable=True))
                continue
            if not isinstance(record, dict):
                receipts.append(_failed("InvalidRecord", "a record must be a JSON object", retryable=False))
                continue
            if any(column in record for column in RESERVED_COLUMNS):
                record = {k: v for k, v in record.items() if k not in RESERVED_COLUMNS}
            encoded = orjson.dumps(record)
            if len(encoded) > INGEST_MAX_RECORD:
                receipts.append(
                    _failed("InvalidRecord", f"a record is limited to {INGEST_MAX_RECORD} bytes", retryable=False)
                )
                continue
            receipts.append({"success": True})
            accepted.append(encoded)
        return receipts, accepted

    # -- 4. control plane --------------------------------------------------------------------------

    def create_database(self, request: Request, database: str) -> Response:
        denied = self._require(request, Access.MASTER) or _bad_names(database)
        if denied:
            return denied
        try:
            self.store.create_database(database)
        except AlreadyExists as exc:
            return error(409, "AlreadyExists", str(exc))
        return json_response(200, {"database": database})

    def create_table(self, request: Request, database: str, table: str, table_type: str = "log") -> Response:
        denied = self._require(request, Access.MASTER) or _bad_names(database, table)
        if denied:
            return denied
        if table_type != "log":
            return error(400, "UnsupportedTableType", f"table type {table_type!r} is not supported; use log")
        try:
            self.store.create_table(database, table)
        except DatabaseMissing as exc:
            return error(404, "NotFound", str(exc))
        except AlreadyExists as exc:
            return error(409, "AlreadyExists", str(exc))
        return json_response(200, {"database": database, "table": table, "type": "log"})

    def list_databases(self, request: Request) -> Response:
        denied = self._require(request, Access.MASTER)
        if denied:
            return denied
        databases = [
            {
                "name": info["name"],
                "count": info["count"],
                "created_at": _td_time(info["created_at"]),
                "updated_at": _td_time(info["created_at"]),
                "permission": "owner",
            }
            for info in self.store.list_databases()
        ]
        return json_response(200, {"databases": databases})

    def list_tables(self, request: Request, database: str) -> Response:
        denied = self._require(request, Access.MASTER) or _bad_names(database)
        if denied:
            return denied
        if not self.store.database_exists(database):
            return error(404, "NotFound", f"database {database} does not exist")
        tables = [_table_object(database, info) for info in self.store.list_tables(database)]
        return json_response(200, {"database": database, "tables": tables})

    def show_table(self, request: Request, database: str, table: str) -> Response:
        denied = self._require(request, Access.MASTER) or _bad_names(database, table)
        if denied:
            return denied
        info = self.store.show_table(database, table)
        if info is None:
            return error(404, "NotFound", f"table {database}.{table} does not exist")
        return json_response(200, _table_object(database, info))


def _failed(name: str, description: str, retryable: bool) -> dict[str, Any]:
    return {"success": False, "error": {"name": name, "description": description, "retryable": retryable}}
