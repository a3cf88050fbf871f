"""Before/after comparison: retrieval, response payloads and answers across a change.

>>> from memlab.compare import compare
>>> cmp = compare(memory_before, memory_after, ["Where does Alice live?"], k=5)  # doctest: +SKIP
>>> cmp.to_pandas(); cmp.summary()                                               # doctest: +SKIP

See docs/compare.md.
"""

from memlab.compare.answers import (
    AnswerComparison, ExtractiveResponder, LLMJudge, LLMResponder, compare_answers, exact_match, normalize_answer,
    token_f1,
)
from memlab.compare.core import Comparison, QueryResult, compare
from memlab.compare.payloads import (
    AdaptedMemory, PayloadDiff, adapt_memory, diff_payloads, diff_versions, results_of, to_v10, to_v11,
)
from memlab.compare.queries import Query, load_queries, normalize_queries
from memlab.compare.runs import Run, record_run, records_of

__all__ = [
    "compare", "Comparison", "QueryResult", "Query", "load_queries", "normalize_queries",
    "Run", "record_run", "records_of",
    "diff_payloads", "diff_versions", "PayloadDiff", "results_of", "to_v10", "to_v11", "adapt_memory",
    "AdaptedMemory",
    "compare_answers", "AnswerComparison", "ExtractiveResponder", "LLMResponder", "LLMJudge",
    "token_f1", "exact_match", "normalize_answer",
]
