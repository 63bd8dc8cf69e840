"""Parser recall on the DailyMed dev corpus: labels with PK paragraphs / labels whose XML has a
pharmacokinetics section (LOINC 43682-4), each miss named with its reason; plus paragraph and
label counts, how many labels use the empty-section layout (sub-sections as siblings), and
parse rate. Reads the bulk zip the way `score` does (prefit.spl.inputs).

    python bench/spl_recall.py
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED, machine, print_table, write_result  # noqa: E402


def main() -> None:
    from prefit.errors import InputError
    from prefit.spl.headings import Headings
    from prefit.spl.inputs import SplSource, iter_sources
    from prefit.spl.parse import NS, _walk, find_pk_sections, iter_pk_paragraphs, parse

    t0 = time.perf_counter()
    labels = with_section = with_paragraphs = sibling_layout = paragraphs = 0
    misses, failures, by_label = [], [], Counter()
    for src in iter_sources([SHARED / "spl-corpus" / "dailymed-rx-dev.zip"]):
        if not isinstance(src, SplSource):
            failures.append(src)
            continue
        try:
            _, root = parse(src.read(), name=src.name)
        except (InputError, OSError) as e:
            failures.append((src.name, str(e)))
            continue
        labels += 1
        sections = find_pk_sections(root)
        paras = list(iter_pk_paragraphs(root))
        if sections:
            with_section += 1
            with_paragraphs += bool(paras)
            if paras and not any(True for s in sections for _ in _walk(s, [], Headings(), False)):
                sibling_layout += 1
            if not paras:
                empty = all(s.find("v3:text", NS) is None and not s.findall("v3:component/v3:section", NS) for s in sections)
                misses.append({"label": src.name, "reason": "empty pharmacokinetics section, no sibling sub-sections" if empty else
                               "pharmacokinetics section without text paragraphs"})
        paragraphs += len(paras)
        by_label.update(p.label or "(no label)" for p in paras)  # None: no heading names a topic
    sec = time.perf_counter() - t0
    recall = with_paragraphs / with_section if with_section else float("nan")
    print_table(["labels", "with a 43682-4 section", "with PK paragraphs", "recall", "empty-section layout", "paragraphs", "labels/s"],
                [[labels, with_section, with_paragraphs, recall, sibling_layout, paragraphs, labels / sec]])
    for m in misses:
        print(f"miss: {m['label']}: {m['reason']}")
    for name, why in failures:
        print(f"unreadable: {name}: {why}")
    write_result("spl_recall", {"machine": machine(), "labels": labels, "with_pk_section": with_section, "with_pk_paragraphs": with_paragraphs,
                                "recall": recall, "empty_section_layout": sibling_layout, "paragraphs": paragraphs,
                                "paragraph_labels": dict(by_label.most_common()), "misses": misses, "unreadable": failures,
                                "seconds": sec})


if __name__ == "__main__":
    main()
