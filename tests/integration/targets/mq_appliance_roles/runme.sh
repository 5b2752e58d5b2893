#!/usr/bin/env bash
# The backup, restore and drill roles on an IBM MQ Appliance (DESIGN decision 25): the appliance is an inventory
# host that is never connected to (its ansible_port is closed), and every task runs on the delegate, localhost.
set -eux
printf '%s\n' "localhost ansible_connection=local ansible_python_interpreter={{ansible_playbook_python}}" \
  "[appliances]" \
  "mqa-roles ansible_host=127.0.0.1 ansible_port=9 ansible_connection=ssh" \
  > "${OUTPUT_DIR}/inventory.ini"
trap 'ansible-playbook -i "${OUTPUT_DIR}/inventory.ini" roles.yml -e output_dir="${OUTPUT_DIR}" --tags destroy' EXIT
ansible-playbook -i "${OUTPUT_DIR}/inventory.ini" roles.yml -e output_dir="${OUTPUT_DIR}" "$@"
