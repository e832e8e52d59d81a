#!/usr/bin/env python3
"""Builds the fallback fonts that cista-report embeds, from Debian's Noto packages.

The certified results PDF prints names exactly as staff typed them, in whatever script. The
fonts borrowed from typst-assets (Libertinus Serif, New Computer Modern, DejaVu Sans Mono) cover Latin,
Greek, Cyrillic and Hebrew; these Noto fonts cover the rest of the scripts people write names
in. Each is subset (outlines only, no hinting: a PDF does not need it), gzip-compressed, and
committed with its licence beside it; the binary embeds the committed files. Nothing runs at
build or run time and nothing is downloaded: this script is for a developer who changes the
set, never for CI.

Run (Debian: apt-get install fonts-noto-core fonts-noto-cjk fonts-noto-color-emoji):

    python3 -m venv /tmp/fontvenv
    /tmp/fontvenv/bin/pip install -r scripts/fonts/requirements.txt
    /tmp/fontvenv/bin/python scripts/fonts/subset_fonts.py

then regenerate the table of drawable characters that the core checks names against, from the
fonts as the binary embeds them:

    CISTA_WRITE_GLYPH_TABLE=1 cargo test -p cista-report --test report glyph_table

What is kept, and why (the sizes are in crates/cista-report/fonts/README.md):

* Scripts: one Regular face per script, for Latin/Greek/Cyrillic incl. Vietnamese (Noto Sans),
  Arabic, Hebrew, Armenian, Georgian, Ethiopic, the major Indic scripts (Devanagari, Bengali,
  Gurmukhi, Gujarati, Oriya, Tamil, Telugu, Kannada, Malayalam, Sinhala), Thai, Lao, Khmer and
  Myanmar: each font whole (its own character set), without hinting. Bold text in these
  scripts prints in the Regular face (cista-report does not synthesize bold).
* CJK: Noto Sans CJK SC (Regular) cut to: all 20,992 CJK Unified Ideographs of the main block
  (U+4E00-U+9FFF: every Han character of GB2312, GBK, Big5, JIS X 0208 and KS X 1001 lies here,
  including the name characters that GB2312 lacks, such as 镕 or 喆), the compatibility
  ideographs, Jōyō's one character outside the block (𠮟), CJK punctuation and symbols,
  enclosed and squared forms (㈱, ㍿), radicals, kana (incl. half-width), bopomofo, all 11,172
  Hangul syllables and the Hangul jamo, and the full-width forms. Left out: the rare Han
  extensions (Extension A onward, except 𠮟), which the core then refuses at entry by name.
  One face for all CJK text: Han characters take their Simplified Chinese forms.
* Emoji: Noto Color Emoji (bitmaps) with every emoji, flag, keycap and ZWJ sequence, except the
  skin-tone variants (an emoji with a skin-tone modifier prints as the emoji followed by the
  tone's swatch); the bitmaps are scaled from 109 to 52 pixels per em (enough for print at the
  certificate's type sizes) and reduced to 48-colour palettes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import subprocess
import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "crates" / "cista-report" / "fonts"
NOTO = Path("/usr/share/fonts/truetype/noto")
NOTO_CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
CJK_FACE = "Noto Sans CJK SC"
OFL_SOURCE = Path("/usr/share/doc/fonts-noto-color-emoji/copyright")

# Output stem, source file, Debian package. Whole fonts, without hinting.
SCRIPT_FONTS = [
    ("NotoSans-Regular", "NotoSans-Regular.ttf"),
    ("NotoSansArabic-Regular", "NotoSansArabic-Regular.ttf"),
    ("NotoSansHebrew-Regular", "NotoSansHebrew-Regular.ttf"),
    ("NotoSansArmenian-Regular", "NotoSansArmenian-Regular.ttf"),
    ("NotoSansGeorgian-Regular", "NotoSansGeorgian-Regular.ttf"),
    ("NotoSansEthiopic-Regular", "NotoSansEthiopic-Regular.ttf"),
    ("NotoSansDevanagari-Regular", "NotoSansDevanagari-Regular.ttf"),
    ("NotoSansBengali-Regular", "NotoSansBengali-Regular.ttf"),
    ("NotoSansGurmukhi-Regular", "NotoSansGurmukhi-Regular.ttf"),
    ("NotoSansGujarati-Regular", "NotoSansGujarati-Regular.ttf"),
    ("NotoSansOriya-Regular", "NotoSansOriya-Regular.ttf"),
    ("NotoSansTamil-Regular", "NotoSansTamil-Regular.ttf"),
    ("NotoSansTelugu-Regular", "NotoSansTelugu-Regular.ttf"),
    ("NotoSansKannada-Regular", "NotoSansKannada-Regular.ttf"),
    ("NotoSansMalayalam-Regular", "NotoSansMalayalam-Regular.ttf"),
    ("NotoSansSinhala-Regular", "NotoSansSinhala-Regular.ttf"),
    ("NotoSansThai-Regular", "NotoSansThai-Regular.ttf"),
    ("NotoSansLao-Regular", "NotoSansLao-Regular.ttf"),
    ("NotoSansKhmer-Regular", "NotoSansKhmer-Regular.ttf"),
    ("NotoSansMyanmar-Regular", "NotoSansMyanmar-Regular.ttf"),
]

# Inclusive code point ranges kept from the CJK font.
CJK_RANGES = [
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x2E80, 0x2FDF),  # CJK Radicals Supplement, Kangxi Radicals
    (0x3000, 0x303F),  # CJK Symbols and Punctuation
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3100, 0x312F),  # Bopomofo
    (0x3130, 0x318F),  # Hangul Compatibility Jamo
    (0x31A0, 0x31BF),  # Bopomofo Extended
    (0x31F0, 0x31FF),  # Katakana Phonetic Extensions
    (0x3200, 0x33FF),  # Enclosed CJK Letters and Months, CJK Compatibility
    (0x4E00, 0x9FFF),  # CJK Unified Ideographs
    (0xAC00, 0xD7A3),  # Hangul Syllables
    (0xF900, 0xFAFF),  # CJK Compatibility Ideographs
    (0xFE10, 0xFE1F),  # Vertical Forms
    (0xFE30, 0xFE4F),  # CJK Compatibility Forms
    (0xFF00, 0xFFEF),  # Halfwidth and Fullwidth Forms
    (0x20B9F, 0x20B9F),  # 𠮟, the Jōyō kanji outside the main block
]

EMOJI = NOTO / "NotoColorEmoji.ttf"
EMOJI_PPEM = 52
EMOJI_COLOURS = 48
SKIN_TONES = range(0x1F3FB, 0x1F400)


def options() -> subset.Options:
    o = subset.Options()
    o.layout_features = ["*"]  # keep shaping: ligatures, marks, conjuncts, ZWJ sequences
    o.name_IDs = ["*"]
    o.name_languages = ["*"]
    o.hinting = False
    o.notdef_outline = True
    o.glyph_names = False
    return o


def subset_font(font: TTFont, unicodes) -> TTFont:
    s = subset.Subsetter(options())
    s.populate(unicodes=unicodes)
    s.subset(font)
    return font


def to_bytes(font: TTFont) -> bytes:
    # Keep the source's modification date, so the same inputs give the same bytes.
    font.recalcTimestamp = False
    buf = io.BytesIO()
    font.save(buf)
    return buf.getvalue()


def drop_skin_tone_sequences(font: TTFont) -> None:
    """Removes the ligatures that use a skin-tone modifier; the subsetter then drops their
    now unreachable bitmaps. The modifiers themselves stay (they print as swatches)."""
    cmap = font.getBestCmap()
    tones = {cmap[c] for c in SKIN_TONES if c in cmap}
    for lookup in font["GSUB"].table.LookupList.Lookup:
        if lookup.LookupType != 4:
            continue
        for st in lookup.SubTable:
            for first, ligatures in list(st.ligatures.items()):
                keep = [
                    lig
                    for lig in ligatures
                    if first not in tones and not tones.intersection(lig.Component)
                ]
                if keep:
                    st.ligatures[first] = keep
                else:
                    del st.ligatures[first]


def scale_bitmaps(font: TTFont, ppem: int, colours: int) -> None:
    """Scales every CBDT bitmap (and its metrics) to `ppem` and palettizes it. The drawn size
    does not change: a renderer scales a bitmap by font size / ppem."""
    strike = font["CBLC"].strikes[0].bitmapSizeTable
    factor = ppem / strike.ppemX

    def sc(v: int) -> int:
        return int(round(v * factor))

    for glyph in font["CBDT"].strikeData[0].values():
        m = glyph.metrics
        w, h = max(1, sc(m.width)), max(1, sc(m.height))
        image = Image.open(io.BytesIO(glyph.imageData)).convert("RGBA")
        image = image.resize((w, h), Image.LANCZOS)
        image = image.quantize(
            colors=colours, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
        )
        png = io.BytesIO()
        image.save(png, format="PNG", optimize=True)
        glyph.imageData = png.getvalue()
        m.width, m.height = w, h
        m.BearingX, m.BearingY, m.Advance = sc(m.BearingX), sc(m.BearingY), sc(m.Advance)
    strike.ppemX = strike.ppemY = ppem
    for line in (strike.hori, strike.vert):
        for k in ("ascender", "descender", "widthMax"):
            setattr(line, k, sc(getattr(line, k)))


def ofl_text() -> str:
    """The SIL Open Font License 1.1 with its usual preamble, as Debian ships it beside Noto
    Color Emoji (the same licence text every Noto font comes with)."""
    text = OFL_SOURCE.read_text(encoding="utf-8")
    block = text.split("\nLicense:   SIL-1.1\n")[-1]
    lines = []
    for line in block.splitlines():
        if line and not line.startswith(" "):
            break  # the next paragraph of the copyright file
        line = line[1:]
        lines.append("" if line == "." else line)
    body = "\n".join(lines).strip() + "\n"
    if "SIL OPEN FONT LICENSE Version 1.1" not in body or "DISCLAIMER" not in body:
        sys.exit(f"could not find the OFL text in {OFL_SOURCE}")
    return body


def package_of(path: Path) -> str:
    out = subprocess.run(["dpkg", "-S", str(path)], capture_output=True, text=True)
    pkg = out.stdout.split(":")[0].strip() if out.returncode == 0 else "unknown"
    ver = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True
    ).stdout.strip()
    return f"{pkg} {ver}".strip()


def write(stem: str, suffix: str, source: Path, font: TTFont, how: str, ofl: str) -> str:
    name = font["name"]
    copyright_line = name.getDebugName(0) or ""
    version = name.getDebugName(5) or ""
    data = to_bytes(font)
    packed = gzip.compress(data, compresslevel=9, mtime=0)
    (OUT / f"{stem}{suffix}.gz").write_bytes(packed)
    (OUT / f"{stem}.LICENSE.txt").write_text(
        f"{stem}{suffix}.gz is a modified version (a subset) of {source.name},\n"
        f"{version}, from the Debian package {package_of(source)}: {how}.\n"
        "It was made by scripts/fonts/subset_fonts.py and keeps the original's font\n"
        "names, none of which is a Reserved Font Name (Noto Sans CJK reserves only\n"
        f"\"Source\").\n\n{copyright_line}\n\n" + ofl,
        encoding="utf-8",
    )
    return (
        f"{stem}{suffix}.gz  {len(data):>9} bytes  gzip {len(packed):>9}  "
        f"sha256 {hashlib.sha256(data).hexdigest()[:16]}  from {source}"
    )


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.gz"):
        old.unlink()
    ofl = ofl_text()
    report = []

    for stem, file in SCRIPT_FONTS:
        src = NOTO / file
        font = TTFont(src)
        subset_font(font, font.getBestCmap().keys())
        report.append(write(stem, ".ttf", src, font, "every character it has, hinting removed", ofl))

    collection = TTCollection(NOTO_CJK)
    face = next(f for f in collection.fonts if f["name"].getDebugName(1) == CJK_FACE)
    wanted = {c for a, b in CJK_RANGES for c in range(a, b + 1)}
    have = set(face.getBestCmap())
    subset_font(face, sorted(wanted & have))
    report.append(
        write(
            "NotoSansCJKsc-Regular",
            ".otf",
            NOTO_CJK,
            face,
            "the CJK face cut to the ranges listed in scripts/fonts/subset_fonts.py "
            "(main-block Han, kana, Hangul, CJK punctuation), hinting removed",
            ofl,
        )
    )

    emoji = TTFont(EMOJI)
    drop_skin_tone_sequences(emoji)
    subset_font(emoji, emoji.getBestCmap().keys())
    scale_bitmaps(emoji, EMOJI_PPEM, EMOJI_COLOURS)
    report.append(
        write(
            "NotoColorEmoji",
            ".ttf",
            EMOJI,
            emoji,
            f"skin-tone sequences removed, bitmaps scaled to {EMOJI_PPEM} pixels per em "
            f"in {EMOJI_COLOURS}-colour palettes",
            ofl,
        )
    )

    total = sum(p.stat().st_size for p in OUT.glob("*.gz"))
    print("\n".join(report))
    print(f"total compressed: {total} bytes")
    print(
        "now regenerate the glyph table:\n"
        "  CISTA_WRITE_GLYPH_TABLE=1 cargo test -p cista-report --test report glyph_table"
    )


if __name__ == "__main__":
    main()
