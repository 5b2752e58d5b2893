"""Writes docs/providers/<name>.md for every registered provider, from its option spec.

Run it after changing a provider's options; tests/unit/.../providers/test_contract.py fails while a page is stale.
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.environ.get("DRKIT_COLLECTIONS", os.path.join(ROOT, ".build", "collections")))

from ansible_collections.drkit.backup.plugins.module_utils.providers import PROVIDERS  # noqa: E402
from ansible_collections.drkit.backup.plugins.module_utils.providers.options import markdown  # noqa: E402

for name, provider in sorted(PROVIDERS.items()):
    path = os.path.join(ROOT, "docs", "providers", "%s.md" % name)
    with open(path, "w") as out:
        out.write(markdown(provider))
    print(path)
