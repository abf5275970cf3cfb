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
    let text = "Café owners in Zürich praised President Élodie Marchand’s plan. Aides said Marchand’s office agreed.";
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
    assert!(failures.is_empty(), "{}\n{es:#?}", failures.join("\n"));
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
    assert!(
        msg.contains("model.bin") && msg.contains("checksum"),
        "{msg}"
    );
    let msg = format!("{:#}", load(dir.join("missing.bin")).err().unwrap());
    assert!(msg.contains("missing.bin"), "{msg}");
    std::fs::write(&bad, BUILTIN_MODEL).unwrap();
    let s = load(bad).unwrap();
    assert_eq!(s.model_name(), stage().model_name());
    assert!(s.model_name().starts_with("wiredesk-entities-f"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ascii_words_hash_like_the_general_path() {
    let general = |s: &str| hash_lower_chars(0xcbf29ce484222325, s);
    for w in [
        "Reuters", "U.S.", "O'Brien", "iPhone", "ALL-CAPS", "x", "", "42nd",
    ] {
        assert_eq!(hash_lower(w), general(w), "{w}");
    }
    assert_eq!(hash_lower("Zürich"), general("Zürich"));
    assert_eq!(hash_lower("O\u{2019}Brien"), hash_lower("o'brien"));
}

#[test]
fn buffers_kept_between_articles_change_no_result() {
    let s = stage();
    let long = "Chelsea beat Arsenal 2-1 at Stamford Bridge. Mikel Arteta said the London derby was tough. "
        .repeat(40);
    let short = "Finance Minister Olena Kravets met Chancellor Paul Gruber in Vienna on Friday.";
    // A fresh thread has no kept buffers.
    let fresh = |text: &'static str| {
        std::thread::spawn(move || run(&stage(), text))
            .join()
            .unwrap()
    };
    let expected_short = fresh(short);
    let expected_long = fresh(Box::leak(long.clone().into_boxed_str()));
    let key = |es: &[Entity]| -> Vec<String> { es.iter().map(|e| format!("{e:?}")).collect() };
    for _ in 0..2 {
        assert_eq!(key(&run(&s, &long)), key(&expected_long));
        assert_eq!(key(&run(&s, short)), key(&expected_short));
    }
}
