"""`acecoder train-sft`: supervised fine-tuning of a causal LM on chat rows (loss on assistant tokens)."""
