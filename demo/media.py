"""Demo media: short Vietnamese spoken segments made with espeak-ng, as WAV and MP3."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SEGMENT_TEXTS = {
    "cds-policy": "Chuyên mục Chuyển đổi số. Chủ trương của Đảng và chính sách của Nhà nước về chuyển đổi số.",
    "cds-dx-day": "Hưởng ứng Ngày Chuyển đổi số quốc gia mười tháng mười.",
    "cds-models": "Những mô hình hay về chuyển đổi số của tổ công nghệ số cộng đồng.",
    "cds-benefits": "Lợi ích của chính quyền số, kinh tế số và xã hội số đối với bà con.",
    "cds-ecommerce": "Bán nông sản trên sàn thương mại điện tử: cà phê, sâm, măng rừng.",
}


def make_segment(text: str, out_wav: Path, out_mp3: Path | None = None) -> Path:
    """Speak ``text`` in Vietnamese into ``out_wav`` (and an MP3 when lame is present)."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise RuntimeError("espeak-ng is not installed (make demo installs it)")
    subprocess.run([espeak, "-v", "vi", "-s", "150", "-w", str(out_wav), text], check=True)
    if out_mp3 is not None and shutil.which("lame"):
        subprocess.run(["lame", "--quiet", "-b", "64", str(out_wav), str(out_mp3)], check=True)
        return out_mp3
    return out_wav
