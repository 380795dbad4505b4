#!/bin/sh
# Fork/exec-heavy: two parallel lanes, each starting short-lived processes
# (the Python interpreter given as $1, and small coreutils) in a fixed loop.
# Checks that a profiler follows new processes from their first instruction.
#
# usage: forkexec.sh PYTHON [ROUNDS]   (default 80 rounds, about 2 s)
py=${1:-python3}
rounds=${2:-80}

lane() {
	i=0
	while [ "$i" -lt "$rounds" ]; do
		"$py" -c 'sum(i * i for i in range(20000))'
		echo "$i" | sha256sum >/dev/null
		ls / >/dev/null
		i=$((i + 1))
	done
}

lane &
lane
wait
