#!/usr/bin/env bash
# Regenerate Pi-SAM's Table 5 ablation files for the tiny SAM, sam_repro/backbones/weights/pi_sam_tiny_ablation_<V>.pt,
# every variant (none, rgb, rgb_hr, full) at one equal budget: the HR stage alone (the interactor plays no part in
# Table 5), STEPS HR steps of 4 images each, HQ parts started from the registered HQ-SAM file as for Pi-SAM itself,
# everything else Pi-SAM's defaults (sam-repro train pisam). About 8-10 min per variant at one thread. The shipped
# Pi-SAM (pi_sam_tiny.pt, `sam-repro train pisam`) is trained longer and is not one of these rows.
#
#   bash scripts/train_pisam_ablations.sh                      # all four, one after another, 1 thread
#   VARIANTS="none rgb" THREADS=1 bash scripts/train_pisam_ablations.sh   # a subset (two such calls can share 2 cores)
#
# Resumable: each variant keeps its state under runs/pi_sam_ablation_<V>/.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS="${THREADS:-1}"
STEPS="${STEPS:-600}"
for variant in ${VARIANTS:-none rgb rgb_hr full}; do
  OMP_NUM_THREADS="$THREADS" .venv/bin/sam-repro train pisam --variant "$variant" --steps-hr "$STEPS" \
    --steps-interactor 0 --threads "$THREADS" --run-dir "runs/pi_sam_ablation_$variant" \
    --output "sam_repro/backbones/weights/pi_sam_tiny_ablation_$variant.pt"
done
