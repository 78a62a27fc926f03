"""SQLite storage for the emulator: databases, tables, request bodies and remembered import ids.

One connection guarded by one lock: sqlite serialises writers anyway, and a single in-process
connection is what lets ":memory:" stores be shared by every server thread.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from airflow_braze_td.emulator.formats import POSTBACK, decode_rows

_SCHEMA = """
CREATE TABLE IF NOT EXISTS databases (name TEXT PRIMARY KEY, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS tables (
    db TEXT NOT NULL, name TEXT NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (db, name)
);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY, db TEXT NOT NULL, tbl TEXT NOT NULL, format TEXT NOT NULL,
    visible_at REAL NOT NULL, row_count INTEGER NOT NULL, body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS batches_by_table ON batches (db, tbl, visible_at);
CREATE TABLE IF NOT EXISTS import_ids (
    db TEXT NOT NULL, tbl TEXT NOT NULL, unique_id TEXT NOT NULL, PRIMARY KEY (db, tbl, unique_id)
) WITHOUT ROWID;
"""


class AlreadyExists(Exception):
    """The database or table to create is already there."""


class DatabaseMissing(Exception):
    """The database the operation needs does not exist."""


class Store:
    """What the emulated Treasure Data account holds; rows become visible `visibility_delay` s after storing."""

    def __init__(self, path: str = ":memory:", visibility_delay: float = 0.0) -> None:
        self.visibility_delay = visibility_delay
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.executescript(_SCHEMA)
        self._known_tables = set(self._db.execute("SELECT db, name FROM tables"))

    @contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db

    def close(self) -> None:
        with self._locked() as db:
            db.close()

    def reset(self) -> None:
        with self._locked() as db:
            db.executescript("DELETE FROM batches; DELETE FROM import_ids; DELETE FROM tables; DELETE FROM databases;")
            self._known_tables.clear()

    # -- databases and tables -------------------------------------------------------------------

    def create_database(self, name: str) -> None:
        with self._locked() as db:
            if db.execute("SELECT 1 FROM databases WHERE name = ?", (name,)).fetchone():
                raise AlreadyExists(f"database {name!r} already exists")
            db.execute("INSERT INTO databases VALUES (?, ?)", (name, time.time()))

    def create_table(self, database: str, table: str) -> None:
        with self._locked() as db:
            if not db.execute("SELECT 1 FROM databases WHERE name = ?", (database,)).fetchone():
                raise DatabaseMissing(f"database {database!r} does not exist")
            if (database, table) in self._known_tables:
                raise AlreadyExists(f"table {database}.{table} already exists")
            db.execute("INSERT INTO tables VALUES (?, ?, ?)", (database, table, time.time()))
            self._known_tables.add((database, table))

    def ensure_table(self, database: str, table: str) -> None:
        """Create the database and table unless they exist: streaming endpoints create on first write."""
        if (database, table) in self._known_tables:
            return
        with self._locked() as db:
            now = time.time()
            db.execute("INSERT OR IGNORE INTO databases VALUES (?, ?)", (database, now))
            db.execute("INSERT OR IGNORE INTO tables VALUES (?, ?, ?)", (database, table, now))
            self._known_tables.add((database, table))

    def database_exists(self, name: str) -> bool:
        with self._locked() as db:
            return db.execute("SELECT 1 FROM databases WHERE name = ?", (name,)).fetchone() is not None

    def table_exists(self, database: str, table: str) -> bool:
        return (database, table) in self._known_tables

    def list_databases(self) -> list[dict[str, Any]]:
        with self._locked() as db:
            names = db.execute("SELECT name, created_at FROM databases ORDER BY name").fetchall()
            return [
                {"name": name, "created_at": created_at, "count": self._count(db, name, None)}
                for name, created_at in names
            ]

    def list_tables(self, database: str) -> list[dict[str, Any]]:
        with self._locked() as db:
            found = db.execute("SELECT name, created_at FROM tables WHERE db = ? ORDER BY name", (database,))
            return [self._table_info(db, database, name, created_at) for name, created_at in found.fetchall()]

    def show_table(self, database: str, table: str) -> dict[str, Any] | None:
        with self._locked() as db:
            found = db.execute("SELECT created_at FROM tables WHERE db = ? AND name = ?", (database, table)).fetchone()
            return None if found is None else self._table_info(db, database, table, found[0])

    def _table_info(self, db: sqlite3.Connection, database: str, table: str, created_at: float) -> dict[str, Any]:
        rows, size, last = db.execute(
            "SELECT COALESCE(SUM(row_count), 0), COALESCE(SUM(LENGTH(body)), 0), MAX(visible_at)"
            " FROM batches WHERE db = ? AND tbl = ? AND visible_at <= ?",
            (database, table, time.time()),
        ).fetchone()
        return {"name": table, "created_at": created_at, "count": rows, "size": size, "last_import": last}

    # -- rows --------------------------------------------------------------------------------------

    def add_batch(
        self, database: str, table: str, body_format: str, body: bytes, row_count: int, unique_id: str | None = None
    ) -> bool:
        """Store one request body; False (and nothing stored) when `unique_id` was seen before for this table."""
        visible_at = time.time() + self.visibility_delay
        with self._locked() as db:
            if unique_id is not None:
                inserted = db.execute(
                    "INSERT OR IGNORE INTO import_ids VALUES (?, ?, ?)", (database, table, unique_id)
                ).rowcount
                if not inserted:
                    return False
            if row_count:
                db.execute(
                    "INSERT INTO batches (db, tbl, format, visible_at, row_count, body) VALUES (?, ?, ?, ?, ?, ?)",
                    (database, table, body_format, visible_at, row_count, body),
                )
            return True

    def _visible_bodies(self, database: str, table: str, body_format: str | None = None) -> list[tuple[str, bytes]]:
        query = "SELECT format, body FROM batches WHERE db = ? AND tbl = ? AND visible_at <= ?"
        params: tuple[Any, ...] = (database, table, time.time())
        if body_format is not None:
            query += " AND format = ?"
            params += (body_format,)
        with self._locked() as db:
            return db.execute(query + " ORDER BY id", params).fetchall()

    def rows(self, database: str, table: str) -> list[dict[Any, Any]]:
        """Every visible row, decoded now from the stored bodies, in arrival order."""
        rows: list[dict[Any, Any]] = []
        for body_format, body in self._visible_bodies(database, table):
            rows.extend(decode_rows(body_format, body))
        return rows

    def postback_bodies(self, database: str, table: str) -> list[bytes]:
        return [body for _, body in self._visible_bodies(database, table, POSTBACK)]

    def count(self, database: str, table: str | None) -> int:
        with self._locked() as db:
            return self._count(db, database, table)

    @staticmethod
    def _count(db: sqlite3.Connection, database: str, table: str | None) -> int:
        query = "SELECT COALESCE(SUM(row_count), 0) FROM batches WHERE db = ? AND visible_at <= ?"
        params: tuple[Any, ...] = (database, time.time())
        if table is not None:
            query += " AND tbl = ?"
            params += (table,)
        return db.execute(query, params).fetchone()[0]
