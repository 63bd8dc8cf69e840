"""SPL parsing on real DailyMed labels (the package's samples and tests/data/spl-extra: conftest.SPL_DIR)."""

import pytest
from conftest import SPL_DIR

from prefit.errors import InputError
from prefit.spl.parse import adme_label, iter_pk_paragraphs, parse

SPL = "{}.xml"

# Paragraph counts and headings read off the XML: the naproxen label's PK section has 22
# <paragraph> elements, 12 of them standalone headings ("Absorption", "Specific Populations", ...),
# leaving 10 text paragraphs; sildenafil (Viagra) puts inline bold "Absorption and Distribution:"
# style headings inside untitled 42229-5 sections.
EXPECTED = [
    ("570974d4-0d5b-4df2-b307-37380511835d", 10,
     [None, "Absorption", "Distribution", "Metabolism", "Excretion", "Pediatric", "Geriatric", "Hepatic Impairment",
      "Renal Impairment", "Aspirin"]),
    ("0b0be196-0c62-461c-94f4-9a35339b4501", 25,
     [None, None, "Absorption and Distribution", "Absorption and Distribution", "Metabolism and Excretion", "Metabolism and Excretion"]),
    ("c6e131fe-e7df-4876-83f7-9156fc4e8228", 10, None),
    ("369f73b9-e032-4315-e063-6294a90a4ca1", 21, None),
    ("608d4f0d-b19f-46d3-749a-7159aa5f933d", 13, None),
    ("2be8635b-5733-1ed4-e054-00144ff88e88", 1, None),
]


@pytest.mark.parametrize("name,count,headings", EXPECTED, ids=[e[0][:8] for e in EXPECTED])
def test_pk_paragraphs(data_dir, name, count, headings):
    doc, root = parse(SPL_DIR / SPL.format(name))
    paras = list(iter_pk_paragraphs(root))
    assert len(paras) == count
    assert [p.index for p in paras] == list(range(count))
    assert all(p.section_path[0] == "Pharmacokinetics" and p.text for p in paras)
    if headings:
        assert [p.heading for p in paras][: len(headings)] == headings
    assert doc.set_id == name and doc.version


def test_metadata_and_adme_labels(data_dir):
    doc, root = parse(SPL_DIR / SPL.format("570974d4-0d5b-4df2-b307-37380511835d"))
    assert doc.products == ["Naproxen"] and doc.version == "1" and doc.effective_time
    labels = [adme_label(p.heading) for p in iter_pk_paragraphs(root)]
    assert labels[:5] == ["Other", "Absorption", "Distribution", "Metabolism", "Excretion"]
    assert adme_label("Metabolism and Excretion") == "Metabolism" and adme_label("Elimination") == "Excretion"
    assert adme_label("Renal Impairment") == "Other" and adme_label(None) == "Other"


def test_tables_only_on_request(data_dir):
    _, root = parse(SPL_DIR / SPL.format("570974d4-0d5b-4df2-b307-37380511835d"))
    with_tables = list(iter_pk_paragraphs(root, include_tables=True))
    tables = [p for p in with_tables if p.kind == "table"]
    assert len(with_tables) == 10 + len(tables) and tables and "Cmax" in tables[0].text


@pytest.mark.parametrize("name", ["no-title-no-pk", "otc-cough-no-pk"])
def test_labels_without_pk_yield_nothing(data_dir, name):
    doc, root = parse(SPL_DIR / SPL.format(name))
    assert doc.set_id and list(iter_pk_paragraphs(root)) == []


def test_external_entity_refused_without_reading_it(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    xml = (f'<?xml version="1.0"?><!DOCTYPE document [<!ENTITY x SYSTEM "file://{secret}">]>'
           '<document xmlns="urn:hl7-org:v3"><title>&x;</title></document>')
    f = tmp_path / "evil.xml"
    f.write_text(xml)
    with pytest.raises(InputError) as e:
        parse(f)
    assert "declares XML entities" in str(e.value) and "TOP-SECRET" not in str(e.value)


def test_billion_laughs_refused(tmp_path):
    ents = '<!ENTITY a "lol">' + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
    f = tmp_path / "lol.xml"
    f.write_text(f'<?xml version="1.0"?><!DOCTYPE document [{ents}]><document xmlns="urn:hl7-org:v3"><title>&i;</title></document>')
    # refused either by libxml2's amplification guard while parsing or by our entity check after it
    with pytest.raises(InputError, match="declares XML entities|entity amplification"):
        parse(f)


def test_not_spl_and_broken_xml(tmp_path):
    (tmp_path / "a.xml").write_text("<html/>")
    with pytest.raises(InputError, match="not an SPL document"):
        parse(tmp_path / "a.xml")
    (tmp_path / "b.xml").write_text("<document")
    with pytest.raises(InputError, match="not well-formed XML"):
        parse(tmp_path / "b.xml")


def test_score_extract_only_dir_zip_resume_and_failures(data_dir, tmp_path):
    import json
    import shutil
    import zipfile

    from click.testing import CliRunner

    from prefit.cli.score import main as score

    d = tmp_path / "labels"
    d.mkdir()
    for n in ("570974d4-0d5b-4df2-b307-37380511835d", "otc-cough-no-pk"):
        shutil.copy(SPL_DIR / SPL.format(n), d / f"{n}.xml")
    z = tmp_path / "viagra.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(SPL_DIR / SPL.format("0b0be196-0c62-461c-94f4-9a35339b4501"), "0b0be196.xml")
        zf.writestr("image.jpg", b"\xff\xd8")
    out = tmp_path / "paras.jsonl"
    r = CliRunner().invoke(score, [str(d), str(z), "--extract-only", "-o", str(out), "-q"])
    assert r.exit_code == 0, r.output
    assert r.output == ""  # -q: nothing but errors
    out.unlink()
    r = CliRunner().invoke(score, [str(d), str(z), "--extract-only", "-o", str(out)])
    assert r.exit_code == 0, r.output
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 10 + 25
    # the first paragraph sits under the section title alone: no heading gives it a topic, so no label
    assert [x["label"] for x in rows[:5]] == [None, "Absorption", "Distribution", "Metabolism", "Excretion"]
    assert rows[-1]["source"] == f"{z}!0b0be196.xml" and rows[0]["set_id"] == "570974d4-0d5b-4df2-b307-37380511835d"
    assert "otc-cough-no-pk.xml: no pharmacokinetics section" in r.output
    # a broken file is reported and skipped, the rest kept; documents already in OUT are not redone
    (d / "broken.xml").write_text("<document")
    r = CliRunner().invoke(score, [str(d), str(z), "--extract-only", "-o", str(out)])
    assert r.exit_code == 1
    assert "broken.xml: not well-formed XML" in r.output and "0 new document(s)" in r.output
    assert [json.loads(x) for x in out.read_text().splitlines()] == rows
    csv_out = tmp_path / "paras.csv"
    r = CliRunner().invoke(score, [str(z), "--extract-only", "-o", str(csv_out), "-q"])
    assert r.exit_code == 0 and csv_out.read_text().count("\n") >= 26


def test_export_parity_and_score_directory(trained_run, data_dir, tmp_path):
    import json

    from click.testing import CliRunner

    from prefit.cli.score import main as score
    from prefit.cli.train import main as train

    exp = tmp_path / "export"
    r = CliRunner().invoke(train, ["export", str(trained_run), "-o", str(exp), "--int8", "--fp16"])
    assert r.exit_code == 0, r.output
    meta = json.loads((exp / "metadata.json").read_text())
    assert meta["inputs"] == ["input_ids", "token_type_ids", "attention_mask"]
    assert meta["top_layer_cls_only"] is True  # BERT: the graph computes the top layer for [CLS] only
    parity = {p["variant"]: p for p in meta["parity"]}
    assert set(parity) == {"fp32", "int8", "fp16"} and all(p["ok"] for p in parity.values())
    assert parity["fp32"]["max_abs_diff"] < 1e-3 and parity["fp32"]["argmax_agreement"] == 1.0
    assert {"model.onnx", "model.int8.onnx", "model.fp16.onnx", "config.json", "tokenizer.json"} <= {p.name for p in exp.iterdir()}
    assert "label_map.json" not in {p.name for p in exp.iterdir()} and "labels" not in meta  # labels: config.json only
    r = CliRunner().invoke(train, ["export", str(trained_run), "-o", str(exp)])
    assert r.exit_code == 2 and "use --overwrite" in r.output

    out = tmp_path / "scored.jsonl"
    r = CliRunner().invoke(score, [str(SPL_DIR), "--model", str(exp), "-o", str(out), "--device", "cpu"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 10 + 25 + 10 + 21 + 13 + 1
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(exp)  # the export loads as a Hugging Face model directory
    labels = [config.id2label[i] for i in range(config.num_labels)]
    assert labels == json.loads((trained_run / "model" / "label_map.json").read_text())["labels"]
    for x in rows:
        assert x["predicted_label"] in labels and set(x["probabilities"]) == set(labels)
        assert abs(sum(x["probabilities"].values()) - 1) < 1e-3
    assert "paragraphs/s" in r.output


def test_score_model_and_extract_only_conflict(data_dir, tmp_path):
    """--extract-only with --model is a usage error; without either, labels get the built-in
    labeller (tests/test_builtin.py)."""
    from click.testing import CliRunner

    from prefit.cli.score import main as score

    r = CliRunner().invoke(score, [str(SPL_DIR), "-o", str(tmp_path / "o.jsonl"), "--extract-only", "--model", str(tmp_path)])
    assert r.exit_code == 2 and "--extract-only scores nothing" in r.output
    r = CliRunner().invoke(score, [str(SPL_DIR), "-o", str(tmp_path / "o.jsonl"), "--model", str(tmp_path)])
    assert r.exit_code == 2 and "not a prefit model: expected an export directory" in r.output


# Real metformin labels (from the DailyMed corpus) whose 43682-4 section is empty: its
# sub-sections follow it as siblings, and in 34fcbbab the text sits straight inside <text>.
LAYOUTS = {
    "16c6d77e-ca53-4422-b0f9-5a9c2ab496c1": ("7a9e5905-e15e-4c42-96e8-e60a3271c79d", 11, "Following a single oral dose"),
    "34fcbbab-fafb-422c-9389-141a52c8b045": ("5742fd25-09c5-4264-99c1-249ab823d3cd", 10, "The absolute bioavailability"),
}


@pytest.mark.parametrize("name", list(LAYOUTS), ids=[n[:8] for n in LAYOUTS])
def test_empty_pk_section_reads_its_sibling_subsections(data_dir, name):
    set_id, count, first = LAYOUTS[name]
    doc, root = parse(data_dir / "spl-layouts" / f"{name}.xml")
    assert doc.set_id == set_id and doc.generic_names == ["METFORMIN HYDROCHLORIDE"]
    paras = list(iter_pk_paragraphs(root))
    assert len(paras) == count and paras[0].text.startswith(first)
    assert [(p.heading, adme_label(p.heading)) for p in paras[:3]] == [
        ("Absorption and Bioavailability", "Absorption"), ("Distribution", "Distribution"), ("Metabolism and Elimination", "Metabolism")]
    assert all(p.section_path[0] == "Pharmacokinetics" for p in paras)
    assert paras[-1].heading == "Race"  # stops before Clinical Studies (34092-7)
    assert not any("Clinical Studies" in p.section_path for p in paras)


def _zip(path, members: dict):
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_dailymed_bulk_zip_of_zips_and_hostile_archives(data_dir, tmp_path):
    """Real labels in DailyMed's bulk layout (outer zip of prescription/DATE_SETID.zip) score as
    the plain files do; a too-deep archive and a member that inflates past the limit are refused
    with a reason while every other label is read."""
    import json

    from click.testing import CliRunner

    from prefit.cli.score import main as score

    names = ["570974d4-0d5b-4df2-b307-37380511835d", "c6e131fe-e7df-4876-83f7-9156fc4e8228"]
    inner = {f"prescription/20240101_{n}.zip": _zip(tmp_path / f"{n}.zip", {f"{n}.xml": (SPL_DIR / SPL.format(n)).read_bytes()}).read_bytes()
             for n in names}
    deep = b"<document/>"
    for level in range(4):  # 4 levels inside the bulk zip: 5 in all
        deep = _zip(tmp_path / f"deep{level}.zip", {f"level{level}.xml" if level == 0 else f"level{level}.zip": deep}).read_bytes()
    inner["prescription/deep.zip"] = deep
    inner["prescription/bomb.zip"] = _zip(tmp_path / "bomb.zip", {"bomb.xml": b"<a>" + b" " * (3 << 20) + b"</a>"}).read_bytes()
    bulk = _zip(tmp_path / "dm_spl_release_human_rx_part1.zip", inner)
    out = tmp_path / "paras.jsonl"
    r = CliRunner().invoke(score, [str(bulk), "--extract-only", "-o", str(out), "--max-member-mb", "2"])
    assert r.exit_code == 1, r.output
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 10 + 10
    assert {x["source"].split("!")[1] for x in rows} == {f"prescription/20240101_{n}.zip" for n in names}
    assert all(x["generic_names"] for x in rows)
    errors = [x for x in r.output.splitlines() if x.startswith("Error: ")]
    assert len(errors) == 2
    assert any("bomb.xml" in e and ("over the 2,097,152-byte limit" in e or "compression ratio" in e) for e in errors)
    assert any("deep.zip!level3.zip!level2.zip" in e and "nested deeper than 3 levels" in e for e in errors)
    plain = tmp_path / "plain.jsonl"
    r = CliRunner().invoke(score, [str(SPL_DIR / SPL.format(n)) for n in names] + ["--extract-only", "-o", str(plain), "-q"])
    assert r.exit_code == 0
    assert [x["text"] for x in rows] == [json.loads(x)["text"] for x in plain.read_text().splitlines()]


def test_archive_member_inflating_past_its_declared_size_is_stopped(tmp_path):
    import zipfile

    from prefit.spl.inputs import ArchiveLimits, SplSource, iter_sources

    z = _zip(tmp_path / "a.zip", {"ok.xml": b"<document/>", "big.xml": b"x" * (2 << 20)})
    srcs = [(s.name, s.read()) if isinstance(s, SplSource) else s  # read each while its archive is open
            for s in iter_sources([z], ArchiveLimits(max_xml_bytes=1 << 20, max_ratio=1e9))]
    assert srcs[0][0] == f"{z}!big.xml" and srcs[0][1].startswith("member declares 2,097,152 bytes")
    assert srcs[1] == (f"{z}!ok.xml", b"<document/>")
    # A header that understates the size passes the check, but reading it fails as OSError
    # (which `score` reports per label), never past the limit.
    from prefit.spl.inputs import _read_member

    with zipfile.ZipFile(z) as zf:
        info = zf.getinfo("big.xml")
        info.file_size = 10
        with pytest.raises(OSError):
            SplSource("a.zip!big.xml", z, lambda: _read_member(zf, info, ArchiveLimits(max_xml_bytes=1 << 20))).read()


def test_ingredient_subheadings_keep_the_adme_heading_above_them(tmp_path):
    """A combination product (Arthrotec's layout): "Absorption" as a heading paragraph, then
    paragraphs opening with an italic ingredient name. The label comes from the nearest ADME heading."""
    xml = """<?xml version="1.0"?>
<document xmlns="urn:hl7-org:v3"><setId root="s"/><versionNumber value="1"/>
<component><structuredBody><component><section><code code="43682-4"/><title>Pharmacokinetics</title><text>
<paragraph><content styleCode="underline">Absorption</content></paragraph>
<paragraph><content styleCode="italics">Diclofenac:</content> Diclofenac is completely absorbed from the GI tract.</paragraph>
<paragraph><content styleCode="italics">Misoprostol:</content> Misoprostol is rapidly absorbed.</paragraph>
<paragraph>Special Populations</paragraph>
<paragraph><content styleCode="italics">Renal impairment:</content> No dose adjustment is needed.</paragraph>
<paragraph><content styleCode="bold">Metabolism:</content> Hepatic, by CYP2C9.</paragraph>
</text></section></component></structuredBody></component></document>"""
    p = tmp_path / "combo.xml"
    p.write_text(xml)
    paras = list(iter_pk_paragraphs(parse(p)[1]))
    assert [(x.heading, x.headings, x.label) for x in paras] == [
        ("Diclofenac", ["Absorption", "Diclofenac"], "Absorption"), ("Misoprostol", ["Absorption", "Misoprostol"], "Absorption"),
        ("Renal impairment", ["Special Populations", "Renal impairment"], "Other"),
        ("Metabolism", ["Special Populations", "Metabolism"], "Metabolism")]


def test_styled_first_letter_in_its_own_element_still_labels(tmp_path):
    """Naproxen labels set a heading's first letter in its own element ("E" "xcretion"), which
    reads "E xcretion": it is still Excretion (it was Other)."""
    xml = """<?xml version="1.0"?>
<document xmlns="urn:hl7-org:v3"><setId root="s"/><versionNumber value="1"/>
<component><structuredBody><component><section><code code="43682-4"/><title>Pharmacokinetics</title><text>
<paragraph>
   <content styleCode="italics">E</content>
   <content styleCode="italics">xcretion</content>
</paragraph>
<paragraph>The clearance of naproxen is 0.13 mL/min/kg.</paragraph>
</text></section></component></structuredBody></component></document>"""
    p = tmp_path / "naproxen.xml"
    p.write_text(xml)
    assert [(x.heading, x.label) for x in iter_pk_paragraphs(parse(p)[1])] == [("E xcretion", "Excretion")]
    assert adme_label("A bsorption and Bioavailability") == "Absorption" and adme_label("R enal Impairment:") == "Other"
    assert adme_label("Take a break") == "Other"


def _labelled(name):
    doc, root = parse(f"{__file__.rsplit('/', 1)[0]}/data/spl-layouts/{name}.xml")
    return [(p.label, p.headings, p.text[:40]) for p in iter_pk_paragraphs(root)]


def test_combination_product_ingredient_headings_nest_under_adme_headings():
    """Real VIMOVO label (naproxen + esomeprazole): a bold "Absorption" heading paragraph, then plain
    "Naproxen" and "Esomeprazole" sub-heading paragraphs. The ingredient headings nest under the
    ADME heading (they replaced it before, and 21 ADME paragraphs were labelled Other); the
    food-effect heading is Absorption; special populations stay Other."""
    rows = _labelled("9513589d-ef5d-4b8d-a90a-6adb6af2ae11")
    assert len(rows) == 34
    assert rows[0] == ("Absorption", ["Absorption", "Naproxen"], "At steady state following administration")
    assert rows[4][:2] == ("Absorption", ["Absorption", "Esomeprazole"])
    assert rows[7][:2] == ("Absorption", ["Food effect"])
    assert [r[:2] for r in rows[12:14]] == [("Distribution", ["Distribution", "Naproxen"]), ("Distribution", ["Distribution", "Esomeprazole"])]
    assert [r[0] for r in rows] == ["Absorption"] * 12 + ["Distribution"] * 2 + ["Metabolism"] * 3 + ["Excretion"] * 4 + ["Other"] * 13
    assert rows[21][:2] == ("Other", ["Geriatric Patients"])


def test_heading_lines_ended_by_a_line_break():
    """Real YOSPRALA label (aspirin + omeprazole): "<underline>Absorption</underline><br/><italics>Aspirin:</italics>
    text", and "Elimination<br/>Metabolism<br/>Aspirin: ..."; real meloxicam label:
    "<bold><italics>Excretion</italics></bold><br/>text". The heading lines are headings, not text."""
    rows = _labelled("73f74f6d-e624-4551-8924-1c747ffb2140")
    assert rows[0] == ("Absorption", ["Absorption", "Aspirin"], "Following absorption, aspirin (acetylsal")
    assert rows[3][:2] == ("Absorption", ["Absorption", "Omeprazole"])
    assert rows[7] == ("Distribution", ["Distribution", "Aspirin"], "Salicylic acid is widely distributed to ")
    assert rows[9] == ("Metabolism", ["Metabolism", "Aspirin"], "Aspirin (acetylsalicylic acid) is rapidl")
    assert rows[11][:2] == ("Excretion", ["Excretion", "Aspirin"])
    assert [r[0] for r in rows].count("Other") == 22 and rows[13][0] == "Other"
    rows = _labelled("0060d1b1-4cfc-4b69-86a8-9bd44a071e94")
    assert [r[0] for r in rows[:7]] == ["Absorption", "Absorption", "Distribution", "Distribution", "Metabolism", "Excretion", "Excretion"]
    assert rows[5] == ("Excretion", ["Excretion"], "Meloxicam excretion is predominantly in ")


def test_plain_inline_headings_and_labels_from_heading_words():
    from prefit.spl.headings import Headings, adme_label_of

    xml = """<?xml version="1.0"?>
<document xmlns="urn:hl7-org:v3"><setId root="s"/><versionNumber value="1"/>
<component><structuredBody><component><section><code code="43682-4"/><title>Pharmacokinetics</title><text>
<paragraph>Distribution: The volume of distribution of aspirin averages 170 mL/kg.</paragraph>
<paragraph>In 12 subjects: no change was seen.</paragraph>
<paragraph><content styleCode="underline">Elimination<br/></content>The half-life is 2 hours.</paragraph>
</text></section></component></structuredBody></component></document>"""
    from prefit.spl.parse import parse as parse_xml

    paras = list(iter_pk_paragraphs(parse_xml(xml.encode())[1]))
    assert [(p.label, p.headings, p.text) for p in paras] == [
        ("Distribution", ["Distribution"], "The volume of distribution of aspirin averages 170 mL/kg."),
        ("Distribution", ["Distribution"], "In 12 subjects: no change was seen."),  # a digit: not a heading
        ("Excretion", ["Elimination"], "The half-life is 2 hours.")]
    assert adme_label("Food and Antacid Effects") == "Absorption" and adme_label("Me tabolism") == "Metabolism"
    assert adme_label("Protein Binding") == "Distribution" and adme_label("Drug Interactions") == "Other"
    h = Headings(frozenset({"NAPROXEN", "ESOMEPRAZOLE"}))
    topic_major = h.under("Absorption").under("Naproxen").under("Esomeprazole")
    assert topic_major.names == ["Absorption", "Esomeprazole"] and adme_label_of(topic_major.names) == "Absorption"
    assert topic_major.under("Special Populations").names == ["Special Populations"]
    ingredient_major = h.under("Naproxen").under("Absorption").under("Distribution").under("Esomeprazole")
    assert ingredient_major.names == ["Esomeprazole"]
    assert h.under("Naproxen").under("Distribution").names == ["Naproxen", "Distribution"]


def test_paragraphs_that_no_heading_gives_a_topic_have_no_label():
    """Real label of butalbital + aspirin + caffeine: under the section title only the ingredient
    names head its paragraphs ("Aspirin", "Butalbital", "Caffeine"), and they speak of absorption,
    distribution, metabolism and excretion alike. Such paragraphs have no label (None), not Other,
    and a paragraph straight under the section title neither; a heading naming another topic is
    Other, and an ingredient heading under an ADME heading keeps that heading's label."""
    rows = _labelled("e31096f4-162f-44bd-a211-9c2873acfe54")
    assert len(rows) == 16 and {r[0] for r in rows} == {None}
    assert rows[0][1:] == ([], "The behavior of the individual component")
    assert [r[1] for r in rows[1:]] == [["Aspirin"]] * 6 + [["Butalbital"]] * 5 + [["Caffeine"]] * 4
    xml = """<?xml version="1.0"?>
<document xmlns="urn:hl7-org:v3"><setId root="s"/><versionNumber value="1"/>
<component><structuredBody><component><section><code code="43682-4"/><title>Pharmacokinetics</title><text>
<paragraph>Naproxen is rapidly absorbed; its volume of distribution is 0.16 L/kg.</paragraph>
<paragraph><content styleCode="bold">Naproxen:</content> bioavailability is 95%.</paragraph>
<paragraph><content styleCode="bold">Absorption</content></paragraph>
<paragraph><content styleCode="bold">Naproxen:</content> bioavailability is 95%.</paragraph>
<paragraph><content styleCode="bold">Special Populations</content></paragraph>
<paragraph>Naproxen clearance is lower in the elderly.</paragraph>
</text></section></component></structuredBody>
<manufacturedProduct><manufacturedProduct><asEntityWithGeneric><genericMedicine><name>NAPROXEN SODIUM</name></genericMedicine>
</asEntityWithGeneric></manufacturedProduct></manufacturedProduct></component></document>"""
    from prefit.spl.parse import parse as parse_xml

    paras = list(iter_pk_paragraphs(parse_xml(xml.encode())[1]))
    assert [(p.label, p.headings) for p in paras] == [
        (None, []), (None, ["Naproxen"]), ("Absorption", ["Absorption", "Naproxen"]), ("Other", ["Special Populations"])]


@pytest.mark.parametrize("heading,other", [
    ("Renal Impairment", True), ("R enal Impairment:", True), ("Age: Geriatric Population", True), ("Drug Interaction Studies", True),
    ("Effect of other drugs on clopidogrel", True), ("Lithium", True), ("Specific Populations", True),
    ("General pharmacokinetic characteristics", False), ("Pharmacokinetics", False), ("Immediate Release", False),
    ("METFORMIN HYDROCHLORIDE TABLETS USP", False), ("(2) Rheumatoid Arthritis", False), ("NA = not available", False),
    ("SD", False), ("Clinical Studies", False), ("Generic Section", False)])
def test_heading_classes(heading, other):
    """docs/spl.md: population and interaction headings (and any other named subject) are a topic
    (Other); general, dosage-form, study and legend headings are not."""
    from prefit.spl.headings import adme_label_of, names_other_topic

    assert names_other_topic(heading) is other
    assert adme_label_of([heading]) == ("Other" if other else None)
    assert adme_label_of([heading, "Absorption"]) == "Absorption"


def test_no_topic_headings_on_real_labels(data_dir):
    """Real labels of diclofenac + misoprostol (a "General pharmacokinetic characteristics" heading
    and an "SD" legend) and of naproxen (an "Immediate Release" heading): their paragraphs have no
    label; the same labels' population and interaction paragraphs stay Other."""
    rows = {}
    for name in ("7ce90c72-8c44-4361-a695-63990677e87c", "2c4f826c-e71b-4462-a025-19730701a9de"):
        rows[name[:8]] = [(p.label, p.headings) for p in iter_pk_paragraphs(parse(data_dir / f"spl-headings/{name}.xml")[1])]
    dicl, napr = rows["7ce90c72"], rows["2c4f826c"]
    assert dicl[:3] == [(None, ["General pharmacokinetic characteristics"])] * 2 + [(None, ["General pharmacokinetic characteristics", "SD"])]
    assert [lab for lab, _ in dicl].count("Other") == 14 and dicl[-1] == ("Other", ["Drug Interaction Studies", "Misoprostol", "Other drugs"])
    assert napr[:2] == [(None, []), (None, ["Immediate Release"])]
    assert [lab for lab, _ in napr] == [None, None, "Distribution", "Metabolism", "Excretion"] + ["Other"] * 5
