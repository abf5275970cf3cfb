//! Records the git revision for `wiredesk_build_info` and `--version`. Outside a git checkout
//! (e.g. a Docker build context without .git) the revision comes from `WIREDESK_GIT_REVISION` or
//! is "unknown".
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=WIREDESK_GIT_REVISION");
    // Only the checked-out branch's ref: watching all of .git/refs/heads rebuilt the crate
    // whenever any other branch moved.
    println!("cargo:rerun-if-changed=.git/HEAD");
    if let Ok(head) = std::fs::read_to_string(".git/HEAD")
        && let Some(reference) = head.trim().strip_prefix("ref: ")
    {
        // A path that does not exist would make cargo rerun this script on every build.
        for path in [format!(".git/{reference}"), ".git/packed-refs".to_owned()] {
            if std::path::Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
    let revision = std::env::var("WIREDESK_GIT_REVISION").ok().or_else(|| {
        let out = Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    });
    println!(
        "cargo:rustc-env=WIREDESK_GIT_REVISION={}",
        revision.unwrap_or_else(|| "unknown".into())
    );
}
