"""👍/👎 feedback in SQLite (WAL, retried on lock), personal numbers redacted before storing."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sqlite3
import threading
import time
from pathlib import Path

logger = logging.getLogger(__name__)

# 身份证 (18 digits, last may be X; or the old 15), mobile numbers, landlines with area code
_ID_CARD = re.compile(r"(?<!\d)(\d{17}[\dXx]|\d{15})(?!\d)")
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)0\d{2,3}[- ]?\d{7,8}(?!\d)")


def redact(text: str | None) -> str:
    """Remove 身份证 and phone numbers (the 12345 hotline and plan figures are untouched)."""
    if not text:
        return ""
    text = _ID_CARD.sub("[身份证号已隐去]", text)
    text = _MOBILE.sub("[电话已隐去]", text)
    return _LANDLINE.sub("[电话已隐去]", text)


SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment TEXT NOT NULL DEFAULT '',
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    citations TEXT NOT NULL
)
"""


class FeedbackStore:
    def __init__(self, path: Path, retries: int = 20):
        self.path = path
        self.retries = retries
        self._local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._retry(lambda c: c.execute("PRAGMA journal_mode=WAL"))
        self._retry(lambda c: c.execute(SCHEMA))

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=2.0, isolation_level=None)
            conn.execute("PRAGMA busy_timeout=2000")
            self._local.conn = conn
        return conn

    def add(
        self, rating: str, question: str, answer: str, citations: list[str], comment: str = ""
    ) -> int:
        if rating not in {"up", "down"}:
            raise ValueError("rating must be 'up' or 'down'")
        row = (
            dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            rating,
            redact(comment)[:2000],
            redact(question)[:4000],
            redact(answer)[:20000],
            json.dumps(citations, ensure_ascii=False),
        )
        cur = self._retry(
            lambda c: c.execute(
                "INSERT INTO feedback (created_at, rating, comment, question, answer, citations)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                row,
            )
        )
        return int(cur.lastrowid)

    def _retry(self, op):
        """Run op(connection), retrying while another writer holds the lock."""
        delay = 0.05
        for attempt in range(self.retries):
            try:
                return op(self._conn())
            except sqlite3.OperationalError as e:  # "database is locked" beyond busy_timeout
                if "locked" not in str(e) and "busy" not in str(e):
                    raise
                logger.warning("feedback store busy (attempt %d): %s", attempt + 1, e)
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        raise RuntimeError("feedback store stayed locked; the row was not written")

    def rows(self) -> list[dict]:
        cur = self._conn().execute("SELECT * FROM feedback ORDER BY id")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
