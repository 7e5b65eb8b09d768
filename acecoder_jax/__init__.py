"""acecoder-jax: AceCoder's reward-model and RL training stack in JAX.

Importing this package imports nothing heavy; `acecoder_jax.common` stays free of jax and torch so that
`data_gen` and the CLI can share it.
"""

__version__ = "0.1.0"
