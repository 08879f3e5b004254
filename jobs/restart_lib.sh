# restart_lib.sh - what the restart loops of jobs/elastic.sh and
# slurm/train.sbatch share: sourced, not run.

# rt_ckpt_step RUN_DIR: the step of the run's newest complete checkpoint, 0 with none
rt_ckpt_step() {
    local name
    name=$(cat "$1/ckpt/latest" 2>/dev/null) || { echo 0; return; }
    name=$(basename "$name" .h5)
    echo $((10#${name#step_}))
}

# rt_json_list A B ...: ["A","B",...]
rt_json_list() { local out="" h; for h in "$@"; do out="$out${out:+,}\"$h\""; done; echo "[$out]"; }

# rt_elastic_event RUN_DIR STEP OLD_WORLD NEW_WORLD RESTART EXIT_CODE LAUNCHER HOST...: appends
# DESIGN.md's elastic_restart event to RUN_DIR/metrics.jsonl (LAUNCHER "" leaves the key out)
rt_elastic_event() {
    local dir=$1 step=$2 old=$3 new=$4 restart=$5 rc=$6 launcher=$7
    shift 7
    printf '{"event":"elastic_restart","step":%d,"old_world_size":%d,"new_world_size":%d,"hosts_dropped":%s,"restart":%d,"exit_code":%d%s}\n' \
        "$step" "$old" "$new" "$(rt_json_list "$@")" "$restart" "$rc" "${launcher:+,\"launcher\":\"$launcher\"}" \
        >>"$dir/metrics.jsonl"
}
