"""What the ingest learns about a stream's media without decoding it: the H.264 configuration (profile, level,
picture size from the sequence parameter set) and the encoder's ``onMetaData``.

References: ISO/IEC 14496-15 5.2.4.1 (AVCDecoderConfigurationRecord, the payload of an FLV AVC sequence
header after its 5-byte header) and ITU-T H.264 7.3.2.1.1 (seq_parameter_set_data) / E.4.1 (FLV tags).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PROFILES = {
    66: "Baseline", 77: "Main", 88: "Extended", 100: "High", 110: "High 10", 122: "High 4:2:2",
    244: "High 4:4:4 Predictive", 44: "CAVLC 4:4:4 Intra", 118: "Multiview High", 128: "Stereo High",
}  # fmt: skip
HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})
"""Profiles whose SPS carries chroma format, bit depths and scaling matrices."""
FLV_VIDEO_CODECS = {2: "h263", 3: "screen", 4: "vp6", 5: "vp6a", 6: "screen2", 7: "h264", 12: "hevc"}
FOURCC_CODECS = {"avc1": "h264", "hvc1": "hevc", "av01": "av1", "vp09": "vp9"}


@dataclass(frozen=True)
class VideoConfig:
    codec: str
    """``h264 <profile> <level>``, e.g. ``h264 High 4.0``."""
    width: int | None
    height: int | None


class _Bits:
    """Reads an RBSP bit by bit, with Exp-Golomb codes (H.264 9.1). Raises ``IndexError`` past the end."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def bit(self) -> int:
        byte = self.data[self.pos >> 3]
        value = (byte >> (7 - (self.pos & 7))) & 1
        self.pos += 1
        return value

    def bits(self, n: int) -> int:
        value = 0
        for _ in range(n):
            value = (value << 1) | self.bit()
        return value

    def ue(self) -> int:
        zeros = 0
        while self.bit() == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("malformed Exp-Golomb code")
        return (1 << zeros) - 1 + self.bits(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def _rbsp(nal: bytes) -> bytes:
    """Remove emulation prevention bytes (``00 00 03`` → ``00 00``)."""
    out, zeros = bytearray(), 0
    for b in nal:
        if zeros >= 2 and b == 3:
            zeros = 0
            continue
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def _skip_scaling_list(r: _Bits, size: int) -> None:
    last = next_scale = 8
    for _ in range(size):
        if next_scale != 0:
            next_scale = (last + r.se() + 256) % 256
        last = next_scale if next_scale != 0 else last


def sps_size(sps: bytes) -> tuple[int, int]:
    """(width, height) in pixels after cropping, from an SPS NAL unit (with its 1-byte NAL header).

    Raises ``ValueError`` or ``IndexError`` for a truncated or malformed SPS."""
    r = _Bits(_rbsp(sps[1:]))
    profile = r.bits(8)
    r.bits(16)  # constraint flags, reserved bits, level_idc
    r.ue()  # seq_parameter_set_id
    chroma_format, separate_planes = 1, 0
    if profile in HIGH_PROFILES:
        chroma_format = r.ue()
        if chroma_format == 3:
            separate_planes = r.bit()
        r.ue(), r.ue()  # bit depths
        r.bit()  # qpprime_y_zero_transform_bypass_flag
        if r.bit():  # seq_scaling_matrix_present_flag
            for i in range(8 if chroma_format != 3 else 12):
                if r.bit():
                    _skip_scaling_list(r, 16 if i < 6 else 64)
    r.ue()  # log2_max_frame_num_minus4
    poc_type = r.ue()
    if poc_type == 0:
        r.ue()
    elif poc_type == 1:
        r.bit()
        r.se(), r.se()
        for _ in range(r.ue()):
            r.se()
    r.ue()  # max_num_ref_frames
    r.bit()  # gaps_in_frame_num_value_allowed_flag
    width_mbs, height_units = r.ue() + 1, r.ue() + 1
    frame_mbs_only = r.bit()
    if not frame_mbs_only:
        r.bit()  # mb_adaptive_frame_field_flag
    r.bit()  # direct_8x8_inference_flag
    width, height = width_mbs * 16, (2 - frame_mbs_only) * height_units * 16
    if r.bit():  # frame_cropping_flag
        left, right, top, bottom = r.ue(), r.ue(), r.ue(), r.ue()
        array_type = 0 if separate_planes else chroma_format
        crop_x = 1 if array_type == 0 else (2 if array_type in (1, 2) else 1)
        crop_y = (2 - frame_mbs_only) * (1 if array_type in (0, 3) else (2 if array_type == 1 else 1))
        width -= crop_x * (left + right)
        height -= crop_y * (top + bottom)
    return width, height


def avc_config(record: bytes) -> VideoConfig | None:
    """Codec, profile, level and size from an AVCDecoderConfigurationRecord; ``None`` if it is malformed."""
    if len(record) < 7 or record[0] != 1:
        return None
    profile, level = record[1], record[3]
    codec = f"h264 {PROFILES.get(profile, f'profile {profile}')} {level // 10}.{level % 10}"
    if profile == 66 and record[2] & 0x40:
        codec = codec.replace("Baseline", "Constrained Baseline")
    width = height = None
    if record[5] & 0x1F:
        length = int.from_bytes(record[6:8], "big")
        try:
            width, height = sps_size(record[8 : 8 + length])
        except (ValueError, IndexError):
            pass
    return VideoConfig(codec=codec, width=width, height=height)


def metadata_info(meta: Any) -> dict[str, Any]:
    """``width``, ``height``, ``codec`` and ``encoder`` from an ``onMetaData`` object (absent keys omitted).

    ``meta`` is a dict, or a list of one-entry dicts (how pyrtmp decodes an AMF0 ECMA array)."""
    if isinstance(meta, list):
        meta = {k: v for entry in meta if isinstance(entry, dict) for k, v in entry.items()}
    if not isinstance(meta, dict):
        return {}
    info: dict[str, Any] = {}
    for key in ("width", "height"):
        value = meta.get(key)
        if isinstance(value, int | float) and 0 < value < 100_000:
            info[key] = int(value)
    codec = meta.get("videocodecid")
    if isinstance(codec, int | float) and int(codec) in FLV_VIDEO_CODECS:
        info["codec"] = FLV_VIDEO_CODECS[int(codec)]
    elif isinstance(codec, str) and codec in FOURCC_CODECS:
        info["codec"] = FOURCC_CODECS[codec]
    encoder = meta.get("encoder")
    if isinstance(encoder, str) and encoder.strip():
        info["encoder"] = encoder.strip()[:128]
    return info
