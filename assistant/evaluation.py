"""The eval runner: question set -> the same answer() users get -> scores, report, gate."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from .questions import Question, QuestionSetError, load_questions
from .text import fold_for_facts

logger = logging.getLogger(__name__)

__all__ = ["QuestionSetError", "run_eval", "run_eval_command", "score"]

HEADLINE = (
    "hit_at_1",
    "hit_at_5",
    "mrr",
    "citation_accuracy",
    "key_fact_accuracy",
    "refusal_accuracy",
    "false_refusal_rate",
)


def _rank(retrieved: list[str], gold: list[str]) -> int | None:
    for i, cid in enumerate(retrieved):
        if cid in gold:
            return i + 1
    return None


def judge_question(q: Question, answer, latency_ms: float) -> dict:
    retrieved = [s.id for s in answer.sources][:5]
    rank = _rank(retrieved, q.citations) if q.answerable else None
    text = fold_for_facts(answer.text)
    facts_ok = all(fold_for_facts(f) in text for f in q.key_facts)
    rec = {
        "id": q.id,
        "type": q.type,
        "question": q.question,
        "history": [t.model_dump() for t in q.history],
        "answerable": q.answerable,
        "expected_citations": q.citations,
        "key_facts": q.key_facts,
        "answer": answer.text,
        "answered": answer.answered,
        "reason": answer.reason,
        "cited": answer.citations,
        "retrieved": retrieved,
        "latency_ms": round(latency_ms, 2),
        "mode": answer.mode,
    }
    if q.answerable:
        rec["pass"] = {
            "hit_at_1": rank == 1,
            "hit_at_5": rank is not None,
            "citation": bool(set(answer.citations) & set(q.citations)),
            "key_facts": facts_ok and answer.answered,
            "not_refused": answer.answered,
        }
        rec["reciprocal_rank"] = 1.0 / rank if rank else 0.0
    else:
        rec["pass"] = {"refused": not answer.answered}
    return rec


def _rate(values: list[bool]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


def score(records: list[dict]) -> dict:
    ans = [r for r in records if r["answerable"]]
    una = [r for r in records if not r["answerable"]]
    lat = [r["latency_ms"] for r in records]
    return {
        "n": len(records),
        "n_answerable": len(ans),
        "n_unanswerable": len(una),
        "hit_at_1": _rate([r["pass"]["hit_at_1"] for r in ans]),
        "hit_at_5": _rate([r["pass"]["hit_at_5"] for r in ans]),
        "mrr": round(float(np.mean([r["reciprocal_rank"] for r in ans])), 4) if ans else None,
        "citation_accuracy": _rate([r["pass"]["citation"] for r in ans]),
        "key_fact_accuracy": _rate([r["pass"]["key_facts"] for r in ans]),
        "refusal_accuracy": _rate([r["pass"]["refused"] for r in una]),
        "false_refusal_rate": _rate([not r["pass"]["not_refused"] for r in ans]),
        "latency_ms_p50": round(float(np.percentile(lat, 50)), 2) if lat else None,
        "latency_ms_p95": round(float(np.percentile(lat, 95)), 2) if lat else None,
    }


def run_eval(questions: list[Question], service, progress: bool = False) -> dict:
    from tqdm import tqdm

    records = []
    service.answer("孤儿养育保障标准是多少")  # warm-up: latencies are for a running service
    for q in tqdm(questions, desc="评测", unit="题", disable=not progress, file=sys.stderr):
        t0 = time.perf_counter()
        answer = service.answer(q.question, q.history_dicts())
        records.append(judge_question(q, answer, (time.perf_counter() - t0) * 1000))
    report = score(records)
    by_type: dict[str, list[dict]] = defaultdict(list)
    by_domain: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_type[r["type"]].append(r)
        gold = r["expected_citations"][0] if r["expected_citations"] else None
        rec = service.by_id.get(gold) if gold else None
        by_domain[(rec.domain if rec and rec.domain else "（其他/不可答）")].append(r)
    report["by_type"] = {t: score(rs) for t, rs in sorted(by_type.items())}
    report["by_domain"] = {d: score(rs) for d, rs in sorted(by_domain.items())}
    report["questions"] = records
    report["mode"] = "llm" if service.settings.llm_enabled else "extractive"
    report["date"] = dt.datetime.now().isoformat(timespec="seconds")
    report["model_id"] = service.embeddings.model_id if service.embeddings else "bm25-only"
    return report


# ---------------------------------------------------------------- retrieval baselines


def run_baselines(questions: list[Question], service, progress: bool = False) -> dict:
    """hit@1/hit@5/MRR/latency of retrieval alone: ours beside three baselines, same run."""
    from .baselines import build_baselines

    answerable = [q for q in questions if q.answerable]
    systems = build_baselines(service)
    out = {}
    cache = getattr(service.embeddings, "_cached", None)
    for name, search in systems.items():
        if cache is not None:
            cache.cache_clear()  # no system may reuse query vectors another one computed
        search("孤儿养育保障标准", None)  # warm-up
        ranks, lat = [], []
        for q in answerable:
            t0 = time.perf_counter()
            ids = search(q.question, q.history_dicts())
            lat.append((time.perf_counter() - t0) * 1000)
            ranks.append(_rank(ids[:5], q.citations))
        out[name] = {
            "hit_at_1": round(float(np.mean([r == 1 for r in ranks])), 4),
            "hit_at_5": round(float(np.mean([r is not None for r in ranks])), 4),
            "mrr": round(float(np.mean([1.0 / r if r else 0.0 for r in ranks])), 4),
            "latency_ms_p50": round(float(np.percentile(lat, 50)), 2),
            "latency_ms_p95": round(float(np.percentile(lat, 95)), 2),
            "n": len(answerable),
        }
        if progress:
            print(f"  {name}: hit@1={out[name]['hit_at_1']:.3f}", file=sys.stderr)
    return out


# ---------------------------------------------------------------- command


def check_gate(report: dict, floors: dict) -> list[str]:
    failures = []
    for key, floor in floors.items():
        value = report.get(key)
        if value is None:
            continue
        if key == "false_refusal_rate" or key.startswith("latency"):
            if value > floor:
                failures.append(f"{key} = {value} > ceiling {floor}")
        elif value < floor:
            failures.append(f"{key} = {value} < floor {floor}")
    return failures


def run_eval_command(
    path: Path,
    json_out: Path | None,
    report: Path | None,
    baselines: bool = False,
    progress: bool = True,
    gate: Path | None = None,
    compare_to: Path | None = None,
) -> int:
    from .library import Library
    from .service import get_service
    from .settings import get_settings

    # validate first: a malformed set fails at once, before any model is loaded; the IDs of
    # every document in the library (DOC:LOCAL) count
    questions = load_questions(path, {r.id for r in Library(get_settings()).records()})
    service = get_service()
    result = run_eval(questions, service, progress=progress)
    result["question_set"] = str(path)
    if baselines:
        result["baselines"] = run_baselines(questions, service, progress=progress)
    from .judge import judge_report

    result["llm_judge"] = judge_report(result, service)
    if "skipped" in result["llm_judge"]:
        print(f"LLM judge skipped: {result['llm_judge']['skipped']}")
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    if report:
        from .report import write_html, write_markdown

        report.parent.mkdir(parents=True, exist_ok=True)
        write_html(result, report)
        write_markdown(result, report.with_suffix(".md"))
    _print_summary(result)
    if compare_to:
        print(compare(json.loads(compare_to.read_text(encoding="utf-8")), result))
    if gate:
        floors = json.loads(gate.read_text(encoding="utf-8"))
        failures = check_gate(result, {k: v for k, v in floors.items() if not k.startswith("_")})
        if failures:
            print(
                "质量门未通过 (quality gate failed):\n  " + "\n  ".join(failures), file=sys.stderr
            )
            return 1
        print(f"quality gate passed ({len(floors) - 1} floors)")
    return 0


def compare(base: dict, new: dict) -> str:
    """Per-question changes (fixed, broken) and per-type deltas of headline scores, new vs base."""
    old = {q["id"]: q for q in base.get("questions", [])}
    lines, fixed, broken = [], [], []
    for q in new.get("questions", []):
        b = old.get(q["id"])
        if b is None:
            continue
        for metric, ok in q["pass"].items():
            was = b["pass"].get(metric)
            if was is None or was == ok:
                continue
            (fixed if ok else broken).append((q["id"], q["type"], metric, q["question"][:40]))
    lines.append(f"fixed {len(fixed)}, broken {len(broken)} (question × metric)")
    keys = (*HEADLINE, "latency_ms_p95")
    lines.append("  " + "  ".join(f"{k}: {base.get(k)} -> {new.get(k)}" for k in keys))
    for t, s in new.get("by_type", {}).items():
        bs = base.get("by_type", {}).get(t, {})
        deltas = [
            f"{k} {s[k] - bs[k]:+.3f}"
            for k in HEADLINE
            if s.get(k) is not None and bs.get(k) is not None and s[k] != bs[k]
        ]
        if deltas:
            lines.append(f"  {t:<13} " + "  ".join(deltas))
    for title, rows in (("broken", broken), ("fixed", fixed)):
        for qid, qtype, metric, text in rows:
            lines.append(f"  {title:<6} {qid:<8} {qtype:<12} {metric:<12} {text}")
    return "\n".join(lines)


def _print_summary(r: dict) -> None:
    cells = "  ".join(f"{k}={r[k]}" for k in (*HEADLINE, "latency_ms_p50", "latency_ms_p95"))
    print(f"n={r['n']}  {cells}")
    for t, s in r["by_type"].items():
        parts = [
            f"{k}={s[k]}"
            for k in ("hit_at_1", "citation_accuracy", "key_fact_accuracy", "refusal_accuracy")
            if s[k] is not None
        ]
        print(f"  {t:<13} n={s['n']:<3} " + "  ".join(parts))
    for name, b in r.get("baselines", {}).items():
        print(
            f"  [retrieval] {name:<22} hit@1={b['hit_at_1']}  hit@5={b['hit_at_5']}  mrr={b['mrr']}  p95={b['latency_ms_p95']}ms"
        )


def slug(text: str) -> str:
    return re.sub(r"[^\w.-]+", "-", text).strip("-")
