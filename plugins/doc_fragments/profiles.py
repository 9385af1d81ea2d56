# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # Where the profiles file is: every profiles module.
    DOCUMENTATION = r"""
options:
  path:
    description:
      - Path of the profiles file.
      - Without O(path) and O(prefect_home), the file is found as Prefect finds it in the module's
        environment (E(PREFECT_PROFILES_PATH), then E(PREFECT_HOME)), else C(~/.prefect/profiles.toml)
        of the remote user.
    type: path
  prefect_home:
    description:
      - Prefect home directory; the file is C(<prefect_home>/profiles.toml).
      - Mutually exclusive with O(path).
    type: path
requirements:
  - tomlkit on the managed host (Debian package C(python3-tomlkit)).
notes:
  - The module edits the file with tomlkit, so comments, blank lines, key order and untouched
    profiles stay as they were; C(prefect config set) rewrites the whole file and drops them.
"""

    # Modules that write the file.
    WRITE = r"""
options:
  backup:
    description:
      - Create a backup file including the timestamp information so you can get the original
        file back if you somehow clobbered it incorrectly.
    type: bool
    default: false
  mode:
    description:
      - A new file is created with mode C(0600), as Prefect creates it, because profiles can hold secrets.
notes:
  - Writes are atomic (a temporary file in the same directory, then a rename) and serialized by
    an exclusive lock on the file's directory, so concurrent runs lose no update.
  - A missing parent directory is created with mode C(0700) and the given O(owner) and O(group).
  - Secret values (auth strings, API keys, passwords, passwords inside connection URLs) are masked
    in the diff and in the results, and the module does not log its arguments on the managed host.
attributes:
  check_mode:
    support: full
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    support: full
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
"""

    INFO = r"""
attributes:
  check_mode:
    support: full
    details: This action does not modify state.
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    support: N/A
    details: This action does not modify state.
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
"""
