#!/usr/bin/env python3
"""Write COUNT distinct, realistic articles of about 5 KB as JSON lines: each is built from the
sentences of the repository's real articles (samples and the Wikinews development set), drawn
with a fixed seed, so no two articles share a story (dedupe sees originals, as in a backfill
of distinct news) while the text keeps real names, places and topics.

Usage: corpus.py OUT COUNT SOURCE.jsonl...
"""
import json
import random
import re
import sys

out, count, sources = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
sentences, titles = [], []
for path in sources:
    for line in open(path, encoding="utf-8"):
        try:
            article = json.loads(line)
        except ValueError:
            continue
        if not isinstance(article, dict) or not isinstance(article.get("body"), str):
            continue
        if isinstance(article.get("title"), str):
            titles.append(article["title"])
        text = re.sub(r"<[^>]+>", " ", article["body"])
        for s in re.split(r"(?<=[.!?])\s+", text):
            s = " ".join(s.split())
            if 40 <= len(s) <= 400:
                sentences.append(s)
if not sentences or not titles:
    sys.exit("corpus.py: no sentences in the sources")
rng = random.Random(20261202)
with open(out, "w", encoding="utf-8") as f:
    for i in range(count):
        paragraphs, size = [], 0
        while size < 5000:
            paragraph = " ".join(rng.choice(sentences) for _ in range(rng.randint(2, 4)))
            paragraphs.append(paragraph)
            size += len(paragraph) + 2
        article = {
            "id": f"bench-{i:07d}",
            "title": rng.choice(titles),
            "body": "\n\n".join(paragraphs),
            "source": rng.choice(["Reuters", "AP", "AFP", "dpa"]),
            "published_at": f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:00:00Z",
            "language": "en",
        }
        f.write(json.dumps(article, ensure_ascii=False) + "\n")
