"""Turn the authored item files (src/*.txt, one item per line: CODE|style|headline|body) into
JSONL. CODE is the IPTC top-level number (01-17), optionally .NNN for the second-level code
2000NNNN (e.g. 15.1108 = medtop:15000000 + medtop:20001108). Run from data/topics:
    python3 convert.py src/heldout.txt heldout.jsonl ho written:heldout:2026-12-01
    python3 convert.py 'src/train-*.txt' train.jsonl tr written:train:2026-12-01
"""
import glob, json, sys

pattern, out, prefix, prov = sys.argv[1:5]
rows = []
for src in sorted(glob.glob(pattern)):
    for line in open(src, encoding="utf-8"):
        line = line.rstrip("\n")
        if not line.strip() or line.startswith("#"):
            continue
        code, style, title, body = line.split("|", 3)
        top, _, sub = code.partition(".")
        labels = ["medtop:%02d000000" % int(top)]
        if sub:
            labels.append("medtop:2%07d" % int(sub))
        rows.append({"id": "%s-%04d" % (prefix, len(rows) + 1), "title": title.strip(),
                     "body": body.strip(), "labels": labels, "style": style, "provenance": prov})
with open(out, "w", encoding="utf-8") as f:
    for r in rows:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
print(len(rows), "items ->", out)
