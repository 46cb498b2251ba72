"""Which text encoding a file's attributes are in (DBF of a shapefile, CSV).

Why: Chinese offices' shapefiles are written by ArcGIS and domestic tools in GBK with no
`.cpg` and often no code page byte, so GDAL reads them as Latin-1 and the user sees
`Çø»®´úÂë` instead of `区划代码`. What GIS staff do by hand (GDAL's SHAPE_ENCODING) is done
here from evidence: a `.cpg` file, else the DBF's language-driver byte, else the decode
that yields valid Chinese text. `--encoding` overrides all of it.
"""

from __future__ import annotations

import codecs
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

SAMPLE = 1 << 20  # bytes of a DBF looked at: header and the first records

# .cpg contents and --encoding spellings -> Python codec names.
ALIASES = {
    "utf8": "utf-8",
    "utf-8": "utf-8",
    "65001": "utf-8",
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "gb18030": "gb18030",
    "cp936": "gb18030",
    "936": "gb18030",
    "ansi936": "gb18030",
    "big5": "big5",
    "950": "big5",
    "latin1": "latin-1",
    "latin-1": "latin-1",
    "iso-8859-1": "latin-1",
    "88591": "latin-1",
    "1252": "cp1252",
    "cp1252": "cp1252",
}
# DBF language-driver ids (byte 29) that name a Chinese code page.
LDID = {0x4D: "gb18030", 0x7A: "gb18030", 0x4F: "big5", 0x78: "big5"}
GDAL_NAMES = {"utf-8": "UTF-8", "gb18030": "GB18030", "big5": "BIG5", "latin-1": "ISO-8859-1", "cp1252": "CP1252"}
_CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
_MOJIBAKE = re.compile(r"[\u00c0-\u00ff]{2,}")


@dataclass(frozen=True)
class Encoding:
    codec: str  # Python codec name
    reason: str  # how it was found, said to the user

    @property
    def gdal(self) -> str:
        return GDAL_NAMES.get(self.codec, self.codec.upper())

    @property
    def label(self) -> str:
        return {"utf-8": "UTF-8", "gb18030": "GBK/GB18030"}.get(self.codec, self.gdal)


def codec_for(name: str) -> str:
    """The Python codec for an encoding name as users and .cpg files write it (ValueError if unknown)."""
    key = re.sub(r"[\s_]", "", str(name)).lower()
    if key in ALIASES:
        return ALIASES[key]
    try:
        return codecs.lookup(key).name
    except LookupError:
        raise ValueError(f"unknown encoding {name!r}: use utf-8, gbk, gb18030 or big5") from None


def chinese_share(text: str) -> float:
    """Share of the non-ASCII characters that are CJK ideographs or CJK punctuation."""
    wide = [c for c in text if ord(c) > 127]
    return sum(1 for c in wide if _CJK.match(c)) / len(wide) if wide else 1.0


def looks_garbled(names) -> bool:
    """True when text looks like GBK read as Latin-1 (runs of À-ÿ), the classic mojibake."""
    return any(_MOJIBAKE.search(str(n)) for n in names)


def guess(raw: bytes, reason_prefix: str = "") -> Encoding:
    """UTF-8 if the bytes decode as UTF-8 (ASCII included), else GB18030 when that decode is
    mostly Chinese, else Latin-1 (said so: the user should pass --encoding)."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(raw, final=False)
        return Encoding("utf-8", f"{reason_prefix}the text decodes as UTF-8")
    except UnicodeDecodeError:
        pass
    try:
        text = codecs.getincrementaldecoder("gb18030")().decode(raw, final=False)
        if chinese_share(text) >= 0.8:
            return Encoding("gb18030", f"{reason_prefix}the text decodes as valid Chinese in GBK/GB18030")
    except UnicodeDecodeError:
        pass
    return Encoding(
        "latin-1", f"{reason_prefix}neither UTF-8 nor Chinese GBK: read as Latin-1; pass --encoding if names look wrong"
    )


def decode_text(raw: bytes, forced: str | None = None) -> tuple[str, Encoding]:
    """A CSV's text and its encoding: --encoding, else UTF-8 (BOM or not), else GB18030."""
    if forced:
        codec = codec_for(forced)
        try:
            return raw.decode("utf-8-sig" if codec == "utf-8" else codec), Encoding(codec, "from --encoding")
        except UnicodeDecodeError as exc:
            raise ValueError(f"the file is not {forced} text (byte {exc.start}): try --encoding utf-8 or gbk") from None
    if raw.startswith(codecs.BOM_UTF8):
        return raw.decode("utf-8-sig"), Encoding("utf-8", "UTF-8 byte-order mark")
    try:
        return raw.decode("utf-8"), Encoding("utf-8", "the text decodes as UTF-8")
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        raise ValueError("the CSV is neither UTF-8 nor GBK/GB18030 text: save it as CSV UTF-8 in Excel (WPS)") from None
    return text, Encoding("gb18030", "not UTF-8; decodes as GBK/GB18030")


def shapefile_encoding(path: Path, forced: str | None = None, layer: str | None = None) -> Encoding | None:
    """The DBF encoding of a shapefile (.shp beside its .dbf, or a .zip holding them)."""
    if forced:
        return Encoding(codec_for(forced), "from --encoding")
    found = _dbf_and_cpg(path, layer)
    if found is None:
        return None
    dbf, cpg = found
    if cpg:
        try:
            return Encoding(codec_for(cpg.strip()), f"the .cpg file says {cpg.strip()!r}")
        except ValueError:
            pass
    if len(dbf) > 29 and dbf[29] in LDID:
        return Encoding(LDID[dbf[29]], f"the DBF's code-page byte says {dbf[29]:#04x} (Chinese)")
    header_len = int.from_bytes(dbf[8:10], "little") if len(dbf) > 10 else 0
    names = [dbf[at : at + 11].split(b"\0")[0] for at in range(32, max(32, header_len - 1), 32) if dbf[at : at + 1] != b"\r"]
    return guess(b" ".join(names) + b" " + dbf[header_len:], "no .cpg; ")


def _dbf_and_cpg(path: Path, layer: str | None) -> tuple[bytes, str | None] | None:
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            dbfs = [n for n in names if n.lower().endswith(".dbf")]
            if layer:
                dbfs = [n for n in dbfs if Path(n).stem == layer] or dbfs
            if not dbfs:
                return None
            stem = dbfs[0][:-4]
            with zf.open(dbfs[0]) as fh:
                dbf = fh.read(SAMPLE)
            cpg = next((n for n in names if n.lower() == (stem + ".cpg").lower()), None)
            return dbf, zf.read(cpg).decode("ascii", "replace") if cpg else None
    siblings = {p.name.lower(): p for p in path.parent.glob(path.stem + ".*")}
    dbf = siblings.get((path.stem + ".dbf").lower())
    if dbf is None:
        return None
    cpg = siblings.get((path.stem + ".cpg").lower())
    with dbf.open("rb") as fh:
        raw = fh.read(SAMPLE)
    return raw, cpg.read_text("ascii", "replace") if cpg else None
