#!/usr/bin/env python3
"""Copy the training corpora and the organisation gazetteer into the repository.

Reads DATA/ner-train and DATA/org-gazetteers (the upstream corpora and registry, where the
maintainers keep them; not part of the repository) and writes compact copies that the build
and the tests use, so that the repository trains and tests without DATA:

* data/ner-train/<source>/sentences.conll  (one "token<TAB>tag" line per token, a blank line
  after each sentence, "# doc <doc><TAB><genre>" before the first sentence of each document;
  whitespace inside a token becomes "_"), plus the source's ATTRIBUTION.md;
* data/org-gazetteers/organizations.tsv (grouped by organisation: canonical, kind, ids,
  aliases; rows filtered as described in data/org-gazetteers/README.md).

Python 3 standard library only; deterministic. Usage: scripts/entities/prepare_data.py DATA
"""
import json
import os
import shutil
import sys
from collections import OrderedDict

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if len(sys.argv) != 2:
    sys.exit("usage: scripts/entities/prepare_data.py DATA  (the folder holding ner-train/ and org-gazetteers/)")
SHARED = sys.argv[1]

SOURCES = [
    ("btc", "btc"), ("wikigold", "wikigold"), ("wnut17", "wnut17"),
    ("sec_filings", "sec_filings"), ("re3d", "re3d"), ("gum", "gum"),
    ("share-alike/crossner", "share-alike/crossner"),
    ("share-alike/uner_en_pud", "share-alike/uner_en_pud"),
    ("share-alike/uner_en_ewt", "share-alike/uner_en_ewt"),
    ("share-alike/gum_sa", "share-alike/gum_sa"),
]


def ner_train():
    src_root = os.path.join(SHARED, "ner-train")
    dst_root = os.path.join(ROOT, "data", "ner-train")
    for src, dst in SOURCES:
        os.makedirs(os.path.join(dst_root, dst), exist_ok=True)
        shutil.copyfile(os.path.join(src_root, src, "ATTRIBUTION.md"),
                        os.path.join(dst_root, dst, "ATTRIBUTION.md"))
        out = []
        last_doc = None
        with open(os.path.join(src_root, src, "sentences.jsonl"), encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                if d["doc"] != last_doc:
                    out.append("# doc %s\t%s" % (d["doc"], d["genre"]))
                    last_doc = d["doc"]
                for tok, tag in zip(d["tokens"], d["tags"]):
                    tok = "_".join(tok.split()) or "_"
                    out.append("%s\t%s" % (tok, tag))
                out.append("")
        with open(os.path.join(dst_root, dst, "sentences.conll"), "w", encoding="utf-8") as f:
            f.write("\n".join(out) + "\n")
    for name in ["README.md", "sources.json"]:
        shutil.copyfile(os.path.join(src_root, name), os.path.join(dst_root, "UPSTREAM-" + name))
    shutil.copyfile(os.path.join(src_root, "share-alike", "README.md"),
                    os.path.join(dst_root, "share-alike", "UPSTREAM-README.md"))


def latin(s):
    return all(ord(c) < 0x250 or 0x1E00 <= ord(c) <= 0x1EFF or c in "\u2019\u2013" for c in s)


def orgs():
    src = os.path.join(SHARED, "org-gazetteers")
    dst = os.path.join(ROOT, "data", "org-gazetteers")
    os.makedirs(dst, exist_ok=True)
    for name in ["ATTRIBUTION.md", "README.md", "common_word_names.txt"]:
        shutil.copyfile(os.path.join(src, name), os.path.join(dst, "UPSTREAM-" + name))
    common = set()
    with open(os.path.join(src, "common_word_names.txt"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            common.add(line.split("\t")[0].lower())
    groups = OrderedDict()
    with open(os.path.join(src, "organizations.tsv"), encoding="utf-8") as f:
        next(f)
        for line in f:
            name, kind, country, wikidata, canonical, source, name_type = line.rstrip("\n").split("\t")
            if name_type in ("label", "ticker"):
                continue
            if kind in ("facility", "healthcare", "other"):
                continue
            if kind == "university" and name_type != "canonical":
                continue
            if len(name) < 3 or name.lower() in common or not latin(name) or not latin(canonical):
                continue
            if name_type == "acronym" and not (name.isupper() and len(name) >= 3):
                continue
            key = (source, canonical)
            g = groups.get(key)
            if g is None:
                ids = []
                if wikidata:
                    ids.append("wikidata=" + wikidata)
                ds, _, rid = source.partition(":")
                if ds in ("ror", "partyfacts", "sp500") and rid:
                    ids.append("%s=%s" % (ds, rid))
                if country:
                    ids.append("country=" + country)
                g = groups[key] = {"kind": kind, "ids": ";".join(ids), "names": []}
            if name != canonical and name not in g["names"]:
                g["names"].append(name)
    with open(os.path.join(dst, "organizations.tsv"), "w", encoding="utf-8") as f:
        f.write("# canonical<TAB>kind<TAB>ids<TAB>aliases (|-separated); generated by "
                "scripts/entities/prepare_data.py from organizations.tsv of org-gazetteers\n")
        for (source, canonical), g in groups.items():
            names = [n.replace("|", "/") for n in g["names"]]
            f.write("%s\t%s\t%s\t%s\n" % (canonical, g["kind"], g["ids"], "|".join(names)))


if __name__ == "__main__":
    ner_train()
    orgs()
