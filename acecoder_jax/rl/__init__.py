"""RL for code models: advantage estimators (Reinforce++, GRPO, RLOO, Dr. GRPO) and the PPO-clip loss."""

from acecoder_jax.rl.estimators import ESTIMATORS, compute_advantages, kl_penalty, whiten
from acecoder_jax.rl.policy_loss import AGGREGATIONS, policy_loss, policy_loss_sums

__all__ = [
    "AGGREGATIONS",
    "ESTIMATORS",
    "compute_advantages",
    "kl_penalty",
    "policy_loss",
    "policy_loss_sums",
    "whiten",
]
