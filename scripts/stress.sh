#!/usr/bin/env bash
# npm run stress [-- N] [-- --load-only]
#
# Loads the machine (two busy-loop CPU hogs per core and a direct-I/O disk
# writer: dd oflag=direct to /var/tmp/tornlab-load-<pid>, in a loop) and runs
# the real-database test files N times (N: first argument or STRESS_RUNS,
# default 3), each jest invocation bounded by `timeout` (STRESS_TIMEOUT s,
# default 900; past it the run counts as a hang). Before the load it measures
# the quiet cycle times (tornlab pg / tornlab sqlite), then the same loaded.
# After every jest invocation it looks for leftovers: `tornlab doctor --json`
# (dead runs' mounts, loops, processes, run folders under /run/tornlab) that
# were not there at the start, and processes of tornlab runs in state D.
#
#   --load-only (or STRESS_LOAD_ONLY=1): only produce the load, so that CI can
#   run beside it, until SIGINT/SIGTERM or STRESS_LOAD_SECONDS (default 5400,
#   CI's time limit) have passed; it prints the pid to signal.
#   STRESS_FILES: the test paths (default: test/postgres test/sqlite test/exec
#   test/export test/robustness). STRESS_NO_BUILD=1 skips the build.
#
# The hogs are killed (by their own process groups) and the dd file removed
# on every exit: normal end, error, SIGINT, SIGTERM. Each load process also
# checks that this script is alive and stops by itself once it is not (a
# SIGKILL of the script, which runs no trap, leaves no load behind).
set -u
cd "$(dirname "$0")/.."

RUNS="${STRESS_RUNS:-3}"
LOAD_ONLY="${STRESS_LOAD_ONLY:-0}"
for a in "$@"; do
  case "$a" in
    --load-only) LOAD_ONLY=1 ;;
    [0-9]*) RUNS="$a" ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "stress: unknown argument $a" >&2; exit 2 ;;
  esac
done
LIMIT="${STRESS_TIMEOUT:-900}"
FILES=(${STRESS_FILES:-test/postgres test/sqlite test/exec test/export test/robustness})
CLI=dist/src/cli/main.js
DDFILE="/var/tmp/tornlab-load-$$"
WORK="$(mktemp -d /tmp/tornlab-stress-XXXXXX)"
# Output of failed or hung jest runs is kept here.
LOGS="${STRESS_LOG_DIR:-/var/tmp/tornlab-stress-logs-$$}"
LOAD_PIDS=()

stop_load() {
  local p
  for p in "${LOAD_PIDS[@]}"; do kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null; done
  for p in "${LOAD_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  LOAD_PIDS=()
  # dd may still finish its last direct write
  sleep 0.3
  rm -f "$DDFILE"
}
cleanup() {
  stop_load
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "stress: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

start_load() {
  local n i
  n=$(( $(nproc) * 2 ))
  for ((i = 0; i < n; i++)); do
    setsid sh -c 'while kill -0 "$1" 2>/dev/null; do :; done' tornlab-load-hog $$ </dev/null >/dev/null 2>&1 &
    LOAD_PIDS+=($!)
  done
  setsid sh -c 'while kill -0 "$2" 2>/dev/null; do dd if=/dev/zero of="$1" bs=1M count=256 oflag=direct status=none || sleep 1; done; rm -f "$1"' tornlab-load-writer "$DDFILE" $$ </dev/null >/dev/null 2>&1 &
  LOAD_PIDS+=($!)
  echo "load: $n CPU hogs + direct-I/O writer ($DDFILE); pids ${LOAD_PIDS[*]}"
}

if [ "$LOAD_ONLY" = 1 ]; then
  start_load
  LOAD_SECONDS="${STRESS_LOAD_SECONDS:-5400}"
  echo "load only: running for at most ${LOAD_SECONDS} s; stop it with: kill $$"
  # One-second naps: a SIGKILL of this script leaves no long sleep behind, and traps run within a second.
  end=$((SECONDS + LOAD_SECONDS))
  while ((SECONDS < end)); do sleep 1; done
  exit 0
fi

if [ "${STRESS_NO_BUILD:-0}" != 1 ]; then
  npx tsc -p tsconfig.json || { echo "stress: build failed" >&2; exit 1; }
fi

# One CLI measurement: pg median cycle (s) and sqlite cycles/min; "n/a" when a run fails.
measure() {
  local label="$1" pgms sqcpm
  pgms=$(node "$CLI" pg --fpw on --crashes 3 --load-ms 1000 --json 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{const j=JSON.parse(s);console.log((j.medianCycleMs/1000).toFixed(1)+" s (base image "+(j.base.buildMs/1000).toFixed(1)+" s)")}catch{console.log("n/a")}})')
  sqcpm=$(node "$CLI" sqlite --crashes 6 --json 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{const j=JSON.parse(s);console.log(j.cyclesPerMinute.toFixed(1)+" cycles/min")}catch{console.log("n/a")}})')
  echo "$label: pg median cycle $pgms; sqlite $sqcpm"
}

# Leftovers of dead tornlab runs, as "kind id run" lines (doctor's view: only marked resources).
leftover_lines() {
  node "$CLI" doctor --json 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{for(const l of JSON.parse(s).leftovers)console.log(`${l.kind} ${l.id} ${l.runId}`)}catch{}})' | sort
}

# Processes of tornlab runs (TORNLAB_RUN / TORNLAB_DEVICE_HOST marker) in state D.
dstate_lines() {
  local f pid st
  for f in /proc/[0-9]*/environ; do
    pid=${f#/proc/}; pid=${pid%/environ}
    grep -qzE '^TORNLAB_(RUN|DEVICE_HOST)=' "$f" 2>/dev/null || continue
    st=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)
    [ "$st" = D ] && echo "$pid $(cat /proc/$pid/comm 2>/dev/null)"
  done
}

leftover_lines >"$WORK/baseline"
echo "stress: $RUNS pass(es) over ${FILES[*]}; limit ${LIMIT} s per jest run; $(wc -l <"$WORK/baseline") leftover(s) of earlier runs ignored"

QUIET=$(measure quiet)
echo "$QUIET"
start_load
LOADED=$(measure loaded)
echo "$LOADED"

runs=0 passes=0 fails=0 hangs=0 leftovers=0 dstate=0
declare -A WALL
for ((pass = 1; pass <= RUNS; pass++)); do
  for f in "${FILES[@]}"; do
    runs=$((runs + 1))
    t0=$(date +%s)
    timeout --kill-after=30 "$LIMIT" npx jest "$f" --runInBand >"$WORK/out" 2>&1
    rc=$?
    dt=$(( $(date +%s) - t0 ))
    WALL[$f]="${WALL[$f]:-}${WALL[$f]:+ }${dt}s"
    case $rc in
      0) passes=$((passes + 1)); verdict=pass ;;
      124|137) hangs=$((hangs + 1)); verdict="HANG (over ${LIMIT} s)" ;;
      *) fails=$((fails + 1)); verdict="FAIL (exit $rc)"; grep -E '✕|●' "$WORK/out" | head -20 | sed 's/^/    /' ;;
    esac
    if [ "$verdict" != pass ]; then
      mkdir -p "$LOGS"
      log="$LOGS/pass$pass-$(echo "$f" | tr '/' '_').log"
      cp "$WORK/out" "$log"
      verdict="$verdict (output: $log)"
    fi
    leftover_lines | comm -13 "$WORK/baseline" - >"$WORK/new"
    nl=$(wc -l <"$WORK/new")
    nd=$(dstate_lines | wc -l)
    leftovers=$((leftovers + nl))
    dstate=$((dstate + nd))
    echo "pass $pass $f: $verdict in ${dt} s; new leftovers $nl; D-state processes $nd"
    sed 's/^/    leftover: /' "$WORK/new"
    # counted once: later checks only report what is new after this one
    cat "$WORK/new" >>"$WORK/baseline"; sort -o "$WORK/baseline" "$WORK/baseline"
  done
done
stop_load

echo
echo "=== stress summary ($(nproc) cores, $(( $(nproc) * 2 )) CPU hogs + dd oflag=direct) ==="
echo "jest runs: $runs; passes: $passes; failures: $fails; hangs: $hangs"
echo "leftovers found afterwards: $leftovers; D-state processes: $dstate"
echo "$QUIET"
echo "$LOADED"
for f in "${FILES[@]}"; do echo "wall time loaded, $f: ${WALL[$f]}"; done
[ "$fails" = 0 ] && [ "$hangs" = 0 ] && [ "$leftovers" = 0 ] && [ "$dstate" = 0 ]
