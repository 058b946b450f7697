"""The Panel dashboard: thin views over ScreeningSession and ServerMonitor.

    cataract dashboard --triton-url 127.0.0.1:8001 --port 5006

Each browser session gets its own ScreeningSession and ServerMonitor (dashboards/
screening.py), which hold every decision; the views below are `pn.viewable.Viewer`
classes, each bound only to the parameters it shows. Every string a user or a server
controls is escaped for the pane that shows it (dashboards/rendering.py).
"""

from __future__ import annotations

import functools
import io
import logging
import os
import secrets
from pathlib import Path

import pandas as pd
import panel as pn
import panel_material_ui as pmui
import param
from panel.auth import BasicAuthProvider, BasicLoginHandler
from tornado.escape import url_escape

from cataract_contract import MAX_IMAGE_BYTES, NOT_CHECKED, SIZE_LIMIT_TEXT, too_large_message
from dashboards.rendering import (
    THUMBNAIL_SIDE,
    UNGRADABLE_BACKGROUND,
    UNGRADABLE_COLOUR,
    UNGRADABLE_TITLE,
    heatmap_overlay,
    html_text,
    markdown_text,
    probability_bar,
    session_summary,
)
from dashboards.screening import MAX_PHOTOS_PER_SESSION, Screened, ScreeningSession, ServerMonitor, sample_photos
from doors.access import SESSION_HOURS, AccessError, Logins

TITLE = "Cataract screening"
DISCLAIMER = (
    "**Screening aid, not a diagnosis.** The model flags photos that may show a cataract; "
    "an eye-care professional must examine the patient before any clinical decision."
)
MONITOR_PERIOD_MS = 5000
CARDS_SHOWN = 24
# A file up to the size limit travels in one chunk, so each upload event is one whole
# file: FileDropper keys the chunks of a file by its name, and two files of one name
# uploaded together would otherwise have their chunks mixed.
UPLOAD_CHUNK_BYTES = MAX_IMAGE_BYTES + 1
# The login cookie's signing secret, shared by the replicas (deploy/kubernetes: the
# cataract-credentials Secret's cookie-secret key); 32 characters at least.
COOKIE_SECRET_ENVIRONMENT = "CATARACT_COOKIE_SECRET"
MIN_COOKIE_SECRET_CHARACTERS = 32

log = logging.getLogger(__name__)


class PhotoDropper(pn.widgets.FileDropper):
    """FileDropper handing over every uploaded file as it arrives, `on_file(name, data)`,
    instead of keeping them in `value`, a dict keyed by file name, where a second file of
    the same name would replace the first. (Overrides FileDropper's event handler, panel 1.x.)"""

    on_file = param.Callable(allow_refs=False, doc="called with (name, bytes) of each complete upload")
    on_too_large = param.Callable(allow_refs=False, doc="called with the name of a file over the size limit")

    _rename = {**pn.widgets.FileDropper._rename, "on_file": None, "on_too_large": None}  # not sent to the browser

    def _process_event(self, event) -> None:
        data = event.data
        if event.event_name != "upload_event":  # a file removed from the widget's list: it stays queued
            return
        if data["total_chunks"] != 1:
            if data["chunk"] == 1:
                self.on_too_large(data["name"])
            return
        self.on_file(data["name"], bytes(data["data"]))


class PhotoPicker(pn.viewable.Viewer):
    """Upload or pick sample photos, see what waits, press Predict."""

    session = param.ClassSelector(class_=ScreeningSession)
    samples_folder = param.Parameter(default=None)
    on_predict = param.Callable(allow_refs=False, doc="async: screen the waiting photos")

    def __init__(self, **params):
        super().__init__(**params)
        self.uploader = PhotoDropper(
            multiple=True, accepted_filetypes=["image/*"], max_file_size=f"{MAX_IMAGE_BYTES / 2**20:.0f}MB",
            chunk_size=UPLOAD_CHUNK_BYTES, name="Photos", sizing_mode="stretch_width",
            on_file=self._on_file, on_too_large=self._on_too_large,
        )
        samples = sample_photos(self.samples_folder)
        self.sample_picker = pn.widgets.MultiSelect(
            name=f"Sample photos ({self.samples_folder})" if samples else "Sample photos (none found)",
            options={str(p.relative_to(self.samples_folder)): str(p) for p in samples}, size=8,
            sizing_mode="stretch_width",
        )
        self.add_samples = pn.widgets.Button(
            name="Add selected samples", button_type="primary", button_style="outline", sizing_mode="stretch_width"
        )
        self.add_samples.on_click(self._on_add_samples)
        self.predict_button = pn.widgets.Button(name="Predict", button_type="primary", sizing_mode="stretch_width")
        self.predict_button.on_click(self._on_predict)
        self.session.param.watch(self._show_busy, "busy")
        # One pane updated in place: cheaper on the event loop than a new pane per upload.
        self.pending_list = pn.pane.HTML("", css_classes=["pending"], sizing_mode="stretch_width")
        self.session.param.watch(self._show_pending, "pending")

    def _on_file(self, name: str, data: bytes) -> None:
        # Decoding happens in an executor; this only schedules it on the session's loop.
        pn.state.execute(functools.partial(self.session.add_files, [(name, data)]))

    def _on_too_large(self, name: str) -> None:
        self.session.refuse(name, too_large_message())

    async def _on_add_samples(self, _event) -> None:
        await self.session.add_samples(self.sample_picker.value)

    async def _on_predict(self, _event) -> None:
        await self.on_predict()

    def _show_busy(self, event) -> None:
        self.predict_button.param.update(loading=event.new, disabled=event.new,
                                         name="Screening..." if event.new else "Predict")

    def _show_pending(self, event) -> None:
        items = "".join(f'<li class="pending-photo">{html_text(photo.name)} <code>{photo.short_hash}</code></li>'
                        for photo in event.new)
        self.pending_list.object = f"<b>Waiting for Predict ({len(event.new)}):</b><ul>{items}</ul>" if items else ""

    def __panel__(self):
        return pn.Column(
            pn.pane.Markdown(f"### Photos\nDrag and drop or browse (JPEG, PNG, BMP, WebP, GIF, TIFF; up to "
                             f"{SIZE_LIMIT_TEXT} each; {MAX_PHOTOS_PER_SESSION} photos a page at most)."),
            self.uploader, self.sample_picker, self.add_samples, self.pending_list, self.predict_button,
            sizing_mode="stretch_width",
        )


class Messages(pn.viewable.Viewer):
    """What the last actions have to say, with Retry when photos wait for the service."""

    session = param.ClassSelector(class_=ScreeningSession)
    on_predict = param.Callable(allow_refs=False, doc="async: screen the waiting photos")

    def __init__(self, **params):
        super().__init__(**params)
        self.retry_button = pn.widgets.Button(name="Retry", button_type="warning", visible=False)
        self.retry_button.on_click(self._on_retry)
        self.session.param.watch(lambda event: setattr(self.retry_button, "visible", event.new), "retry_offered")
        self.session.param.watch(lambda event: setattr(self.retry_button, "disabled", event.new), "busy")
        self.alerts = pn.Column(sizing_mode="stretch_width")
        self.session.param.watch(self._show, "messages")

    async def _on_retry(self, _event) -> None:
        await self.on_predict()

    def _show(self, event) -> None:
        """Alerts updated in place (an upload changes only the count): cheaper on the
        event loop than new ones each time."""
        alerts = list(self.alerts.objects[: len(event.new)])
        for index, message in enumerate(event.new):
            # The alert renders its text as Markdown (HTML included): escaped, it is shown as written.
            shown = {"object": markdown_text(message.text), "severity": message.kind}
            if index < len(alerts):
                alerts[index].param.update(**shown)
            else:
                alerts.append(pmui.Alert(**shown, css_classes=["inline-message"], sizing_mode="stretch_width"))
        self.alerts.objects = alerts

    def __panel__(self):
        return pn.Column(self.alerts, self.retry_button, sizing_mode="stretch_width")


class ResultCards(pn.viewable.Viewer):
    """One card per screened photo: label, confidence, probability bar, optional heatmap;
    for a photo the model refused to grade, an amber card with the reason, to retake, and
    neither label, probability nor heatmap."""

    session = param.ClassSelector(class_=ScreeningSession)
    show_heatmap = param.Boolean(default=False)

    @staticmethod
    def card(item: Screened, show_heatmap: bool):
        prediction, photo = item.prediction, item.photo
        footer = pn.pane.HTML(f'<span style="font-size:12px">SHA-256 <code class="photo-hash">{photo.short_hash}</code> '
                              f"&middot; model v{html_text(prediction.model_version)} &middot; "
                              f"{prediction.latency_ms:.0f} ms</span>")
        if prediction.gradable is False:
            body = [
                pn.pane.PNG(photo.thumbnail, width=THUMBNAIL_SIDE),
                pn.pane.HTML(f'<span class="ungradable-label" style="font-size:20px;font-weight:600;'
                             f'color:{UNGRADABLE_COLOUR}">{UNGRADABLE_TITLE}</span><br>'
                             f'<span class="ungradable-reason">{html_text(prediction.reason)}</span>'),
            ]
            style, classes = {"background": UNGRADABLE_BACKGROUND, "border": f"2px solid {UNGRADABLE_COLOUR}"}, ["ungradable"]
        else:
            picture = (heatmap_overlay(photo.thumbnail, prediction.heatmap)
                       if show_heatmap and prediction.heatmap is not None else photo.thumbnail)
            colour = "#c62828" if prediction.is_cataract else "#2e7d32"
            unchecked = ("" if prediction.gradable else
                         f'<br><span class="gradability-unchecked" style="font-size:12px">gradability '
                         f"{html_text(prediction.reason)}</span>")
            body = [
                pn.pane.PNG(picture, width=THUMBNAIL_SIDE),
                pn.pane.HTML(f'<span class="prediction-label" style="font-size:20px;font-weight:600;color:{colour}">'
                             f'{html_text(prediction.label)}</span> <span class="prediction-confidence" '
                             f'style="font-size:18px">{prediction.confidence:.1f}%</span>{unchecked}'),
                pn.pane.HTML(probability_bar(prediction.cataract_probability), width=THUMBNAIL_SIDE),
            ]
            style, classes = {}, []
        return pn.Card(
            *body, footer,
            title=html_text(photo.name),  # the card puts its title into HTML as it is
            collapsible=False, width=THUMBNAIL_SIDE + 30,  # the picture and the card's padding
            styles=style, css_classes=["result-card", *classes],
        )

    @param.depends("session.results", "show_heatmap")
    def __panel__(self):
        if not self.session.results:
            return pn.pane.Markdown("No photos screened yet.")
        return pn.FlexBox(*(self.card(item, self.show_heatmap) for item in self.session.results[:CARDS_SHOWN]))


class SessionSummary(pn.viewable.Viewer):
    """The session's answers counted apart by gradability, and its refusal rate."""

    session = param.ClassSelector(class_=ScreeningSession)

    def __init__(self, **params):
        super().__init__(**params)
        self.summary = pn.pane.HTML(session_summary(self.session.counts()), css_classes=["session-summary"],
                                    sizing_mode="stretch_width")
        self.session.param.watch(lambda _event: setattr(self.summary, "object", session_summary(self.session.counts())),
                                 "results")

    def __panel__(self):
        return self.summary


class ResultsTable(pn.viewable.Viewer):
    """Every answer since the page was opened, with CSV download."""

    session = param.ClassSelector(class_=ScreeningSession)

    def __init__(self, **params):
        super().__init__(**params)
        self.download = pn.widgets.FileDownload(
            callback=lambda: io.StringIO(self.session.results_csv()), filename="screening_results.csv",
            label="Download CSV", button_type="primary", button_style="outline",
        )

    @param.depends("session.results")
    def _table(self):
        frame = pd.DataFrame(self.session.table_rows())
        return pn.widgets.Tabulator(frame, disabled=True, show_index=False, sizing_mode="stretch_width",
                                    height=min(400, 60 + 32 * len(frame)), name="results")

    def __panel__(self):
        return pn.Column(pn.Row(pn.pane.Markdown("## All screened photos"), self.download), self._table,
                         sizing_mode="stretch_width")


class ServerPanel(pn.viewable.Viewer):
    """Triton's state, the served model, and what happened since the last refresh."""

    monitor = param.ClassSelector(class_=ServerMonitor)
    session = param.ClassSelector(class_=ScreeningSession)

    def __init__(self, **params):
        super().__init__(**params)
        # Two panes updated in place on each refresh (every 5 s): no new models on the event loop.
        self.unreachable = pmui.Alert(severity="error", css_classes=["server-status"], visible=False)
        self.facts = pn.pane.HTML("", css_classes=["server-status"], sizing_mode="stretch_width")
        self.monitor.param.watch(self._show, ["reachable", "problem", "delta", "model_info", "total_inferences"])
        self.session.param.watch(self._show, "results")
        self._show()

    def _show(self, *_events) -> None:
        m = self.monitor
        self.unreachable.param.update(visible=not m.reachable,
                                      object=markdown_text(f"Triton server unreachable at {m.triton_url}. {m.problem}"))
        self.facts.visible = m.reachable
        if m.reachable:
            self.facts.object = "".join(f"<p>{line}</p>" for line in self._lines())

    def _lines(self) -> list[str]:
        m, info, delta = self.monitor, self.monitor.model_info, self.monitor.delta
        lines = [
            f"<b>Server</b> {html_text(m.triton_url)} ({m.protocol}): live {'yes' if m.live else 'no'}, "
            f"ready {'yes' if m.ready else 'no'}",
        ]
        if info is not None:  # names and numbers the server sends: escaped like any other text
            lines.append(f"<b>Model</b> {html_text(info.name)} v{html_text(info.version)} ({html_text(info.backend)}), "
                         f"decision threshold {info.threshold:.3f} on the model's score (served at 50%); "
                         f"gradability {'checked' if info.gradability_outputs else NOT_CHECKED}")
        lines.append(f"<b>Inferences</b> {m.total_inferences}")
        if delta is not None:
            queue = f"{delta.average_queue_ms:.1f} ms" if delta.average_queue_ms is not None else "n/a"
            compute = f"{delta.average_compute_ms:.1f} ms" if delta.average_compute_ms is not None else "n/a"
            sizes = ", ".join(f"{size}x{count}" for size, count in delta.batch_sizes.items()) or "none"
            lines.append(f"<b>Since last refresh</b> {delta.inferences} inferences in {delta.executions} executions; "
                         f"average queue {queue}, compute {compute}; batch sizes {sizes}")
        latencies = self.session.recent_latencies_ms()
        if latencies:
            lines.append("<b>Recent request latencies</b> " + ", ".join(f"{v:.0f}" for v in latencies[:10]) + " ms")
        return lines

    def __panel__(self):
        return pn.Column(self.unreachable, self.facts, sizing_mode="stretch_width")


def create_app(triton_url: str, protocol: str = "grpc", samples_folder: str | Path | None = None,
               logout_url: str | None = None):
    """One page per browser session, with its own state; with logins on, a Log out button
    (to `logout_url`) in the header, and the logged-in user named in the access log."""
    session = ScreeningSession(triton_url=triton_url, protocol=protocol, user=pn.state.user or "")
    monitor = ServerMonitor(triton_url=triton_url, protocol=protocol)

    async def predict() -> None:
        await session.predict()
        await monitor.refresh()  # the server panel shows this Predict's statistics at once

    show_heatmap = pmui.Switch(label="Show heatmap", value=False)
    cards = ResultCards(session=session, show_heatmap=show_heatmap.value)
    show_heatmap.link(cards, value="show_heatmap")
    sidebar = [
        PhotoPicker(session=session, samples_folder=samples_folder, on_predict=predict),
        show_heatmap,
        pn.pane.Markdown("Heatmap: red where the model sees evidence for cataract, blue where it sees a normal eye.",
                         styles={"font-size": "12px"}),
        pn.pane.Markdown(DISCLAIMER, css_classes=["disclaimer"]),
    ]
    main = [
        Messages(session=session, on_predict=predict),
        pn.pane.Markdown("## Results"), SessionSummary(session=session), cards,
        ResultsTable(session=session),
        pn.pane.Markdown("## Server"), ServerPanel(monitor=monitor, session=session),
    ]
    pn.state.onload(monitor.refresh)
    pn.state.add_periodic_callback(monitor.refresh, period=MONITOR_PERIOD_MS)
    header = [] if logout_url is None else [
        pmui.Button(label=f"Log out {pn.state.user or ''}".strip(), href=logout_url, icon="logout",
                    color="light", css_classes=["logout"]),
    ]
    return pmui.Page(title=TITLE, header=header, sidebar=sidebar, main=main, sidebar_width=340)


def cookie_secret() -> str:
    """The secret that signs login cookies: $CATARACT_COOKIE_SECRET when set, shared by
    every replica (a login made on one is honoured by the others, and outlives a restart),
    else a random one of this process."""
    shared = os.environ.get(COOKIE_SECRET_ENVIRONMENT)
    if shared is None:
        log.warning("%s is not set: this process signs logins with a secret of its own, so replicas will not "
                    "share sessions and a restart logs everyone out", COOKIE_SECRET_ENVIRONMENT)
        return secrets.token_urlsafe(32)
    if len(shared) < MIN_COOKIE_SECRET_CHARACTERS:
        raise AccessError(f"${COOKIE_SECRET_ENVIRONMENT} has {len(shared)} characters, fewer than the "
                          f"{MIN_COOKIE_SECRET_CHARACTERS} a cookie secret needs: make one with "
                          "`openssl rand -base64 48`")
    return shared


class CredentialsLogin(BasicAuthProvider):
    """Panel's login page, signed cookie and /logout, with the doors' own login check
    (doors/access.py: the credentials file read again when it changes; none left, nobody let
    in; failures logged and counted per client address, a refused address told why). Not
    Panel's basic_auth given the file's path: once the file is gone, that takes the path
    itself as everyone's password. A cookie counts only while its user is in the file, so a
    removed user is logged out at the next page or connection. (Overrides BasicLoginHandler's
    _validate and post and BasicAuthProvider's get_user, panel 1.x.)"""

    def __init__(self, logins: Logins):
        self.logins = logins  # before Bokeh's checks, which read login_handler
        super().__init__()

    @property
    def login_handler(self):
        logins = self.logins

        class LoginHandler(BasicLoginHandler):
            _login_endpoint, _login_template = self._login_endpoint, self._login_template

            def _validate(self, username: str, password: str) -> bool:
                return logins.check(username, password, client=self.request.remote_ip)

            def post(self) -> None:
                refusal = logins.refusal(self.request.remote_ip)
                if refusal:  # Panel's own message would be "Invalid username or password!"
                    self.redirect(f"{self.request.path}?error={url_escape(refusal)}")
                else:
                    super().post()

        return LoginHandler

    @property
    def get_user(self):
        panel_user = super().get_user

        def get_user(handler):
            user = panel_user(handler)
            return user if user is not None and self.logins.knows(user) else None

        return get_user


def serve(triton_url: str, protocol: str, samples_folder: str | Path | None, port: int, address: str,
          show: bool = False, extra_origins: list[str] = (), logins: Logins | None = None,
          session_hours: float = SESSION_HOURS) -> None:
    """logins: the users of the credentials file; every browser then logs in before any
    page (or photo) is served, and its login lasts `session_hours` (then it logs in again)."""
    pn.extension("filedropper", "tabulator")
    origins = {f"{address}:{port}", f"localhost:{port}", f"127.0.0.1:{port}", *extra_origins}
    login, logout_url = {}, None
    if logins:
        provider = CredentialsLogin(logins)
        # Signs the login cookie, with the secret every replica shares.
        login, logout_url = {"auth_provider": provider, "cookie_secret": cookie_secret()}, provider.logout_url
        # Panel's one setting for how long its login cookie is set for and honoured, in days.
        pn.config.oauth_expiry = session_hours / 24
    pn.serve(
        {"/": lambda: create_app(triton_url, protocol, samples_folder, logout_url)},
        port=port, address=address, websocket_origin=sorted(origins), show=show, title=TITLE,
        # A photo arrives in one chunk of up to the size limit; leave room for the message framing.
        websocket_max_message_size=UPLOAD_CHUNK_BYTES + 2**20, **login,
    )
