#!/bin/bash
# One unit test binary under valgrind memcheck, for make test-valgrind (run
# in parallel by xargs). Prints one line; on failure also the first errors.
#   run_one.sh LOGDIR SKIPLIST VALGRIND FLAGS... -- BINARY
set -u
logdir=$1 skip=$2 valgrind=$3
shift 3
flags=()
while [ "$1" != "--" ]; do flags+=("$1"); shift; done
bin=$(realpath "$2")
name=$(basename "$bin")
log=$logdir/$name.log
if [[ " $skip " == *" $name "* ]]; then
	echo "valgrind skipped $name (VALGRIND_SKIP)"
	exit 0
fi
start=$SECONDS
# the unit tests find their fixtures relative to tests/unit
if (cd "$(dirname "$0")/../unit" && "$valgrind" "${flags[@]}" --log-file="$log" "$bin" >"$log.out" 2>&1); then
	echo "valgrind ok      $name ($((SECONDS - start)) s)"
	exit 0
fi
echo "valgrind FAILED  $name (test output: $log.out, valgrind: $log)"
grep -v '^==[0-9]*== *$' "$log" | head -n 40
exit 1
