"""Code shared by acecoder_jax and data_gen; imports neither jax nor torch."""
