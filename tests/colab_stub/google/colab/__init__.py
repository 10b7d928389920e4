"""A stand-in for Google Colab's ``google.colab`` package, for tests/test_colab.py only.

The real package is not on PyPI; it exists only inside a Colab runtime. The chapters' first cell
decides "am I on Colab?" with ``import google.colab``, so this stub makes that cell take its Colab
branch (install what Colab lacks) in the test's fresh environment. It copies the few entry points a
course notebook may touch, with the same names and failure modes, and nothing that needs a browser:

- ``userdata.get(key)``: Colab Secrets. Here read from the environment variable ``key``; raises
  ``userdata.SecretNotFoundError`` when unset, as Colab does for a secret that does not exist.
- ``auth.authenticate_user()``: a no-op (Colab opens a sign-in prompt).
- ``drive.mount(path)``: raises, because Google Drive is never available in the test.
- ``output.enable_custom_widget_manager()``: a no-op.

No ``google/__init__.py`` on purpose: ``google`` is a namespace package shared with google-auth,
protobuf and google-cloud-* (earthengine-api needs them); an ``__init__.py`` would hide them.
"""

from __future__ import annotations

import os
import sys
import types

__all__ = ["auth", "drive", "output", "userdata"]
STUB = True  # lets a test tell the stand-in from the real package


class _SecretNotFoundError(KeyError):
    """Like ``google.colab.userdata.SecretNotFoundError``."""


def _get(key: str) -> str:
    value = os.environ.get(key)
    if value is None:
        raise _SecretNotFoundError(f"Secret {key} does not exist.")
    return value


def _authenticate_user(*_args: object, **_kwargs: object) -> None:
    return None


def _mount(mountpoint: str, *_args: object, **_kwargs: object) -> None:
    raise OSError(f"Google Drive is not available in the Colab stand-in (asked for {mountpoint})")


def _enable_custom_widget_manager() -> None:
    return None


userdata = types.ModuleType("google.colab.userdata")
userdata.SecretNotFoundError = _SecretNotFoundError
userdata.NotebookAccessError = PermissionError
userdata.get = _get

auth = types.ModuleType("google.colab.auth")
auth.authenticate_user = _authenticate_user

drive = types.ModuleType("google.colab.drive")
drive.mount = _mount

output = types.ModuleType("google.colab.output")
output.enable_custom_widget_manager = _enable_custom_widget_manager

# `import google.colab.userdata` works as on Colab, not only `from google.colab import userdata`.
for _module in (userdata, auth, drive, output):
    sys.modules[_module.__name__] = _module
