#!/usr/bin/env bash
# Train on a Cloud TPU pod slice (every host runs the same command; jax.distributed.initialize() finds the
# other hosts from the TPU metadata). COMMAND picks the trainer: train-rm (default), train-sft or train-rl (each
# host then samples and judges its share of every rollout batch, with an executor on its own CPUs).
#
#   scripts/launch/tpu_pod.sh TPU_NAME ZONE configs/rm/qwen25_coder_7b.yaml [key=value ...]
#   COMMAND=train-rl scripts/launch/tpu_pod.sh TPU_NAME ZONE configs/rl/tpu-v5e-64/qwen25_coder_7b_instruct_rule.yaml
#
# Assumes the repository is checked out at the same path on every host with .venv installed (`make install`),
# and that model/data paths in the config are visible to all hosts (GCS fuse or a shared disk).
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 TPU_NAME ZONE CONFIG [key=value ...]" >&2
  exit 2
fi
TPU_NAME=$1 ZONE=$2 CONFIG=$3
shift 3
REPO=${REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
COMMAND=${COMMAND:-train-rm}
OVERRIDES=$(printf ' %q' "$@")
gcloud compute tpus tpu-vm ssh "$TPU_NAME" --zone "$ZONE" --worker=all --command "
  cd $REPO &&
  ACECODER_DISTRIBUTED=1 .venv/bin/acecoder $COMMAND --config $CONFIG $OVERRIDES
"
