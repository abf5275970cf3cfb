//! `wiredesk enrich`: the same pipeline over JSON-lines files or stdin, no broker needed.
//! Enriched records go to stdout (one JSON object per line, input order), rejected lines to
//! stderr or to `--dead-letter FILE`, progress to the terminal, and a one-line summary at the end.
//! The exit status is 0 unless the run itself fails (unreadable file, bad configuration).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::article::Provenance;
use crate::dedupe::{Deduper, DuplicateAction};
use crate::error::Rejection;
use crate::outcome::{self, Decision, Destination, Outcome, Policy};
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
    /// Where duplicates go under `dedupe.action = route` (the duplicates topic of `run`).
    pub duplicates: Option<PathBuf>,
    /// Force the progress bar off (it is shown only when stderr is a terminal anyway).
    pub quiet: bool,
}

/// Run the enrichment; returns the summary (already printed to stderr).
pub async fn run(settings: &Settings, options: Options) -> anyhow::Result<Summary> {
    if settings.dedupe.enabled
        && settings.dedupe.action == DuplicateAction::Route
        && options.duplicates.is_none()
    {
        anyhow::bail!(
            "dedupe.action = \"route\" sends duplicates to their own destination: give `--duplicates FILE` (run sends them to topics.duplicates)"
        );
    }
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

    let stdout = io::stdout();
    let mut writers = Writers {
        out: BufWriter::new(stdout.lock()),
        duplicates: match &options.duplicates {
            Some(path) => Some(BufWriter::new(
                File::create(path).with_context(|| format!("creating {}", path.display()))?,
            )),
            None => None,
        },
        dead_letter: match &options.dead_letter {
            Some(path) => Box::new(BufWriter::new(
                File::create(path).with_context(|| format!("creating {}", path.display()))?,
            )),
            None => Box::new(io::stderr()),
        },
        dead_letter_to_file: options.dead_letter.is_some(),
        stdout_is_terminal,
    };
    let policy = Policy::new(settings);
    let mut summary = Summary::default();
    let started = Instant::now();

    // One batch is processed on the CPU threads while the one before it gets its dedupe
    // decisions and is written: reading, stages and writing overlap.
    let pipeline = Arc::new(pipeline);
    let threads = settings.processing.threads();
    let spawn = |batch: Batch| {
        let pipeline = Arc::clone(&pipeline);
        tokio::task::spawn_blocking(move || {
            let results = process_batch(&pipeline, threads, &batch);
            (batch, results)
        })
    };
    let mut input = Input::new(readers);
    let mut ahead = input.next_batch(&progress)?.map(spawn);
    while let Some(task) = ahead.take() {
        let (batch, results) = task.await.context("an enrich processing task failed")?;
        ahead = input.next_batch(&progress)?.map(spawn);
        for ((line_no, raw), result) in batch.lines.iter().zip(results) {
            summary.lines += 1;
            let outcome = match result {
                Ok(Processed { doc, fingerprint }) => {
                    let decision = match (&deduper, fingerprint) {
                        (Some(deduper), Some(fp)) => {
                            match deduper.decide(&doc.id, &fp, doc.event_time_ms()).await {
                                Ok(result) => Decision::Decided(result),
                                // There is no consumer to pause in file mode: an outage
                                // ends the run (nothing after this line was written).
                                Err(error) if error.is_outage() => {
                                    return Err(anyhow::Error::new(error).context(format!(
                                        "dedupe store unavailable at {}:{line_no}",
                                        batch.name
                                    )));
                                }
                                Err(error) => Decision::Refused(outcome::store_refused(&error)),
                            }
                        }
                        _ => Decision::None,
                    };
                    outcome::decide(Ok(doc), decision, &policy)
                }
                Err(rejection) => Outcome::DeadLetter(rejection),
            };
            if outcome.is_duplicate() {
                summary.duplicates += 1;
            }
            // A record that cannot be serialized is dead-lettered like any rejection.
            let step = match outcome {
                Outcome::Publish { doc, destination } => {
                    outcome::encode(&doc).map(|value| Some((destination, value)))
                }
                Outcome::Drop { .. } => Ok(None),
                Outcome::DeadLetter(rejection) => Err(rejection),
            };
            match step {
                Ok(Some((destination, value))) => {
                    writers.publish(destination, &value)?;
                    summary.enriched += 1;
                }
                Ok(None) => summary.dropped += 1,
                Err(rejection) => writers.reject(
                    &progress,
                    &mut summary,
                    &batch.name,
                    *line_no,
                    raw,
                    &rejection,
                )?,
            }
        }
        progress.set_message(format!(
            "{} enriched, {} rejected",
            summary.enriched, summary.rejected
        ));
    }
    writers.flush()?;
    progress.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "wiredesk enrich: {summary} in {seconds:.2}s ({:.0} lines/s)",
        summary.lines as f64 / seconds.max(1e-9)
    );
    Ok(summary)
}

/// Lines of one input file, read together and processed together.
struct Batch {
    name: Arc<str>,
    /// (line number, line) for each non-blank line.
    lines: Vec<(u64, Vec<u8>)>,
}

/// The file being read: its name, its lines and the number of the last line read.
type Reading = (Arc<str>, io::Split<BufReader<Box<dyn Read>>>, u64);

/// The input files in order, read in batches of up to [`BATCH`] non-blank lines.
struct Input {
    files: std::vec::IntoIter<(PathBuf, Box<dyn Read>)>,
    current: Option<Reading>,
}

impl Input {
    fn new(files: Vec<(PathBuf, Box<dyn Read>)>) -> Self {
        Input {
            files: files.into_iter(),
            current: None,
        }
    }

    /// The next batch, or `None` after the last line of the last file.
    fn next_batch(&mut self, progress: &ProgressBar) -> anyhow::Result<Option<Batch>> {
        loop {
            let Some((name, lines, line_no)) = &mut self.current else {
                let Some((path, reader)) = self.files.next() else {
                    return Ok(None);
                };
                let name: Arc<str> = path.display().to_string().into();
                self.current = Some((name, BufReader::new(reader).split(b'\n'), 0));
                continue;
            };
            let mut batch = Vec::with_capacity(BATCH);
            for line in lines.by_ref() {
                let mut line = line.with_context(|| format!("reading {name}"))?;
                *line_no += 1;
                progress.inc(line.len() as u64 + 1);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                batch.push((*line_no, line));
                if batch.len() == BATCH {
                    break;
                }
            }
            if batch.is_empty() {
                self.current = None; // this file is done
                continue;
            }
            return Ok(Some(Batch {
                name: Arc::clone(name),
                lines: batch,
            }));
        }
    }
}

/// Run one batch on `threads` threads (`processing.worker_threads`), results in input order.
/// Called on a blocking thread: CPU work stays off the async threads.
fn process_batch(
    pipeline: &Pipeline,
    threads: usize,
    batch: &Batch,
) -> Vec<Result<Processed, Rejection>> {
    let lines = &batch.lines;
    let threads = threads.min(lines.len()).max(1);
    let chunk = lines.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = lines
            .chunks(chunk)
            .map(|lines| {
                scope.spawn(move || {
                    lines
                        .iter()
                        .map(|(line, raw)| {
                            pipeline.process(raw, Provenance::line(&batch.name, *line))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("the pipeline catches stage panics"))
            .collect()
    })
}

/// Where `enrich` writes: records to stdout, routed duplicates to `--duplicates`, rejections to
/// `--dead-letter` or stderr.
struct Writers<'a> {
    out: BufWriter<io::StdoutLock<'a>>,
    duplicates: Option<BufWriter<File>>,
    dead_letter: Box<dyn Write>,
    dead_letter_to_file: bool,
    stdout_is_terminal: bool,
}

impl Writers<'_> {
    /// One record, as one JSON line, to its destination.
    fn publish(&mut self, destination: Destination, value: &[u8]) -> anyhow::Result<()> {
        let (sink, what): (&mut dyn Write, _) = match (destination, self.duplicates.as_mut()) {
            (Destination::Duplicates, Some(file)) => (file, "writing to --duplicates"),
            _ => (&mut self.out, "writing to stdout"),
        };
        sink.write_all(value).context(what)?;
        sink.write_all(b"\n").context(what)
    }

    /// One rejected line; on a terminal, after the records before it.
    fn reject(
        &mut self,
        progress: &ProgressBar,
        summary: &mut Summary,
        file: &str,
        line: u64,
        raw: &[u8],
        rejection: &Rejection,
    ) -> anyhow::Result<()> {
        summary.rejected += 1;
        *summary.reasons.entry(rejection.code.as_str()).or_default() += 1;
        if !self.dead_letter_to_file && self.stdout_is_terminal {
            self.out.flush().context("writing to stdout")?;
        }
        let (out, as_json) = (&mut self.dead_letter, self.dead_letter_to_file);
        progress.suspend(|| write_rejection(out.as_mut(), as_json, file, line, raw, rejection))
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        self.out.flush().context("writing to stdout")?;
        if let Some(file) = &mut self.duplicates {
            file.flush().context("writing to --duplicates")?;
        }
        self.dead_letter.flush().context("writing dead letters")
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
