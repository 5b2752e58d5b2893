#!/usr/bin/env bash
# The backup, restore and drill roles on a CipherTrust Manager (DESIGN decision 25): the appliance is an inventory
# host that is never connected to (its ansible_port is closed), and every task runs on the delegate, localhost.
set -eux
printf '%s\n' "localhost ansible_connection=local ansible_python_interpreter={{ansible_playbook_python}}" \
  "[appliances]" \
  "cm-roles ansible_host=127.0.0.1 ansible_port=9 ansible_connection=ssh live=https://127.0.0.52:28452 home=roles-live appliance_name=cm-live" \
  "cm-roles-2 ansible_host=127.0.0.1 ansible_port=9 ansible_connection=ssh live=https://127.0.0.54:28454 home=roles-live-2 appliance_name=cm-live-2" \
  > "${OUTPUT_DIR}/inventory.ini"
trap 'ansible-playbook -i "${OUTPUT_DIR}/inventory.ini" appliances.yml -e output_dir="${OUTPUT_DIR}" -e state=absent' EXIT
ansible-playbook -i "${OUTPUT_DIR}/inventory.ini" appliances.yml -e output_dir="${OUTPUT_DIR}" -e state=present
ansible-playbook -i "${OUTPUT_DIR}/inventory.ini" roles.yml -e output_dir="${OUTPUT_DIR}" "$@"
