use super::taxonomy::{Source, compile, parse_phrase};
use super::*;

const HEAD: &str = "[taxonomy]\nname = \"t\"\nversion = \"1\"\n";

fn compiled(body: &str) -> Compiled {
    let src = Source {
        name: "t.toml".into(),
        text: format!("{HEAD}{body}"),
    };
    compile(&src, &[]).unwrap_or_else(|e| panic!("{e}"))
}

fn err(body: &str) -> TaxonomyError {
    let src = Source {
        name: "t.toml".into(),
        text: format!("{HEAD}{body}"),
    };
    compile(&src, &[]).expect_err("should be refused")
}

fn run(c: &Compiled, text: &str, title: usize, ents: &[(&str, &str)]) -> Vec<Tag> {
    score(c, text, title, ents, 10, 0.0001)
}

fn get<'a>(tags: &'a [Tag], id: &str) -> Option<&'a Tag> {
    tags.iter().find(|t| t.id == id)
}

const TOP: &str = r#"
[[tag]]
id = "top"
label = "Top"
scheme = "iptc-medtop"
"#;

fn one(rules: &str) -> Compiled {
    compiled(&format!(
        "{TOP}\n[[tag]]\nid = \"x\"\nlabel = \"X\"\nscheme = \"wiredesk-issue\"\nparent = \"top\"\n{rules}\n"
    ))
}

const FILLER: &str = "Officials met on Monday to discuss several matters of local importance.";

#[test]
fn phrase_syntax_expands_braces_hyphens_apostrophes() {
    let p = parse_phrase("tariff{,s}").unwrap();
    assert_eq!(p.variants, vec!["tariff", "tariffs"]);
    let p = parse_phrase("trade war{,s}").unwrap();
    assert!(p.variants.contains(&"trade-war".to_string()));
    assert!(p.variants.contains(&"trade wars".to_string()));
    let p = parse_phrase("people's bank").unwrap();
    assert!(p.variants.iter().any(|v| v.contains('\u{2019}')));
    let p = parse_phrase("=AI").unwrap();
    assert!(p.exact);
    let p = parse_phrase("semiconduct*").unwrap();
    assert!(p.prefix);
    assert!(parse_phrase("  ").is_err());
    assert!(parse_phrase("a{b").is_err());
    assert!(parse_phrase("a}b").is_err());
    assert!(parse_phrase("{,}").is_err());
}

#[test]
fn word_boundaries_and_case() {
    let c = one(r#"phrases = [{ weight = 1.0, terms = ["war", "=AI", "chip*"] }]"#);
    assert!(
        run(&c, "The software was great.", 0, &[]).is_empty(),
        "no match inside a word"
    );
    assert!(
        run(&c, "Said it was fair.", 0, &[]).is_empty(),
        "exact case: 'ai' in words is no match"
    );
    assert!(!run(&c, "The war began.", 0, &[]).is_empty());
    assert!(!run(&c, "New AI rules.", 0, &[]).is_empty());
    assert!(
        run(&c, "The ai said.", 0, &[]).is_empty(),
        "=AI is case-sensitive"
    );
    let t = run(&c, "Chipmakers rallied.", 0, &[]);
    assert_eq!(
        get(&t, "x").unwrap().evidence,
        vec!["chipmakers"],
        "prefix match shows the whole word"
    );
}

#[test]
fn weights_order_scores() {
    let c = compiled(&format!(
        "{TOP}\n[[tag]]\nid=\"a\"\nlabel=\"A\"\nscheme=\"s\"\nparent=\"top\"\nphrases=[{{weight=1.0, terms=[\"alpha\"]}}]\n\
         [[tag]]\nid=\"b\"\nlabel=\"B\"\nscheme=\"s\"\nparent=\"top\"\nphrases=[{{weight=0.3, terms=[\"beta\"]}}]\n"
    ));
    let t = run(&c, &format!("{FILLER} alpha and beta."), 0, &[]);
    assert!(get(&t, "a").unwrap().score > get(&t, "b").unwrap().score);
    // negative weights reduce
    let c2 = one(
        r#"phrases = [{ weight = 1.0, terms = ["alpha"] }, { weight = -0.5, terms = ["gamma"] }]"#,
    );
    let plain = get(&run(&c2, "alpha beta", 0, &[]), "x").unwrap().score;
    let neg = get(&run(&c2, "alpha gamma", 0, &[]), "x").unwrap().score;
    assert!(neg < plain);
}

#[test]
fn exclusions_cancel_overlapping_matches_and_veto_kills() {
    let c = one(r#"phrases = [{ weight = 1.0, terms = ["war"] }]
exclude = ["trade war"]
veto = ["star wars"]"#);
    assert!(run(&c, "A trade war looms.", 0, &[]).is_empty());
    assert!(!run(&c, "A trade war looms and a real war rages.", 0, &[]).is_empty());
    assert!(run(&c, "The war scenes in Star Wars.", 0, &[]).is_empty());
}

#[test]
fn requires_co_occurrence() {
    let c = one(r#"phrases = [{ weight = 1.0, terms = ["chip{,s}"] }]
requires = ["semiconductor{,s}", "export control{,s}"]"#);
    assert!(run(&c, "He ate potato chips.", 0, &[]).is_empty());
    let t = run(&c, "New export controls on chips.", 0, &[]);
    assert!(get(&t, "x").is_some());
}

#[test]
fn entity_conditions_boost_and_sufficient() {
    let c = one(r#"phrases = [{ weight = 0.5, terms = ["rates"] }]
entities = [{ names = ["Federal Reserve"], type = "organization", boost = 0.5 },
            { names = ["Jerome Powell"], boost = 0.3, sufficient = true }]"#);
    let base = get(&run(&c, "rates rose", 0, &[]), "x").unwrap().score;
    let t = run(&c, "rates rose", 0, &[("Federal Reserve", "organization")]);
    let x = get(&t, "x").unwrap();
    assert!(x.score > base);
    assert!(x.evidence.contains(&"entity:Federal Reserve".to_string()));
    // wrong type: no boost
    let wrong = get(
        &run(&c, "rates rose", 0, &[("Federal Reserve", "person")]),
        "x",
    )
    .unwrap()
    .score;
    assert_eq!(wrong, base);
    // boost alone does not fire without phrase evidence unless `sufficient`
    assert!(
        run(
            &c,
            "nothing here",
            0,
            &[("federal reserve", "organization")]
        )
        .is_empty()
    );
    assert!(
        get(
            &run(&c, "nothing here", 0, &[("Jerome Powell", "person")]),
            "x"
        )
        .is_some()
    );
}

#[test]
fn parents_gain_from_children_and_top_level_always_present() {
    let c = one(r#"phrases = [{ weight = 1.0, terms = ["tariff{,s}"] }]"#);
    let t = run(&c, "New tariffs announced.", 0, &[]);
    let top = get(&t, "top").expect("parent gets evidence from child");
    assert_eq!(top.parent, None);
    assert_eq!(get(&t, "x").unwrap().parent.as_deref(), Some("top"));
    assert!(top.evidence.contains(&"tariffs".to_string()));
    // even when its own min_score would drop the parent, a top-level subject is kept
    let c2 = compiled(&format!(
        "{TOP}min_score = 0.99\n[[tag]]\nid = \"x\"\nlabel = \"X\"\nscheme = \"s\"\nparent = \"top\"\nphrases = [{{ weight = 1.0, terms = [\"tariff{{,s}}\"] }}]\n"
    ));
    let t = score(&c2, "New tariffs announced.", 0, &[], 10, 0.1);
    assert!(get(&t, "x").is_some());
    assert!(t.iter().any(|t| t.parent.is_none()));
    // top_k=1 keeps a top-level subject
    let t = score(&c, "New tariffs announced.", 0, &[], 1, 0.0);
    assert_eq!(t.len(), 1);
    assert!(t[0].parent.is_none());
}

#[test]
fn frequency_saturates() {
    let c = one(r#"phrases = [{ weight = 1.0, terms = ["tariff{,s}"] }]"#);
    let s = |n: usize| {
        let text = vec!["tariffs"; n].join(" and ");
        get(&run(&c, &text, 0, &[]), "x").unwrap().score
    };
    let (s1, s2, s10, s50) = (s(1), s(2), s(10), s(50));
    assert!(s1 < s2 && s2 < s10 && s10 <= s50);
    assert!(s2 - s1 > s50 - s10, "diminishing returns");
    assert!(s50 < 1.0);
}

#[test]
fn matches_beyond_the_per_rule_cap_are_not_kept() {
    let c = one(r#"phrases = [{ weight = 1.0, terms = ["tariff{,s}"] }]"#);
    // Length normalisation grows with the text, so compare at equal length: the same text with
    // its repeats beyond the cap replaced by filler scores the same.
    let capped = vec!["tariffs"; MAX_HITS_PER_RULE].join(" and ");
    let filler = vec!["levies"; 4 * MAX_HITS_PER_RULE].join(" and ");
    let long = format!(
        "{capped} and {}",
        vec!["tariffs"; 4 * MAX_HITS_PER_RULE].join(" and ")
    );
    let padded = format!("{capped} and {filler}");
    let score_of = |text: &str| get(&run(&c, text, 0, &[]), "x").unwrap().score;
    assert_eq!(score_of(&long), score_of(&padded));
}

#[test]
fn headline_and_lead_count_more() {
    let c = one(r#"phrases = [{ weight = 1.0, terms = ["tariff{,s}"] }]"#);
    let body = vec![FILLER; 20].join("\n\n");
    let head = format!("Tariffs rise\n\n{body}");
    let lead = format!("Trade news\n\nTariffs rise. {body}");
    let tail = format!("Trade news\n\n{body} Tariffs rise.");
    let sh = get(&run(&c, &head, 12, &[]), "x").unwrap().score;
    let sl = get(&run(&c, &lead, 10, &[]), "x").unwrap().score;
    let st = get(&run(&c, &tail, 10, &[]), "x").unwrap().score;
    assert!(sh > sl && sl > st, "{sh} {sl} {st}");
}

#[test]
fn longer_documents_are_normalised() {
    let c = one(r#"phrases = [{ weight = 1.0, terms = ["tariff{,s}"] }]"#);
    let short = format!("{FILLER} tariffs.");
    let long = format!("{} tariffs.", vec![FILLER; 200].join(" "));
    assert!(
        get(&run(&c, &short, 0, &[]), "x").unwrap().score
            > get(&run(&c, &long, 0, &[]), "x").unwrap().score
    );
}

#[test]
fn no_evidence_no_tags_and_never_panics() {
    let c = one(r#"phrases = [{ weight = 1.0, terms = ["tariff{,s}", "caf\u00e9"] }]"#);
    assert!(run(&c, "", 0, &[]).is_empty());
    assert!(run(&c, "Nothing relevant at all.", 5, &[]).is_empty());
    for text in [
        "é",
        "tariffé",
        "日本 tariffs 日本",
        "\u{0}\u{ffff}",
        "éétariffs",
        "café tariffs",
    ] {
        let _ = run(&c, text, 1000, &[("", ""), ("ü", "x")]);
        let _ = run(&c, text, 1, &[]);
    }
    assert!(
        run(&c, "日本tariffs", 0, &[]).is_empty(),
        "CJK letter before: not a word boundary"
    );
    assert!(!run(&c, "un café", 0, &[]).is_empty());
    let huge = "tariffs ".repeat(200_000);
    assert!(!run(&c, &huge, 3, &[]).is_empty());
}

#[test]
fn semantic_errors_have_positions() {
    let e = err("[[tag]]\nid = \"a\"\nlabel = \"A\"\nscheme = \"s\"\nparent = \"nope\"\n");
    assert!(e.reason.contains("unknown parent"), "{e}");
    assert_eq!((e.line, e.column), (8, 10), "{e}");
    let e = err(&format!("{TOP}{TOP}"));
    assert!(e.reason.contains("duplicate"), "{e}");
    let e = err(&format!(
        "{TOP}phrases = [{{ weight = 1.0, terms = [\"  \"] }}]\n"
    ));
    assert!(e.reason.contains("empty phrase"), "{e}");
    let e = err(&format!(
        "{TOP}phrases = [{{ weight = 1.5, terms = [\"a\"] }}]\n"
    ));
    assert!(e.reason.contains("out of range"), "{e}");
    let e = err(
        "[[tag]]\nid=\"a\"\nlabel=\"A\"\nscheme=\"s\"\nparent=\"b\"\n[[tag]]\nid=\"b\"\nlabel=\"B\"\nscheme=\"s\"\nparent=\"a\"\n",
    );
    assert!(e.reason.contains("cycle"), "{e}");
    let e = err("[[tag]]\nid = \"a\"\nlabel = \"A\"\nscheme = \"s\"\nbogus = 1\n");
    assert_eq!(e.line, 8, "{e}");
    let e = err("[[tag]\n");
    assert_eq!(e.line, 4, "{e}");
    assert!(
        e.to_string().starts_with("invalid taxonomy t.toml:4:"),
        "{e}"
    );
}

#[test]
fn default_taxonomy_compiles_with_required_shape() {
    let c = taxonomy::load(None, &[]).unwrap();
    let tops: Vec<_> = c.tags.iter().filter(|t| t.parent.is_none()).collect();
    assert_eq!(tops.len(), 17);
    for n in 1..=17 {
        let id = format!("medtop:{:02}000000", n);
        assert!(tops.iter().any(|t| t.id == id), "{id}");
    }
    let issues = c
        .tags
        .iter()
        .filter(|t| t.scheme == "wiredesk-issue")
        .count();
    assert!(issues >= 40, "{issues}");
    assert!(c.version.starts_with("wiredesk-default@"));
}

#[test]
fn extend_and_replace_and_reload() {
    let dir = std::env::temp_dir().join(format!("wiredesk-tags-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let extra = dir.join("extra.toml");
    std::fs::write(
        &extra,
        "[taxonomy]\nname=\"newsroom\"\nversion=\"7\"\n[[tag]]\nid=\"wiredesk-issue:zorbs\"\nlabel=\"zorbs\"\nscheme=\"wiredesk-issue\"\nparent=\"medtop:13000000\"\nphrases=[{weight=1.0, terms=[\"zorb{,s}\"]}]\n\
         [[extend]]\nid=\"wiredesk-issue:tariffs\"\nphrases=[{weight=1.0, terms=[\"liberation day\"]}]\n",
    )
    .unwrap();
    let settings = TagSettings {
        extra: vec![extra.clone()],
        ..TagSettings::default()
    };
    let stage = TagStage::new(&settings).unwrap();
    assert!(stage.taxonomy_version().contains("+newsroom@7"));
    let t = stage.tag("Zorbs everywhere\n\nScientists found zorbs.", 16, &[]);
    assert!(get(&t, "wiredesk-issue:zorbs").is_some(), "{t:?}");
    let t = stage.tag("Liberation Day\n\nThe Liberation Day measures.", 14, &[]);
    assert!(get(&t, "wiredesk-issue:tariffs").is_some(), "{t:?}");

    // broken edit: reload fails, old taxonomy stays
    let before = stage.taxonomy_version();
    std::fs::write(
        &extra,
        "[[tag]]\nid = \"x\"\nlabel = \"x\"\nscheme = \"s\"\nparent = \"missing\"\n",
    )
    .unwrap();
    let e = stage.reload().unwrap_err().to_string();
    assert!(
        e.contains("extra.toml:5:10") && e.contains("unknown parent"),
        "{e}"
    );
    assert_eq!(stage.taxonomy_version(), before);
    assert!(get(&stage.tag("zorbs zorbs", 0, &[]), "wiredesk-issue:zorbs").is_some());

    // replace the base taxonomy
    let base = dir.join("base.toml");
    std::fs::write(
        &base,
        format!("{HEAD}{TOP}phrases=[{{weight=1.0, terms=[\"zorb{{,s}}\"]}}]\n"),
    )
    .unwrap();
    let stage = TagStage::new(&TagSettings {
        taxonomy: Some(base),
        ..TagSettings::default()
    })
    .unwrap();
    assert!(stage.taxonomy_version().starts_with("t@1"));
    assert_eq!(stage.tag("zorbs", 0, &[])[0].id, "top");
    assert!(
        TagStage::new(&TagSettings {
            taxonomy: Some(dir.join("missing.toml")),
            ..TagSettings::default()
        })
        .is_err()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn stage_is_send_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<TagStage>();
}

#[test]
fn golden_short_articles() {
    let stage = TagStage::new(&TagSettings::default()).unwrap();
    let ids = |title: &str, body: &str| -> Vec<String> {
        let text = format!("{title}\n\n{body}");
        stage
            .tag(&text, title.chars().count(), &[])
            .into_iter()
            .map(|t| t.id)
            .collect()
    };
    let t = ids(
        "Central bank raises interest rates to fight inflation",
        "The central bank raised its benchmark interest rate by 25 basis points on Thursday, saying inflation remained too high. Economists expect one more rate hike this year.",
    );
    assert!(
        t.contains(&"wiredesk-issue:central-banks-rates".into()),
        "{t:?}"
    );
    assert!(t.contains(&"wiredesk-issue:inflation".into()), "{t:?}");
    assert!(t.contains(&"medtop:04000000".into()), "{t:?}");
    let t = ids(
        "Earthquake kills dozens in mountain region",
        "A magnitude 6.8 earthquake struck the region overnight, collapsing buildings. Rescue workers searched the debris for survivors as the death toll rose.",
    );
    assert!(t.contains(&"medtop:03000000".into()), "{t:?}");
    assert!(!t.contains(&"medtop:04000000".into()), "{t:?}");
    let t = ids(
        "Striker scores twice as United win derby",
        "The striker scored in both halves as United beat their rivals 2-0 in the league on Saturday. The goalkeeper made three saves.",
    );
    assert_eq!(
        t.first().map(String::as_str),
        Some("medtop:15000000"),
        "{t:?}"
    );
    let t = ids(
        "US and China resume trade talks as tariffs and chip curbs loom",
        "Negotiators from Washington and Beijing met in Geneva for a second round of trade talks, seeking to extend a truce that paused steep tariffs.\n\nThe US delegation pressed Beijing to ease export restrictions on rare earth magnets, while Chinese officials demanded that Washington relax export controls on advanced semiconductors used for artificial intelligence.",
    );
    for want in [
        "medtop:04000000",
        "medtop:20000373",
        "medtop:11000000",
        "wiredesk-issue:tariffs",
        "wiredesk-issue:semiconductors",
        "wiredesk-issue:critical-minerals",
        "wiredesk-issue:export-controls",
    ] {
        assert!(t.contains(&want.to_string()), "{want} missing from {t:?}");
    }
    assert!(ids("", "Lorem ipsum dolor sit amet.").is_empty());
}

#[test]
fn corroboration_rules() {
    // One phrase once in the body is not enough; in the headline or repeated it is.
    let c = compiled(&format!(
        "[scoring]\nscale = 3.0\nsingle_phrase_min_score = 0.25\nweak_weight = 0.5\nweak_min_phrases = 3\n{TOP}\
         phrases = [{{ weight = 1.0, terms = [\"tariff{{,s}}\"] }}, {{ weight = 0.4, terms = [\"bureau\", \"ministry\", \"talks\", \"policy\"] }}]\n"
    ));
    let body = |s: &str| format!("Title\n\n{}\n\n{s}", FILLER.repeat(8));
    let score = |text: &str, title: usize| score(&c, text, title, &[], 10, 0.2);
    assert!(score(&body("New tariffs were mentioned."), 5).is_empty());
    assert!(!score(&body("Tariffs here. More tariffs there."), 5).is_empty());
    assert!(!score("Tariffs rise\n\nNothing else.", 12).is_empty());
    // Weak words only: two distinct ones are not enough, three are (if the score passes).
    let weak2 = body("Bureau at the ministry. Bureau. Ministry. Bureau at the ministry.");
    assert!(score(&weak2, 5).is_empty(), "{:?}", score(&weak2, 5));
    let weak3 = body(
        "Bureau at the ministry held talks. Bureau. Ministry talks. Bureau at the ministry held talks on policy.",
    );
    assert!(!score(&weak3, 5).is_empty());
    // A strong phrase lifts the weak-word requirement.
    let mixed = body("Bureau discussed tariffs and tariffs.");
    assert!(!score(&mixed, 5).is_empty());
    // Defaults (keys absent) keep the old behaviour.
    let old = one("phrases = [{ weight = 1.0, terms = [\"tariff{,s}\"] }]");
    assert!(!score_old(&old, &body("New tariffs were mentioned.")).is_empty());
    assert!(
        err("[scoring]\nsingle_phrase_min_score = 2.0\n")
            .reason
            .contains("single_phrase_min_score")
    );
}

fn score_old(c: &Compiled, text: &str) -> Vec<Tag> {
    score(c, text, 5, &[], 10, 0.2)
}

#[test]
fn exclusion_lookup_matches_a_scan_of_every_exclusion() {
    let spans = vec![(10, 20), (15, 30), (40, 45), (0, 2), (44, 50)];
    let x = Exclusions::new(spans.clone());
    for start in 0..60 {
        for end in start + 1..62 {
            let scan = spans.iter().any(|&(s, e)| start < e && s < end);
            assert_eq!(x.overlaps(start, end), scan, "{start}..{end}");
        }
    }
    assert!(!Exclusions::new(Vec::new()).overlaps(0, 5));
}

// ----- topic model (issue 13) -----

fn tag_of<'a>(tags: &'a [Tag], id: &str) -> Option<&'a Tag> {
    tags.iter().find(|t| t.id == id)
}

#[test]
fn the_model_gives_a_topic_to_briefs_the_phrases_miss() {
    let rules = TagStage::new(&TagSettings {
        model_enabled: false,
        ..TagSettings::default()
    })
    .unwrap();
    let both = TagStage::new(&TagSettings::default()).unwrap();
    let text = "Ajax 3 PSV 1\n\nBrobbey netted twice at the Johan Cruyff Arena on Sunday.";
    let ents = [("Ajax", "organization"), ("PSV", "organization")];
    assert!(
        !rules
            .tag(text, 12, &ents)
            .iter()
            .any(|t| t.parent.is_none()),
        "the phrases alone find no subject here"
    );
    let tags = both.tag(text, 12, &ents);
    let sport = tag_of(&tags, "medtop:15000000").unwrap_or_else(|| panic!("{tags:?}"));
    assert!(sport.score >= 0.2, "{sport:?}");
    assert!(
        sport.evidence.iter().any(|e| e.starts_with("model:p=")),
        "model evidence: {:?}",
        sport.evidence
    );
    // gibberish: the model knows too few words to say anything
    assert!(both.tag("Lorem ipsum dolor sit amet.", 0, &[]).is_empty());
    // disabled: no model, no version
    assert_eq!(rules.model_version(), None);
    assert!(
        both.model_version()
            .is_some_and(|v| v.starts_with("wiredesk-topics@"))
    );
}

#[test]
fn phrase_tags_keep_their_evidence_and_model_evidence_comes_last() {
    let stage = TagStage::new(&TagSettings::default()).unwrap();
    let tags = stage.tag(
        "Central bank raises interest rates\n\nThe central bank raised its key interest rate to fight inflation.",
        34,
        &[],
    );
    let econ = tag_of(&tags, "medtop:04000000").unwrap_or_else(|| panic!("{tags:?}"));
    assert!(
        !econ.evidence[0].starts_with("model:"),
        "{:?}",
        econ.evidence
    );
    if let Some(i) = econ.evidence.iter().position(|e| e.starts_with("model:")) {
        assert!(
            econ.evidence[i..]
                .iter()
                .all(|e| e.starts_with("model:") || e.starts_with("entity-kind:"))
        );
    }
    let issue =
        tag_of(&tags, "wiredesk-issue:central-banks-rates").unwrap_or_else(|| panic!("{tags:?}"));
    assert!(issue.evidence.iter().all(|e| !e.starts_with("model:")));
}

#[test]
fn organisation_kinds_are_evidence_for_their_subject() {
    let stage = TagStage::new(&TagSettings::default()).unwrap();
    let text = "Late winner settles it\n\nA header in stoppage time decided the match.";
    let tags = stage.tag(text, 22, &[("Manchester United", "organization")]);
    let sport = tag_of(&tags, "medtop:15000000").unwrap_or_else(|| panic!("{tags:?}"));
    assert!(
        sport.evidence.contains(&"entity-kind:sport".to_string()),
        "{:?}",
        sport.evidence
    );
}

#[test]
fn the_model_file_reloads_and_a_corrupt_one_is_refused() {
    let dir = std::env::temp_dir().join(format!("wiredesk-topics-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("topics.wdtm");
    std::fs::write(&file, DEFAULT_MODEL).unwrap();
    let stage = TagStage::new(&TagSettings {
        model: Some(file.clone()),
        ..TagSettings::default()
    })
    .unwrap();
    let before = stage.model_version().unwrap();
    // a model with another version: reload picks it up
    let mut m = model::TopicModel::from_bytes(DEFAULT_MODEL).unwrap();
    m.version = "wiredesk-topics@test-2".into();
    std::fs::write(&file, m.to_bytes()).unwrap();
    stage.reload().unwrap();
    assert_eq!(
        stage.model_version().as_deref(),
        Some("wiredesk-topics@test-2")
    );
    // a corrupt file: refused at reload (old model stays) and at start-up
    let mut bad = m.to_bytes();
    let mid = bad.len() / 2;
    bad[mid] ^= 0xff;
    std::fs::write(&file, &bad).unwrap();
    let e = stage.reload().unwrap_err().to_string();
    assert!(e.contains("checksum") && e.contains("topics.wdtm"), "{e}");
    assert_eq!(
        stage.model_version().as_deref(),
        Some("wiredesk-topics@test-2")
    );
    let e = TagStage::new(&TagSettings {
        model: Some(file.clone()),
        ..TagSettings::default()
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("invalid topic model"), "{e}");
    assert_ne!(before, "wiredesk-topics@test-2");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn model_settings_are_checked() {
    for bad in [
        TagSettings {
            model_threshold: 1.5,
            ..TagSettings::default()
        },
        TagSettings {
            model_weight: -0.1,
            ..TagSettings::default()
        },
        TagSettings {
            model_prior_floor: f64::NAN,
            ..TagSettings::default()
        },
    ] {
        assert!(TagStage::new(&bad).is_err(), "{bad:?}");
    }
}

#[test]
fn the_prior_floor_drops_phrase_subjects_the_model_rules_out() {
    let text = "US and China resume trade talks as tariffs and chip curbs loom\n\nNegotiators from Washington and Beijing met in Geneva for a second round of trade talks, seeking to extend a truce that paused steep tariffs.\n\nThe US delegation pressed Beijing to ease export restrictions on rare earth magnets, while Chinese officials demanded that Washington relax export controls on advanced semiconductors.";
    let with = |floor: f64| {
        TagStage::new(&TagSettings {
            model_prior_floor: floor,
            ..TagSettings::default()
        })
        .unwrap()
        .tag(text, 62, &[])
    };
    // with the floor at 0.99 every phrase-only subject goes; what is left came from the model
    for t in with(0.99).iter().filter(|t| t.parent.is_none()) {
        assert!(t.evidence.iter().any(|e| e.starts_with("model:")), "{t:?}");
    }
    assert!(with(0.99).iter().any(|t| t.parent.is_none()));
    let phrase_only = |tags: &[Tag]| {
        tags.iter()
            .filter(|t| t.parent.is_none() && !t.evidence.iter().any(|e| e.starts_with("model:")))
            .count()
    };
    assert_eq!(phrase_only(&with(0.99)), 0);
    assert!(phrase_only(&with(0.0)) > 0, "{:?}", with(0.0));
}
