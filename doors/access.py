"""Who may screen photos: the credentials file `cataract dashboard` and `cataract gateway`
both take (--credentials), so the same users reach both doors.

The file is JSON, user name -> password, the format of Panel's basic authentication:

    {"alice": "a long random password", "screening-robot": "another one"}

In Kubernetes it is a Secret mounted into both pods (deploy/kubernetes/serving).
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from serving.embedded import is_loopback

MIN_PASSWORD_LENGTH = 12


class AccessError(ValueError):
    """The credentials or the binding would leave patients' photos open; says why."""


def read_credentials(path: str | Path) -> dict[str, str]:
    """The users and passwords of a credentials file, checked."""
    path = Path(path)
    try:
        credentials = json.loads(path.read_text())
    except OSError as exc:
        raise AccessError(f"cannot read the credentials file {path}: {exc.strerror or exc}") from None
    except ValueError:
        raise AccessError(f"{path} is not JSON: the credentials file maps user names to passwords") from None
    if not isinstance(credentials, dict) or not credentials:
        raise AccessError(f"{path} must map at least one user name to a password")
    for user, password in credentials.items():
        if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
            raise AccessError(f"{path}: the password of {user!r} must be a string of at least {MIN_PASSWORD_LENGTH} characters")
    return credentials


def require_credentials_off_loopback(host: str, credentials: str | None, door: str) -> None:
    """A door open to the network must ask who knocks."""
    if credentials is None and not is_loopback(host):
        raise AccessError(f"`cataract {door}` binds {host}, reachable from the network: pass --credentials FILE "
                          "(users and passwords) so that nobody screens or sees patients' photos anonymously")


def valid_login(credentials: dict[str, str], user: str, password: str) -> bool:
    """Constant-time check of one user's password."""
    expected = credentials.get(user)
    # Compare against something even for unknown users, so timing does not tell users apart.
    return secrets.compare_digest((expected or "\0" * MIN_PASSWORD_LENGTH).encode(), password.encode()) and expected is not None
