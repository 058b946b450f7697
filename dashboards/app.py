"""The Panel dashboard: thin views over ScreeningSession and ServerMonitor.

    cataract dashboard --triton-url 127.0.0.1:8001 --port 5006

Each browser session gets its own ScreeningSession and ServerMonitor (dashboards/
screening.py), which hold every decision; the views below are `pn.viewable.Viewer`
classes, each bound only to the parameters it shows.
"""

from __future__ import annotations

import io
import secrets
from pathlib import Path

import pandas as pd
import panel as pn
import panel_material_ui as pmui
import param

from cataract_contract import MAX_IMAGE_BYTES
from dashboards.rendering import heatmap_overlay, probability_bar, thumbnail_png
from dashboards.screening import Message, Screened, ScreeningSession, ServerMonitor, sample_photos

TITLE = "Cataract screening"
DISCLAIMER = (
    "**Screening aid, not a diagnosis.** The model flags photos that may show a cataract; "
    "an eye-care professional must examine the patient before any clinical decision."
)
MONITOR_PERIOD_MS = 5000
CARDS_SHOWN = 24


class PhotoPicker(pn.viewable.Viewer):
    """Upload or pick sample photos, see what waits, press Predict."""

    session = param.ClassSelector(class_=ScreeningSession)
    samples_folder = param.Parameter(default=None)
    on_predict = param.Callable(allow_refs=False, doc="async: screen the waiting photos")

    def __init__(self, **params):
        super().__init__(**params)
        self._taken_uploads: set[str] = set()
        self.uploader = pn.widgets.FileDropper(
            multiple=True, accepted_filetypes=["image/*"], max_file_size=f"{MAX_IMAGE_BYTES / 2**20:.0f}MB",
            chunk_size=4 * 2**20, name="Photos", sizing_mode="stretch_width",
        )
        self.uploader.param.watch(self._on_upload, "value")
        samples = sample_photos(self.samples_folder)
        self.sample_picker = pn.widgets.MultiSelect(
            name=f"Sample photos ({self.samples_folder})" if samples else "Sample photos (none found)",
            options={str(p.relative_to(self.samples_folder)): str(p) for p in samples}, size=8,
            sizing_mode="stretch_width",
        )
        self.add_samples = pn.widgets.Button(
            name="Add selected samples", button_type="primary", button_style="outline", sizing_mode="stretch_width"
        )
        self.add_samples.on_click(lambda _: self.session.add_samples(self.sample_picker.value))
        self.predict_button = pn.widgets.Button(name="Predict", button_type="primary", sizing_mode="stretch_width")
        self.predict_button.on_click(self._on_predict)
        self.session.param.watch(lambda event: setattr(self.predict_button, "loading", event.new), "busy")

    def _on_upload(self, event) -> None:
        new = {name: data for name, data in (event.new or {}).items() if name not in self._taken_uploads}
        self._taken_uploads.update(new)
        if new:
            self.session.add_files(new)

    async def _on_predict(self, _event) -> None:
        await self.on_predict()

    @param.depends("session.pending")
    def _pending(self) -> pn.pane.Markdown:
        names = ", ".join(photo.name for photo in self.session.pending)
        return pn.pane.Markdown(f"**Waiting for Predict:** {names}" if names else "", css_classes=["pending"])

    def __panel__(self):
        return pn.Column(
            pn.pane.Markdown(f"### Photos\nDrag and drop or browse (JPEG, PNG, BMP, WebP; up to "
                             f"{MAX_IMAGE_BYTES / 2**20:.0f} MiB each)."),
            self.uploader, self.sample_picker, self.add_samples, self._pending, self.predict_button,
            sizing_mode="stretch_width",
        )


class Messages(pn.viewable.Viewer):
    """What the last action has to say, with Retry when the server was unreachable."""

    session = param.ClassSelector(class_=ScreeningSession)
    on_predict = param.Callable(allow_refs=False, doc="async: screen the waiting photos")

    def __init__(self, **params):
        super().__init__(**params)
        self.retry_button = pn.widgets.Button(name="Retry", button_type="warning", visible=False)
        self.retry_button.on_click(self._on_retry)
        self.session.param.watch(lambda event: setattr(self.retry_button, "visible", event.new), "server_unreachable")

    async def _on_retry(self, _event) -> None:
        await self.on_predict()

    @param.depends("session.messages")
    def _alerts(self):
        return pn.Column(*(self.alert(message) for message in self.session.messages), sizing_mode="stretch_width")

    @staticmethod
    def alert(message: Message):
        return pmui.Alert(object=message.text, severity=message.kind, css_classes=["inline-message"],
                          sizing_mode="stretch_width")

    def __panel__(self):
        return pn.Column(self._alerts, self.retry_button, sizing_mode="stretch_width")


class ResultCards(pn.viewable.Viewer):
    """One card per screened photo: label, confidence, probability bar, optional heatmap."""

    session = param.ClassSelector(class_=ScreeningSession)
    show_heatmap = param.Boolean(default=False)

    @staticmethod
    def card(item: Screened, show_heatmap: bool):
        prediction = item.prediction
        picture = (heatmap_overlay(item.photo.data, prediction.heatmap)
                   if show_heatmap and prediction.heatmap is not None else thumbnail_png(item.photo.data))
        colour = "#c62828" if prediction.is_cataract else "#2e7d32"
        return pn.Card(
            pn.pane.PNG(picture, width=240),
            pn.pane.HTML(f'<span class="prediction-label" style="font-size:20px;font-weight:600;color:{colour}">'
                         f'{prediction.label}</span> <span class="prediction-confidence" style="font-size:18px">'
                         f'{prediction.confidence:.1f}%</span>'),
            pn.pane.HTML(probability_bar(prediction.probabilities["cataract"], prediction.threshold), width=240),
            pn.pane.Markdown(f"model v{prediction.model_version} &middot; {prediction.latency_ms:.0f} ms",
                             styles={"font-size": "12px"}),
            title=item.photo.name, collapsible=False, width=270, css_classes=["result-card"],
        )

    @param.depends("session.results", "show_heatmap")
    def __panel__(self):
        if not self.session.results:
            return pn.pane.Markdown("No photos screened yet.")
        return pn.FlexBox(*(self.card(item, self.show_heatmap) for item in self.session.results[:CARDS_SHOWN]))


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

    @param.depends("monitor.reachable", "monitor.delta", "monitor.model_info", "monitor.total_inferences",
                   "session.results")
    def __panel__(self):
        m = self.monitor
        if not m.reachable:
            return pmui.Alert(object=f"Triton server unreachable at {m.triton_url}. {m.problem}", severity="error",
                              css_classes=["server-status"])
        info, delta = m.model_info, m.delta
        lines = [
            f"**Server** {m.triton_url} ({m.protocol}): live {'yes' if m.live else 'no'}, ready {'yes' if m.ready else 'no'}",
        ]
        if info is not None:
            lines.append(f"**Model** {info.name} v{info.version} ({info.backend}), threshold {info.threshold:.3f}")
        lines.append(f"**Inferences** {m.total_inferences}")
        if delta is not None:
            queue = f"{delta.average_queue_ms:.1f} ms" if delta.average_queue_ms is not None else "n/a"
            compute = f"{delta.average_compute_ms:.1f} ms" if delta.average_compute_ms is not None else "n/a"
            sizes = ", ".join(f"{size}x{count}" for size, count in delta.batch_sizes.items()) or "none"
            lines.append(f"**Since last refresh** {delta.inferences} inferences in {delta.executions} executions; "
                         f"average queue {queue}, compute {compute}; batch sizes {sizes}")
        latencies = self.session.recent_latencies_ms()
        if latencies:
            lines.append("**Recent request latencies** " + ", ".join(f"{v:.0f}" for v in latencies[:10]) + " ms")
        return pn.pane.Markdown("\n\n".join(lines), css_classes=["server-status"])


def create_app(triton_url: str, protocol: str = "grpc", samples_folder: str | Path | None = None):
    """One page per browser session, with its own state."""
    session = ScreeningSession(triton_url=triton_url, protocol=protocol)
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
        pn.pane.Markdown("## Results"), cards,
        ResultsTable(session=session),
        pn.pane.Markdown("## Server"), ServerPanel(monitor=monitor, session=session),
    ]
    pn.state.onload(monitor.refresh)
    pn.state.add_periodic_callback(monitor.refresh, period=MONITOR_PERIOD_MS)
    return pmui.Page(title=TITLE, sidebar=sidebar, main=main, sidebar_width=340)


def serve(triton_url: str, protocol: str, samples_folder: str | Path | None, port: int, address: str,
          show: bool = False, extra_origins: list[str] = (), credentials: str | None = None) -> None:
    """credentials: a JSON file of user name -> password: Panel's basic authentication then
    asks every browser to log in before any page (or photo) is served."""
    pn.extension("filedropper", "tabulator")
    origins = {f"{address}:{port}", f"localhost:{port}", f"127.0.0.1:{port}", *extra_origins}
    login = {}
    if credentials:
        # Signs the login cookie; a new secret per start logs everyone out on a restart.
        login = {"basic_auth": str(credentials), "cookie_secret": secrets.token_urlsafe(32)}
    pn.serve(
        {"/": lambda: create_app(triton_url, protocol, samples_folder)},
        port=port, address=address, websocket_origin=sorted(origins), show=show, title=TITLE,
        # Uploads arrive in 4 MiB chunks; leave room for the message framing.
        websocket_max_message_size=8 * 2**20, **login,
    )
