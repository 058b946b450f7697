"""The one login check of both doors (doors/access.py, issue 22 items 1, 4, 8, 14 and 17):
salted scrypt hashes, a plain-text file refused with how to convert it, UTF-8 passwords, the
file read again when it changes, and no login at all once it is gone (the dashboard's former
bypass: Panel took the file's path as the password); failed logins logged and a client with
too many refused for a while; the dashboard's login lasting its set hours, a logout, and a
removed user's cookie no longer honoured."""

from __future__ import annotations

import io
import json
import logging
import time
from pathlib import Path

import pytest
import requests

from cataract_cli.main import main
from doors import access
from doors.access import (
    SESSION_HOURS,
    AccessError,
    FailedLogins,
    Logins,
    hash_password,
    read_credentials,
    write_credentials,
)
from tests.helpers import free_ports, run_cli, start_door, stop_door

PASSWORD = "correct horse battery staple"
# Beyond ASCII, and written here composed (NFC) while the file holds it decomposed (NFD).
ACCENTED_USER, ACCENTED_PASSWORD = "élodie", "mot de passe très sûr"
DECOMPOSED_PASSWORD = "mot de passe tre\u0300s su\u0302r"


@pytest.fixture()
def credentials(tmp_path) -> Path:
    path = tmp_path / "users.json"
    write_credentials(path, {"alice": hash_password(PASSWORD), ACCENTED_USER: hash_password(DECOMPOSED_PASSWORD)})
    return path


def unreachable_triton() -> str:
    (port,) = free_ports(1)
    return f"127.0.0.1:{port}"


def test_passwords_are_kept_as_salted_scrypt_hashes_and_checked_by_them(credentials):
    stored = json.loads(credentials.read_text())
    assert all(value.startswith("scrypt$") and PASSWORD not in value for value in stored.values())
    assert hash_password(PASSWORD) != hash_password(PASSWORD)  # salted
    assert credentials.stat().st_mode & 0o077 == 0  # the owner's only
    logins = Logins(credentials)
    assert logins.check("alice", PASSWORD)
    assert not logins.check("alice", PASSWORD + " ")
    assert not logins.check("mallory", PASSWORD)
    assert logins.check(ACCENTED_USER, ACCENTED_PASSWORD)  # NFC on both sides


@pytest.mark.parametrize("door", ["gateway", "dashboard"])
def test_a_plain_text_file_is_refused_by_both_doors_saying_how_to_convert_it(door, tmp_path):
    plain = tmp_path / "users.json"
    plain.write_text(json.dumps({"alice": PASSWORD}))
    result = run_cli(door, "--triton-url", unreachable_triton(), "--credentials", str(plain), timeout=120)
    assert result.returncode == 2
    assert f"plain text: hash every password with `cataract users convert --credentials {plain}`" in result.stderr


def test_a_verified_login_is_remembered_and_a_changed_file_read_again(credentials, monkeypatch):
    logins = Logins(credentials)
    hashes = []
    slow_hash = access.scrypt
    monkeypatch.setattr(access, "scrypt", lambda *args, **options: hashes.append(1) or slow_hash(*args, **options))
    assert logins.check("alice", PASSWORD) and logins.check("alice", PASSWORD)
    assert len(hashes) == 1, "the second request of a verified login hashed again"
    assert not logins.check("alice", "a wrong password") and not logins.check("alice", "a wrong password")
    assert len(hashes) == 3, "failed logins are never remembered"
    users = read_credentials(credentials)
    del users["alice"]
    write_credentials(credentials, users)
    assert not logins.check("alice", PASSWORD), "a removed user kept access"


def test_a_missing_or_broken_file_refuses_everyone_and_says_why(credentials, caplog):
    logins = Logins(credentials)
    assert logins.check("alice", PASSWORD)
    credentials.unlink()
    assert not logins.check("alice", PASSWORD) and not logins.check("alice", str(credentials))
    assert f"refusing every login: cannot read the credentials file {credentials}" in caplog.text
    credentials.write_text("{not json")
    assert not logins.check("alice", PASSWORD)
    assert "is not JSON" in caplog.text
    with pytest.raises(AccessError, match="is not JSON"):  # at a door's start: it does not start
        Logins(credentials)


def test_users_add_list_remove_and_convert_keep_passwords_off_the_command_line(tmp_path, monkeypatch, capsys):
    path = tmp_path / "users.json"
    for user, password in (("alice", PASSWORD), ("bob", "another long password")):
        monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))  # not a terminal: one line
        assert main(["users", "add", user, "--credentials", str(path)]) == 0
    assert Logins(path).check("bob", "another long password")
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["users", "add", "carol", "--credentials", str(path)]) == 2
    capsys.readouterr()
    assert main(["users", "list", "--credentials", str(path)]) == 0
    assert capsys.readouterr().out.split() == ["alice", "bob"]
    assert main(["users", "remove", "bob", "--credentials", str(path)]) == 0
    assert set(read_credentials(path)) == {"alice"}
    assert main(["users", "remove", "alice", "--credentials", str(path)]) == 2  # the last one

    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({"alice": PASSWORD, "bob": "another long password"}))
    assert main(["users", "convert", "--credentials", str(plain)]) == 0
    assert "2 plain-text passwords hashed" in capsys.readouterr().out
    assert Logins(plain).check("alice", PASSWORD) and PASSWORD not in plain.read_text()


def test_the_gateway_takes_a_utf8_basic_login(credentials, synthetic_photos):
    """RFC 7617: the login is UTF-8. Past the login, the unreachable Triton answers 503."""
    (port,) = free_ports(1)
    url = f"http://127.0.0.1:{port}"
    process = start_door(["gateway", "--triton-url", unreachable_triton(), "--port", str(port),
                          "--credentials", str(credentials)], url)
    try:
        photo = sorted((synthetic_photos / "test").rglob("*.jpg"))[0].read_bytes()

        def post(user: str, password: str) -> int:
            # As bytes: requests would send a str login as Latin-1.
            return requests.post(url + "/predict/", files={"file": ("eye.jpg", photo, "image/jpeg")},
                                 auth=(user.encode(), password.encode()), timeout=60).status_code

        assert post(ACCENTED_USER, ACCENTED_PASSWORD) == 503
        assert post(ACCENTED_USER, "mot de passe tres sur") == 401
        assert post("alice", PASSWORD) == 503
    finally:
        stop_door(process)


def test_the_dashboard_lets_nobody_in_once_its_credentials_file_is_gone(credentials):
    (port,) = free_ports(1)
    url = f"http://127.0.0.1:{port}"
    process = start_door(["dashboard", "--triton-url", unreachable_triton(), "--port", str(port),
                          "--credentials", str(credentials)], url, ready_path="/login")

    def logs_in(user: str, password: str) -> bool:
        session = requests.Session()
        session.get(url + "/login", timeout=30)
        answer = session.post(url + "/login", data={"username": user, "password": password}, timeout=30,
                              allow_redirects=False)
        return answer.status_code in (302, 303) and "user" in session.cookies

    try:
        assert logs_in("alice", PASSWORD)
        assert not logs_in("mallory", str(credentials))
        credentials.unlink()
        assert not logs_in("mallory", str(credentials)), "the file's path let anyone in"
        assert not logs_in("alice", PASSWORD)
    finally:
        stop_door(process)
    assert "refusing every login: cannot read the credentials file" in process.stdout.read()


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_five_failures_in_five_minutes_refuse_an_address_for_a_minute():
    clock = Clock()
    failures = FailedLogins(max_failures=5, window_seconds=300, refusal_seconds=60, clock=clock)
    for _ in range(4):
        assert not failures.failed("10.0.0.1")
        clock.now += 70  # four failures over 4 min 40 s: still within the window
    assert failures.refused_for("10.0.0.1") == 0
    assert failures.failed("10.0.0.1")  # the fifth
    assert failures.refused_for("10.0.0.1") == 60 and failures.refused_for("10.0.0.2") == 0  # per address
    clock.now += 59
    assert failures.refused_for("10.0.0.1") == 1
    clock.now += 1
    assert failures.refused_for("10.0.0.1") == 0
    # The first failures have left the window: four remain, and a fifth refuses again.
    assert failures.failed("10.0.0.1") and failures.refused_for("10.0.0.1") == 60
    clock.now += 600
    assert not failures.failed("10.0.0.1"), "failures older than the window still counted"
    assert set(failures._failures) == {"10.0.0.1"}  # forgotten addresses leave the table


def test_failed_logins_are_logged_without_the_password_and_a_refused_client_is_not_hashed(credentials, caplog,
                                                                                             monkeypatch):
    clock = Clock()
    logins = Logins(credentials, FailedLogins(clock=clock))
    hashes = []
    slow_hash = access.scrypt
    monkeypatch.setattr(access, "scrypt", lambda *args, **options: hashes.append(1) or slow_hash(*args, **options))
    with caplog.at_level(logging.WARNING, logger=access.__name__):
        for attempt in range(5):
            assert not logins.check("mallory", f"guess number {attempt}", client="192.0.2.7")
        assert "failed login of user 'mallory' from 192.0.2.7" in caplog.text
        assert "guess number" not in caplog.text
        assert "refusing logins from 192.0.2.7 for 60 s: 5 failed logins within 300 s" in caplog.text
        hashed = len(hashes)
        assert not logins.check("alice", PASSWORD, client="192.0.2.7"), "a refused address logged in"
        assert len(hashes) == hashed, "a refused address still costs a hash"
        assert logins.refusal("192.0.2.7") == "too many failed logins from this address: try again in 60 seconds"
        assert logins.check("alice", PASSWORD, client="192.0.2.8") and logins.refusal("192.0.2.8") is None
        assert logins.check("alice", PASSWORD), "a check naming no client is never refused"
    clock.now += 60
    assert logins.check("alice", PASSWORD, client="192.0.2.7")


def test_the_dashboard_refuses_a_guessing_client_logs_out_and_forgets_a_removed_user(credentials):
    (port,) = free_ports(1)
    url = f"http://127.0.0.1:{port}"
    process = start_door(["dashboard", "--triton-url", unreachable_triton(), "--port", str(port),
                          "--credentials", str(credentials)], url, ready_path="/login")

    def log_in(user: str, password: str) -> tuple[requests.Session, requests.Response]:
        session = requests.Session()
        session.get(url + "/login", timeout=30)
        answer = session.post(url + "/login", data={"username": user, "password": password}, timeout=30,
                              allow_redirects=False)
        return session, answer

    def page(session: requests.Session) -> int:
        return session.get(url + "/", timeout=60, allow_redirects=False).status_code

    try:
        alice, _ = log_in("alice", PASSWORD)
        (cookie,) = (cookie for cookie in alice.cookies if cookie.name == "user")
        assert abs(cookie.expires - time.time() - SESSION_HOURS * 3600) < 120, "the login does not last its hours"
        assert page(alice) == 200
        alice.get(url + "/logout", timeout=30)
        assert "user" not in alice.cookies and page(alice) == 302, "logged out, the page still opens"

        accented, _ = log_in(ACCENTED_USER, ACCENTED_PASSWORD)
        assert page(accented) == 200
        users = read_credentials(credentials)
        del users[ACCENTED_USER]
        write_credentials(credentials, users)
        assert page(accented) == 302, "a removed user's cookie still opened the page"

        for attempt in range(5):
            log_in("mallory", f"guess number {attempt}")
        refused, answer = log_in("alice", PASSWORD)
        assert "user" not in refused.cookies
        told = refused.get(url + answer.headers["location"], timeout=30).text
        assert "too many failed logins from this address: try again in 60 seconds" in told
    finally:
        stop_door(process)
    log = process.stdout.read()
    assert "failed login of user 'mallory' from 127.0.0.1" in log and "guess number" not in log
