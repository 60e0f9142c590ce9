#!/usr/bin/env bash
# Issue 14: compare changes to the decay phase on one trained trunk, paired. A trunk run
# trained at a constant rate (the preset's first 2/3: its config with epochs E and
# optimizer.decay_fraction 0) is copied once per arm, and every copy is resumed side by side
# with the same decay (--epochs E+K --decay-epochs K) plus the arm's own flags. The arms then
# share everything the constant-rate phase set, which sets most of the seed spread
# (RESULTS.md, twenty-fourth session); an arm that only reseeds the decay (--seed) measures
# what is left of it.
#
#   cig train --data data/bbbc039 --preset realistic-instance --seed 1 --epochs 12 \
#       --steps-per-epoch 300 --decay-fraction 0 --out runs/trunk_s1 --tracking none
#   TRUNK=runs/trunk_s1 EPOCHS=18 DECAY=6 bash benchmarks/decay_branches.sh \
#       ctrl: dkeep:--keep-discriminator-rate reseed:--seed=11
#   cig evaluate --model runs/trunk_s1_ctrl --data data/bbbc039 --tracking none   # each arm
set -euo pipefail
cd "$(dirname "$0")/.."
: "${TRUNK:?a trunk run folder}" "${EPOCHS:?the total epochs}" "${DECAY:?the decay epochs}"
CIG=${CIG:-.venv/bin/cig}
DATA=${DATA:-$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['data']['shards'])" "$TRUNK/config.json")}
[ -f "$TRUNK/checkpoint.npz" ] || { echo "$TRUNK/checkpoint.npz: no trunk checkpoint to branch from" >&2; exit 2; }
pids=()
for arm in "$@"; do
    name=${arm%%:*} flags=${arm#*:}
    out=${TRUNK}_$name
    rm -rf "$out" && cp -r "$TRUNK" "$out"
    # shellcheck disable=SC2086  # the arm's flags split on spaces (--seed=11 keeps an option whole)
    "$CIG" train --data "$DATA" --config "$out/config.json" --resume "$out" --epochs "$EPOCHS" \
        --decay-epochs "$DECAY" --tracking none $flags > "$out.log" 2>&1 &
    pids+=($!)
    echo "=== $name: $out (log $out.log)"
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
exit $status
