"""Shared fixtures: the real plan, settings pointing at a temporary index."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.documents import Plan, load_plans
from assistant.settings import ROOT, Settings

CORPUS = ROOT / "corpus"
SOURCE = CORPUS / "jinan-2018-5-public-services-plan.txt"


@pytest.fixture(scope="session")
def plan() -> Plan:
    return load_plans(CORPUS)[0]


@pytest.fixture(scope="session")
def by_id(plan):
    return plan.by_id()


@pytest.fixture
def tmp_settings(tmp_path: Path) -> Settings:
    return Settings(index_dir=tmp_path / "index", feedback_db=tmp_path / "feedback.sqlite3")
