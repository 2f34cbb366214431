"""The `policyqa` command: index | show | search | ask | eval | serve | add | docs | remove."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

EXIT_USAGE = 2
EXIT_REFUSED = 1  # a file or a library change refused (the message says why)


def _print_json(data) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def cmd_show(args: argparse.Namespace) -> int:
    from .cards import card_json, card_text, nearest_ids
    from .library import Library
    from .settings import get_settings

    records = Library(get_settings()).records()
    if args.list:
        rows = [{"id": r.id, "title": r.title, "kind": r.kind} for r in records]
        if args.json:
            _print_json(rows)
        else:
            for r in rows:
                print(f"{r['id']}\t{r['title']}")
        return 0
    if not args.id:
        print(
            "请给出引用编号，例如：policyqa show 清单-56（或 policyqa show --list）",
            file=sys.stderr,
        )
        return EXIT_USAGE
    by_id = {r.id: r for r in records}
    rec = by_id.get(_normalize_id(args.id))
    if rec is None:
        near = "、".join(nearest_ids(args.id, list(by_id)))
        print(f"没有编号为「{args.id}」的条目。您是不是要找：{near}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        _print_json(card_json(rec))
    else:
        print(card_text(rec))
    return 0


def _normalize_id(raw: str) -> str:
    """清单56, 清单第56项, jinan-2018-5:清单-56, jn-fixture-rules:条款-3 → the record's ID."""
    from .cards import normalize_id
    from .documents import bare_id

    doc, sep, local = raw.strip().partition(":")
    if not sep:
        doc, sep, local = raw.strip().partition("：")
    if sep:
        return bare_id(f"{doc.strip()}:{normalize_id(local)}")
    return normalize_id(raw)


def _width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _table(rows: list[list[str]]) -> str:
    widths = [max(_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c + " " * (w - _width(c)) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in rows
    )


def cmd_add(args: argparse.Namespace) -> int:
    from .ingest import IngestError
    from .library import Library, LibraryError
    from .settings import get_settings

    path = Path(args.file)
    if not path.is_file():
        print(f"找不到文件：{args.file}", file=sys.stderr)
        return EXIT_USAGE
    library = Library(get_settings())
    try:
        info = library.add(path, doc_id=args.id, title=args.title, issued=args.issued)
    except (IngestError, LibraryError) as e:
        print(f"未添加：{e.message}", file=sys.stderr)
        return EXIT_REFUSED
    if args.json:
        _print_json(info.model_dump())
        return 0
    plan = next(p for p in library.plans() if p.meta.id == info.id)
    example = next((r.id for r in plan.records if "序言" not in r.id), plan.records[0].id)
    print(
        f"已添加：{info.id}　{info.title}　{info.doc_number}　{info.issued}　"
        f"{info.records} 条可引用内容（引用编号形如 {example}）"
    )
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    from .library import Library
    from .settings import get_settings

    docs = Library(get_settings()).list()
    if args.json:
        _print_json([d.model_dump() for d in docs])
        return 0
    rows = [["编号", "标题", "文号", "发布日期", "有效期", "条目数"]]
    for d in docs:
        mark = "（默认）" if d.default else ""
        rows.append([d.id + mark, d.title, d.doc_number, d.issued, d.period or "-", str(d.records)])
    print(_table(rows))
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from .library import Library, LibraryError
    from .settings import get_settings

    try:
        info = Library(get_settings()).remove(args.id)
    except LibraryError as e:
        print(f"未删除：{e.message}", file=sys.stderr)
        return EXIT_REFUSED
    print(f"已删除：{info.id}　{info.title}")
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    from .settings import get_settings
    from .store import IndexError_, ensure_index

    try:
        manifest = ensure_index(get_settings(), rebuild=args.rebuild, progress=True)
    except IndexError_ as e:
        print(str(e), file=sys.stderr)
        return 1
    print(
        f"索引就绪：{manifest['chunks']} 个片段，模型 {manifest['model_id']}，"
        f"维度 {manifest['dimension']}，语料 {manifest['corpus_hash']}"
    )
    # the training questions' vectors too (neighbour votes), so the first start is quick
    from .service import Service

    neighbours = Service(get_settings()).retriever.neighbours
    if neighbours is not None:
        print(f"训练问题向量就绪：{len(neighbours)} 条")
    return 0


def _read_question(text: str | None) -> str:
    if text is None or text == "-":
        return sys.stdin.read()
    return text


def cmd_search(args: argparse.Namespace) -> int:
    from .service import get_service
    from .text import InputError

    svc = get_service()
    try:
        hits = svc.search(_read_question(args.query), k=args.k)
    except InputError as e:
        print(str(e), file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        _print_json([h.model_dump() for h in hits])
        return 0
    for i, h in enumerate(hits, 1):
        print(f"{i}. [{h.id}] {h.readable}  score={h.score:.4f}  ({h.via})")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from .service import get_service

    history = []
    if args.history:
        try:
            history = json.loads(Path(args.history).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            print(f"无法读取对话历史文件：{e}", file=sys.stderr)
            return EXIT_USAGE
    ans = get_service().answer(_read_question(args.question), history)
    if args.json:
        _print_json(ans.model_dump())
    else:
        print(ans.text)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluation import QuestionSetError, run_eval_command

    try:
        return run_eval_command(
            Path(args.questions),
            json_out=Path(args.json) if args.json else None,
            report=Path(args.report) if args.report else None,
            baselines=args.baselines,
            progress=not args.quiet,
            gate=Path(args.gate) if args.gate else None,
            compare_to=Path(args.compare) if args.compare else None,
        )
    except QuestionSetError as e:
        print(str(e), file=sys.stderr)
        return EXIT_USAGE


def cmd_train(args: argparse.Namespace) -> int:
    from .answer.decide import PARAMS
    from .answer.train import MAX_FALSE_REFUSALS, train
    from .service import get_service
    from .settings import ROOT

    files = sorted((ROOT / "eval" / "train").glob("*.jsonl"))
    if not files:
        print("没有训练集：eval/train/*.jsonl", file=sys.stderr)
        return EXIT_USAGE
    out = Path(args.out) if args.out else PARAMS
    limit = args.max_false_refusals if args.max_false_refusals is not None else MAX_FALSE_REFUSALS
    report = train(get_service(), files, out=out, max_false_refusals=limit)
    for name in ("full", "lexical"):
        r = report[name]
        op = r["operating_point"]
        print(
            f"{name:8s} C={r['C']}  cross-validated AUC {r['cv_auc']:.3f}  threshold "
            f"{op['threshold']:.2f}: traps declined {op['refusal_accuracy']:.3f}, "
            f"false refusals {op['false_refusal_rate']:.3f}"
        )
    rr = report["rerank"]
    print(
        f"re-ranker C={rr['C']}  hit@1 of the fused order {rr['hit_at_1_fused']:.3f}, "
        f"re-ranked (cross-validated) {rr['hit_at_1_reranked_cv']:.3f}"
    )
    ar = report["attribute"]
    print(
        f"asked attribute: {ar['questions']} questions, cross-validated accuracy "
        f"{ar['cv_accuracy']:.3f}, {ar['ngrams']} n-grams"
    )
    print(f"written {out} in {report['seconds']} s")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .server import serve

    serve(host=args.host, port=args.port, workers=args.workers)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="policyqa",
        description="泉城政策通：济南市基本公共服务均等化“十三五”规划问答（有出处）",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("index", help="build (or check) the search index")
    s.add_argument("--rebuild", action="store_true", help="rebuild even if up to date")
    s.set_defaults(func=cmd_index)

    s = sub.add_parser("show", help="print one record by citation ID, e.g. 清单-56")
    s.add_argument(
        "id",
        nargs="?",
        help="citation ID: 清单-56, 分工-3, 专栏-7, 章节-三（五）; another document's: DOC:条款-3",
    )
    s.add_argument("--list", action="store_true", help="list every ID with its title")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_show)

    s = sub.add_parser("add", help="add a policy document (.txt/.md/.docx/.pdf) to the library")
    s.add_argument("file")
    s.add_argument("--id", help="document id (lower-case letters, digits, '-'): cited as ID:条款-3")
    s.add_argument("--title", help="title, when the text's own is not the one to show")
    s.add_argument("--issued", help="date issued, YYYY-MM-DD (overrides the text)")
    s.add_argument("--json", action="store_true", help="print the document's facts as JSON")
    s.set_defaults(func=cmd_add)

    s = sub.add_parser("docs", help="list the documents: id, title, 文号, date, period, records")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_docs)

    s = sub.add_parser("remove", help="remove an added document from the library and index")
    s.add_argument("id")
    s.set_defaults(func=cmd_remove)

    s = sub.add_parser("search", help="ranked sources for a query")
    s.add_argument("query", nargs="?", help="the query ('-' or absent: stdin)")
    s.add_argument("--k", type=int, default=5, help="how many sources")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_search)

    s = sub.add_parser("ask", help="answer a question with citations")
    s.add_argument("question", nargs="?", help="the question ('-' or absent: stdin)")
    s.add_argument("--history", help="JSON file: [{role, content}, ...] oldest first")
    s.add_argument("--json", action="store_true", help="print the Answer as JSON")
    s.set_defaults(func=cmd_ask)

    s = sub.add_parser("eval", help="score a question set (JSONL, see EVAL_FORMAT.md)")
    s.add_argument("questions")
    s.add_argument("--json", help="write the JSON report here")
    s.add_argument("--report", help="write the self-contained HTML report here")
    s.add_argument("--baselines", action="store_true", help="also measure retrieval baselines")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument("--gate", help="floors JSON: exit 1 when a headline score falls below")
    s.add_argument("--compare", help="an earlier JSON report: print fixed/broken questions")
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser("train", help="fit the answerability model from eval/train/*.jsonl")
    s.add_argument("--out", help="where to write the parameters (default: the shipped file)")
    s.add_argument(
        "--max-false-refusals",
        type=float,
        default=None,
        help="operating point: the most answerable questions it may decline (cross-validated; "
        "default 0.02, see assistant/answer/train.py)",
    )
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("serve", help="start the page and the API")
    s.add_argument("--host", default=None)
    s.add_argument("--port", type=int, default=None)
    s.add_argument(
        "--workers",
        type=int,
        default=None,
        help="answer processes (default: POLICYQA_WORKERS, else one per core); 1 = one process",
    )
    s.set_defaults(func=cmd_serve)
    return p


def show_steps() -> None:
    """Long first-run steps (model conversion, export, index) as plain lines, not log records."""
    steps = logging.getLogger("policyqa.steps")
    if not steps.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("==> %(message)s"))
        steps.addHandler(handler)
        steps.propagate = False


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    show_steps()
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (`policyqa show --list | head`): stop quietly, as Unix tools do;
        # stdout goes to devnull so the interpreter's final flush does not raise again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
