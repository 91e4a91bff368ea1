"""Text normalisation shared by every site: whitespace, page chrome, author lists."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"[\s\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000\ufeff]+")

#: Lines that are page furniture on Indonesian news sites, never article text.
CHROME_LINE = re.compile(
    r"""^(?:
        scroll\s+(?:untuk|to)\s+(?:membaca|melanjutkan|continue)[\w\s]*
      | load\s*more | muat\s+lebih\s+banyak | lihat\s+selengkapnya
      | baca\s+juga\b.* | baca\s+selanjutnya\b.*
      | advertisement | iklan | ads
      | (?:ikuti|follow)\s+(?:kami|us)\b.{0,80}
    )$""",
    re.IGNORECASE | re.VERBOSE,
)

#: The label in front of a "read also" block, whatever markup carries it.
RELATED_LABEL = re.compile(r"^\W*baca\s+juga\b", re.IGNORECASE)

_AUTHOR_LABEL = re.compile(
    r"^\s*(?:penulis|reporter|oleh|by|kontributor|wartawan|author)\s*[:\-]?\s*", re.IGNORECASE
)
_NOT_AUTHOR_PART = re.compile(
    r"^\s*(?:editor|redaktur|penyunting|fotografer|foto|sumber|video)\b", re.IGNORECASE
)
_AUTHOR_SEPARATORS = re.compile(r"\s*(?:,|;|/|&|\bdan\b|\band\b)\s*", re.IGNORECASE)


_EDITOR_LABEL = re.compile(r"\b(?:editor|redaktur|penyunting)\s*[:\-]\s*([^|\n]+)", re.IGNORECASE)


def editor_name(text: str | None) -> str:
    """``"Penulis: A | Editor: B"`` -> ``"B"``; a bare name stays as it is."""
    text = normalise_space(text)
    found = _EDITOR_LABEL.search(text)
    return (found.group(1) if found else text).strip(" .:-–—")


def normalise_space(text: str | None) -> str:
    """One line of text: NFC, every kind of space folded to one, trimmed."""
    if not text:
        return ""
    text = str(text)
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
        # str.split() already splits on NBSP and the other Unicode spaces, not on these two.
        if "\u200b" in text or "\ufeff" in text:
            text = text.replace("\u200b", " ").replace("\ufeff", " ")
    return " ".join(text.split())


def is_chrome(line: str) -> bool:
    return bool(CHROME_LINE.match(normalise_space(line)))


def split_authors(text: str | None) -> list[str]:
    """``"A, B"``, ``"A dan B"``, ``"Penulis: A | Editor: B"`` -> the writers' names."""
    text = normalise_space(text)
    names: list[str] = []
    for part in re.split(r"\s*[|\n]\s*", text):
        if not part or _NOT_AUTHOR_PART.match(part):
            continue
        part = _AUTHOR_LABEL.sub("", part)
        for name in _AUTHOR_SEPARATORS.split(part):
            name = name.strip(" .:-–—")
            if name and any(ch.isalpha() for ch in name) and name not in names:
                names.append(name)
    return names


def strip_tag_marker(tag: str | None) -> str:
    return normalise_space(tag).lstrip("#").strip()


def word_count(text: str | None) -> int:
    return len(text.split()) if text else 0
