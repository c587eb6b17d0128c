"""The operator's pause in a flash report (`--pause-at`): its lines on the terminal
page, its table in report.html and the band that shades it on the answers chart.
All from `figures["pause"]` (stress.verdicts.pause.pause_figures)."""

from __future__ import annotations

from html import escape
from typing import Any

BAND_LABEL = "paused (the server's record)"


def pause_rows(pause: dict[str, Any]) -> list[tuple[str, object]]:
    """(label, value) rows, the same on the terminal and in the HTML."""
    calls = {call["action"]: call for call in pause.get("calls", [])}
    release_ns = pause.get("releaseNs")
    rows: list[tuple[str, object]] = [
        ("paused at (audit trail, = the PATCH's pausedAt)", pause.get("pausedAt")),
        ("resumed at (audit trail)", pause.get("resumedAt")),
        ("pause as recorded (s)", pause.get("recordedPauseS")),
        ("paused answers (503 paused)", pause.get("pausedAnswers")),
        ("shoppers told paused", pause.get("pausedShoppers")),
        ("orders confirmed before the pause", pause.get("confirmedBeforePause")),
        ("orders confirmed after the resume", pause.get("confirmedAfterResume")),
        ("first confirmation after the resume (ms)", pause.get("firstConfirmationAfterResumeMs")),
        ("orders in the server's list", pause.get("serverOrders")),
    ]
    for action in ("pause", "resume"):
        call = calls.get(action)
        if call is None or not release_ns:
            continue
        sent_s = call["sent_ns"] - release_ns
        answered_s = call["answered_ns"] - call["sent_ns"]
        rows.append(
            (
                f"{action} PATCH sent after the release (s), answered in (ms)",
                f"{sent_s / 1e9:.3f}, {answered_s / 1e6:.1f} ({call['http']} {call['state']})",
            )
        )
    return rows


def pause_lines(pause: dict[str, Any] | None) -> list[str]:
    if not pause:
        return []
    return ["", "PAUSE"] + [f"  {label:<58} {_cell(value)}" for label, value in pause_rows(pause)]


def pause_html(pause: dict[str, Any] | None) -> str:
    if not pause:
        return ""
    body = "".join(
        f"<tr><td>{escape(label)}</td><td class='num'>{escape(_cell(value))}</td></tr>"
        for label, value in pause_rows(pause)
    )
    return (
        "<h2>The operator's pause</h2><p>The window is the server's: the pause and resume "
        "as the audit trail recorded them, compared with each order's <code>purchasedAt</code> "
        "(its decision instant) read from the admin orders list. It is shaded on the answers "
        "chart below.</p>"
        f"<table>{body}</table>"
    )


def pause_band(
    pause: dict[str, Any] | None, series: dict[str, Any]
) -> tuple[float, float, str] | None:
    """The paused window in bar positions of the answers-over-time chart."""
    if not pause or pause.get("chartFromS") is None:
        return None
    width = series["binWidthS"]
    end = pause.get("chartToS")
    end_s = end if end is not None else width * len(series["startsS"])
    return pause["chartFromS"] / width, end_s / width, BAND_LABEL


def _cell(value: object) -> str:
    return "-" if value is None else str(value)
