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

# A personal number however it is written: digits with spaces, dots, dashes or brackets between
# them, full-width digits (folded first), +86; 7 digits or more is a phone, 身份证 or bank card.
# The 12345 hotline and the plan's figures (1120元, 2016–2020) are shorter.
_SEP = r"[\s.\-–—_()（）·/]"
_NUMBERISH = re.compile(
    rf"(?<![\dA-Za-z])\+?\d(?:{_SEP}{{0,3}}\d){{6,}}(?:{_SEP}{{0,3}}[Xx])?(?![\dA-Za-z])"
)
_DATE = re.compile(r"(19|20)\d\d[-./年]\d{1,2}[-./月]\d{1,2}日?")
_YEARS = re.compile(r"(19|20)\d\d\s*[-–—~]\s*(19|20)\d\d")
_FULLWIDTH = {
    c: c - 0xFEE0 for c in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)]
}
_FULLWIDTH[0xFF0B] = ord("+")
_FULLWIDTH[0xFF20] = ord("@")
# ASCII: \w would take the Chinese words before an address ("请发到zhangsan@…") with it
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,4}")


def redact(text: str | None) -> str:
    """Remove 身份证, phone and bank-card numbers and e-mail addresses in any common format."""
    if not text:
        return ""
    text = text.translate(_FULLWIDTH)  # full-width digits and letters, nothing else
    text = _EMAIL.sub("[邮箱已隐去]", text)

    def number(m: re.Match) -> str:
        raw = m.group(0)
        if _DATE.fullmatch(raw.strip()) or _YEARS.fullmatch(raw.strip()):
            return raw  # 2018-03-15, 2016–2020: dates and periods, not numbers of a person
        digits = re.sub(r"\D", "", raw)
        if len(digits) >= 15 and (len(digits) in (15, 18) or raw[-1] in "Xx"):
            return "[身份证号已隐去]" if len(digits) in (15, 17, 18) else "[号码已隐去]"
        return "[电话已隐去]" if len(digits) <= 13 else "[号码已隐去]"

    return _NUMBERISH.sub(number, text)


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
