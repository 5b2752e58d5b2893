# -*- coding: utf-8 -*-
"""The one process runner: argv only, secrets never in argv and masked in output, timeouts, output checked."""

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common import process
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput, ServiceError


def test_a_shell_string_is_refused():
    with pytest.raises(InvalidInput, match="list of words"):
        process.run("echo hello")


def test_a_secret_never_goes_on_the_command_line():
    with pytest.raises(InvalidInput, match="a secret would be on its command line"):
        process.run(["echo", "pw=hunter22"], secrets=["hunter22"])


def test_a_secret_on_standard_input_is_masked_in_output_and_errors():
    result = process.run(["sh", "-c", "read pw; echo \"got $pw\""], input="hunter22\n", secrets=["hunter22"])
    assert result.code == 0 and result.output.strip() == "got ********"
    with pytest.raises(process.ToolError) as caught:
        process.run(["sh", "-c", "read pw; echo \"bad $pw\"; exit 3"], input="hunter22\n", secrets=["hunter22"],
                    what="the login")
    assert str(caught.value) == "the login failed (exit 3): bad ********"


def test_exit_zero_is_not_enough_when_the_output_says_otherwise():
    with pytest.raises(process.ToolError, match="exited 0 but its output says it failed: ERROR: disk full"):
        process.run(["sh", "-c", "echo 'ERROR: disk full'"], refuse=[r"^ERROR"])
    with pytest.raises(process.ToolError, match="exited 0 but did not report success: nothing to say"):
        process.run(["sh", "-c", "echo 'nothing to say'"], expect=r"Backed up to \S+")
    assert process.run(["sh", "-c", "echo 'Backed up to /x'"], expect=r"Backed up to \S+").code == 0


def test_a_missing_program_a_timeout_and_the_error_class_are_said_plainly():
    with pytest.raises(ServiceError, match="start of service db failed: no-such-tool is not installed on this host"):
        process.run(["no-such-tool"], what="start of service db", error=ServiceError)
    with pytest.raises(process.ToolError, match="sleep did not finish within 1 seconds and was stopped"):
        process.run(["sleep", "5"], timeout=1)
    assert process.run(["sh", "-c", "exit 4"], check=False).code == 4


def test_a_secret_file_is_private_and_gone_afterwards(tmp_path):
    with process.secret_file("hunter22", str(tmp_path)) as path:
        assert open(path).read() == "hunter22"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not os.path.exists(path)
