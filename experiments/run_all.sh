#!/usr/bin/env bash
# Run every strategy x seed of one experiment config, then the report.
#   experiments/run_all.sh experiments/dscnn_kws.yaml [extra entronas search flags]
# Each run gets its own run dir runs/<name>/<strategy>-s<seed>; rerunning resumes.
set -euo pipefail
cfg="$1"; shift || true
name=$(python -c "import yaml,sys; print(yaml.safe_load(open(sys.argv[1]))['name'])" "$cfg")
strategies=$(python -c "import yaml,sys; print(' '.join(yaml.safe_load(open(sys.argv[1])).get('strategies',['entropy'])))" "$cfg")
seeds=$(python -c "import yaml,sys; print(' '.join(map(str,yaml.safe_load(open(sys.argv[1])).get('seeds',[0]))))" "$cfg")
dirs=()
for s in $strategies; do
  for seed in $seeds; do
    d="runs/$name/$s-s$seed"
    entronas search --config "$cfg" --strategy "$s" --seed "$seed" --run-dir "$d" "$@"
    dirs+=("$d")
  done
done
entronas report "${dirs[@]}" --out "runs/$name/report" --title "$name"
