"""``memlab bench``: memory systems side by side (retrieval at several k, answers, LLM judge, paired tests).

    from memlab.bench import Benchmark
    result = Benchmark("locomo-dev.json", ["memlab", "bm25", "mem0"], ks=(1, 5, 10, 20)).run(only="retrieval")
    result.summary_table()

See docs/bench.md.
"""

from __future__ import annotations

from memlab.bench.answers import J_PROMPT, ExtractiveAnswerer, LLMAnswerer, LLMJudge, bleu1
from memlab.bench.report import BenchResult
from memlab.bench.runner import Benchmark
from memlab.bench.stats import holm, paired_randomization_test, pairwise_tests
from memlab.bench.systems import SystemSpec, make_system

__all__ = ["BenchResult", "Benchmark", "ExtractiveAnswerer", "J_PROMPT", "LLMAnswerer", "LLMJudge", "SystemSpec",
           "bleu1", "holm", "make_system", "paired_randomization_test", "pairwise_tests"]
