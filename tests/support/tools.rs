//! Helpers shared by the offline deployment suites (tests/deploy.rs, tests/helm.rs,
//! tests/alerts.rs): locating the external tools scripts/setup installs, running them, YAML to
//! JSON, kubeconform with offline schemas, and `wiredesk check-config`. A missing tool fails the
//! test with the command that installs it; nothing is skipped.
#![allow(dead_code)] // each suite uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn run(command: &mut Command, what: &str, install_hint: &str) -> Output {
    match command.output() {
        Ok(output) => output,
        Err(error) => panic!("{what}: cannot run it ({error}). Install: {install_hint}"),
    }
}

/// Run `command` with `input` on stdin, in the repository root.
pub fn pipe(command: &mut Command, input: &str, what: &str) -> Output {
    use std::io::Write;
    let mut child = command
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// A Go-built tool: `$WIREDESK_TEST_<NAME>`, else on PATH, else in `$(go env GOPATH)/bin`
/// (where scripts/setup's `go install` puts it).
pub fn go_tool(name: &str, install: &str) -> Command {
    let var = format!("WIREDESK_TEST_{}", name.to_uppercase());
    if let Ok(path) = std::env::var(&var) {
        return Command::new(path);
    }
    let works = |c: &mut Command| {
        c.arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if works(&mut Command::new(name)) || works(Command::new(name).arg("-v")) {
        return Command::new(name);
    }
    let gobin = std::env::var("GOBIN").map(PathBuf::from).ok().or_else(|| {
        let out = Command::new("go").args(["env", "GOPATH"]).output().ok()?;
        Some(PathBuf::from(text(&out.stdout).trim().split(':').next()?.to_owned()).join("bin"))
    });
    if let Some(binary) = gobin.map(|d| d.join(name)).filter(|p| p.is_file()) {
        return Command::new(binary);
    }
    panic!("{name} not found (nor ${var}). Install: {install} (scripts/setup does this)");
}

pub fn yaml_to_json(yaml: &str) -> Vec<Value> {
    let output = pipe(
        Command::new("python3").args(["-c", "import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(sys.stdin) if d]))"]),
        yaml,
        "python3 + pyyaml",
    );
    assert!(
        output.status.success(),
        "YAML -> JSON: {}",
        text(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON from python")
}

pub fn find<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} rendered"))
}

/// kubeconform, strict, offline: built-in kinds against the Kubernetes schemas shipped by the
/// PyPI package kubernetes-validate, custom resources against tests/data/schemas/ (both prepared
/// by tests/data/schemas/kubeconform_schemas.py). Panics with kubeconform's report on any
/// invalid object or any object without a schema.
pub fn kubeconform(what: &str, yaml: &str, objects: &[Value]) {
    let schemas = tempfile::tempdir().unwrap();
    let prepared = pipe(
        Command::new("python3")
            .arg("tests/data/schemas/kubeconform_schemas.py")
            .arg(schemas.path()),
        &serde_json::to_string(objects).unwrap(),
        "kubeconform_schemas.py",
    );
    assert!(
        prepared.status.success(),
        "preparing schemas for {what}: {}",
        text(&prepared.stderr)
    );
    let version = text(&prepared.stdout).trim().to_owned();
    let dir = schemas.path().display();
    let manifest = schemas.path().join("manifest.yaml");
    std::fs::write(&manifest, yaml).unwrap();
    let output = run(
        go_tool(
            "kubeconform",
            "go install github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0",
        )
        .args(["-strict", "-summary", "-kubernetes-version", &version])
        .arg("-schema-location")
        .arg(format!(
            "{dir}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json"
        ))
        .arg("-schema-location")
        .arg(format!(
            "{dir}/{{{{ .Group }}}}_{{{{ .ResourceAPIVersion }}}}_{{{{ .ResourceKind }}}}.json"
        ))
        .arg(&manifest),
        "kubeconform",
        "go install github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0",
    );
    let report = text(&output.stdout);
    assert!(
        output.status.success(),
        "kubeconform {what}:\n{report}{}",
        text(&output.stderr)
    );
    assert!(
        report.contains(&format!("Valid: {}, Invalid: 0, Errors: 0", objects.len())),
        "kubeconform {what}: not every object validated:\n{report}"
    );
}

/// `wiredesk check-config` with a clean environment; `--config` when a TOML text is given.
pub fn check_config(dir: &Path, toml_text: Option<&str>, env: &[(String, String)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wiredesk"));
    command
        .arg("check-config")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    if let Some(t) = toml_text {
        let path = dir.join("wiredesk.toml");
        std::fs::write(&path, t).unwrap();
        command.arg("--config").arg(path);
    }
    command.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    command.output().expect("running wiredesk check-config")
}

/// The container's environment as name → value; secret and field references get stand-ins
/// (`limits.cpu` → "2", a Secret/ConfigMap key → "from-a-secret").
pub fn container_env(container: &Value) -> Vec<(String, String)> {
    container["env"]
        .as_array()
        .map(|env| {
            env.iter()
                .map(|e| {
                    let value = match (&e["value"], &e["valueFrom"]) {
                        (Value::String(v), _) => v.clone(),
                        (_, from) if from.get("resourceFieldRef").is_some() => "2".into(),
                        _ => "from-a-secret".into(),
                    };
                    (e["name"].as_str().unwrap().to_owned(), value)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Variables the container sets that are not configuration keys (read by libraries, not by
/// wiredesk's settings): left out of `check-config`.
pub const NON_CONFIG_ENV: &[&str] = &["WIREDESK_CONFIG", "SSL_CERT_FILE"];

/// The effective configuration of a pod: its TOML (ConfigMap) plus its WIREDESK__* environment,
/// as `wiredesk check-config` prints it (secrets redacted). File-valued keys pointing into the
/// container are given local placeholder files for the check and reported with their container
/// paths again.
pub fn effective_config(what: &str, toml_text: &str, env: &[(String, String)]) -> toml::Table {
    let dir = tempfile::tempdir().unwrap();
    let mut local_to_container = Vec::new();
    let mut table: toml::Table = toml_text
        .parse()
        .unwrap_or_else(|e| panic!("{what}: TOML: {e}"));
    localize_table(dir.path(), "", &mut table, &mut local_to_container);
    let env: Vec<(String, String)> = env
        .iter()
        .filter(|(k, _)| !NON_CONFIG_ENV.contains(&k.as_str()))
        .map(|(k, v)| {
            let key = k.to_lowercase().replace("__", ".");
            match localize(dir.path(), &key, v) {
                Some(local) => {
                    local_to_container.push((local.clone(), v.clone()));
                    (k.clone(), local)
                }
                None => (k.clone(), v.clone()),
            }
        })
        .collect();
    let output = check_config(dir.path(), Some(&toml::to_string(&table).unwrap()), &env);
    assert!(
        output.status.success(),
        "{what}: `wiredesk check-config` rejects the configuration:\n{}",
        text(&output.stderr)
    );
    let mut effective: toml::Table = text(&output.stdout)
        .parse()
        .unwrap_or_else(|e| panic!("{what}: check-config output is not TOML: {e}"));
    restore(&mut effective, &local_to_container);
    effective
}

fn restore(table: &mut toml::Table, local_to_container: &[(String, String)]) {
    for (_, value) in table.iter_mut() {
        match value {
            toml::Value::Table(t) => restore(t, local_to_container),
            toml::Value::String(s) => {
                if let Some((_, original)) = local_to_container.iter().find(|(l, _)| l == s) {
                    *s = original.clone();
                }
            }
            _ => {}
        }
    }
}

fn localize_table(
    dir: &Path,
    prefix: &str,
    table: &mut toml::Table,
    local_to_container: &mut Vec<(String, String)>,
) {
    for (key, value) in table.iter_mut() {
        let path = format!("{prefix}{key}");
        match value {
            toml::Value::Table(t) => {
                localize_table(dir, &format!("{path}."), t, local_to_container)
            }
            toml::Value::String(s) => {
                if let Some(local) = localize(dir, &path, s) {
                    local_to_container.push((local.clone(), s.clone()));
                    *s = local;
                }
            }
            _ => {}
        }
    }
}

/// File-valued keys point into the container (mounted Secrets); give them real local files.
pub fn localize(dir: &Path, key: &str, value: &str) -> Option<String> {
    let is_file_key = key.ends_with("_location") || key.ends_with("_file");
    (is_file_key && value.starts_with('/')).then(|| {
        let local = dir.join(key.replace('.', "_"));
        std::fs::write(&local, "placeholder\n").unwrap();
        local.display().to_string()
    })
}

/// Run `promtool ARGS` (`$WIREDESK_TEST_PROMTOOL`, exported by scripts/test, else `promtool` on
/// PATH) and panic with its output unless it succeeds.
pub fn promtool(args: &[&str]) -> Output {
    let binary = std::env::var("WIREDESK_TEST_PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let output = run(
        Command::new(&binary).args(args),
        "promtool",
        "apt-get install prometheus (scripts/setup does this), or set WIREDESK_TEST_PROMTOOL",
    );
    assert!(
        output.status.success(),
        "promtool {} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        args.join(" "),
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    output
}
