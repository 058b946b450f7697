"""The Panel dashboard: thin views over ScreeningSession and ServerMonitor.

    cataract dashboard --triton-url 127.0.0.1:8001 --port 5006

Each browser session gets its own ScreeningSession; the page is a panel-material-ui Page.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import panel as pn
import panel_material_ui as pmui

from client.imaging import MAX_IMAGE_BYTES
from dashboards.rendering import heatmap_overlay, probability_bar, thumbnail_png
from dashboards.screening import Message, Screened, ScreeningSession, ServerMonitor, sample_photos

TITLE = "Cataract screening"
DISCLAIMER = (
    "**Screening aid, not a diagnosis.** The model flags photos that may show a cataract; "
    "an eye-care professional must examine the patient before any clinical decision."
)
MONITOR_PERIOD_MS = 5000


class DashboardView:
    """Widgets and layout; every decision is made by the state objects."""

    def __init__(self, session: ScreeningSession, monitor: ServerMonitor, samples_folder: str | Path | None):
        self.session, self.monitor = session, monitor
        self._taken_uploads: set[str] = set()
        limit_mb = MAX_IMAGE_BYTES / 2**20
        self.uploader = pn.widgets.FileDropper(
            multiple=True, accepted_filetypes=["image/*"], max_file_size=f"{limit_mb:.0f}MB",
            chunk_size=4 * 2**20, name="Photos", sizing_mode="stretch_width",
        )
        self.uploader.param.watch(self._on_upload, "value")
        samples = sample_photos(samples_folder)
        self.sample_picker = pn.widgets.MultiSelect(
            name=f"Sample photos ({samples_folder})" if samples else "Sample photos (none found)",
            options={str(p.relative_to(samples_folder)): str(p) for p in samples}, size=8, sizing_mode="stretch_width",
        )
        self.add_samples = pn.widgets.Button(
            name="Add selected samples", button_type="primary", button_style="outline", sizing_mode="stretch_width"
        )
        self.add_samples.on_click(lambda _: self.session.add_samples(self.sample_picker.value))
        self.predict_button = pn.widgets.Button(name="Predict", button_type="primary", sizing_mode="stretch_width")
        self.predict_button.on_click(self._on_predict)
        self.retry_button = pn.widgets.Button(name="Retry", button_type="warning", visible=False)
        self.retry_button.on_click(self._on_predict)
        self.show_heatmap = pmui.Switch(label="Show heatmap", value=False)
        self.download = pn.widgets.FileDownload(
            callback=lambda: io.StringIO(self.session.results_csv()), filename="screening_results.csv",
            label="Download CSV", button_type="primary", button_style="outline",
        )
        session.param.watch(lambda event: setattr(self.retry_button, "visible", event.new), "server_unreachable")
        session.param.watch(lambda event: setattr(self.predict_button, "loading", event.new), "busy")

    # -- callbacks --

    def _on_upload(self, event) -> None:
        new = {name: data for name, data in (event.new or {}).items() if name not in self._taken_uploads}
        self._taken_uploads.update(new)
        if new:
            self.session.add_files(new)

    async def _on_predict(self, _event) -> None:
        await self.session.predict()
        await self.monitor.refresh()

    # -- views --

    def messages(self, messages: list[Message]):
        return pn.Column(*(pmui.Alert(object=m.text, severity=m.kind, css_classes=["inline-message"],
                                      sizing_mode="stretch_width") for m in messages), sizing_mode="stretch_width")

    def pending(self, pending: list) -> pn.pane.Markdown:
        names = ", ".join(photo.name for photo in pending)
        return pn.pane.Markdown(f"**Waiting for Predict:** {names}" if pending else "", css_classes=["pending"])

    def result_card(self, item: Screened, show_heatmap: bool):
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
            pn.pane.Markdown(f"model v{prediction.model_version} &middot; {prediction.latency_ms:.0f} ms", styles={"font-size": "12px"}),
            title=item.photo.name, collapsible=False, width=270, css_classes=["result-card"],
        )

    def result_cards(self, results: list[Screened], show_heatmap: bool):
        if not results:
            return pn.pane.Markdown("No photos screened yet.")
        return pn.FlexBox(*(self.result_card(item, show_heatmap) for item in results[:24]))

    def results_table(self, results: list[Screened]):
        frame = pd.DataFrame(self.session.table_rows())
        return pn.widgets.Tabulator(frame, disabled=True, show_index=False, sizing_mode="stretch_width",
                                    height=min(400, 60 + 32 * len(frame)), name="results")

    def server_panel(self, *_):
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

    def page(self):
        s, m = self.session, self.monitor
        sidebar = [
            pn.pane.Markdown(f"### Photos\nDrag and drop or browse (JPEG, PNG, BMP, WebP; up to "
                             f"{MAX_IMAGE_BYTES / 2**20:.0f} MiB each)."),
            self.uploader, self.sample_picker, self.add_samples,
            pn.bind(self.pending, s.param.pending),
            self.predict_button, self.show_heatmap,
            pn.pane.Markdown("Heatmap: red where the model sees evidence for cataract, blue where it sees a normal eye.",
                             styles={"font-size": "12px"}),
            pn.pane.Markdown(DISCLAIMER, css_classes=["disclaimer"]),
        ]
        server = pn.bind(self.server_panel, m.param.reachable, m.param.delta, m.param.model_info, m.param.total_inferences,
                         s.param.results)
        main = [
            pn.Column(pn.bind(self.messages, s.param.messages), self.retry_button, sizing_mode="stretch_width"),
            pn.pane.Markdown("## Results"),
            pn.bind(self.result_cards, s.param.results, self.show_heatmap),
            pn.Row(pn.pane.Markdown("## All screened photos"), self.download),
            pn.bind(self.results_table, s.param.results),
            pn.pane.Markdown("## Server"),
            server,
        ]
        return pmui.Page(title=TITLE, sidebar=sidebar, main=main, sidebar_width=340)


def create_app(triton_url: str, protocol: str = "grpc", samples_folder: str | Path | None = None):
    """One page per browser session, with its own state."""
    session = ScreeningSession(triton_url=triton_url, protocol=protocol)
    monitor = ServerMonitor(triton_url=triton_url, protocol=protocol)
    view = DashboardView(session, monitor, samples_folder)
    pn.state.onload(monitor.refresh)
    pn.state.add_periodic_callback(monitor.refresh, period=MONITOR_PERIOD_MS)
    return view.page()


def serve(triton_url: str, protocol: str, samples_folder: str | Path | None, port: int, address: str,
          show: bool = False, extra_origins: list[str] = ()) -> None:
    pn.extension("filedropper", "tabulator")
    origins = {f"{address}:{port}", f"localhost:{port}", f"127.0.0.1:{port}", *extra_origins}
    pn.serve(
        {"/": lambda: create_app(triton_url, protocol, samples_folder)},
        port=port, address=address, websocket_origin=sorted(origins), show=show, title=TITLE,
        # Uploads arrive in 4 MiB chunks; leave room for the message framing.
        websocket_max_message_size=8 * 2**20,
    )
