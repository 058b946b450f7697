"""Who may screen photos: the credentials file `cataract dashboard` and `cataract gateway`
both take (--credentials), so the same users reach both doors, and the one login check
both make (`Logins`).

The file is JSON, user name -> a salted scrypt hash of the password, written by `cataract
users add` (which never puts a password on a command line):

    {"alice": "scrypt$16384$8$1$<salt, base64>$<hash, base64>"}

A file of plain-text passwords (this project's earlier format, Panel's) is refused with how
to convert it: `cataract users convert --credentials FILE`. Passwords are compared as UTF-8
after Unicode normalisation (NFC), so a password with accents logs in from any keyboard.

The file is read again whenever it changes, so a removed user is refused from the next
request on; a file that is gone or unreadable refuses everyone, and the log says why. In
Kubernetes it is a Secret mounted into both pods (deploy/kubernetes/serving).

Every failed login is logged with its user and client address (never its password), and a
client address with MAX_FAILURES failures in FAILURE_WINDOW_SECONDS is refused, unhashed,
for REFUSAL_SECONDS (`FailedLogins`). Every screened photo is logged too (`log_screened`):
who, when, which photo by its hash, what answer from which model version; never the photo.
A dashboard login lasts SESSION_HOURS (`cataract dashboard --session-hours`), then the
browser logs in again; its Log out button ends it sooner.
"""

from __future__ import annotations

import base64
import collections
import datetime
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

from serving.embedded import is_loopback
from train_jax.files import write_atomically

log = logging.getLogger(__name__)
# Who screened what, one line a photo, from both doors: a logger of its own, so a deployment
# can send it to its own file or collector.
access_log = logging.getLogger("cataract.access")

MIN_PASSWORD_LENGTH = 12
HASH_SCHEME = "scrypt"
# scrypt's cost: 16 MiB of memory and about 0.1 s of one core per hash (Python's and
# Werkzeug's order of magnitude); kept in each hash, so a later, higher cost reads old ones.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SALT_BYTES, KEY_BYTES = 16, 32
# A verified login is remembered this long, so a client sending a request a second costs
# one slow hash, not one per request.
VERIFIED_LOGIN_SECONDS = 300
# Failed logins a client address may make in the window before it is refused for a while:
# room for a few typing mistakes, never for guessing a 12-character password.
MAX_FAILURES, FAILURE_WINDOW_SECONDS, REFUSAL_SECONDS = 5, 300, 60
USER_LOGGED = 64  # characters of a failed login's user name that the log keeps
HASH_LOGGED = 16  # hex digits of a screened photo's SHA-256 that the access log keeps
# How long a dashboard login lasts (`cataract dashboard --session-hours`): a working day.
SESSION_HOURS = 8.0


class AccessError(ValueError):
    """The credentials or the binding would leave patients' photos open; says why."""


def normalized(password: str) -> bytes:
    """The bytes a password is hashed as: UTF-8 of its NFC form (RFC 8265's OpaqueString)."""
    return unicodedata.normalize("NFC", password).encode()


def hash_password(password: str) -> str:
    """A salted scrypt hash of the password, as the credentials file keeps it."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = scrypt(normalized(password), salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join([HASH_SCHEME, str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), b64(salt), b64(key)])


def is_hash(value: str) -> bool:
    return value.startswith(HASH_SCHEME + "$")


def parse_hash(stored: str) -> tuple[int, int, int, bytes, bytes]:
    """scrypt's n, r and p, the salt and the key of a stored hash; ValueError if malformed."""
    scheme, n, r, p, salt, key = stored.split("$")
    if scheme != HASH_SCHEME:
        raise ValueError(f"not {HASH_SCHEME}")
    return int(n), int(r), int(p), base64.b64decode(salt, validate=True), base64.b64decode(key, validate=True)


def verify_password(password: str, stored: str) -> bool:
    """Whether the password hashes to `stored` (compared in constant time)."""
    n, r, p, salt, expected = parse_hash(stored)
    return hmac.compare_digest(scrypt(normalized(password), salt, n, r, p, len(expected)), expected)


def scrypt(password: bytes, salt: bytes, n: int, r: int, p: int, length: int = KEY_BYTES) -> bytes:
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, dklen=length, maxmem=2 * 128 * r * (n + p))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def read_users(path: str | Path) -> dict[str, str]:
    """The file's user name -> stored value (hashed or, in an old file, plain), checked as JSON."""
    path = Path(path)
    try:
        users = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AccessError(f"cannot read the credentials file {path}: {exc.strerror or exc}") from None
    except ValueError:
        raise AccessError(f"{path} is not JSON: the credentials file maps user names to password hashes") from None
    if not isinstance(users, dict) or not users or not all(isinstance(value, str) for value in users.values()):
        raise AccessError(f"{path} must map at least one user name to a password hash (`cataract users add`)")
    return users


def read_credentials(path: str | Path) -> dict[str, str]:
    """The users and password hashes of a credentials file; a file with a plain-text
    password, or a malformed hash, is refused saying what to do."""
    users = read_users(path)
    plain = [user for user, value in users.items() if not is_hash(value)]
    if plain:
        raise AccessError(f"{path} keeps the password of {plain[0]!r} in plain text: hash every password with "
                          f"`cataract users convert --credentials {path}`")
    for user, value in users.items():
        try:
            parse_hash(value)
        except ValueError:  # binascii.Error is one
            raise AccessError(f"{path}: the password hash of {user!r} is malformed: set it again with "
                              f"`cataract users add {user} --credentials {path}`") from None
    return users


def check_password_strength(user: str, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccessError(f"the password of {user!r} must have at least {MIN_PASSWORD_LENGTH} characters")


def write_credentials(path: str | Path, users: dict[str, str]) -> None:
    """Write the file atomically, readable by its owner only."""
    write_atomically(path, (json.dumps(users, indent=2, sort_keys=True) + "\n").encode(), mode=0o600)


def convert_credentials(path: str | Path) -> int:
    """Hash every plain-text password of the file in place; how many were converted."""
    users = read_users(path)
    plain = {user: value for user, value in users.items() if not is_hash(value)}
    for user, password in plain.items():
        check_password_strength(user, password)
    if plain:
        write_credentials(path, {**users, **{user: hash_password(password) for user, password in plain.items()}})
    return len(plain)


def require_credentials_off_loopback(host: str, credentials: str | None, door: str) -> None:
    """A door open to the network must ask who knocks."""
    if credentials is None and not is_loopback(host):
        raise AccessError(f"`cataract {door}` binds {host}, reachable from the network: pass --credentials FILE "
                          "(users and passwords) so that nobody screens or sees patients' photos anonymously")


class FailedLogins:
    """The failed logins of each client address, and which addresses are refused for now:
    MAX_FAILURES failures within FAILURE_WINDOW_SECONDS refuse an address for
    REFUSAL_SECONDS, and each further failure within the window refuses it again. Kept in
    memory, pure but for the injected clock (seconds, monotonic); addresses with nothing
    left to remember are dropped at each failure, so the table holds at most the addresses
    that failed within the window."""

    def __init__(self, max_failures: int = MAX_FAILURES, window_seconds: float = FAILURE_WINDOW_SECONDS,
                 refusal_seconds: float = REFUSAL_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.max_failures, self.window_seconds, self.refusal_seconds = max_failures, window_seconds, refusal_seconds
        self.clock = clock
        self._failures: dict[str, collections.deque[float]] = {}  # address -> times of its recent failures
        self._refused_until: dict[str, float] = {}
        self._lock = threading.Lock()  # the gateway checks logins from several threads

    def refused_for(self, client: str) -> float:
        """Seconds until the client may try again; 0 when it may now."""
        with self._lock:
            return max(0.0, self._refused_until.get(client, 0.0) - self.clock())

    def failed(self, client: str) -> bool:
        """Count a failure of the client; whether it refuses the client from now on."""
        now = self.clock()
        with self._lock:
            self._forget_before(now)
            failures = self._failures.setdefault(client, collections.deque())
            failures.append(now)
            refused = len(failures) >= self.max_failures
            if refused:
                self._refused_until[client] = now + self.refusal_seconds
            return refused

    def _forget_before(self, now: float) -> None:
        for client, failures in list(self._failures.items()):
            while failures and failures[0] <= now - self.window_seconds:
                failures.popleft()
            if not failures:
                del self._failures[client]
        for client, until in list(self._refused_until.items()):
            if until <= now:
                del self._refused_until[client]


def refusal_message(seconds: float) -> str:
    """What a client refused for its failed logins is told."""
    return f"too many failed logins from this address: try again in {max(1, round(seconds))} seconds"


def log_screened(user: str | None, photo_sha256: str, answer: str, cataract_probability: float, model_version: str,
                 at: datetime.datetime, request_id: str | None = None) -> None:
    """The access log's line for one screened photo (both doors): never the photo itself,
    only the first HASH_LOGGED hex digits of its SHA-256, enough to find the file again;
    the gateway adds the request id its client was given."""
    access_log.info("screened: user=%s time=%s photo_sha256=%s answer=%s p_cataract=%.4f model_version=%s%s",
                    user or "-", at.astimezone().isoformat(timespec="seconds"), photo_sha256[:HASH_LOGGED], answer,
                    cataract_probability, model_version, f" request_id={request_id}" if request_id else "")


class Logins:
    """The login check of both doors, on one credentials file.

    Each check looks at the file's identity (inode, size, modification time) and reads it
    again when it changed; a file that is gone, unreadable or refused refuses every login,
    and the reason is logged once per change. One slow hash runs at a time, so failed logins
    can keep one core busy at most, and a verified login is remembered for
    VERIFIED_LOGIN_SECONDS (by a keyed digest of the password, never the password). A login
    that names its client address counts towards that address's refusal (`failures`)."""

    def __init__(self, path: str | Path, failures: FailedLogins | None = None):
        self.path = Path(path)
        self.failures = failures or FailedLogins()
        self._users: dict[str, str] = {}
        self._identity: tuple | None = None
        self._problem: str | None = None
        # (user, stored hash, keyed digest of the password) -> until when it is taken unchecked
        self._verified: dict[tuple[str, str, bytes], float] = {}
        self._digest_key = secrets.token_bytes(32)
        self._state_lock = threading.Lock()
        self._hash_lock = threading.Lock()
        # A hash to check unknown users against, so that timing does not tell users apart.
        self._decoy = hash_password(secrets.token_urlsafe(16))
        read_credentials(self.path)  # a broken file fails at start, in one line, not at the first login
        self._current_users()

    def check(self, user: str, password: str, client: str | None = None) -> bool:
        """Whether the user logs in with the password. `client`, the address the login comes
        from: a refused address is answered False without a hash (`refusal` says why), and its
        failures count towards its refusal."""
        if client is not None and self.refusal(client):
            return False  # logged once, when the refusal began
        valid = self._verified_login(user, password)
        if not valid:
            log.warning("failed login of user %r from %s", user[:USER_LOGGED], client or "an unnamed client")
            if client is not None and self.failures.failed(client):
                log.warning("refusing logins from %s for %.0f s: %d failed logins within %.0f s", client,
                            self.failures.refusal_seconds, self.failures.max_failures, self.failures.window_seconds)
        return valid

    def refusal(self, client: str) -> str | None:
        """Why the client's logins are refused for now; None when they are not."""
        seconds = self.failures.refused_for(client)
        return refusal_message(seconds) if seconds else None

    def knows(self, user: str) -> bool:
        """Whether the user is in the file as it is now (a removed user's login cookie no longer counts)."""
        return user in self._current_users()

    def _verified_login(self, user: str, password: str) -> bool:
        users = self._current_users()
        stored = users.get(user)
        digest = hmac.digest(self._digest_key, normalized(password), "sha256")
        now = time.monotonic()
        if stored is not None and self._verified.get((user, stored, digest), 0) > now:
            return True
        with self._hash_lock:
            valid = verify_password(password, stored or self._decoy) and stored is not None
        if valid:
            self._verified[(user, stored, digest)] = now + VERIFIED_LOGIN_SECONDS
        return valid

    def _current_users(self) -> dict[str, str]:
        """The users of the file as it is now; none while it cannot be used."""
        try:
            status = os.stat(self.path)
            identity = (status.st_ino, status.st_size, status.st_mtime_ns)
        except OSError as exc:
            identity, problem = None, f"cannot read the credentials file {self.path}: {exc.strerror or exc}"
        with self._state_lock:
            if identity is not None and identity == self._identity:
                return self._users
            users = {}
            if identity is not None:
                try:
                    users, problem = read_credentials(self.path), None
                except AccessError as exc:
                    problem = str(exc)
            if problem and problem != self._problem:
                log.error("refusing every login: %s", problem)
            elif not problem:
                log.info("credentials file %s read: %d users", self.path, len(users))
            self._users, self._identity, self._problem = users, identity, problem
            self._verified.clear()  # a removed user or a changed password counts from now on
            return users
