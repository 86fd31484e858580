"""Telling people that a run failed: a JSON message posted to a webhook.

The payload carries a ``text`` field (what Slack, Mattermost, Discord-compatible and Teams
incoming webhooks display) and the same facts as fields, for a service that routes alerts.
Posting uses the standard library: one small request per failed run needs no client library.
"""

import json
import urllib.error
import urllib.request
from dataclasses import dataclass

# Enough of the error to tell what broke; the whole stack trace is one click away in the UI.
MAX_ERROR_CHARS = 1500


class WebhookError(RuntimeError):
    """The webhook refused the message or could not be reached."""


@dataclass(frozen=True)
class RunFailure:
    job: str
    run_id: str
    error: str
    partition: str | None = None
    ui_url: str | None = None  # the webserver's base URL, for a link to the run

    @property
    def run_url(self) -> str | None:
        return f"{self.ui_url.rstrip('/')}/runs/{self.run_id}" if self.ui_url else None


def failure_payload(failure: RunFailure, location: str = "craft_dag") -> dict[str, str | None]:
    """The JSON body for one failed run."""
    error = failure.error.strip() or "(no error message)"
    if len(error) > MAX_ERROR_CHARS:
        error = error[:MAX_ERROR_CHARS] + " …"
    where = f" for category {failure.partition}" if failure.partition else ""
    lines = [f"{location}: run of {failure.job}{where} failed (run {failure.run_id[:8]})", error]
    if failure.run_url:
        lines.append(failure.run_url)
    return {
        "text": "\n".join(lines),
        "location": location,
        "job": failure.job,
        "partition": failure.partition,
        "run_id": failure.run_id,
        "run_url": failure.run_url,
        "error": error,
    }


def post_webhook(url: str, payload: dict, timeout: float = 10.0) -> int:
    """POST ``payload`` as JSON to ``url``; returns the HTTP status, raises ``WebhookError``."""
    if not url.startswith(("http://", "https://")):
        raise WebhookError(f"webhook URL {url!r}: expected http:// or https://")
    request = urllib.request.Request(
        url,
        data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        body = exc.read(300).decode("utf-8", "replace")
        raise WebhookError(f"webhook {url} answered HTTP {exc.code}: {body}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise WebhookError(f"webhook {url} could not be reached: {exc}") from exc
