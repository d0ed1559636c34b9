"""Request validation of the Mux emulator: what the real Mux Video API refuses with ``400 invalid_parameters``.

Each checker takes the decoded JSON body and returns the cleaned fields or raises :class:`MuxInvalid` whose
``messages`` go into Mux's error body ``{"error": {"type": "invalid_parameters", "messages": [...]}}``.
Limits are Mux's: ``reconnect_window`` 0-1800 s (guide "Handle live stream disconnects"),
``max_continuous_duration`` 60-43200 s, ``latency_mode`` low/reduced/standard, playback policies
public/signed/drm, simulcast target URLs rtmp:// or rtmps://; unknown parameters are refused.
"""

from __future__ import annotations

from typing import Any

LATENCY_MODES = ("low", "reduced", "standard")
POLICIES = ("public", "signed", "drm")

CREATE_FIELDS = {
    "playback_policy",
    "playback_policies",
    "advanced_playback_policies",
    "new_asset_settings",
    "reconnect_window",
    "use_slate_for_standard_latency",
    "reconnect_slate_url",
    "passthrough",
    "audio_only",
    "embedded_subtitles",
    "generated_subtitles",
    "reduced_latency",
    "low_latency",
    "latency_mode",
    "test",
    "simulcast_targets",
    "max_continuous_duration",
    "meta",
}
UPDATE_FIELDS = {
    "passthrough",
    "latency_mode",
    "reconnect_window",
    "use_slate_for_standard_latency",
    "reconnect_slate_url",
    "max_continuous_duration",
    "new_asset_settings",
    "meta",
}
ASSET_FIELDS = {
    "input",
    "inputs",
    "playback_policy",
    "playback_policies",
    "advanced_playback_policies",
    "per_title_encode",
    "passthrough",
    "mp4_support",
    "normalize_audio",
    "master_access",
    "test",
    "max_resolution_tier",
    "encoding_tier",
    "video_quality",
    "static_renditions",
    "meta",
    "copy_overlays",
}
TARGET_FIELDS = {"url", "stream_key", "passthrough"}


class MuxInvalid(Exception):
    def __init__(self, *messages: str) -> None:
        super().__init__("; ".join(messages))
        self.messages = list(messages)


def _object(body: Any, allowed: set[str], what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise MuxInvalid(f"{what} must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise MuxInvalid(*(f"{name} is not a valid parameter" for name in unknown))
    return body


def _policies(value: Any, field: str) -> list[str]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values:
        raise MuxInvalid(f"{field} must be a non-empty array of {', '.join(POLICIES)}")
    for item in values:
        if item not in POLICIES:
            raise MuxInvalid(f"{field} contains an invalid value {item!r}; allowed: {', '.join(POLICIES)}")
    return list(values)


def _bool(body: dict[str, Any], field: str) -> None:
    if field in body and not isinstance(body[field], bool):
        raise MuxInvalid(f"{field} must be a boolean")


def _string(body: dict[str, Any], field: str, max_length: int = 255) -> None:
    if field in body and (not isinstance(body[field], str) or len(body[field]) > max_length):
        raise MuxInvalid(f"{field} must be a string of at most {max_length} characters")


def _number(body: dict[str, Any], field: str, low: float, high: float, *, integer: bool = False) -> None:
    if field not in body:
        return
    value = body[field]
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise MuxInvalid(f"{field} must be {'an integer' if integer else 'a number'}")
    if not low <= value <= high:
        raise MuxInvalid(f"{field} must be between {low:g} and {high:g}")


def _stream_fields(body: dict[str, Any]) -> None:
    if "latency_mode" in body and body["latency_mode"] not in LATENCY_MODES:
        raise MuxInvalid(f"latency_mode must be one of {', '.join(LATENCY_MODES)}")
    _number(body, "reconnect_window", 0, 1800)
    _number(body, "max_continuous_duration", 60, 43200, integer=True)
    _string(body, "passthrough")
    _string(body, "reconnect_slate_url", 2048)
    _bool(body, "use_slate_for_standard_latency")
    if "new_asset_settings" in body:
        asset = _object(body["new_asset_settings"], ASSET_FIELDS, "new_asset_settings")
        for field in ("playback_policy", "playback_policies"):
            if field in asset:
                asset[field] = _policies(asset[field], f"new_asset_settings.{field}")
    if "meta" in body and not isinstance(body["meta"], dict):
        raise MuxInvalid("meta must be an object")


def create_live_stream(body: Any) -> dict[str, Any]:
    body = _object(body, CREATE_FIELDS, "the request body")
    _stream_fields(body)
    for field in ("test", "audio_only", "reduced_latency", "low_latency"):
        _bool(body, field)
    for field in ("playback_policy", "playback_policies"):
        if field in body:
            body[field] = _policies(body[field], field)
    for target in body.get("simulcast_targets") or []:
        simulcast_target(target)
    return body


def update_live_stream(body: Any) -> dict[str, Any]:
    body = _object(body, UPDATE_FIELDS, "the request body")
    _stream_fields(body)
    return body


def simulcast_target(body: Any) -> dict[str, Any]:
    body = _object(body, TARGET_FIELDS, "the request body")
    url = body.get("url")
    if not isinstance(url, str) or not url:
        raise MuxInvalid("url is required")
    if not url.lower().startswith(("rtmp://", "rtmps://")):
        raise MuxInvalid("url must be an RTMP or RTMPS URL (rtmp:// or rtmps://)")
    _string(body, "stream_key", 1024)
    _string(body, "passthrough")
    return body


def playback_id(body: Any) -> str:
    """``POST .../playback-ids``: ``policy`` public/signed/drm; ``drm_configuration_id`` with (and only with)
    ``drm`` (mux-python ``CreatePlaybackIDRequest``: "Must only be set when policy is set to drm")."""
    body = _object(body, {"policy", "drm_configuration_id"}, "the request body")
    if body.get("policy") not in POLICIES:
        raise MuxInvalid(f"policy must be one of {', '.join(POLICIES)}")
    if (body["policy"] == "drm") != bool(body.get("drm_configuration_id")):
        raise MuxInvalid("drm_configuration_id must be set when, and only when, policy is drm")
    _string(body, "drm_configuration_id")
    return body["policy"]
