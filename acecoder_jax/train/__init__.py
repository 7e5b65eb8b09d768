"""Shared training infrastructure (RM now, RL later): optimizer, train state, checkpoints, metrics, meters."""
