#!/usr/bin/env bash
# The backup, drill and restore roles as an AWX job runs them (issue 20, DESIGN decision 32). No AWX runs here:
# what AWX keeps of a job is what the playbook publishes with set_stats and not per host (the job's artifacts, and
# what a workflow's next node gets), which ansible-playbook prints with ANSIBLE_SHOW_CUSTOM_STATS; and an AWX job
# is told by its awx_job_id extra var, with which the roles refuse a copy or a drill source on the controller,
# a container that AWX throws away with the job.
set -eux
PS4='+ $SECONDS s: '
inventory="${OUTPUT_DIR}/inventory.ini"
printf '%s\n' "localhost ansible_connection=local ansible_python_interpreter=$(command -v python) output_dir=${OUTPUT_DIR}" \
  > "${inventory}"
export ANSIBLE_SHOW_CUSTOM_STATS=true

# An AWX job that would copy to its own container is refused before anything is taken.
if ansible-playbook -i "${inventory}" jobs.yml -e awx_job_id=41 -e drkit_backup_copy=controller "$@" \
    > "${OUTPUT_DIR}/refused.txt" 2>&1; then
  echo "a copy to an AWX job's controller was not refused" >&2; exit 1
fi
grep -q "this runs as an AWX job (41), whose controller is a container thrown away when the" "${OUTPUT_DIR}/refused.txt"
test ! -e "${OUTPUT_DIR}/backups"

# A nightly job: back up, drill, restore; its one summary holds all three, keyed by group.
ansible-playbook -i "${inventory}" jobs.yml -e awx_job_id=42 "$@" | tee "${OUTPUT_DIR}/job.txt"
python - "${OUTPUT_DIR}/job.txt" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
# The default callback prints the stats that are not per host on one line: "\tRUN: {...}".
run = [line.split("RUN: ", 1)[1] for line in text.splitlines() if line.lstrip().startswith("RUN: ")]
assert len(run) == 1, run
stats = json.loads(run[0])["drkit_stats"]
assert stats["schema_version"] == 1, stats
backup = stats["backups"]["localhost"]
assert backup["taken"] is True and backup["failed"] is False and backup["backup"].startswith("files-full-"), backup
assert backup["size"] > 0 and backup["stored_size"] > 0, backup
drill = stats["drills"]["localhost"]
assert drill["passed"] is True and drill["backup"] == backup["backup"], drill
restore = stats["restores"]["localhost"]
assert restore["backup"] == backup["backup"] and restore["restored"] is True, restore
# No secret of the job's is in what AWX keeps.
assert "drkit_backup_restore_key_password" not in run[0]
PY
# The one-line summaries, as AWX's job output shows them.
grep -q "localhost: backup files-full-[0-9-]* taken offline, [0-9.]* [A-Za-z]* ([0-9.]* [A-Za-z]* stored)" "${OUTPUT_DIR}/job.txt"
grep -q "localhost: drill passed on localhost, backup files-full-" "${OUTPUT_DIR}/job.txt"
