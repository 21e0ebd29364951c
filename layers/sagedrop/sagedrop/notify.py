"""Notifications to the stack's SNS topic (e-mail subscribers read these)."""

from __future__ import annotations

import json
from typing import Any

MAX_SUBJECT = 100  # SNS: ASCII, no newlines, at most 100 characters
MAX_MESSAGE = 256 * 1024


def _subject(text: str) -> str:
    clean = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text.replace("\n", " "))
    return clean[:MAX_SUBJECT]


class Notifier:
    def __init__(self, topic_arn: str | None, sns: Any) -> None:
        self.topic_arn = topic_arn
        self._sns = sns

    def publish(
        self, subject: str, message: str, *, event: str, model: str, details: dict[str, Any] | None = None
    ) -> None:
        """Publish a readable message; the structured facts ride along as JSON after it."""
        if not self.topic_arn:
            return
        body = message
        if details:
            body += "\n\n-- details --\n" + json.dumps(details, indent=2, sort_keys=True, default=str)
        encoded = body.encode()
        if len(encoded) > MAX_MESSAGE:
            body = encoded[: MAX_MESSAGE - 64].decode(errors="ignore") + "\n[truncated]"
        self._sns.publish(
            TopicArn=self.topic_arn,
            Subject=_subject(f"[sagedrop] {subject}"),
            Message=body,
            MessageAttributes={
                "event": {"DataType": "String", "StringValue": event},
                "model": {"DataType": "String", "StringValue": model or "-"},
            },
        )
