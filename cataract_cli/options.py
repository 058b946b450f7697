"""The settings of the commands that no package below declares: the command line's own
(where JSON goes, which repository, which Triton, who may log in) and those of the steps
whose packages may not import train_jax.settings (serving, client, doors, dashboards) or
that are a command's rather than a library's choices. Each is a frozen dataclass of
`setting(...)` fields (train_jax/settings.py); cataract_cli/commands.py builds the flags
from them. Light to import: `cataract --help` starts no framework.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from cataract_contract import CLASSIFIER, MIN_PHOTO_SIDE, PRECISION_CHOICES
from client.triton_client import PROTOCOLS, TRANSPORTS, server_address
from doors.access import SESSION_HOURS
from serving.embedded import DEFAULT_POLL_SECONDS, ServerOptions
from train_jax.errors import UserError
from train_jax.files import file_in_the_way, write_atomically
from train_jax.settings import check_settings, setting


@dataclasses.dataclass(frozen=True)
class GlobalSettings:
    verbose: bool = setting(False, "debug logging", aliases=("-v",))


# -- shared by several commands ----------------------------------------------------------------


SAME_KIND = {".htm": ".html"}  # suffixes of one kind of file
OUTPUT_OPENINGS = {".json": b"{", ".html": b"<!doctype html"}  # how each kind of output this tool writes begins


def check_output_file(flag: str, path: str | None, example: str) -> None:
    """Refuse an output FILE the command could not write, or would destroy, before it works
    for minutes: a folder, a path under a file, or an existing file of another kind than
    `example`'s (a photo, say); an earlier output of the same kind is written over."""
    if path is None:
        return
    target = Path(path)
    if target.is_dir():
        raise UserError(f"{flag} {path} is a folder: give the file to write, e.g. {target / example}")
    above = file_in_the_way(target)
    if above is not None:
        raise UserError(f"{flag} {path}: {above} is a file, not a folder")
    suffix = Path(example).suffix
    if target.is_file() and not is_earlier_output(target, suffix):
        raise UserError(f"{flag} {path} already exists and is not a {suffix} file: it would be written over; "
                        f"give a new file or a {suffix} one")


def is_earlier_output(target: Path, suffix: str) -> bool:
    """Whether an existing file may be written over by an output ending in `suffix`: its
    suffix is of that kind, or it has none and begins as such an output does."""
    if target.suffix:
        return SAME_KIND.get(target.suffix.lower(), target.suffix.lower()) == suffix
    try:
        with open(target, "rb") as file:
            start = file.read(64).lstrip().lower()
    except OSError:  # unreadable: nothing shows it is ours to write over
        return False
    return start.startswith(OUTPUT_OPENINGS.get(suffix, b"\0"))


@dataclasses.dataclass(frozen=True)
class JsonOutput:
    """Where a command writes its results as JSON (`--json` prints JSON, see main.py)."""

    json_out: str | None = setting(None, "also write the results as JSON to FILE", metavar="FILE",
                                   deprecated_alias="--json")

    def __post_init__(self):
        check_output_file("--json-out", self.json_out, "results.json")

    def write(self, results: dict[str, Any]) -> None:
        if self.json_out is not None:
            write_atomically(self.json_out, (json.dumps(results, indent=2) + "\n").encode())
            print(f"written: {self.json_out}")


@dataclasses.dataclass(frozen=True)
class RepositorySettings:
    repository: str = setting("model_repository", "model repository folder, as `cataract export` writes it")


@dataclasses.dataclass(frozen=True)
class RunFolder:
    run: str = setting(help="run folder written by `cataract train`")


@dataclasses.dataclass(frozen=True)
class TritonSettings:
    """Where a client of the served model finds Triton: `cataract predict`, the dashboard
    and the gateway."""

    triton_url: str | None = setting(None, "Triton HOST:PORT (default 127.0.0.1:8001 for grpc, 127.0.0.1:8000 "
                                           "for http)", metavar="HOST:PORT", aliases=("--url",))
    protocol: str = setting("grpc", "protocol to reach Triton by", choices=PROTOCOLS)

    def __post_init__(self):
        check_settings(self)
        if self.triton_url is not None:
            try:
                server_address(self.triton_url, self.protocol)
            except ValueError as error:
                raise UserError(f"--triton-url/--url: {error}") from None

    @property
    def url(self) -> str:
        from client.triton_client import DEFAULT_PORTS

        return self.triton_url or f"127.0.0.1:{DEFAULT_PORTS[self.protocol]}"


@dataclasses.dataclass(frozen=True)
class LoginSettings:
    """The same login for the dashboard and the gateway (doors/access.py)."""

    credentials: str | None = setting(None, "JSON file of user name -> password hash (`cataract users add`); every "
                                            "user must log in (required when binding anything but loopback: "
                                            "patients' photos are never open to anonymous access)", metavar="FILE")


@dataclasses.dataclass(frozen=True)
class CredentialsFile:
    """The credentials file `cataract users` keeps (doors/access.py)."""

    credentials: str = setting(help="JSON file of user name -> password hash, as --credentials of the dashboard "
                                    "and the gateway takes it", metavar="FILE")


@dataclasses.dataclass(frozen=True)
class UserName:
    name: str = setting(help="user name", positional=True)


# -- data ----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SynthSettings:
    out: str = setting(help="folder to create (must be new or empty)", positional=True)
    n: int = setting(200, "number of photos")
    seed: int = setting(0, "random seed", minimum=0)
    test_fraction: float = setting(0.2, "share of photos in test/")
    height: int = setting(256, "photo height in pixels (at least the served photo-size limit)", minimum=MIN_PHOTO_SIDE)

    def __post_init__(self):
        check_settings(self)  # --n and --test-fraction are checked where the photos are drawn


@dataclasses.dataclass(frozen=True)
class AuditSettings:
    data: str = setting(help="dataset folder", positional=True)
    html: str | None = setting(None, "write a self-contained HTML report to FILE", metavar="FILE")
    cache: str | None = setting(None, "folder of the photo feature cache, kept by content hash so a re-audit only "
                                      "reads what is new (default $CATARACT_CACHE/features, $CATARACT_CACHE being "
                                      "~/.cache/cataract unless set; $CATARACT_CACHE_DIR still works but is "
                                      "deprecated; about 40 KB a photo)", metavar="DIR")
    workers: int | None = setting(None, "worker processes (default: one per CPU core; 0: none)", minimum=0)

    def __post_init__(self):
        check_settings(self)
        check_output_file("--html", self.html, "report.html")


# -- training ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ResumeSettings:
    resume: bool = setting(False, "continue the interrupted run in --out from its last checkpoint")


@dataclasses.dataclass(frozen=True)
class EvaluateSettings:
    data: str = setting(help="held-out split folder (e.g. D/test) or a dataset root with test/")
    batch_size: int = setting(16, "photos per batch")


# -- the model repository ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ExportSettings:
    version: int | None = setting(None, "version number (default: the next free one)", minimum=1)
    cpu_precision: str = setting(
        "auto", "precision of the embedded (CPU) server: auto serves bfloat16 where the CPU has AVX512_BF16/AMX and "
                "its decisions agree with float32 on >=99%% of the validation photos", choices=PRECISION_CHOICES)
    allow_unproven: bool = setting(False, "export a run whose validation ROC AUC is not shown to beat chance "
                                          "(recorded in the model card as exported_unproven)")

    def __post_init__(self):
        check_settings(self)


@dataclasses.dataclass(frozen=True)
class RollbackSettings:
    to: int | None = setting(None, "the version to serve", metavar="N", one_of="target")
    latest: bool = setting(False, "serve the newest version again", one_of="target")


# -- serving -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ServeSettings:
    host: str = setting("127.0.0.1", "address to bind; 0.0.0.0 exposes the unauthenticated API to the network")
    http_port: int = setting(8000, "HTTP port")
    grpc_port: int = setting(8001, "gRPC port")
    metrics_port: int = setting(8002, "Prometheus metrics port")
    log_verbose: int = setting(0, "Triton log verbosity", minimum=0)
    ready_timeout: float = setting(600.0, "seconds to wait for the models", above=0)
    poll_seconds: int | None = setting(
        None, "look at the repository every N seconds and load what changed: a new `cataract export` or `cataract "
              f"rollback` is served without a restart or a failed request (default {DEFAULT_POLL_SECONDS}; 0: only "
              "the models found at start, until a restart; not with --allow-model-control)", minimum=0, metavar="N")
    allow_model_control: bool = setting(
        False, "let clients load and unload models over the API (model control mode explicit). A load request can "
               "carry a model's files, and the python backend runs a python model's code: whoever reaches the port "
               "can run any code on this machine as this user. Refused unless --host is a loopback address; off "
               "by default")
    provision_only: bool = setting(False, "only create the server's runtime environment (first use downloads "
                                          "~600 MB), then exit")

    def __post_init__(self):
        check_settings(self)
        if self.allow_model_control and self.poll_seconds:
            raise UserError("--poll-seconds cannot go with --allow-model-control: model updates then come through "
                            "the API")

    def server_options(self, repository: str) -> ServerOptions:
        """The embedded server these settings describe (its own checks run here)."""
        poll_seconds = DEFAULT_POLL_SECONDS if self.poll_seconds is None else self.poll_seconds
        model_control = "explicit" if self.allow_model_control else "poll" if poll_seconds > 0 else "none"
        return ServerOptions(repository=Path(repository), host=self.host, http_port=self.http_port,
                             grpc_port=self.grpc_port, metrics_port=self.metrics_port, log_verbose=self.log_verbose,
                             model_control=model_control, poll_seconds=poll_seconds)


# -- screening -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PredictSettings:
    images: tuple[str, ...] = setting(help="image files or folders", positional=True)
    transport: str = setting("tensor", "tensor: resize here and send pixels to the classifier; bytes: send the "
                                       "files to the `cataract` ensemble, decoded on the server", choices=TRANSPORTS)
    model: str = setting(CLASSIFIER, "classifier model name")
    json: bool = setting(False, "print one JSON object per photo instead of the table")
    timeout: float = setting(30.0, "seconds per request", above=0)
    retries: int = setting(3, "retries with backoff while the server is unreachable", minimum=0)

    def __post_init__(self):
        check_settings(self)


@dataclasses.dataclass(frozen=True)
class DashboardSettings:
    port: int = setting(5006, "port to serve on")
    address: str = setting("127.0.0.1", "address to bind; 0.0.0.0 lets anyone on the network screen photos")
    allow_websocket_origin: tuple[str, ...] = setting((), "extra HOST:PORT browsers may connect from (needed with "
                                                          "--address 0.0.0.0); once per origin", metavar="HOST:PORT")
    samples: str | None = setting(None, "folder of sample photos to offer (default: demo/photos/test if present)",
                                  metavar="DIR")
    show: bool = setting(False, "open a browser")
    session_hours: float = setting(SESSION_HOURS, "hours a login lasts (with --credentials): then the browser logs in again",
                                   above=0, metavar="HOURS")

    def __post_init__(self):
        check_settings(self)


@dataclasses.dataclass(frozen=True)
class GatewaySettings:
    host: str = setting("127.0.0.1", "address to bind")
    port: int = setting(8080, "port to serve on")
    max_concurrent: int = setting(16, "requests handled at once; more are answered 503 at once", minimum=1)

    def __post_init__(self):
        check_settings(self)
