"""Best-of-N evaluation: benchmarks, prompts, sampling or reading candidates, reward-model reranking,
execution, pass@k and best-of-N metrics, markdown + PNG reports."""
