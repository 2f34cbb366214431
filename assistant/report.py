"""Eval reports: one self-contained HTML file (inline SVG charts, no CDN) and a Markdown summary."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

LABELS = {
    "hit_at_1": "hit@1",
    "hit_at_5": "hit@5",
    "mrr": "MRR",
    "citation_accuracy": "引用正确率",
    "key_fact_accuracy": "关键事实正确率",
    "refusal_accuracy": "拒答正确率",
    "false_refusal_rate": "误拒率",
    "latency_ms_p50": "延迟 p50 (ms)",
    "latency_ms_p95": "延迟 p95 (ms)",
}
e = html.escape
# per-type columns shown in both reports
TYPE_COLUMNS = (
    "hit_at_1",
    "citation_accuracy",
    "key_fact_accuracy",
    "refusal_accuracy",
    "false_refusal_rate",
)


def _fmt(v) -> str:
    if v is None:
        return "–"
    return f"{v:.3f}" if isinstance(v, float) and v <= 1 else f"{v}"


def _bars(title: str, rows: list[tuple[str, float | None]], width: int = 640) -> str:
    """A horizontal bar chart of rates in [0, 1] as inline SVG."""
    rows = [(k, v) for k, v in rows if v is not None]
    h = 22 * len(rows) + 30
    out = [f'<svg viewBox="0 0 {width} {h}" width="100%" role="img" aria-label="{e(title)}">']
    out.append(f'<text x="0" y="14" font-size="13" font-weight="bold">{e(title)}</text>')
    for i, (label, v) in enumerate(rows):
        y = 24 + i * 22
        w = max(1, int((width - 260) * v))
        color = "#2e7d32" if v >= 0.9 else "#f9a825" if v >= 0.75 else "#c62828"
        out.append(f'<text x="0" y="{y + 13}" font-size="12">{e(label)}</text>')
        out.append(f'<rect x="180" y="{y}" width="{w}" height="16" fill="{color}"/>')
        out.append(f'<text x="{186 + w}" y="{y + 13}" font-size="12">{v:.3f}</text>')
    out.append("</svg>")
    return "".join(out)


def _histogram(values: list[float], width: int = 640, bins: int = 20) -> str:
    if not values:
        return ""
    counts, edges = np.histogram(values, bins=bins)
    top = max(counts.max(), 1)
    h, bw = 160, (width - 40) / bins
    out = [
        f'<svg viewBox="0 0 {width} {h + 40}" width="100%" role="img" aria-label="latency histogram">'
    ]
    out.append('<text x="0" y="14" font-size="13" font-weight="bold">每题回答延迟分布 (ms)</text>')
    for i, c in enumerate(counts):
        bh = int(h * c / top)
        x = 20 + i * bw
        out.append(
            f'<rect x="{x:.1f}" y="{20 + h - bh}" width="{bw - 2:.1f}" height="{bh}" fill="#1565c0"/>'
        )
    for i in (0, bins // 2, bins):
        x = 20 + i * bw
        out.append(f'<text x="{x:.1f}" y="{h + 36}" font-size="11">{edges[i]:.0f}</text>')
    out.append("</svg>")
    return "".join(out)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def failures(report: dict) -> list[dict]:
    return [q for q in report["questions"] if not all(q["pass"].values())]


def write_html(report: dict, path: Path) -> None:
    headline = _table(
        ["指标", "数值"], [[e(LABELS[k]), _fmt(report[k])] for k in LABELS if k in report]
    )
    by_type = report["by_type"]
    charts = [
        _bars(
            "各题型 引用正确率（可答题）", [(t, s["citation_accuracy"]) for t, s in by_type.items()]
        ),
        _bars(
            "各题型 关键事实正确率（可答题）",
            [(t, s["key_fact_accuracy"]) for t, s in by_type.items()],
        ),
        _bars(
            "各题型 拒答正确率（不可答题）",
            [(t, s["refusal_accuracy"]) for t, s in by_type.items()],
        ),
        _bars(
            "各领域 引用正确率",
            [(d, s["citation_accuracy"]) for d, s in report["by_domain"].items()],
        ),
        _histogram([q["latency_ms"] for q in report["questions"]]),
    ]
    type_rows = [
        [e(t), str(s["n"])] + [_fmt(s[k]) for k in TYPE_COLUMNS] for t, s in by_type.items()
    ]
    type_table = _table(["题型", "n", "hit@1", "引用", "关键事实", "拒答", "误拒"], type_rows)
    base = report.get("baselines")
    base_html = ""
    if base:
        base_html = "<h2>检索基线（同一次运行）</h2>" + _table(
            ["系统", "hit@1", "hit@5", "MRR", "p50 ms", "p95 ms"],
            [
                [
                    e(n),
                    _fmt(b["hit_at_1"]),
                    _fmt(b["hit_at_5"]),
                    _fmt(b["mrr"]),
                    _fmt(b["latency_ms_p50"]),
                    _fmt(b["latency_ms_p95"]),
                ]
                for n, b in base.items()
            ],
        )
    fail_rows = []
    for q in failures(report):
        failed = ", ".join(k for k, ok in q["pass"].items() if not ok)
        hist = " / ".join(t["content"] for t in q.get("history", []))
        fail_rows.append(
            [
                e(q["id"]),
                e(q["type"]),
                e(q["question"]) + (f"<br><small>历史：{e(hist)}</small>" if hist else ""),
                f"<pre>{e(q['answer'])}</pre>",
                e("、".join(q["expected_citations"])) + "<br>" + e("、".join(q["key_facts"])),
                e("、".join(q["cited"]))
                + "<br><small>检索："
                + e("、".join(q["retrieved"]))
                + "</small>",
                e(failed),
            ]
        )
    fail_table = _table(
        ["ID", "题型", "问题", "回答", "期望引用 / 关键事实", "实际引用", "未通过"], fail_rows
    )
    doc = f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>泉城政策通 评测报告 {e(report.get("date", ""))}</title>
<style>
body{{font-family:system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:24px;max-width:1100px;color:#222}}
table{{border-collapse:collapse;margin:12px 0;font-size:13px;width:100%}}
th,td{{border:1px solid #ccc;padding:4px 6px;vertical-align:top;text-align:left}}
th{{background:#f3f3f3}} pre{{white-space:pre-wrap;margin:0;font-size:12px}}
.grid{{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:16px}}
</style></head><body>
<h1>泉城政策通 评测报告</h1>
<p>题集：{e(str(report.get("question_set", "")))} · 题数 {report["n"]}（可答 {report["n_answerable"]}，不可答 {report["n_unanswerable"]}）
· 模式：{e(report.get("mode", ""))} · 向量模型：{e(report.get("model_id", ""))} · 时间：{e(report.get("date", ""))}</p>
<h2>总体指标</h2>{headline}
<p>LLM 评审（RAGAS 定义的 faithfulness / answer relevancy）：{e(_judge(report))}</p>
<h2>图表</h2><div class="grid">{"".join(f"<div>{c}</div>" for c in charts)}</div>
<h2>分题型</h2>{type_table}
{base_html}
<h2>未通过的题（{len(fail_rows)}）</h2>{fail_table}
</body></html>"""
    path.write_text(doc, encoding="utf-8")


def _judge(report: dict) -> str:
    j = report.get("llm_judge") or {}
    if "skipped" in j:
        return f"未运行：{j['skipped']}"
    if not j:
        return "未运行"
    return f"faithfulness {_fmt(j.get('faithfulness'))}, answer relevancy {_fmt(j.get('answer_relevancy'))}（{j.get('judged')} 题）"


def write_markdown(report: dict, path: Path) -> None:
    lines = [
        f"# 评测摘要 {report.get('date', '')}",
        "",
        f"题集 `{report.get('question_set', '')}`，{report['n']} 题（可答 {report['n_answerable']}，不可答 {report['n_unanswerable']}），模式 {report.get('mode')}。",
        "",
        "| 指标 | 数值 |",
        "|---|---|",
    ]
    lines += [f"| {LABELS[k]} | {_fmt(report[k])} |" for k in LABELS if k in report]
    lines += [
        "",
        "| 题型 | n | hit@1 | 引用 | 关键事实 | 拒答 | 误拒 |",
        "|---|---|---|---|---|---|---|",
    ]
    for t, s in report["by_type"].items():
        cells = [_fmt(s[k]) for k in TYPE_COLUMNS]
        lines.append(f"| {t} | {s['n']} | " + " | ".join(cells) + " |")
    if report.get("baselines"):
        lines += [
            "",
            "| 检索系统 | hit@1 | hit@5 | MRR | p50 ms | p95 ms |",
            "|---|---|---|---|---|---|",
        ]
        for n, b in report["baselines"].items():
            lines.append(
                f"| {n} | {_fmt(b['hit_at_1'])} | {_fmt(b['hit_at_5'])} | {_fmt(b['mrr'])} | {b['latency_ms_p50']} | {b['latency_ms_p95']} |"
            )
    lines += [
        "",
        f"LLM 评审：{_judge(report)}",
        "",
        f"未通过 {len(failures(report))} 题，详见同名 HTML 报告。",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
