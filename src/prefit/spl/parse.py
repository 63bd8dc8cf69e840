"""DailyMed SPL (HL7 v3, namespace urn:hl7-org:v3): document metadata and pharmacokinetics paragraphs.

Parsing is safe for untrusted files: no entity expansion, no DTD loading, no network; a document
that declares entities is refused before anything is expanded.

The pharmacokinetics section is LOINC 43682-4. Its ADME headings (section titles, heading
paragraphs, heading lines ended by a line break, inline headings, and a combination product's
per-ingredient sub-headings) and the labels they give are read by headings.py.

Some labels leave the 43682-4 section empty (a title, perhaps a heading paragraph) and put its
sub-sections after it as siblings ("Absorption and Bioavailability", "Distribution", ... or
untitled 42229-5 sections). For an empty PK section the following siblings are read as its
children while they are unclassified (42229-5 or no code) or PK special-population sections,
up to the next section of another kind (Clinical Studies, Pharmacodynamics, ...).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from prefit.drugs import ingredients
from prefit.errors import InputError
from prefit.spl.headings import V3, Headings, adme_label_of, is_heading_text, split_paragraph
from prefit.spl.headings import (
    adme_label as adme_label,  # re-exported: labels are read from here
)

NS = {"v3": "urn:hl7-org:v3"}
PK_CODE = "43682-4"
ADME = ("Absorption", "Distribution", "Metabolism", "Excretion")


@dataclass
class SplDocument:
    path: str
    set_id: str | None
    version: str | None
    effective_time: str | None
    title: str | None
    products: list[str] = field(default_factory=list)
    generic_names: list[str] = field(default_factory=list)


@dataclass
class PkParagraph:
    section_path: list[str]
    heading: str | None  # the most specific heading
    index: int
    text: str
    kind: str  # paragraph | list | table
    headings: list[str] = field(default_factory=list)  # [block heading, inline sub-heading], outermost first
    topic: bool = True  # some heading names a topic (not only an ingredient); else no label

    @property
    def label(self) -> str | None:
        """A/D/M/E or Other from the headings; None where no heading names a topic (headings.py)."""
        return adme_label_of(self.headings) if self.topic else None


def _parser():
    from lxml import etree

    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=True)


def parse(source: str | Path | bytes, name: str | None = None):
    """Parse SPL XML safely; return (SplDocument, root element)."""
    from lxml import etree

    label = name or (str(source) if not isinstance(source, bytes) else "<bytes>")
    try:
        if isinstance(source, bytes):
            tree = etree.ElementTree(etree.fromstring(source, _parser()))
        else:
            tree = etree.parse(str(source), _parser())
    except (etree.XMLSyntaxError, OSError) as e:
        raise InputError(f"not well-formed XML ({e})", file=label) from e
    dtd = tree.docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise InputError("refused: the document declares XML entities (possible entity-expansion attack)", file=label)
    root = tree.getroot()
    if root.tag != f"{V3}document":
        raise InputError(f"not an SPL document (root element {root.tag!r}, expected {{urn:hl7-org:v3}}document)", file=label)

    def attr(xpath: str, name_: str) -> str | None:
        el = root.find(xpath, NS)
        return None if el is None else el.get(name_)

    title_el = root.find("v3:title", NS)
    products = []
    for p in root.iterfind(".//v3:manufacturedProduct/v3:manufacturedProduct/v3:name", NS):
        t = _text(p)
        if t and t not in products:
            products.append(t)
    generics = []
    for g in root.iterfind(".//v3:manufacturedProduct/v3:manufacturedProduct/v3:asEntityWithGeneric/v3:genericMedicine/v3:name", NS):
        t = " ".join(_text(g).upper().split())
        if t and t not in generics:
            generics.append(t)
    doc = SplDocument(label, attr("v3:setId", "root"), attr("v3:versionNumber", "value"), attr("v3:effectiveTime", "value"),
                      _text(title_el) or None if title_el is not None else None, products, generics)
    return doc, root


def _text(el) -> str:
    return " ".join("".join(el.itertext()).split())


def _clean_title(t: str) -> str:
    return re.sub(r"^\s*\d+(\.\d+)*\s*", "", " ".join(t.split()))


def find_pk_sections(root) -> list:
    return root.xpath(f"//v3:section[v3:code[@code='{PK_CODE}']]", namespaces=NS)


# Sibling sections that may carry an empty PK section's content: unclassified (42229-5), uncoded,
# and the special-population codes labels use under pharmacokinetics.
_PK_SIBLING_CODES = {None, "", "42229-5", "43684-0", "34081-0", "34082-8"}


def ingredient_names(root) -> frozenset[str]:
    """The label's ingredients (canonical names, salts dropped), from its generic and active-ingredient names."""
    names: set[str] = set()
    for path in (".//v3:genericMedicine/v3:name", ".//v3:activeIngredientSubstance/v3:name"):
        for el in root.iterfind(path, NS):
            names |= ingredients(_text(el))
    return frozenset(names)


def iter_pk_paragraphs(root, *, include_tables: bool = False) -> Iterator[PkParagraph]:
    """Paragraphs of every pharmacokinetics section, in document order, with section path and heading."""
    index = 0
    heads = Headings(ingredient_names(root))
    for sec in find_pk_sections(root):
        paras = list(_walk(sec, [], heads, include_tables))
        if not paras:
            paras = list(_following_siblings(sec, heads, include_tables))
        for para in paras:
            para.index = index
            index += 1
            yield para


def _following_siblings(sec, heads: Headings, include_tables: bool) -> Iterator[PkParagraph]:
    """An empty PK section's content laid out as the sections after it (see the module docstring)."""
    component = sec.getparent()
    title_el = sec.find("v3:title", NS)
    name = (_clean_title(_text(title_el)) if title_el is not None else "") or "Pharmacokinetics"
    for comp in component.itersiblings(f"{V3}component"):
        sib = comp.find("v3:section", NS)
        if sib is None:
            continue
        code = sib.find("v3:code", NS)
        if (code.get("code") if code is not None else None) not in _PK_SIBLING_CODES:
            break
        yield from _walk(sib, [name], heads, include_tables)


def _walk(sec, path: list[str], heads: Headings, include_tables: bool) -> Iterator[PkParagraph]:
    """One section and its sub-sections; `heads` are the headings in force where it starts."""
    title_el = sec.find("v3:title", NS)
    title = _clean_title(_text(title_el)) if title_el is not None else ""
    path = path + [title] if title else path
    if title and path[1:]:  # a child section's title is a heading
        heads = heads.under(title)

    def para(text: str, kind: str) -> PkParagraph:
        return PkParagraph(list(path), heads.most_specific, 0, text, kind, heads.names, heads.topic)

    text = sec.find("v3:text", NS)
    if text is not None:
        loose = [text.text or ""]  # text written straight into <text>, outside any paragraph
        for el in [*text, None]:  # None: the end, where loose text is flushed too
            if el is not None and not isinstance(el.tag, str):  # a comment: only its tail is text
                loose.append(el.tail or "")
                continue
            tag = el.tag.removeprefix(V3) if el is not None else None
            if tag == "renderMultiMedia":  # a figure: its caption is not running text
                loose.append(el.tail or "")
                continue
            if el is not None and tag not in ("paragraph", "list", "table"):
                loose += ["".join(el.itertext()), el.tail or ""]
                continue
            t = " ".join("".join(loose).split())
            loose = [el.tail or ""] if el is not None else []
            if t and is_heading_text(t):
                heads = heads.under(t.rstrip(":").strip())
            elif t:
                yield para(t, "paragraph")
            if tag == "paragraph":
                lines, inline, rest = split_paragraph(el)
                for line in lines:
                    heads = heads.under(line)
                if inline:
                    heads = heads.with_inline(inline)
                    if rest:
                        yield para(rest, "paragraph")
                elif rest and not lines and is_heading_text(rest):
                    heads = heads.under(rest.rstrip(":").strip())
                elif rest:
                    yield para(rest, "paragraph")
            elif tag == "list":
                for item in el.iterfind("v3:item", NS):
                    t = _text(item)
                    if t:
                        yield para(t, "list")
            elif tag == "table" and include_tables:
                rows = [" | ".join(_text(c) for c in tr if isinstance(c.tag, str)) for tr in el.iter(f"{V3}tr")]
                t = "\n".join(r for r in rows if r.strip())
                if t:
                    yield para(t, "table")
    for comp in sec.iterfind("v3:component/v3:section", NS):
        yield from _walk(comp, path, heads, include_tables)
