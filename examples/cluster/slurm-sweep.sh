#!/bin/bash
# A sweep as a Slurm job array: task I of N runs shard I/N; a dependent job merges them.
#   sbatch --array=0-15 examples/cluster/slurm-sweep.sh
#   sbatch --dependency=afterok:<array job id> --wrap "convlab sweep merge sweeps/pattern1d"
# Every task writes sweeps/pattern1d/runs-shard-I-of-N.jsonl on the shared filesystem; the
# merged results are bit-identical to running the whole sweep on one machine.
#SBATCH --job-name=convlab-sweep
#SBATCH --cpus-per-task=4
#SBATCH --time=00:30:00
#SBATCH --output=sweeps/slurm-%A_%a.out
set -euo pipefail
N=${SLURM_ARRAY_TASK_COUNT:?submit with sbatch --array=0-(N-1)}
I=${SLURM_ARRAY_TASK_ID}
convlab sweep --config examples/cluster/sweep.toml \
  --shard "$I/$N" --jobs "${SLURM_CPUS_PER_TASK:-1}" --out sweeps/pattern1d --quiet
