#!/usr/bin/env bash
# The drkit.backup.schedule role (issue 20). prepare_hosts installs drkit-backup; the role installs a nightly backup
# and a weekly drill as systemd units, then as cron entries, then removes them; each job is run by the exact command
# read back from its unit or its cron file (DESIGN decision 34). systemd does not run this machine: the units are
# written and checked with systemd-analyze verify, not enabled.
set -eux
PS4='+ $SECONDS s: '
venv="$(python -c "import sys; print(sys.prefix)")"  # the tests' venv: it holds requirements-host.txt already
inventory="${OUTPUT_DIR}/inventory.ini"
printf '%s\n' "localhost ansible_connection=local ansible_python_interpreter=${venv}/bin/python output_dir=${OUTPUT_DIR}" \
  > "${inventory}"
ansible-playbook -i "${inventory}" drkit.backup.prepare_hosts -e drkit_prepare_hosts=localhost \
  -e drkit_prepare_prefix="${OUTPUT_DIR}/opt" -e drkit_prepare_venv="${venv}" "$@"
ansible-playbook -i "${inventory}" setup.yml "$@"

# systemd: installed, then a second run changes nothing, then the jobs run.
ansible-playbook -i "${inventory}" install.yml -e method=systemd "$@"
# (the jobs were run in check mode once, just before: not again)
ansible-playbook -i "${inventory}" install.yml -e method=systemd -e drkit_backup_schedule_check=false "$@" \
  | tee "${OUTPUT_DIR}/again.txt"
grep -q 'localhost *: ok=[0-9]* *changed=0 .*failed=0' "${OUTPUT_DIR}/again.txt"
ansible-playbook -i "${inventory}" systemd.yml "$@"

# cron: check mode says what would change and changes nothing; then the entries replace the units.
ansible-playbook -i "${inventory}" install.yml -e method=cron --check --diff "$@" | tee "${OUTPUT_DIR}/check.txt"
grep -q 'changed=[1-9]' "${OUTPUT_DIR}/check.txt"
test ! -e "${OUTPUT_DIR}/etc/cron.d/drkit-backup-nightly"
test -e "${OUTPUT_DIR}/etc/systemd/drkit-backup-nightly.timer"
ansible-playbook -i "${inventory}" install.yml -e method=cron -e drkit_backup_schedule_check=false "$@"
ansible-playbook -i "${inventory}" cron.yml "$@"

# absent: every file the role installed goes; the backups, logs and records stay.
ansible-playbook -i "${inventory}" install.yml -e state=absent "$@"
test -z "$(find "${OUTPUT_DIR}/etc" -type f)"  # the directories were the host's
test -s "${OUTPUT_DIR}/log/nightly.log"
test -s "${OUTPUT_DIR}/state/schedule/nightly.json"
