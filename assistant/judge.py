"""Optional LLM-judge scores, as RAGAS defines them: faithfulness and answer relevancy.

faithfulness = statements of the answer that the retrieved context supports / all statements;
answer relevancy = mean cosine between the question and questions an LLM writes for the answer.
Both need an LLM endpoint; without one the report says they were skipped.
"""

from __future__ import annotations

import json
import logging
import re

import numpy as np
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from . import prompts

logger = logging.getLogger(__name__)


def _json(text: str):
    m = re.search(r"(\[.*\]|\{.*\})", text, re.S)
    return json.loads(m.group(1)) if m else None


def faithfulness(llm, answer: str, context: str) -> float | None:
    chain = (
        ChatPromptTemplate.from_messages([("human", prompts.JUDGE_FAITHFULNESS)])
        | llm
        | StrOutputParser()
    )
    verdicts = _json(chain.invoke({"answer": answer, "context": context}))
    if not isinstance(verdicts, list) or not verdicts:
        return None
    supported = [bool(v.get("supported")) for v in verdicts if isinstance(v, dict)]
    return float(np.mean(supported)) if supported else None


def answer_relevancy(llm, embeddings, question: str, answer: str) -> float | None:
    chain = (
        ChatPromptTemplate.from_messages([("human", prompts.JUDGE_RELEVANCY)])
        | llm
        | StrOutputParser()
    )
    generated = _json(chain.invoke({"answer": answer}))
    if not isinstance(generated, list) or not generated:
        return None
    q = np.array(embeddings.embed_query(question))
    gen = np.array([embeddings.embed_query(str(g)) for g in generated[:3]])
    return float(np.mean(gen @ q))


def judge_report(report: dict, service, llm=None) -> dict:
    """Adds report["llm_judge"]: mean scores over answered questions, or why it was skipped."""
    if llm is None:
        if not service.settings.llm_enabled:
            return {"skipped": "no LLM endpoint configured (set POLICYQA_LLM_BASE_URL)"}
        from .llm import make_llm

        llm = make_llm(service.settings)
    if service.embeddings is None:
        return {"skipped": "answer relevancy needs the embedding model"}
    faith, rel = [], []
    for q in report["questions"]:
        if not q["answered"]:
            continue
        context = "\n\n".join(service.by_id[c].text for c in q["cited"] if c in service.by_id)
        try:
            f = faithfulness(llm, q["answer"], context)
            r = answer_relevancy(llm, service.embeddings, q["question"], q["answer"])
        except Exception as e:
            logger.warning("LLM judge failed on %s: %s", q["id"], e)
            continue
        q["faithfulness"], q["answer_relevancy"] = f, r
        if f is not None:
            faith.append(f)
        if r is not None:
            rel.append(r)
    return {
        "faithfulness": round(float(np.mean(faith)), 4) if faith else None,
        "answer_relevancy": round(float(np.mean(rel)), 4) if rel else None,
        "judged": len(faith),
    }
