#!/bin/bash
# Usage: /tmp/timed.sh -- bench/cmd/searchbench/timedphase.sh PID FILE
# Run under /tmp/timed.sh: gives searchbench PID (waiting at -ready FILE
# after its warm-up) the timed run's priority, all its threads, then lets
# it start the timed queries and holds the lock until it exits.
pid=$1; f=$2
prio() { for t in /proc/$pid/task/*; do renice -n -10 -p "${t##*/}" >/dev/null 2>&1; done; }
prio
echo "timedphase: $(date -u +%T) releasing $pid, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
touch "$f"
while kill -0 "$pid" 2>/dev/null; do prio; sleep 1; done
echo "timedphase: $(date -u +%T) $pid done, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
