#!/usr/bin/env bash
# A short run of every fuzz target, from its committed corpus (corpus/<target>/), on the
# stable toolchain and without cargo-fuzz: the targets are built with the coverage
# instrumentation libFuzzer needs (the flags cargo-fuzz passes, no sanitizer), then each runs
# for SECS seconds (5 by default). New inputs go to a scratch directory, so the committed
# corpus stays as it is; a crash, a failed assertion or a leak stops the script with the
# target's name and the input that did it (under $OUT, default target/fuzz-artifacts). Inputs
# that once failed are kept in regressions/<target>-<what> and replayed first.
#
#   engine/fuzz/run.sh [SECS] [TARGET...]
#
# SEED=1 grows the committed corpus instead: each target runs SECS seconds from it and the
# result is merged (minimized) back into corpus/<target>/.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-5}
shift || true
triple=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
# --target keeps the flags off build scripts and proc macros (they are not fuzzed)
cargo build --release --bins --target "$triple" --quiet
bin=target/$triple/release
targets=("$@")
# SKIP="a b": targets left out of the default list
SKIP=${SKIP:-}
if [ ${#targets[@]} = 0 ]; then
	mapfile -t targets < <(sed -n '/^\[\[bin\]\]/{n;s/^name = "\(.*\)"/\1/p}' Cargo.toml |
		grep -vxF -f <(tr ' ' '\n' <<<"$SKIP" | grep .))
fi
out=${OUT:-target/fuzz-artifacts}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$out"
for t in "${targets[@]}"; do
	mkdir -p "corpus/$t" "$scratch/$t"
	dict=()
	[ -f "$t.dict" ] && dict=(-dict="$t.dict")
	if [ "${SEED:-0}" = 1 ]; then
		"$bin/$t" -max_total_time="$secs" -max_len=4096 "${dict[@]}" "$scratch/$t" "corpus/$t" \
			>"$scratch/$t.log" 2>&1 || { tail -30 "$scratch/$t.log"; exit 1; }
		mkdir -p "$scratch/$t.min"
		"$bin/$t" -merge=1 "$scratch/$t.min" "corpus/$t" "$scratch/$t" >>"$scratch/$t.log" 2>&1
		rm -rf "corpus/$t" && mv "$scratch/$t.min" "corpus/$t"
		echo "$t: $(ls "corpus/$t" | wc -l) inputs in the corpus"
		continue
	fi
	# inputs that once failed (regressions/<target>-*) must pass, every run
	for r in regressions/"$t"-*; do
		[ -e "$r" ] || continue
		"$bin/$t" "$r" >"$scratch/$t.log" 2>&1 || {
			echo "FUZZ REGRESSION in $t: $r"
			tail -40 "$scratch/$t.log"
			exit 1
		}
	done
	if "$bin/$t" -max_total_time="$secs" -max_len=4096 "${dict[@]}" \
		-artifact_prefix="$out/$t-" "$scratch/$t" "corpus/$t" >"$scratch/$t.log" 2>&1; then
		runs=$(grep -o 'Done [0-9]* runs' "$scratch/$t.log" | tail -1)
		echo "$t: ${runs:-done} in ${secs}s, no failure"
	else
		echo "FUZZ FAILURE in $t:"
		tail -40 "$scratch/$t.log"
		exit 1
	fi
done
