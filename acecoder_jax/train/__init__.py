"""The training core every trainer (RM, SFT, RL) shares: step, loop, batches, optimizer, state, checkpoints,
metrics (docs/training_core.md)."""
