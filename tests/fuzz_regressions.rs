//! Replays, through the same harness the fuzz targets use (`wiredesk::harness`):
//! - every input kept in `fuzz/corpus/<target>/` (the seed corpus, small) and
//!   `fuzz/regressions/<target>/` (inputs that once crashed or hung a target), and
//! - the hostile input classes that once crashed or stalled a worker, generated here at full size.
//!
//! Run: `cargo test --release --test fuzz_regressions` (debug works too, slower). New fuzz
//! findings go into `fuzz/regressions/<target>/` with a name saying what they were.

use std::path::Path;
use std::time::Instant;

use wiredesk::harness::{Target, run};

fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

#[test]
fn corpus_and_regressions_replay_without_a_crash() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut replayed = 0;
    for target in Target::ALL {
        for kind in ["corpus", "regressions"] {
            for file in files(&root.join(kind).join(target.name())) {
                let data = std::fs::read(&file).expect("readable corpus file");
                run(target, &data);
                replayed += 1;
            }
        }
    }
    // The corpus is committed; an empty replay would mean the paths are wrong.
    assert!(
        replayed >= 20,
        "only {replayed} corpus files found under {}",
        root.display()
    );
}

/// The hostile classes from the field, each on every target, each bounded in time. Not a timed
/// assertion about speed: a limit of tens of seconds only catches the quadratic blow-ups
/// (minutes) and the stack overflows (an abort) these inputs used to cause.
#[test]
fn hostile_inputs_do_not_crash_or_stall() {
    let deep_div = format!("{}x{}", "<div>".repeat(20_000), "</div>".repeat(20_000));
    let deep_span = "<span>".repeat(300_000);
    let nested_blocks = "<div><p><blockquote>".repeat(60_000);
    let west_bank = "west bank ".repeat(150_000);
    let unclosed = "<a".repeat(500_000);
    let one_name = "Angela Merkel said. ".repeat(50_000);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("deep div", deep_div.into_bytes()),
        ("deep span", deep_span.into_bytes()),
        ("nested blocks", nested_blocks.into_bytes()),
        ("west bank", west_bank.into_bytes()),
        ("unclosed brackets", unclosed.into_bytes()),
        ("one name repeated", one_name.into_bytes()),
        (
            "doubled multibyte dash",
            "GENEVA \u{2014}\u{2014} Talks resumed on Monday."
                .as_bytes()
                .to_vec(),
        ),
        (
            "dash run",
            "LONDON (Reuters) \u{2013}\u{2014}-\u{2014} x"
                .as_bytes()
                .to_vec(),
        ),
        ("invalid utf-8", vec![0xff, 0xfe, b'{', 0xc3]),
        ("nul bytes", vec![0; 10_000]),
    ];
    for (name, body) in &cases {
        for target in Target::ALL {
            let started = Instant::now();
            run(target, body);
            // As a raw message too (the raw targets see it as the JSON value).
            let article = serde_json::json!({
                "id": name,
                "title": String::from_utf8_lossy(&body[..body.len().min(300)]),
                "body": String::from_utf8_lossy(body),
                "published_at": "9999-12-31T00:00:00Z",
            });
            run(target, article.to_string().as_bytes());
            let took = started.elapsed();
            assert!(took.as_secs() < 60, "{name} on {}: {took:?}", target.name());
        }
    }
}
