"""playbooks/awx_setup.yml and execution-environment.yml (issue 20). No AWX server can run here (it needs Kubernetes
or a container engine), so the playbook is held to the awx.awx modules' own argument specs and linted with awx.awx
installed; the execution environment's build context is written by ansible-builder, which needs no container
runtime for that. Both tools come from the AWX venv (requirements-awx.txt, ``make awx``), named by DRKIT_AWX_VENV;
without it the tests skip, and under CI=true they fail (DESIGN decision 32)."""

import glob
import os
import subprocess
import sys
import tarfile

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.dirname(sys.executable)  # the tests' venv: ansible-galaxy and ansible-lint
PLAYBOOK = os.path.join(ROOT, "playbooks", "awx_setup.yml")


@pytest.fixture(scope="session")
def awx_venv():
    venv = os.environ.get("DRKIT_AWX_VENV", "")
    if not os.path.exists(os.path.join(venv, "bin", "ansible-doc")):
        message = "the AWX venv (DRKIT_AWX_VENV=%r) is missing: make awx builds it" % venv
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return venv


def check(venv, playbook):
    return subprocess.run([sys.executable, os.path.join(HERE, "check_options.py"), os.path.join(venv, "bin", "ansible-doc"),
                           playbook], capture_output=True, text=True, check=False)


def test_every_option_awx_setup_passes_is_in_the_awx_modules_argument_specs(awx_venv):
    out = check(awx_venv, PLAYBOOK)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "10 awx.awx task(s) checked, 0 misfit(s)" in out.stdout


def test_the_check_refuses_each_kind_of_misfit(awx_venv):
    out = check(awx_venv, os.path.join(HERE, "misfits.yml"))
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    for expected in ("scm_uri is not an option", "'dry_run' is not one of run, check",
                     "workflow_nodes[0].related: on_success is not an option", "the required option name is missing",
                     "[item 1].kind: 'vault_password' is not one of", "awx.awx.backup_everything): ansible-doc does not know",
                     "mandatory is not a field of a survey question",
                     "method is not a field of AWX's webhook backend", "AWX's webhook backend needs headers"):
        assert sum(expected in line for line in lines) == 1, (expected, out.stdout)
    assert "8 awx.awx task(s) checked, 9 misfit(s)" in out.stdout


def test_awx_setup_passes_ansible_lint_with_awx_awx_installed(awx_venv):
    collections = glob.glob(os.path.join(awx_venv, "lib", "python3*", "site-packages"))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.pathsep.join(
        collections + [os.path.join(ROOT, ".build", "collections")]))
    out = subprocess.run([os.path.join(BIN, "ansible-lint"), "--nocolor", "-c", os.path.join(HERE, "ansible-lint.yml"), PLAYBOOK],
                         capture_output=True, text=True, check=False, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Profile 'production' was required, and it passed" in out.stdout + out.stderr


def test_each_credential_type_hands_its_inputs_to_the_playbooks_and_keeps_its_secrets_secret():
    sys.path.insert(0, HERE)
    import check_options  # pylint: disable=import-outside-toplevel
    with open(PLAYBOOK, encoding="utf-8") as handle:
        play = yaml.load(handle, Loader=check_options.Loader)[0]
    task = next(task for task in play["tasks"] if "awx.awx.credential_type" in task)
    types = {item["name"]: item for item in task["loop"]}
    assert sorted(types) == ["CipherTrust Manager (drkit.backup)", "IBM MQ Appliance (drkit.backup)", "drkit.backup key"]
    for item in types.values():
        fields = {field["id"]: field for field in item["inputs"]["fields"]}
        for name in ("password", "key_password", "key_file"):
            if name in fields:
                assert fields[name]["secret"] is True, (item["name"], name)
        assert all("default" not in field for field in fields.values())
        injected = " ".join(str(value) for section in item["injectors"].values() for value in section.values())
        assert all("{{ %s }}" % name in injected for name in fields), item["name"]
    # Each vendor's login has names of its own, so one job can hold both (the inventory maps them per host).
    assert sorted(types["CipherTrust Manager (drkit.backup)"]["injectors"]["extra_vars"]) == [
        "drkit_awx_ciphertrust_key_password", "drkit_awx_ciphertrust_password", "drkit_awx_ciphertrust_username"]
    # The raw text: each injector value is AWX's template, left alone by Ansible (!unsafe).
    values = sum(len(section) for item in types.values() for section in item["injectors"].values())
    with open(PLAYBOOK, encoding="utf-8") as handle:
        assert handle.read().count('!unsafe "{{') == values == 10


def test_the_execution_environments_build_context_lists_the_collection_and_its_requirements(awx_venv, tmp_path):
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--force", "--output-path", str(tmp_path), ROOT],
                   check=True, capture_output=True, text=True)
    built = glob.glob(str(tmp_path / "drkit-backup-*.tar.gz"))
    assert len(built) == 1
    staged = os.path.join(ROOT, ".build", "ee")
    os.makedirs(staged, exist_ok=True)
    os.replace(built[0], os.path.join(staged, "drkit-backup.tar.gz"))
    context = tmp_path / "context"
    out = subprocess.run([os.path.join(awx_venv, "bin", "ansible-builder"), "create", "-f",
                          os.path.join(ROOT, "execution-environment.yml"), "-c", str(context),
                          "--output-filename", "Containerfile"], capture_output=True, text=True, check=False, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Complete! The build context can be found at" in out.stdout
    build = context / "_build"
    with open(build / "requirements.yml", encoding="utf-8") as handle:
        assert yaml.safe_load(handle) == {"collections": [{"name": "collections/drkit-backup.tar.gz", "type": "file"}]}
    with tarfile.open(build / "collections" / "drkit-backup.tar.gz") as tar:
        assert "MANIFEST.json" in tar.getnames() and "plugins/modules/backup.py" in tar.getnames()
    with open(os.path.join(ROOT, "requirements.txt"), encoding="utf-8") as handle:
        assert (build / "requirements.txt").read_text(encoding="utf-8") == handle.read()
    bindep = (build / "bindep.txt").read_text(encoding="utf-8")
    for package in ("gnupg2 [platform:rpm]", "postgresql [platform:rpm]", "mariadb [platform:rpm]",
                    "openldap-clients [platform:rpm]", "opensc"):
        assert package in bindep
    containerfile = (context / "Containerfile").read_text(encoding="utf-8")
    assert "ansible-galaxy collection install" in containerfile and "-r requirements.yml" in containerfile
    assert 'ANSIBLE_INSTALL_REFS="ansible-core==2.19.14 ansible-runner==' in containerfile
    assert 'PYCMD="/usr/bin/python3.11"' in containerfile
