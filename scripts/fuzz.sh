#!/bin/sh
# Runs libFuzzer targets built by `make fuzz` and writes one report line per target.
#
# Why a script and not a make loop: a 1-hour run per target on a 2-core machine only fits if
# targets run side by side (FUZZ_JOBS at once, niced so builds and tests keep their priority),
# and the report must say how much CPU each target really had, not just its wall time.
#
# usage: scripts/fuzz.sh LF_DIR SECONDS JOBS target...
#   LF_DIR   where `make fuzz` put lf/<target>; logs, new inputs and crashes go there too
#   SECONDS  -max_total_time per target (wall clock)
#   JOBS     how many targets run at once
# Report: LF_DIR/report.tsv (target, wall s, cpu s, execs, execs/s, cov, ft, corpus, new,
# peak rss MB, verdict). Exit status 1 if any target found a crash, leak or timeout.
set -u
lf=$1; secs=$2; jobs=$3; shift 3

run_one() {
	n=$1
	mkdir -p "$lf/corpus-$n" "$lf/crash-$n" "tests/fuzz/corpus/$n"
	d=; [ -f "tests/fuzz/$n.dict" ] && d="-dict=tests/fuzz/$n.dict"
	start=$(date +%s)
	# /usr/bin/time gives the target's own user+system CPU seconds (%U %S).
	/usr/bin/time -f '%U %S' -o "$lf/$n.cpu" nice -n 19 "$lf/lf/$n" \
		-max_total_time="$secs" -max_len=65536 -print_final_stats=1 $d \
		-artifact_prefix="$lf/crash-$n/" "$lf/corpus-$n" "tests/fuzz/corpus/$n" \
		>"$lf/$n.log" 2>&1
	rc=$?
	wall=$(( $(date +%s) - start ))
	cpu=$(awk '{printf "%.0f", $1 + $2}' "$lf/$n.cpu" 2>/dev/null)
	stat() { sed -n "s/^stat::$1: *//p" "$lf/$n.log" | tail -1; }
	# The last "pulse"/"DONE" line carries cov, ft and the corpus size.
	last=$(grep -E '^#[0-9]+' "$lf/$n.log" | tail -1)
	cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$last" | sed -n 's/.*corp: \([0-9]*\).*/\1/p')
	verdict=ok
	[ "$rc" -eq 0 ] || verdict="FAILED(rc=$rc)"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$wall" "${cpu:-?}" \
		"$(stat number_of_executed_units)" "$(stat average_exec_per_sec)" "${cov:-?}" \
		"${ft:-?}" "${corp:-?}" "$(stat new_units_added)" "$(stat peak_rss_mb)" "$verdict" \
		>"$lf/$n.report"
	[ "$rc" -eq 0 ]
}

# A small job pool in POSIX sh: start up to $jobs, wait for any one to finish (wait -n is
# bash-only, so poll the pid list once a second).
pids=
fail=0
for n in "$@"; do
	while [ "$(echo $pids | wc -w)" -ge "$jobs" ]; do
		sleep 1
		alive=
		for p in $pids; do
			if kill -0 "$p" 2>/dev/null; then alive="$alive $p"; else wait "$p" || fail=1; fi
		done
		pids=$alive
	done
	run_one "$n" &
	pids="$pids $!"
done
for p in $pids; do wait "$p" || fail=1; done

{
	printf 'target\twall_s\tcpu_s\texecs\texecs_per_s\tcov\tft\tcorpus\tnew\tpeak_rss_mb\tverdict\n'
	for n in "$@"; do cat "$lf/$n.report"; done
} >"$lf/report.tsv"
column -t -s "$(printf '\t')" "$lf/report.tsv"
for n in "$@"; do
	grep -q 'FAILED' "$lf/$n.report" || continue
	grep -m3 -E 'ERROR|runtime error|\.c:[0-9]+:' "$lf/$n.log"
	echo "$n: FAILED, log $lf/$n.log, inputs in $lf/crash-$n/"
done
exit $fail
