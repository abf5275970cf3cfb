#!/usr/bin/env python3
"""Turn source.txt (inline [surface|TYPE] annotations) into articles.jsonl and
entities.gold.jsonl in the same shape as tests/data/gum-news. Standard library only."""
import json, os, re
HERE = os.path.dirname(os.path.abspath(__file__))
PAT = re.compile(r"\[([^\[\]|]+)\|(PER|ORG|LOC|MISC)\]")
arts, golds = [], []
blocks = open(os.path.join(HERE, "source.txt"), encoding="utf-8").read().split("\n## ")[1:]
for b in blocks:
    ident, rest = b.split("\n", 1)
    raw = rest.strip("\n")
    text, ents, pos = "", [], 0
    for m in PAT.finditer(raw):
        text += raw[pos:m.start()]
        start = len(text)
        text += m.group(1)
        ents.append({"start": start, "end": len(text), "text": m.group(1), "type": m.group(2)})
        pos = m.end()
    text += raw[pos:]
    assert "[" not in text and "|" not in text, ident
    title, body = text.split("\n\n", 1)
    arts.append({"id": ident.strip(), "title": title, "body": body, "source": "wiredesk-annotated"})
    golds.append({"id": ident.strip(), "text": text, "entities": ents})
with open(os.path.join(HERE, "articles.jsonl"), "w", encoding="utf-8") as f:
    for a in arts:
        f.write(json.dumps(a, ensure_ascii=False) + "\n")
with open(os.path.join(HERE, "entities.gold.jsonl"), "w", encoding="utf-8") as f:
    for g in golds:
        f.write(json.dumps(g, ensure_ascii=False) + "\n")
print(len(arts), "articles,", sum(len(g["entities"]) for g in golds), "entities")
