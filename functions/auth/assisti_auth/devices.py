"""A short, human device label from a user agent, for the list of signed-in devices.

A label, not an identification: it only helps the user tell their phone from their laptop, and a
client can send any user agent. Unknown agents keep their first word (the app's own name)."""

from __future__ import annotations

import re

# First match wins; the more specific platforms come first (iPadOS and Android also say "Linux" or "Mac").
_PLATFORMS = (
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("Macintosh", "Mac"),
    ("Mac OS X", "Mac"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)
_CLIENTS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
    ("okhttp", "Android app"),
    ("CFNetwork", "iOS app"),
)
_FIRST_WORD = re.compile(r"^[A-Za-z][\w.-]{0,39}")
UNKNOWN = "Unknown device"


def device_label(user_agent: str | None) -> str:
    if not user_agent:
        return UNKNOWN
    client = next((name for marker, name in _CLIENTS if marker in user_agent), None)
    platform = next((name for marker, name in _PLATFORMS if marker in user_agent), None)
    if client and platform:
        return f"{client} on {platform}"
    if client or platform:
        return str(client or platform)
    word = _FIRST_WORD.match(user_agent)
    return word.group(0) if word else UNKNOWN
