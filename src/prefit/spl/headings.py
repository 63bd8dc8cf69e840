"""Headings inside a pharmacokinetics section, and the ADME label they give a paragraph.

Labels write their ADME headings in several ways, all read here:
- a child section's title, or a paragraph that is only a short heading ("Absorption");
- heading lines at the start of a paragraph, ended by a line break:
  `<paragraph><content styleCode="bold">Absorption</content><br/>The absolute bioavailability ...`
  (also `<content styleCode="underline">Distribution<br/></content>...`, and several lines:
  "Elimination" <br/> "Metabolism" <br/> "Aspirin: ...");
- an inline heading that opens a paragraph: styled ("*Absorption:* ...") or plain
  ("Distribution: The volume of distribution ...").

Block headings (titles, heading paragraphs, heading lines) nest at most two deep. A combination
product puts per-ingredient sub-headings ("Naproxen", "Esomeprazole") under each ADME heading, or
ADME headings under each ingredient: a heading that names one of the label's own ingredients nests
under a topic heading and a topic heading under an ingredient one, whichever came first; a heading
of the first kind replaces both. The label is that of the most specific heading naming an ADME
process. Food-effect headings count as Absorption, where the FDA's labeling guidance for section
12.3 places the effect of food.

Other is what the paper meant by it: a paragraph under another pharmacokinetic *topic* —
specific populations (age, sex, race, renal or hepatic impairment, ...), drug interactions
("Drug Interactions", "Effect of other drugs on ...", "Antacids", or the interacting drug's name:
"Lithium", "Warfarin"), or any other heading that names a subject. A heading of a class that names
no topic (NO_TOPIC below: pharmacokinetics in general, "General", dosage forms and regimens
("Immediate release", "Metformin Hydrochloride Tablets USP"), studies and indications ("Clinical
Studies", "(2) Rheumatoid Arthritis"), abbreviation legends ("NA = not available")) does not make
a paragraph Other. A paragraph with no heading naming an ADME process or a topic has no label
(None): none at all below the section title, only the label's own ingredients ("Aspirin"), or only
no-topic headings. Its text may be about any process ("Systemic exposure with Voltaren Gel is 17
times lower than with oral treatment"), and such paragraphs are what a trained model is for. The
rule is per heading class, never per paragraph; docs/spl.md tabulates the dev corpus's headings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from prefit.drugs import names_an_ingredient

V3 = "{urn:hl7-org:v3}"  # the SPL namespace, as lxml writes it in tags (spl.py uses it too)
_ADME_RE = [
    ("Absorption", re.compile(r"absor|bioavailab|bioequival|food", re.I)),
    ("Distribution", re.compile(r"distribut|proteinbinding", re.I)),
    ("Metabolism", re.compile(r"metabol|biotransform", re.I)),
    ("Excretion", re.compile(r"excret|eliminat", re.I)),
]
# Heading classes (module docstring, docs/spl.md), matched on the heading with its spaces collapsed.
# A population or interaction heading is a topic even where it also says "studies" or "patients".
OTHER_TOPIC = re.compile(
    r"geriatr|elderly|\bage\b|pediatr|paediatr|child|adolescen|neonat|infant|renal|kidney|hepatic|liver|\brace\b|ethnic"
    r"|gender|\bsex\b|dialysis|pregnan|lactat|nursing|obes|body ?weight|populations?\b|pharmacogen|patients with|cirrho"
    r"|interact|other drugs|effect of .+ on|cytochrome|\bcyp|antacid|inhibitor|inducer|antagonist|concomitant|coadminist",
    re.I)
NO_TOPIC = re.compile(
    r"^(general|overview|summary|introduction|background|description)\b|generic section|pharmacokinetic|clinical pharmacology"  # in general
    r"|release|^ec-|formulation|dosage|dosing|regimen|single.dose|multiple.dose|steady.state|\btablets?\b|capsules?\b"  # forms
    r"|solution|suspension|\busp\b|\bproduct\b|\bmg\b"
    r"|stud(y|ies)|trial|^\(\d+\)|arthritis|spondylitis|shoulder|\bgout"  # studies and indications
    r"|=|^[A-Z]{1,3}$",  # abbreviation legends ("NA = not available", "SD")
    re.I)
_STYLED = re.compile(r"bold|italics|underline", re.I)
# "Distribution: The volume ..." — a plain inline heading: a few capitalised words and a colon.
_PLAIN_INLINE = re.compile(r"^([A-Z][A-Za-z-]*(?: (?:[A-Za-z-]+|&)){0,4}):\s+(?=\S)")


def adme_label(heading: str | None) -> str:
    """A/D/M/E from a heading (the first one named, for "Metabolism and Excretion"), else Other."""
    if not heading:
        return "Other"
    # Matched with the spaces taken out: a styled first letter or two in their own element read
    # "E xcretion" or "Me tabolism" (seen in naproxen labels).
    heading = "".join(heading.split())
    hits = [(m.start(), lab) for lab, rx in _ADME_RE if (m := rx.search(heading))]
    return min(hits)[1] if hits else "Other"


def names_other_topic(heading: str) -> bool:
    """Whether a heading (not an ADME one) makes a paragraph Other: a population or interaction
    heading, or one of no no-topic class. Letters split by styling ("R enal") are rejoined."""
    for h in (" ".join(heading.split()), re.sub(r"\b(\w) (?=\w)", r"\1", " ".join(heading.split()))):
        if OTHER_TOPIC.search(h):
            return True
    return not NO_TOPIC.search(" ".join(heading.split()).rstrip(":"))


def adme_label_of(headings: list[str]) -> str | None:
    """The label of the most specific heading that names an ADME process: under "Absorption", a
    paragraph that opens with "Diclofenac:" (a combination product's per-ingredient sub-heading)
    is still Absorption, while "Metabolism" under "Special Populations" is Metabolism. Without
    one, Other under a population or interaction heading, else None (no topic)."""
    for h in reversed(headings):
        lab = adme_label(h)
        if lab != "Other":
            return lab
    return "Other" if any(names_other_topic(h) for h in headings) else None


@dataclass(frozen=True)
class Headings:
    """The headings above the next paragraph: block headings (outermost first, each with whether it
    names one of the label's ingredients) and the inline heading of the current paragraph."""

    ingredients: frozenset[str] = frozenset()
    block: tuple[tuple[str, bool], ...] = ()
    inline: str | None = None

    def under(self, heading: str) -> Headings:
        """After a block heading (see the module docstring for how ingredient headings nest)."""
        kind = names_an_ingredient(heading, self.ingredients)
        if not self.block or self.block[0][1] == kind:
            return Headings(self.ingredients, ((heading, kind),))
        return Headings(self.ingredients, (self.block[0], (heading, kind)))

    def with_inline(self, heading: str | None) -> Headings:
        return Headings(self.ingredients, self.block, heading)

    @property
    def names(self) -> list[str]:
        return [h for h, _ in self.block] + ([self.inline] if self.inline else [])

    @property
    def topic(self) -> bool:
        """Whether some heading in force names a topic, not only one of the label's ingredients."""
        return any(not ing for _, ing in self.block) or bool(self.inline and not names_an_ingredient(self.inline, self.ingredients))

    @property
    def most_specific(self) -> str | None:
        names = self.names
        return names[-1] if names else None


def is_heading_text(text: str) -> bool:
    """A short line that reads as a heading ("Absorption", "Special Populations", "Food effect:")."""
    text = text.rstrip(":").strip()
    return 0 < len(text) <= 60 and len(text.split()) <= 6 and not text.endswith((".", ";", ",")) and text[0].isupper()


def _pieces(el, styled: bool = False):
    """A paragraph's content in order: ("text", str, styled) and ("br",) for each line break."""
    if el.text:
        yield ("text", el.text, styled)
    for child in el:
        if isinstance(child.tag, str):
            if child.tag == f"{V3}br":
                yield ("br",)
            else:
                yield from _pieces(child, styled or (child.tag == f"{V3}content" and bool(_STYLED.search(child.get("styleCode", "")))))
        if child.tail:
            yield ("text", child.tail, styled)


def split_paragraph(p) -> tuple[list[str], str | None, str]:
    """(heading lines, inline heading, text) of a <paragraph>: the leading lines that read as
    headings, each ended by a line break; then an inline heading; then the running text."""
    lines: list[list[tuple[str, bool]]] = [[]]
    for piece in _pieces(p):
        if piece[0] == "br":
            lines.append([])
        else:
            lines[-1].append((piece[1], piece[2]))
    texts = [" ".join("".join(t for t, _ in line).split()) for line in lines]
    heads = []
    k = 0
    while k < len(lines) - 1 and (not texts[k] or is_heading_text(texts[k])):
        if texts[k]:
            heads.append(texts[k].rstrip(":").strip())
        k += 1
    rest_pieces = [piece for line in lines[k:] for piece in line + [(" ", False)]]
    inline, text = _inline(rest_pieces)
    return heads, inline, text


def _inline(pieces: list[tuple[str, bool]]) -> tuple[str | None, str]:
    """A leading styled run that ends in (or is followed by) ":" or ".", or a plain "Heading: ...";
    else no inline heading."""
    full = " ".join("".join(t for t, _ in pieces).split())
    lead = ""
    for t, styled in pieces:
        if not styled and t.strip():
            break
        lead += t
    lead = " ".join(lead.split())
    if lead:
        rest = full[len(lead):].lstrip()
        if lead.endswith((":", ".")) or rest.startswith((":", ".")):
            heading = lead.rstrip(":.").strip()
            if heading and len(heading.split()) <= 8:
                return heading, rest.lstrip(":.").strip()
        return None, full
    m = _PLAIN_INLINE.match(full)
    if m and not re.search(r"\d", m.group(1)):
        return m.group(1), full[m.end():]
    return None, full
