"""The alarm sound (assets/alert.wav), written by Python's wave module: no recording, no
licence, nothing fetched. `python -m geo.web.alert_sound` writes it again, byte for byte.

Why these tones: two short rising chimes (880 Hz then 1,175 Hz, an octave-and-fourth
interval that reads as "attention" rather than the continuous siren of a fire alarm), each
with a fast attack and exponential decay, 1.2 s in all, so a duty room hears it over
conversation without it being mistaken for an evacuation signal. 16-bit mono at 22,050 Hz
keeps the file near 50 KB.
"""

from __future__ import annotations

import io
import math
import struct
import wave
from pathlib import Path

from geo import config

RATE = 22_050
PATH = config.REPO_ROOT / "assets" / "alert.wav"
# (start s, frequency Hz, length s)
CHIMES = ((0.0, 880.0, 0.45), (0.5, 1174.66, 0.7))
LENGTH = 1.2


def samples() -> list[int]:
    n = int(RATE * LENGTH)
    out = [0.0] * n
    for start, freq, length in CHIMES:
        first = int(start * RATE)
        for k in range(int(length * RATE)):
            if first + k >= n:
                break
            tt = k / RATE
            envelope = min(1.0, tt / 0.01) * math.exp(-tt * 5.0)
            # the fundamental with a quieter octave: a bell-like timbre
            out[first + k] += envelope * (0.7 * math.sin(2 * math.pi * freq * tt) + 0.2 * math.sin(4 * math.pi * freq * tt))
    return [max(-32767, min(32767, int(v * 0.8 * 32767))) for v in out]


def wav_bytes() -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        frames = samples()
        w.writeframes(struct.pack(f"<{len(frames)}h", *frames))
    return buf.getvalue()


def write(path: Path = PATH) -> Path:
    path.write_bytes(wav_bytes())
    return path


if __name__ == "__main__":
    print(write())
