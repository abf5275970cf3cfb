//! Records the git revision for `wiredesk_build_info` and `--version`. Outside a git checkout
//! (e.g. a Docker build context without .git) the revision comes from `WIREDESK_GIT_REVISION` or
//! is "unknown".
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=WIREDESK_GIT_REVISION");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
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
