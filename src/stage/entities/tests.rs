//! Table-driven unit tests over sentences written for these tests.
use super::*;
use EntityKind::*;

fn stage() -> EntityStage {
    EntityStage::new(&EntitySettings::default()).unwrap()
}

fn run(s: &EntityStage, text: &str) -> Vec<Entity> {
    // First line is the headline when the text contains "\n\n".
    let title = text
        .split_once("\n\n")
        .map(|(h, _)| h.chars().count())
        .unwrap_or(0);
    s.extract(text, title)
}

fn chars(text: &str, sp: [usize; 2]) -> String {
    text.chars().skip(sp[0]).take(sp[1] - sp[0]).collect()
}

/// (text, must contain (name, kind, mentions or 0 = any), must not contain names)
#[allow(clippy::type_complexity)]
const CASES: &[(&str, &[(&str, EntityKind, u32)], &[&str])] = &[
    (
        "Finance Minister Olena Kravets met Chancellor Paul Gruber in Vienna on Friday. Kravets said talks went well.",
        &[
            ("Olena Kravets", Person, 2),
            ("Paul Gruber", Person, 1),
            ("Vienna", Location, 1),
        ],
        &["Finance", "Friday", "Chancellor Paul Gruber"],
    ),
    (
        "The World Trade Organization (WTO) warned on Monday. A WTO spokesman declined to comment.",
        &[("World Trade Organization", Organization, 3)],
        &["WTO", "Monday", "The World Trade Organization"],
    ),
    (
        "Officials in the U.S. and the UK disagreed with Britain's allies. America said nothing.",
        &[
            ("United States", Location, 2),
            ("United Kingdom", Location, 2),
        ],
        &["U.S.", "UK", "Britain"],
    ),
    (
        "Shares of Northwind Holdings rose after the Ministry of Coastal Affairs approved the deal.",
        &[
            ("Northwind Holdings", Organization, 1),
            ("Ministry of Coastal Affairs", Organization, 1),
        ],
        &["Shares"],
    ),
    (
        "PARIS (Reuters) - Protesters gathered near the Elmstead Bridge as Mayor Anne Colbert spoke.",
        &[
            ("Paris", Location, 1),
            ("Reuters", Organization, 1),
            ("Elmstead Bridge", Location, 1),
            ("Anne Colbert", Person, 1),
        ],
        &["Protesters", "Mayor Anne Colbert"],
    ),
    (
        "Meanwhile Beijing pushed back. Chinese and Japanese diplomats met Muslims and Catholics in Jakarta.",
        &[
            ("Beijing", Location, 1),
            ("Chinese", Group, 1),
            ("Japanese", Group, 1),
            ("Muslim", Group, 1),
            ("Jakarta", Location, 1),
        ],
        &["Meanwhile", "Meanwhile Beijing"],
    ),
    (
        "Former envoy Ahmed bin Rashid and Ludo van der Berg toured the Kremlin with J.P. Morgan bankers.",
        &[
            ("Ahmed bin Rashid", Person, 1),
            ("Ludo van der Berg", Person, 1),
            ("Kremlin", Location, 1),
            ("JPMorgan Chase", Organization, 1),
        ],
        &[],
    ),
    (
        "Storm Hits Coastal Towns As Governor Responds\n\nGovernor Maria Delgado visited Tampa on Sunday. Delgado thanked rescuers from the Red Cross.",
        &[
            ("Maria Delgado", Person, 2),
            ("Tampa", Location, 1),
            ("International Committee of the Red Cross", Organization, 1),
        ],
        &[
            "Storm Hits Coastal Towns",
            "Storm",
            "Coastal Towns",
            "Responds",
            "Sunday",
        ],
    ),
    (
        "Analysts at Goldman Sachs expect the Federal Reserve to cut rates, the Fed's critics said.",
        &[
            ("Goldman Sachs", Organization, 1),
            ("Federal Reserve", Organization, 2),
        ],
        &["Analysts", "Fed's"],
    ),
    (
        "The University of Westbrook and Kestrel Systems Inc will host the Harbor Innovation Summit in Lisbon.",
        &[
            ("University of Westbrook", Organization, 1),
            ("Kestrel Systems Inc", Organization, 1),
            ("Harbor Innovation Summit", Event, 1),
            ("Lisbon", Location, 1),
        ],
        &["The University of Westbrook"],
    ),
    (
        "Hong Kong lawmaker Chan Siu-ming criticised the plan, while Texas and Ontario officials agreed.",
        &[
            ("Hong Kong", Location, 1),
            ("Chan Siu-ming", Person, 1),
            ("Texas", Location, 1),
            ("Ontario", Location, 1),
        ],
        &["Chan Siu"],
    ),
    (
        "The report was welcomed by the head of the Lakeside Housing Council Maria Okafor on Tuesday.",
        &[
            ("Lakeside Housing Council", Organization, 1),
            ("Maria Okafor", Person, 1),
        ],
        &["Tuesday"],
    ),
];

#[test]
fn table() {
    let s = stage();
    let mut failures = Vec::new();
    for (text, want, not) in CASES {
        let es = run(&s, text);
        for (name, kind, n) in *want {
            match es.iter().find(|e| e.name == *name) {
                None => failures.push(format!("missing {name:?} in {text:?}: {es:?}")),
                Some(e) if e.kind != *kind => {
                    failures.push(format!("{name:?}: type {:?} != {kind:?}", e.kind))
                }
                Some(e) if *n > 0 && e.mentions != *n => {
                    failures.push(format!("{name:?}: {} mentions != {n}", e.mentions))
                }
                _ => {}
            }
        }
        for name in *not {
            if es.iter().any(|e| e.name == *name) {
                failures.push(format!("unexpected {name:?} in {text:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn spans_are_char_offsets_without_possessive_or_title() {
    let s = stage();
    let text =
        "Café owners in Zürich praised President Élodie Marchand’s plan. Marchand’s office agreed.";
    let es = run(&s, text);
    let p = es
        .iter()
        .find(|e| e.name == "Élodie Marchand")
        .expect("person");
    let got: Vec<String> = p.spans.iter().map(|&sp| chars(text, sp)).collect();
    assert_eq!(got, ["Élodie Marchand", "Marchand"]);
    let z = es.iter().find(|e| e.name == "Zürich").expect("Zürich");
    assert_eq!(chars(text, z.spans[0]), "Zürich");
}

#[test]
fn sorted_by_salience_and_ids() {
    let s = stage();
    let text = "Germany and France sign pact\n\nGermany and France signed a pact in Berlin. Germany said more.";
    let es = run(&s, text);
    assert_eq!(es[0].name, "Germany");
    assert_eq!(es[0].ids.get("iso3166").map(String::as_str), Some("DE"));
    assert!(es.windows(2).all(|w| w[0].salience >= w[1].salience));
    assert!(es.iter().all(|e| (0.0..=1.0).contains(&e.salience)));
}

#[test]
fn user_gazetteer_and_errors() {
    let dir = std::env::temp_dir().join(format!("wiredesk-ent-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.tsv");
    std::fs::write(&good, "# newsroom list\nZorblax Quentin\tperson\tnewsroom=P-17\tZ. Quentin\nAcme Widgets\torganization\tACME-1\tAcme\n").unwrap();
    let s = EntityStage::new(&EntitySettings {
        gazetteers: vec![good],
        ..Default::default()
    })
    .unwrap();
    let es = run(&s, "Acme hired Z. Quentin last week, sources said.");
    let z = es
        .iter()
        .find(|e| e.name == "Zorblax Quentin")
        .expect("user person");
    assert_eq!(z.ids.get("newsroom").map(String::as_str), Some("P-17"));
    let a = es
        .iter()
        .find(|e| e.name == "Acme Widgets")
        .expect("user org");
    assert_eq!(a.ids.get("id").map(String::as_str), Some("ACME-1"));
    let bad = dir.join("bad.tsv");
    std::fs::write(&bad, "Good Name\tperson\t\t\nBad Name\tspaceship\t\t\n").unwrap();
    let err = EntityStage::new(&EntitySettings {
        gazetteers: vec![bad],
        ..Default::default()
    })
    .err()
    .unwrap();
    let msg = format!("{err:#}");
    assert!(msg.contains("bad.tsv:2"), "{msg}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn settings_roundtrip_and_disabled() {
    let st: EntitySettings = serde_json::from_str(r#"{"max_entities": 2}"#).unwrap();
    assert!(st.enabled);
    assert!(serde_json::from_str::<EntitySettings>(r#"{"nope": 1}"#).is_err());
    let s = EntityStage::new(&st).unwrap();
    assert!(run(&s, "Paris, London, Berlin and Madrid met Rome.").len() <= 2);
    let off = EntityStage::new(&EntitySettings {
        enabled: false,
        ..Default::default()
    })
    .unwrap();
    assert!(off.extract("Paris and London", 0).is_empty());
}

#[test]
fn never_panics_on_odd_input() {
    let s = stage();
    let samples = [
        "",
        "\n\n",
        "'",
        "'s",
        "U.",
        "U.S.-",
        "A.B.C.D.E.F.",
        "—",
        "“”",
        "-\u{301}A",
        "ÉÉÉ ÉÉÉ ÉÉÉ\n\nx",
        "北京 and 上海 met 🇨🇳 Xi Jinping 😀.",
        "مرحبا London שלום",
        "\u{0}\u{1}Paris\u{7f}",
        "A & B & C - D",
        "Mr. . . . Dr.",
        "PARIS (",
        "of of the and",
        "X-",
        "O'",
        "'S",
        "Ministry of",
        "\u{2019}s China\u{2019}s",
    ];
    for t in samples {
        for title in [0, 1, 3, 1000] {
            let es = s.extract(t, title);
            let n = t.chars().count();
            for e in es {
                for sp in e.spans {
                    assert!(sp[0] < sp[1] && sp[1] <= n, "{t:?} {sp:?}");
                }
            }
        }
    }
    // Pseudo-random strings built from a small alphabet of tricky pieces.
    let pieces = [
        "A", "b", "U.S.", " ", "\n", "'s", "’", "-", ".", "(", ")", "É", "北", "😀", "of", "the",
        "Mr", "\"", "&", "\u{301}", "Paris", "X",
    ];
    let mut seed: u64 = 0x9E3779B97F4A7C15;
    for _ in 0..3000 {
        let mut t = String::new();
        for _ in 0..(seed % 40) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            t.push_str(pieces[(seed % pieces.len() as u64) as usize]);
        }
        seed = seed.wrapping_add(1);
        let n = t.chars().count();
        for e in s.extract(&t, (seed % 7) as usize) {
            for sp in e.spans {
                assert!(sp[0] < sp[1] && sp[1] <= n, "{t:?} {sp:?}");
            }
        }
    }
}

#[test]
fn stage_is_send_sync() {
    fn f<T: Send + Sync>() {}
    f::<EntityStage>();
}

/// Rules added for wire copy: datelines, organization head nouns, compass regions, appositions,
/// place cues, acronym stop list, organization short forms, curated single-word bodies.
/// (text, must contain (name, kind, mentions or 0 = any), must not contain names)
#[allow(clippy::type_complexity)]
const WIRE_CASES: &[(&str, &[(&str, EntityKind, u32)], &[&str])] = &[
    // Dateline agency in parentheses is an organization; slash-separated cities are places.
    (
        "OSLO/BERLIN (Northgate Newswire) - Ministers met on Tuesday.",
        &[
            ("Oslo", Location, 1),
            ("Berlin", Location, 1),
            ("Northgate Newswire", Organization, 1),
        ],
        &["BERLIN", "OSLO/BERLIN"],
    ),
    (
        "LIMA (Andes Press Service) - Rain fell on Lima for a third day.",
        &[
            ("Andes Press Service", Organization, 1),
            ("Lima", Location, 2),
        ],
        &[],
    ),
    (
        "CAIRO (AP) - Talks resumed.",
        &[
            ("Associated Press", Organization, 1),
            ("Cairo", Location, 1),
        ],
        &[],
    ),
    // Business and public-body head nouns.
    (
        "Shares in Torvik Shipping rose after Kallberg Freight cut prices, the Coastal Survey reported.",
        &[
            ("Torvik Shipping", Organization, 1),
            ("Kallberg Freight", Organization, 1),
            ("Coastal Survey", Organization, 1),
        ],
        &[],
    ),
    // Compass word + unknown name is a region.
    (
        "Floods hit South Varanta and Morvel East after days of rain.",
        &[("South Varanta", Location, 1), ("Morvel East", Location, 1)],
        &[],
    ),
    // Organization cues: noun before the name, apposition after it.
    (
        "The data came from the regional watchdog Veltara. Quorvi, the Finnish developer behind the plan, declined to comment.",
        &[("Veltara", Organization, 1), ("Quorvi", Organization, 1)],
        &[],
    ),
    // ... but not when the apposition describes a person or is partitive.
    (
        "Dorsin Malek, the company's chief executive, spoke. Brintos Vale, the group of islands, is remote.",
        &[("Dorsin Malek", Person, 1)],
        &[],
    ),
    // Place cues: "the island of X", "suburb of X", coordination with a place.
    (
        "Ferries reached the island of Skarnholm. Voters in the Oslo suburb of Brevik queued. Fighting spread in Darfur and Qarmeh.",
        &[
            ("Skarnholm", Location, 1),
            ("Brevik", Location, 1),
            ("Qarmeh", Location, 1),
        ],
        &[],
    ),
    // Acronyms that are not entities; shouted everyday words.
    (
        "The AI boom lifted GDP, and EV sales rose as the CEO said it was BIG news.",
        &[],
        &["AI", "GDP", "EV", "CEO", "BIG"],
    ),
    // A capitalised common noun with a speech verb is not a person.
    (
        "Officials discussed migration policy. Migration urged caution, the report said.",
        &[],
        &["Migration"],
    ),
    // "for" / "on" inside organization names.
    (
        "The Institute for Coastal Studies and the Council on Arctic Affairs issued a joint report.",
        &[
            ("Institute for Coastal Studies", Organization, 1),
            ("Council on Arctic Affairs", Organization, 1),
        ],
        &["Coastal Studies", "Arctic Affairs"],
    ),
    // Short forms of organizations resolve to the full name.
    (
        "Marrow Logistics agreed to buy Pellin Freight. Marrow said the deal would close in May, and Pellin shareholders approved it.",
        &[
            ("Marrow Logistics", Organization, 2),
            ("Pellin Freight", Organization, 2),
        ],
        &["Marrow", "Pellin"],
    ),
    // Parties and political blocs in the plural are groups, also before a speech verb.
    (
        "The Liberals and the Greens attacked the budget. Greens said it was weak, while Social Democrats and Nationalists backed it.",
        &[
            ("Liberals", Group, 1),
            ("Greens", Group, 2),
            ("Social Democrats", Group, 1),
            ("Nationalists", Group, 1),
        ],
        &[],
    ),
    // "and" inside one public body's name; two bodies or two places stay apart.
    (
        "The Coastal Flood Risk Reduction and Management Authority and the Fish and Wildlife Service met. The Tax Office and Revenue Agency disagreed, as did Tonga and Samoa Ports Authority.",
        &[
            (
                "Coastal Flood Risk Reduction and Management Authority",
                Organization,
                1,
            ),
            ("Fish and Wildlife Service", Organization, 1),
            ("Tax Office", Organization, 1),
            ("Revenue Agency", Organization, 1),
            ("Samoa Ports Authority", Organization, 1),
        ],
        &[
            "Management Authority",
            "Tax Office and Revenue Agency",
            "Tonga and Samoa Ports Authority",
        ],
    ),
    // Curated single-word bodies and venues.
    (
        "Lawmakers in the Riksdag and the Storting cited Eurostat and Frontex figures. Play resumed on Centre Court.",
        &[
            ("Riksdag", Organization, 1),
            ("Storting", Organization, 1),
            ("Eurostat", Organization, 1),
            ("Frontex", Organization, 1),
            ("Centre Court", Location, 1),
        ],
        &[],
    ),
];

#[test]
fn wire_rules_table() {
    let s = stage();
    let mut failures = Vec::new();
    for (text, want, not) in WIRE_CASES {
        let es = run(&s, text);
        for (name, kind, mentions) in *want {
            match es.iter().find(|e| e.name == *name) {
                None => failures.push(format!("{text:?}: missing {name}; got {es:?}")),
                Some(e) => {
                    if e.kind != *kind {
                        failures.push(format!("{text:?}: {name} is {:?}, want {kind:?}", e.kind));
                    }
                    if *mentions > 0 && e.mentions != *mentions {
                        failures.push(format!(
                            "{text:?}: {name} has {} mentions, want {mentions}",
                            e.mentions
                        ));
                    }
                }
            }
        }
        for name in *not {
            if es.iter().any(|e| e.name == *name) {
                failures.push(format!("{text:?}: unexpected {name}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Names made only of everyday dictionary words are not persons without a cue; a name with one
/// unknown token, a given name, a title or a speech verb still is.
/// (text, must be person, must exist and not be person)
const DICT_CASES: &[(&str, &[&str], &[&str])] = &[
    (
        "The exhibition celebrates the Silver Harvest of northern painting, and critics praised Quiet Lanterns as a triumph.",
        &[],
        &["Silver Harvest", "Quiet Lanterns"],
    ),
    (
        "The linguist Orvak Tessaly and economist Mu Li spoke to reporters in the capital on Friday.",
        &["Orvak Tessaly", "Mu Li"],
        &[],
    ),
    (
        "Officials met Kwok Ka-ki at the harbour, and Golden Bridge Fund backers cheered Dorrit Vane.",
        &["Kwok Ka-ki", "Dorrit Vane"],
        &[],
    ),
    (
        "Mayor Bright Sparrow opened the session. Robert Young, a local trader, said prices rose.",
        &["Bright Sparrow", "Robert Young"],
        &[],
    ),
];

#[test]
fn dictionary_word_names_table() {
    let s = stage();
    let mut failures = Vec::new();
    for (text, persons, others) in DICT_CASES {
        let es = run(&s, text);
        for name in *persons {
            match es.iter().find(|e| e.name == *name) {
                Some(e) if e.kind == Person => {}
                other => failures.push(format!(
                    "{text:?}: {name} should be a person; got {other:?}"
                )),
            }
        }
        for name in *others {
            match es.iter().find(|e| e.name == *name) {
                Some(e) if e.kind != Person => {}
                other => failures.push(format!(
                    "{text:?}: {name} should be found, not a person; got {other:?}"
                )),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The seed article (`tests/data/seed`, a real wire story): every person and place found
/// before the model (issue 12) is still found, with its type, and nothing else is reported.
#[test]
fn seed_article_keeps_people_and_places() {
    let text = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/seed/article-us-china-trade-talks.txt"
    ));
    let es = stage().extract(text, 0);
    let want: &[(&str, EntityKind)] = &[
        ("Donald Trump", Person),
        ("He Lifeng", Person),
        ("Howard Lutnick", Person),
        ("Scott Bessent", Person),
        ("Jamieson Greer", Person),
        ("Wang Wentao", Person),
        ("Li Chenggang", Person),
        ("Xi Jinping", Person),
        ("China", Location),
        ("United States", Location),
        ("London", Location),
        ("Beijing", Location),
        ("Lancaster House", Location),
        ("Buckingham Palace", Location),
        ("Geneva", Location),
        ("White House", Location),
        ("Chinese", Group),
    ];
    let mut failures = Vec::new();
    for (name, kind) in want {
        match es.iter().find(|e| e.name == *name) {
            Some(e) if e.kind == *kind => {}
            Some(e) => failures.push(format!("{name}: {:?}, want {kind:?}", e.kind)),
            None => failures.push(format!("missing {name}")),
        }
    }
    for e in &es {
        if !want.iter().any(|(n, _)| *n == e.name) {
            failures.push(format!("false positive {:?} {:?}", e.name, e.kind));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn model_file_errors_are_clear() {
    let dir = std::env::temp_dir().join(format!("wiredesk-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("model.bin");
    let mut bytes = BUILTIN_MODEL.to_vec();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&bad, &bytes).unwrap();
    let load = |p: std::path::PathBuf| {
        EntityStage::new(&EntitySettings {
            model: Some(p),
            ..Default::default()
        })
    };
    let msg = format!("{:#}", load(bad.clone()).err().unwrap());
    assert!(msg.contains("model.bin") && msg.contains("checksum"), "{msg}");
    let msg = format!("{:#}", load(dir.join("missing.bin")).err().unwrap());
    assert!(msg.contains("missing.bin"), "{msg}");
    std::fs::write(&bad, BUILTIN_MODEL).unwrap();
    let s = load(bad).unwrap();
    assert_eq!(s.model_name(), stage().model_name());
    assert!(s.model_name().starts_with("wiredesk-entities-f"));
    let _ = std::fs::remove_dir_all(&dir);
}
