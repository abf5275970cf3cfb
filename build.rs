//! Records the git revision for `wiredesk_build_info` and `--version`. Outside a git checkout
//! (e.g. a Docker build context without .git) the revision comes from `WIREDESK_GIT_REVISION` or
//! is "unknown".
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=WIREDESK_GIT_REVISION");
    // Only the checked-out branch's ref: watching all of .git/refs/heads rebuilt the crate
    // whenever any other branch moved. The paths come from git itself: in a worktree `.git` is
    // a file and HEAD lives under the main repository's .git/worktrees/<name>/, and a watched
    // path that does not exist makes cargo rerun this script (and rebuild the crate) every time.
    let git_path = |name: &str| -> Option<String> {
        let out = Command::new("git")
            .args(["rev-parse", "--git-path", name])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    if let Some(head_path) = git_path("HEAD")
        && let Ok(head) = std::fs::read_to_string(&head_path)
    {
        println!("cargo:rerun-if-changed={head_path}");
        let reference = head.trim().strip_prefix("ref: ").and_then(git_path);
        // A path that does not exist would make cargo rerun this script on every build.
        for path in reference.into_iter().chain(git_path("packed-refs")) {
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
