//! `wiredesk enrich`: the same pipeline over JSON-lines files or stdin, no broker needed.
//! Enriched records go to stdout (one JSON object per line, input order), rejected lines to
//! stderr or to `--dead-letter FILE`, progress to the terminal, and a one-line summary at the end.
//! The exit status is 0 unless the run itself fails (unreadable file, bad configuration).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::article::Provenance;
use crate::dedupe::{DedupeStatus, Deduper, DuplicateAction};
use crate::error::Rejection;
use crate::settings::Settings;
use crate::stage::{Pipeline, Processed};

/// Lines handed to the worker threads at once; big enough to amortize thread hand-off, small
/// enough that progress stays smooth.
const BATCH: usize = 256;

/// Counts for the summary line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub lines: u64,
    pub enriched: u64,
    pub duplicates: u64,
    pub dropped: u64,
    pub rejected: u64,
    pub reasons: BTreeMap<&'static str, u64>,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} lines: {} enriched, {} duplicates ({} dropped), {} rejected",
            self.lines, self.enriched, self.duplicates, self.dropped, self.rejected
        )?;
        if !self.reasons.is_empty() {
            let reasons: Vec<String> = self
                .reasons
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            write!(f, " ({})", reasons.join(", "))?;
        }
        Ok(())
    }
}

pub struct Options {
    pub files: Vec<PathBuf>,
    pub dead_letter: Option<PathBuf>,
    /// Force the progress bar off (it is shown only when stderr is a terminal anyway).
    pub quiet: bool,
}

/// Run the enrichment; returns the summary (already printed to stderr).
pub async fn run(settings: &Settings, options: Options) -> anyhow::Result<Summary> {
    let pipeline = crate::stage::build(settings, None)?;
    let deduper = if settings.dedupe.enabled {
        Some(
            Deduper::connect(&settings.dedupe)
                .await
                .context("connecting the dedupe store")?,
        )
    } else {
        None
    };
    let inputs: Vec<PathBuf> = if options.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        options.files.clone()
    };
    // Open everything first: an unreadable file fails the run before any output.
    let mut readers = Vec::with_capacity(inputs.len());
    let mut total_bytes = 0u64;
    for path in &inputs {
        if path == Path::new("-") {
            readers.push((path.clone(), Box::new(io::stdin().lock()) as Box<dyn Read>));
        } else {
            let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
            total_bytes += file.metadata().map(|m| m.len()).unwrap_or(0);
            readers.push((path.clone(), Box::new(file) as Box<dyn Read>));
        }
    }
    // Records on a terminal: no bar (it would be drawn over them), and each rejection waits for
    // the records before it to be written (stdout is buffered, stderr is not).
    let stdout_is_terminal = io::stdout().is_terminal();
    let progress = if options.quiet || !io::stderr().is_terminal() || stdout_is_terminal {
        ProgressBar::hidden()
    } else if total_bytes > 0 {
        let bar = ProgressBar::new(total_bytes);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}",
            )
            .expect("a valid progress template"),
        );
        bar
    } else {
        ProgressBar::new_spinner()
    };

    let mut dead_letter: Box<dyn Write> = match &options.dead_letter {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(io::stderr()),
    };
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut summary = Summary::default();
    let started = Instant::now();

    for (path, reader) in readers {
        let name = path.display().to_string();
        let mut lines = BufReader::new(reader).split(b'\n');
        let mut line_no = 0u64;
        loop {
            let mut batch: Vec<(u64, Vec<u8>)> = Vec::with_capacity(BATCH);
            for line in lines.by_ref() {
                let mut line = line.with_context(|| format!("reading {name}"))?;
                line_no += 1;
                progress.inc(line.len() as u64 + 1);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                batch.push((line_no, line));
                if batch.len() == BATCH {
                    break;
                }
            }
            if batch.is_empty() {
                break;
            }
            let results = process_batch(&pipeline, &name, &batch);
            for ((line_no, raw), result) in batch.iter().zip(results) {
                summary.lines += 1;
                match result {
                    Ok(Processed {
                        mut doc,
                        fingerprint,
                    }) => {
                        if let (Some(deduper), Some(fp)) = (&deduper, fingerprint) {
                            let decision = deduper
                                .decide(&doc.id, &fp, doc.event_time_ms())
                                .await
                                .with_context(|| {
                                    format!("dedupe store unavailable at {name}:{line_no}")
                                })?;
                            if decision.status == DedupeStatus::Duplicate {
                                summary.duplicates += 1;
                                if settings.dedupe.action == DuplicateAction::Drop {
                                    summary.dropped += 1;
                                    continue;
                                }
                            }
                            doc.dedupe = Some(decision);
                        }
                        if !settings.output.include_text {
                            doc.text.clear();
                        }
                        serde_json::to_writer(&mut out, &doc).context("writing to stdout")?;
                        out.write_all(b"\n").context("writing to stdout")?;
                        summary.enriched += 1;
                    }
                    Err(rejection) => {
                        summary.rejected += 1;
                        *summary.reasons.entry(rejection.code.as_str()).or_default() += 1;
                        let to_file = options.dead_letter.is_some();
                        if !to_file && stdout_is_terminal {
                            out.flush().context("writing to stdout")?;
                        }
                        progress.suspend(|| {
                            write_rejection(
                                &mut dead_letter,
                                to_file,
                                &name,
                                *line_no,
                                raw,
                                &rejection,
                            )
                        })?;
                    }
                }
            }
            progress.set_message(format!(
                "{} enriched, {} rejected",
                summary.enriched, summary.rejected
            ));
        }
    }
    out.flush().context("writing to stdout")?;
    dead_letter.flush().context("writing dead letters")?;
    progress.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "wiredesk enrich: {summary} in {seconds:.2}s ({:.0} lines/s)",
        summary.lines as f64 / seconds.max(1e-9)
    );
    Ok(summary)
}

/// Run one batch on all cores, results in input order. CPU work stays off the async threads.
fn process_batch(
    pipeline: &Pipeline,
    file: &str,
    batch: &[(u64, Vec<u8>)],
) -> Vec<Result<Processed, Rejection>> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(batch.len())
        .max(1);
    let chunk = batch.len().div_ceil(threads);
    tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            let handles: Vec<_> = batch
                .chunks(chunk)
                .map(|lines| {
                    scope.spawn(move || {
                        lines
                            .iter()
                            .map(|(line, raw)| pipeline.process(raw, provenance(file, *line)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("the pipeline catches stage panics"))
                .collect()
        })
    })
}

fn provenance(file: &str, line: u64) -> Provenance {
    Provenance {
        file: Some(file.to_owned()),
        line: Some(line),
        processed_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        wiredesk_version: env!("CARGO_PKG_VERSION").to_owned(),
        ..Provenance::default()
    }
}

/// To a file: one JSON object per rejected line with the original line. To stderr: one line.
fn write_rejection(
    out: &mut dyn Write,
    as_json: bool,
    file: &str,
    line: u64,
    raw: &[u8],
    rejection: &Rejection,
) -> anyhow::Result<()> {
    if as_json {
        let record = serde_json::json!({
            "file": file,
            "line": line,
            "reason": rejection.code.as_str(),
            "stage": rejection.stage,
            "detail": rejection.detail,
            "input": String::from_utf8_lossy(raw),
        });
        serde_json::to_writer(&mut *out, &record).context("writing dead letters")?;
        out.write_all(b"\n").context("writing dead letters")?;
    } else {
        writeln!(out, "{file}:{line}: rejected: {rejection}").context("writing to stderr")?;
    }
    Ok(())
}
