#!/usr/bin/env bash
# Elastic training across hosts: runs `ringtrain train` under mpirun on the
# hosts of a hostfile and, when the job dies because a host was lost, drops
# every host that no longer answers, restarts on the hosts left at the
# largest world size their slots give (at least --min-np), and resumes from
# the latest checkpoint. The global batch and the data order do not depend on
# the world size (README "Training semantics"), so the run goes on as it
# would have at the new size. Each restart is logged to stderr and as an
# elastic_restart event in RUN_DIR/metrics.jsonl: the old and new world size,
# the hosts dropped, the checkpoint step and mpirun's exit code.
#
# usage: jobs/elastic.sh --hostfile FILE [--min-np N] [--max-restarts K] CONFIG --run-dir DIR [train args...]
#   FILE     mpirun's hostfile: "HOST slots=R" per line (slots default 1)
#   N        the smallest world size worth running at (default 1)
#   K        restarts before giving up (default 10)
# environment:
#   RINGTRAIN     the binary (default build/ringtrain)
#   RT_MPIRUN     the launcher (default mpirun), given --hostfile and -np
#   RT_PROBE      a command that exits 0 when the host appended to it answers
#                 (default: ssh -o BatchMode=yes -o ConnectTimeout=5 HOST true)
# exit: train's code when it ends for a reason a restart cannot fix (0 done,
# 1 runtime failure, 2 bad input, 3 stopped by a signal and safe to requeue);
# 4 when fewer than N slots are left or K restarts are used up.
set -u
usage() { sed -n '12,24p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "elastic: error: $*" >&2; exit 2; }
hostfile="" min_np=1 max_restarts=10
while [ $# -gt 0 ]; do
    case $1 in
    --hostfile) [ $# -ge 2 ] || die "--hostfile needs a file"; hostfile=$2; shift 2 ;;
    --min-np) [ $# -ge 2 ] || die "--min-np needs a number"; min_np=$2; shift 2 ;;
    --max-restarts) [ $# -ge 2 ] || die "--max-restarts needs a number"; max_restarts=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) break ;;
    esac
done
[ $# -ge 1 ] || { usage >&2; exit 2; }
[ -n "$hostfile" ] || die "--hostfile FILE is required"
[ -r "$hostfile" ] || die "$hostfile: cannot read the hostfile"
[[ "$min_np" =~ ^[1-9][0-9]*$ ]] || die "--min-np: a positive number, not \"$min_np\""
[[ "$max_restarts" =~ ^[0-9]+$ ]] || die "--max-restarts: a number, not \"$max_restarts\""
config=$1
shift
train_args=("$@")
run_dir=""
for ((i = 0; i < ${#train_args[@]}; i++)); do
    [ "${train_args[$i]}" = --run-dir ] && run_dir=${train_args[$((i + 1))]:-}
    [ "${train_args[$i]}" = --resume ] && die "--resume: elastic.sh resumes by itself (--resume auto)"
done
[ -n "$run_dir" ] || die "--run-dir DIR is required: restarts resume from its checkpoints"
BIN=${RINGTRAIN:-build/ringtrain}
read -ra launcher <<<"${RT_MPIRUN:-mpirun}"
probe_host() {
    if [ -n "${RT_PROBE:-}" ]; then
        local cmd
        read -ra cmd <<<"$RT_PROBE"
        timeout 20 "${cmd[@]}" "$1" >/dev/null 2>&1
    else
        timeout 20 ssh -o BatchMode=yes -o ConnectTimeout=5 "$1" true >/dev/null 2>&1
    fi
}

hosts=() slots=()
while read -r host rest; do
    [ -z "$host" ] || [ "${host#\#}" != "$host" ] && continue
    s=1
    [[ "$rest" =~ slots=([0-9]+) ]] && s=${BASH_REMATCH[1]}
    hosts+=("$host")
    slots+=("$s")
done <"$hostfile"
[ ${#hosts[@]} -gt 0 ] || die "$hostfile: no hosts in it"

world() { local n=0 s; for s in "${slots[@]}"; do n=$((n + s)); done; echo $n; }
lib="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/restart_lib.sh"
# shellcheck source=jobs/restart_lib.sh
. "$lib" || die "$lib: cannot read"

current=$(mktemp /tmp/rt_elastic_hosts.XXXXXX)
trap 'rm -f "$current"' EXIT
restarts=0
while :; do
    np=$(world)
    : >"$current"
    for i in "${!hosts[@]}"; do echo "${hosts[$i]} slots=${slots[$i]}" >>"$current"; done
    echo "elastic: world size $np on ${#hosts[@]} host(s): ${hosts[*]}" >&2
    "${launcher[@]}" --hostfile "$current" -np "$np" "$BIN" train "$config" "${train_args[@]}" --resume auto
    rc=$?
    case $rc in
    0 | 1 | 2 | 3) exit $rc ;; # done, or nothing a restart fixes
    esac
    # a rank was lost (4) or killed (128 + signal): find the hosts that are gone
    alive=() alive_slots=() dropped=()
    for i in "${!hosts[@]}"; do
        if probe_host "${hosts[$i]}"; then
            alive+=("${hosts[$i]}")
            alive_slots+=("${slots[$i]}")
        else
            dropped+=("${hosts[$i]}")
        fi
    done
    if [ $restarts -ge "$max_restarts" ]; then
        echo "elastic: error: $run_dir: mpirun exited $rc after $restarts restarts (--max-restarts); giving up" >&2
        exit 4
    fi
    restarts=$((restarts + 1))
    hosts=("${alive[@]}")
    slots=("${alive_slots[@]}")
    new_np=$(world)
    step=$(rt_ckpt_step "$run_dir")
    if [ "$new_np" -lt "$min_np" ]; then
        echo "elastic: error: $run_dir: $new_np slot(s) left on ${#hosts[@]} host(s) (lost: ${dropped[*]:-none}), fewer than --min-np $min_np" >&2
        exit 4
    fi
    echo "elastic: mpirun exited $rc; hosts lost: ${dropped[*]:-none}; restart $restarts at world size $new_np (was $np) from step $step" >&2
    rt_elastic_event "$run_dir" "$step" "$np" "$new_np" "$restarts" "$rc" "" "${dropped[@]}"
done
