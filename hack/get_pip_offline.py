"""Offline stand-in for ansible-test's pip bootstrap script (get-pip.py).

ansible-test (sanity) bootstraps pip into each empty test virtualenv by
downloading https://ci-files.testing.ansible.com/ansible-test/get-pip-<ver>.py,
a host this machine cannot reach.  It first looks for a cached copy at
~/.ansible/test/cache/get_pip_<ver with underscores>.py; `make sanity` copies
this file there.

ansible-test runs it as:  python <this> --disable-pip-version-check pip==<ver>
--no-setuptools --no-wheel  (inside the new virtualenv).  We install the pip
bundled with CPython (ensurepip, no network), then let that pip install the
requested pip version from PyPI.  ansible-test scrubs the environment, so the
system CA bundle is named explicitly.
"""

import ensurepip
import os
import subprocess
import sys

CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt'


def main():
    args = sys.argv[1:]
    no_setuptools = '--no-setuptools' in args
    args = [arg for arg in args if arg not in ('--no-setuptools', '--no-wheel')]

    ensurepip.bootstrap(upgrade=True)

    pip = [sys.executable, '-m', 'pip']
    cert = ['--cert', CA_BUNDLE] if os.path.exists(CA_BUNDLE) else []
    subprocess.check_call(pip + ['install'] + cert + args)

    if no_setuptools:
        # ensurepip on Python < 3.12 also installs setuptools; get-pip.py would not.
        subprocess.call(pip + ['uninstall', '--yes', '--quiet', 'setuptools'])


if __name__ == '__main__':
    main()
