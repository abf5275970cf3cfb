//! Records the git revision for `wiredesk_build_info` and `--version`. Outside a git checkout
//! (e.g. a Docker build context without .git) the revision comes from `WIREDESK_GIT_REVISION` or
//! is "unknown".
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=WIREDESK_GIT_REVISION");
    // Only the checked-out branch's ref: watching all of .git/refs/heads rebuilt the crate
    // whenever any other branch moved. Paths come from git itself, so that a linked worktree
    // (where `.git` is a file) works too. A path that does not exist would make cargo rerun this
    // script on every build, so only existing ones are printed, and build.rs itself always is
    // (with no path printed at all, cargo would rerun it whenever any file of the package changed).
    println!("cargo:rerun-if-changed=build.rs");
    let git_path = |path: &str| {
        let out = Command::new("git")
            .args(["rev-parse", "--git-path", path])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    if let Some(head) = git_path("HEAD") {
        let mut watch = vec![head.clone()];
        if let Ok(text) = std::fs::read_to_string(&head)
            && let Some(reference) = text.trim().strip_prefix("ref: ")
        {
            watch.extend(git_path(reference));
            watch.extend(git_path("packed-refs"));
        }
        for path in watch {
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
