"""`cataract predict`, `cataract dashboard` and `cataract gateway`: photos screened
through a running Triton, from the command line, the browser or the REST API."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cataract_cli.commands import add_command
from cataract_cli.options import DashboardSettings, GatewaySettings, LoginSettings, PredictSettings, TritonSettings
from train_jax.errors import UserError

# The dashboard's sample photos when --samples is not given (and the folder exists).
DEMO_SAMPLES = Path(__file__).resolve().parent.parent / "demo" / "photos" / "test"


def add_commands(commands) -> None:
    add_command(
        commands, "predict", run_predict, [TritonSettings, PredictSettings],
        help="screen photos through a running Triton server",
        description=(
            "Send photos (files, or folders searched recursively) to the served model and print one "
            "answer per photo: a table, or with --json one JSON object per line "
            '{"file", "prediction", "confidence", "probabilities", ..., "gradable", "reason"}. A photo the model '
            'cannot judge (not an eye photo like its training photos, too dark, too bright, blurred, grey, too small) is '
            'answered "Ungradable" with its reason and no confidence: retake it. A photo that fails is reported '
            "and the others still answered; the exit code is 0 only if every photo was answered (an ungradable "
            "photo is an answer)."
        ),
    )
    add_command(
        commands, "dashboard", run_dashboard, [TritonSettings, DashboardSettings, LoginSettings],
        help="the Panel screening dashboard in the browser",
        description=(
            "Serve the Panel dashboard: upload photos or pick samples, press Predict, see label, confidence, "
            "probability against the decision threshold and the heatmap (an amber \"Ungradable, retake\" card with the "
            "reason for a photo the model cannot judge, counted apart, with the session's refusal rate); a results "
            "table with CSV download; "
            "a live server panel. It talks to Triton through the client library. Binds to 127.0.0.1 unless "
            "--address says otherwise."
        ),
    )
    add_command(
        commands, "gateway", run_gateway, [TritonSettings, GatewaySettings, LoginSettings],
        help="the earlier project's REST API (POST /predict/) in front of Triton",
        description=(
            'Serve POST /predict/ (multipart field "file") answering {"prediction": "Cataract"|"Normal", '
            '"confidence": percent} as the earlier FastAPI app did, with "gradable" (and "reason" for a photo '
            'answered {"prediction": "Ungradable", "confidence": null}, still HTTP 200), GET /health and GET '
            "/metrics (Prometheus: photos screened and refused, by reason); each photo goes to Triton "
            "through the asyncio client. The login is checked and the upload's size bounded before the body is read. "
            "400 for a photo that cannot be used or a form that is not one file field, 413 for a file over 20 MiB, "
            "503 when Triton is unreachable or busy or the gateway has --max-concurrent requests in hand; GET /health "
            "is always 200 while the gateway runs, with Triton's state. Binds to 127.0.0.1 unless --host says otherwise."
        ),
    )


def run_predict(triton: TritonSettings, settings: PredictSettings) -> int:
    from client.errors import InvalidImageError, ModelNotReadyError, ServerUnavailableError
    from client.triton_client import CataractClient, sources_from_paths

    # Nothing to send is said before the server is asked (which may be down too); a missing
    # photo among others is answered in its place with the others.
    missing = [path for path in settings.images if not Path(path).exists()]
    if len(missing) == len(settings.images):
        raise UserError(f"no such file or folder: {' '.join(missing)}")
    sources = sources_from_paths(settings.images)
    if not sources:
        raise UserError(f"no image files in {' '.join(settings.images)}")
    with CataractClient(triton.url, triton.protocol, model=settings.model, transport=settings.transport,
                        timeout=settings.timeout, retries=settings.retries) as screener:
        try:
            results = screener.predict_many(sources)
        except (ServerUnavailableError, ModelNotReadyError) as exc:
            raise UserError(str(exc)) from None
    failures = 0
    if not settings.json:
        print(f"{'file':50s} {'prediction':10s} {'confidence':>10s} {'P(cataract)':>11s}")
    for source, result in zip(sources, results):
        if isinstance(result, Exception):
            failures += 1
            reason = result.reason if isinstance(result, InvalidImageError) else str(result)
            print(json.dumps({"file": str(source), "error": reason}) if settings.json else f"{str(source):50s} error: {reason}")
        elif settings.json:
            print(json.dumps(result.as_json()))
        else:
            print(answer_row(result))
    if failures:
        print(f"cataract predict: {failures} of {len(sources)} photos failed", file=sys.stderr)
    return 1 if failures else 0


def answer_row(result) -> str:
    """One answer of the human-readable table: an ungradable photo gets its reason, never a
    label; a version without the gate says its answer was not checked."""
    if result.gradable is False:
        return f"{result.source:50s} ungradable: {result.reason}, retake the photo"
    row = f"{result.source:50s} {result.label:10s} {result.confidence:9.1f}% {result.probabilities['cataract']:11.3f}"
    return row if result.gradable else f"{row}  gradability {result.reason}"


def run_dashboard(triton: TritonSettings, settings: DashboardSettings, login: LoginSettings) -> int:
    from dashboards.app import serve
    from doors.access import Logins, require_credentials_off_loopback

    samples = settings.samples
    if samples is None:
        samples = str(DEMO_SAMPLES) if DEMO_SAMPLES.is_dir() else None
    elif not Path(samples).is_dir():
        raise UserError(f"--samples {samples}: no such folder")
    require_credentials_off_loopback(settings.address, login.credentials, "dashboard")
    logins = Logins(login.credentials) if login.credentials else None
    print(f"dashboard on http://{settings.address}:{settings.port}/ (Triton at {triton.url}, {triton.protocol})",
          flush=True)
    serve(triton.url, triton.protocol, samples, settings.port, settings.address, settings.show,
          list(settings.allow_websocket_origin), logins=logins, session_hours=settings.session_hours)
    return 0


def run_gateway(triton: TritonSettings, settings: GatewaySettings, login: LoginSettings) -> int:
    from doors.access import Logins, require_credentials_off_loopback
    from doors.gateway import serve

    require_credentials_off_loopback(settings.host, login.credentials, "gateway")
    logins = Logins(login.credentials) if login.credentials else None
    print(f"gateway on http://{settings.host}:{settings.port}/predict/ (Triton at {triton.url}, {triton.protocol})"
          f"{'' if logins else ', no login'}", flush=True)
    serve(triton.url, triton.protocol, settings.host, settings.port, logins, settings.max_concurrent)
    return 0
