#!/bin/bash
# A sweep as a Slurm job array: task I of N runs shard I/N; a dependent job merges them.
#   sbatch --array=0-15 examples/cluster/slurm-sweep.sh
#   sbatch --dependency=afterok:<array job id> --wrap "convlab sweep merge sweeps/pattern1d"
# Every task writes sweeps/pattern1d/runs-shard-I-of-N.jsonl on the shared filesystem; the
# merged results are bit-identical to running the whole sweep on one machine.
# CONVLAB_SWEEP_CONFIG, CONVLAB_SWEEP_OUT and CONVLAB (the binary) override the defaults below;
# sbatch passes the submitting shell's environment on (examples/cluster/slurm-check.sh does so).
#SBATCH --job-name=convlab-sweep
#SBATCH --cpus-per-task=4
#SBATCH --time=00:30:00
#SBATCH --output=sweeps/slurm-%A_%a.out
set -euo pipefail
N=${SLURM_ARRAY_TASK_COUNT:?submit with sbatch --array=0-(N-1)}
I=${SLURM_ARRAY_TASK_ID}
CONVLAB=${CONVLAB:-convlab}
"$CONVLAB" sweep --config "${CONVLAB_SWEEP_CONFIG:-examples/cluster/sweep.toml}" \
  --shard "$I/$N" --jobs "${SLURM_CPUS_PER_TASK:-1}" --out "${CONVLAB_SWEEP_OUT:-sweeps/pattern1d}" --quiet
