"""data_gen: AceCoder's data pipeline (synth-tests, filter-tests, sample, score, pairs, hard subset).

Imports neither jax nor torch at package level; generation backends import their libraries only when chosen.
"""
