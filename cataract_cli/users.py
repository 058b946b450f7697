"""`cataract users add|remove|list|convert`: the credentials file both doors log users in
with (doors/access.py). Passwords are read from a prompt, or from standard input when it is
not a terminal, never from the command line, so none reaches the shell's history."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

from cataract_cli.commands import add_command
from cataract_cli.options import CredentialsFile, UserName


def add_commands(commands) -> None:
    parser = commands.add_parser(
        "users", help="add, remove and list the users of a credentials file",
        description="Keep the credentials file of `cataract dashboard` and `cataract gateway` (--credentials): "
                    "user names and salted scrypt hashes of their passwords, the file readable by its owner only.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add_command(actions, "add", run_add, [UserName, CredentialsFile],
                help="add a user, or set a user's new password (the file is created if need be)",
                description="Ask for the password twice at a prompt, or read one line of standard input when it "
                            "is not a terminal (`cataract users add NAME --credentials FILE < password.txt`), and "
                            "store its salted scrypt hash.")
    add_command(actions, "remove", run_remove, [UserName, CredentialsFile], help="remove a user",
                description="Remove the user: both doors refuse them from their next request on.")
    add_command(actions, "list", run_list, [CredentialsFile], help="print the user names, one a line")
    add_command(actions, "convert", run_convert, [CredentialsFile], help="hash the passwords of a plain-text file",
                description="Replace each plain-text password of an earlier credentials file (user name -> "
                            "password, Panel's format) with its salted scrypt hash, in place. Both doors refuse a "
                            "file with a plain-text password.")


def read_new_password(user: str) -> str:
    from doors.access import AccessError, check_password_strength

    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {user}: ")
        if getpass.getpass("again: ") != password:
            raise AccessError("the two passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    check_password_strength(user, password)
    return password


def run_add(user: UserName, file: CredentialsFile) -> int:
    from doors.access import hash_password, read_credentials, write_credentials

    users = read_credentials(file.credentials) if Path(file.credentials).exists() else {}
    known = user.name in users
    users[user.name] = hash_password(read_new_password(user.name))
    write_credentials(file.credentials, users)
    print(f"{file.credentials}: {'new password for' if known else 'added'} {user.name}")
    return 0


def run_remove(user: UserName, file: CredentialsFile) -> int:
    from doors.access import AccessError, read_credentials, write_credentials

    users = read_credentials(file.credentials)
    if user.name not in users:
        raise AccessError(f"{file.credentials} has no user {user.name!r}")
    if len(users) == 1:
        raise AccessError(f"{user.name} is the last user of {file.credentials}: add another first, or delete the file")
    del users[user.name]
    write_credentials(file.credentials, users)
    print(f"{file.credentials}: removed {user.name}")
    return 0


def run_list(file: CredentialsFile) -> int:
    from doors.access import read_credentials

    print("\n".join(sorted(read_credentials(file.credentials))))
    return 0


def run_convert(file: CredentialsFile) -> int:
    from doors.access import convert_credentials

    count = convert_credentials(file.credentials)
    print(f"{file.credentials}: {count} plain-text password{'' if count == 1 else 's'} hashed"
          if count else f"{file.credentials}: every password was hashed already")
    return 0
