//! Secure connections (deployment issue): the worker binary talks to a real Apache Kafka broker
//! over SASL_SSL — SCRAM-SHA-512 and SCRAM-SHA-256, TLS with a test CA, an optional client
//! certificate with an encrypted key, host-name verification on — and fails visibly with a wrong
//! password or an untrusted CA.
//!
//! The test starts its OWN broker with `scripts/kafka-local` on other ports and another state dir
//! (the main test broker on 9092 stays plaintext and untouched):
//! - `PLAINTEXT://127.0.0.1:19092` — only the test harness uses it, to create topics and to
//!   produce/read records; the worker never does.
//! - `SASL_SSL://127.0.0.1:19094` — the worker's listener: PEM keystore/truststore,
//!   `ssl.client.auth=requested` (a client certificate is verified when presented).
//! - controller on 19093.
//!
//! Ports move with `WIREDESK_TEST_TLS_KAFKA_PORT` (plaintext; controller = +1, SASL_SSL = +2).
//! The CA, certificates and SCRAM passwords are made fresh in a temp dir by the `openssl` CLI on
//! each run; nothing secret is in the repository. SCRAM users are created at storage-format time
//! (`KAFKA_FORMAT_ARGS="--add-scram ..."`), so they exist before the broker serves a request.
//!
//! Everything runs in ONE `#[test]`: libtest has no suite teardown, and the broker must be stopped
//! even when an assertion fails — `SecureBroker`'s `Drop` does that while the panic unwinds. The
//! scenarios run in parallel threads on that broker (own topics and groups each) to stay well
//! under two minutes.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::tls::Pki;
use common::{
    Input, Topics, article, consume_until, free_port, http_get, produce, unique, wait_until,
};
use rdkafka::message::Message;

const USER_512: &str = "wiredesk";
const USER_256: &str = "wiredesk256";

/// The second broker. Stopped (and its state dir removed) on drop, also while a failed
/// assertion unwinds.
struct SecureBroker {
    env: Vec<(&'static str, String)>,
    /// For the harness only (topic creation, producing inputs, reading outputs).
    plaintext: String,
    /// What the worker connects to.
    sasl_ssl: String,
    password_512: String,
    password_256: String,
}

impl SecureBroker {
    fn start(pki: &Pki) -> SecureBroker {
        let port: u16 = std::env::var("WIREDESK_TEST_TLS_KAFKA_PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(19092);
        let (controller, secure) = (port + 1, port + 2);
        let password_512 = unique("p512");
        let password_256 = unique("p256");
        let q = |p: &Path| p.display().to_string();
        let properties = format!(
            "listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller},SASL_SSL://127.0.0.1:{secure}\n\
             advertised.listeners=PLAINTEXT://127.0.0.1:{port},SASL_SSL://127.0.0.1:{secure}\n\
             sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256\n\
             listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;\n\
             listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;\n\
             listener.name.sasl_ssl.ssl.keystore.type=PEM\n\
             listener.name.sasl_ssl.ssl.keystore.location={}\n\
             listener.name.sasl_ssl.ssl.truststore.type=PEM\n\
             listener.name.sasl_ssl.ssl.truststore.location={}\n\
             listener.name.sasl_ssl.ssl.client.auth=requested\n",
            q(&pki.path("server.pem")),
            q(&pki.path("ca.crt")),
        );
        let properties_file = pki.path("broker-extra.properties");
        std::fs::write(&properties_file, properties).unwrap();
        let env = vec![
            ("KAFKA_PORT", port.to_string()),
            ("KAFKA_CONTROLLER_PORT", controller.to_string()),
            ("KAFKA_STATE_DIR", format!("/tmp/wiredesk-kafka-tls-{port}")),
            ("KAFKA_EXTRA_PROPERTIES", q(&properties_file)),
            (
                "KAFKA_FORMAT_ARGS",
                format!(
                    "--add-scram SCRAM-SHA-512=[name={USER_512},password={password_512}] --add-scram SCRAM-SHA-256=[name={USER_256},password={password_256}]"
                ),
            ),
        ];
        let broker = SecureBroker {
            env,
            plaintext: format!("127.0.0.1:{port}"),
            sasl_ssl: format!("127.0.0.1:{secure}"),
            password_512,
            password_256,
        };
        // A broker left over from a killed run has an old CA and old users: replace it.
        broker.script("stop");
        let output = broker.script("start");
        assert!(
            output.status.success(),
            "scripts/kafka-local start (SASL_SSL broker on {}) failed:\n{}",
            broker.sasl_ssl,
            String::from_utf8_lossy(&output.stderr)
        );
        broker
    }

    fn script(&self, verb: &str) -> std::process::Output {
        Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/kafka-local"))
            .arg(verb)
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .output()
            .expect("running scripts/kafka-local")
    }
}

impl Drop for SecureBroker {
    fn drop(&mut self) {
        let output = self.script("stop");
        if !output.status.success() {
            eprintln!(
                "stopping the SASL_SSL broker failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

/// `wiredesk run` with its stderr (JSON logs) captured to a file, so the tests can assert on
/// what an operator would see.
struct LoggedWorker {
    child: Child,
    http_port: u16,
    log: PathBuf,
}

impl LoggedWorker {
    fn start(
        log_dir: &Path,
        name: &str,
        topics: &Topics,
        env: &[(String, String)],
    ) -> LoggedWorker {
        let http_port = free_port();
        let log = log_dir.join(format!("{name}.log"));
        let mut command = common::worker_command(topics, http_port);
        command
            .env("RUST_LOG", "warn,wiredesk=info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("worker log file"));
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().expect("spawning the wiredesk binary");
        LoggedWorker {
            child,
            http_port,
            log,
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn ready(&self) -> bool {
        matches!(http_get(self.http_port, "/readyz"), Some((200, _)))
    }

    /// Wait for the log to contain `needle` (case-insensitive); fail with the log otherwise.
    fn wait_for_log(&mut self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if self
                .log_text()
                .to_lowercase()
                .contains(&needle.to_lowercase())
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no log line containing {needle:?} within {timeout:?}; log:\n{}",
                tail(&self.log_text())
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn sigterm(&mut self) -> std::process::ExitStatus {
        common::sigterm_and_wait(&mut self.child, Duration::from_secs(30))
    }
}

impl Drop for LoggedWorker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(25)..].join("\n")
}

/// Settings for SASL_SSL with the test CA; `extra` adds or overrides.
fn secure_env(
    broker: &SecureBroker,
    pki: &Pki,
    mechanism: &str,
    user: &str,
    extra: &[(&str, String)],
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("WIREDESK__KAFKA__BROKERS", broker.sasl_ssl.clone()),
        ("WIREDESK__KAFKA__SECURITY_PROTOCOL", "sasl_ssl".into()),
        ("WIREDESK__KAFKA__SASL_MECHANISM", mechanism.into()),
        ("WIREDESK__KAFKA__SASL_USERNAME", user.into()),
        (
            "WIREDESK__KAFKA__SSL_CA_LOCATION",
            pki.path("ca.crt").display().to_string(),
        ),
        // Explicit: the default is on, and it must stay on against a correctly named broker.
        (
            "WIREDESK__KAFKA__SSL_ENDPOINT_IDENTIFICATION",
            "true".into(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (key, value) in extra {
        env.retain(|(k, _)| k != key);
        env.push((key.to_string(), value.clone()));
    }
    env
}

/// Produce a few articles, run the worker over SASL_SSL, and read them back enriched.
fn processes_articles(
    broker: &SecureBroker,
    log_dir: &Path,
    name: &str,
    env: Vec<(String, String)>,
) {
    let topics = Topics::create(&broker.plaintext, name, 2, 1);
    let inputs: Vec<Input> = (0..5)
        .map(|i| Input::json(&format!("k{i}"), article(&format!("{name}-{i}"), i)))
        .collect();
    produce(&broker.plaintext, &topics.input, &inputs);
    let mut worker = LoggedWorker::start(log_dir, name, &topics, &env);
    let out = consume_until(
        &broker.plaintext,
        &topics.output,
        Duration::from_secs(60),
        |m| m.len() >= 5,
    );
    let mut ids: Vec<String> = out
        .iter()
        .map(|m| {
            let v: serde_json::Value =
                serde_json::from_slice(m.payload().expect("payload")).expect("JSON output");
            v["id"].as_str().expect("id").to_owned()
        })
        .collect();
    ids.sort();
    let expected: Vec<String> = (0..5).map(|i| format!("{name}-{i}")).collect();
    assert_eq!(
        ids,
        expected,
        "{name}: every article enriched over SASL_SSL; worker log:\n{}",
        tail(&worker.log_text())
    );
    wait_until(
        Duration::from_secs(20),
        "worker /readyz over SASL_SSL",
        || worker.ready(),
    );
    let status = worker.sigterm();
    assert!(
        status.success(),
        "{name}: clean exit after SIGTERM, got {status}; log:\n{}",
        tail(&worker.log_text())
    );
    let log = worker.log_text();
    for secret in [&broker.password_512, &broker.password_256] {
        assert!(
            !log.contains(secret.as_str()),
            "{name}: a SASL password appears in the log"
        );
    }
}

/// A misconfigured worker never becomes ready and says why in its log, without leaking secrets.
fn refuses(
    broker: &SecureBroker,
    log_dir: &Path,
    name: &str,
    env: Vec<(String, String)>,
    expect_in_log: &[&str],
    secret: &str,
) {
    let topics = Topics::create(&broker.plaintext, name, 1, 1);
    let mut worker = LoggedWorker::start(log_dir, name, &topics, &env);
    for needle in expect_in_log {
        worker.wait_for_log(needle, Duration::from_secs(45));
    }
    // Give it the time a healthy worker needs to become ready (statistics every second): it must
    // not, and it must still be running (retrying), not silently gone.
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        assert!(
            !worker.ready(),
            "{name}: /readyz must not be 200 with broken credentials/trust"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    match http_get(worker.http_port, "/readyz") {
        Some((503, body)) => assert!(!body.trim().is_empty(), "{name}: /readyz explains itself"),
        other => panic!("{name}: expected /readyz 503, got {other:?}"),
    }
    let log = worker.log_text();
    assert!(
        !log.contains(secret),
        "{name}: the password appears in the log"
    );
    // Stop is still clean: an operator fixing the Secret rolls the pod.
    let status = worker.sigterm();
    assert!(
        status.code().is_some(),
        "{name}: exits on SIGTERM while retrying ({status})"
    );
}

#[test]
fn sasl_ssl_connections_work_and_misconfigurations_fail_clearly() {
    let started = Instant::now();
    let pki = Pki::generate();
    let broker = SecureBroker::start(&pki);
    let logs = tempfile::tempdir().unwrap();
    let logs = logs.path();
    let wrong = unique("wrong");

    let password_file = pki.path("sasl-password");
    std::fs::write(&password_file, format!("{}\n", broker.password_256)).unwrap();

    type Scenario<'a> = (&'static str, Box<dyn FnOnce() + Send + 'a>);
    let scenarios: Vec<Scenario> = vec![
        (
            // SCRAM-SHA-512, password from the environment (a Kubernetes secretKeyRef), mutual TLS
            // with an encrypted client key.
            "scram512-mtls",
            Box::new(|| {
                let env = secure_env(
                    &broker,
                    &pki,
                    "SCRAM-SHA-512",
                    USER_512,
                    &[
                        (
                            "WIREDESK__KAFKA__SASL_PASSWORD",
                            broker.password_512.clone(),
                        ),
                        (
                            "WIREDESK__KAFKA__SSL_CERTIFICATE_LOCATION",
                            pki.path("client.crt").display().to_string(),
                        ),
                        (
                            "WIREDESK__KAFKA__SSL_KEY_LOCATION",
                            pki.path("client.key").display().to_string(),
                        ),
                        (
                            "WIREDESK__KAFKA__SSL_KEY_PASSWORD",
                            pki.key_password.clone(),
                        ),
                    ],
                );
                processes_articles(&broker, logs, "tls-scram512", env);
            }),
        ),
        (
            // SCRAM-SHA-256, password from a file (a mounted Secret), server-authenticated TLS only.
            "scram256-password-file",
            Box::new(|| {
                let env = secure_env(
                    &broker,
                    &pki,
                    "SCRAM-SHA-256",
                    USER_256,
                    &[(
                        "WIREDESK__KAFKA__SASL_PASSWORD_FILE",
                        password_file.display().to_string(),
                    )],
                );
                processes_articles(&broker, logs, "tls-scram256", env);
            }),
        ),
        (
            "wrong-password",
            Box::new(|| {
                let env = secure_env(
                    &broker,
                    &pki,
                    "SCRAM-SHA-512",
                    USER_512,
                    &[("WIREDESK__KAFKA__SASL_PASSWORD", wrong.clone())],
                );
                refuses(
                    &broker,
                    logs,
                    "tls-wrong-password",
                    env,
                    &["Authentication failed", "invalid credentials"],
                    &wrong,
                );
            }),
        ),
        (
            "untrusted-ca",
            Box::new(|| {
                let env = secure_env(
                    &broker,
                    &pki,
                    "SCRAM-SHA-512",
                    USER_512,
                    &[
                        (
                            "WIREDESK__KAFKA__SASL_PASSWORD",
                            broker.password_512.clone(),
                        ),
                        (
                            "WIREDESK__KAFKA__SSL_CA_LOCATION",
                            pki.path("other-ca.crt").display().to_string(),
                        ),
                    ],
                );
                refuses(
                    &broker,
                    logs,
                    "tls-untrusted-ca",
                    env,
                    &["certificate verify failed", "SSL_HANDSHAKE"],
                    &broker.password_512,
                );
            }),
        ),
    ];

    // Run all scenarios, then report every failure (not just the first).
    let failures: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = scenarios
            .into_iter()
            .map(|(name, f)| (name, scope.spawn(f)))
            .collect();
        handles
            .into_iter()
            .filter_map(|(name, handle)| {
                handle.join().err().map(|panic| {
                    let why = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "panic".into());
                    format!("[{name}] {why}")
                })
            })
            .collect()
    });
    drop(broker);
    assert!(
        failures.is_empty(),
        "{} scenario(s) failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    eprintln!("kafka_tls: all scenarios passed in {:?}", started.elapsed());
}
