"""The tiny train-rl run the RL tests share: the world's prompts, a random `world-tiny` policy, 3 rollout
batches of 8 prompts x 2 samples (2 updates each), checkpoints every update."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tiny_rl_config(run_root: Path, world: Path, *, heldout_problems: int = 0) -> Path:
    """Write the tiny RL config (run_dir `run_root`/run; with `heldout_problems`, that many of the world's
    held-out problems measured at the end); returns its path."""
    path = run_root / "rl.yaml"
    heldout = f", heldout: {world / 'heldout.jsonl'}" if heldout_problems else ""
    lines = [
        f"run_dir: {run_root / 'run'}",
        f"policy: {{model: world-tiny, tokenizer: {world / 'tokenizer'}, dtype: float32, "
        "ref_dtype: float32}",
        f"data: {{train: {world / 'train.jsonl'}, max_prompt_tokens: 256{heldout}}}",
        f"eval: {{max_problems: {heldout_problems}}}",
        "rollout: {prompts: 8, group_size: 2, max_new_tokens: 16}",
        "reward: {timeout_s: 2.0, memory_mb: 512, workers: 1}",
        "loss: {estimator: reinforce, kl_coef: 0.01}",
        "train: {rollouts: 3, batch_size: 8, lr: 1.0e-3, warmup_ratio: 0.0}",
        "checkpoint: {every: 1, keep: 10, async_save: false}",
        "log: {every: 1, progress: false}",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path
