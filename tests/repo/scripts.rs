//! The workshop script's first decision, made on a laptop that has nothing
//! but a container engine: it must hand over to `docker/workshop` before any
//! apt or cargo step. The machine is faked with a `PATH` of a few real tools
//! and stand-ins for `docker`, `apt-get`, `dpkg-query` and `cargo` that log
//! how they were called (docs/containers.md).

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::root;

/// The real tools the scripts use before the hand-over.
const TOOLS: &[&str] = &[
    "bash", "sh", "dirname", "id", "od", "tr", "uname", "cat", "env", "date", "mkdir", "pwd", "printf",
];

/// A laptop: `docker` answers (engine and Compose), and any apt or cargo
/// step is logged and fails.
struct Laptop {
    dir: PathBuf,
}

impl Laptop {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("stocklock-laptop-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let bin = dir.join("bin");
        fs::create_dir_all(&bin).expect("a bin folder");
        for tool in TOOLS {
            let real = ["/usr/bin", "/bin"]
                .iter()
                .map(|d| Path::new(d).join(tool))
                .find(|p| p.exists())
                .unwrap_or_else(|| panic!("{tool} is not installed"));
            symlink(real, bin.join(tool)).expect("a link");
        }
        let log = dir.join("calls.log");
        let fake = |name: &str, status: i32| {
            let script = format!(
                "#!/bin/sh\necho \"{name} $*\" >>'{}'\nexit {status}\n",
                log.display()
            );
            let path = bin.join(name);
            fs::write(&path, script).expect("a fake tool");
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("executable");
        };
        fake("docker", 0);
        for step in ["apt-get", "dpkg-query", "dpkg", "cargo", "sudo"] {
            fake(step, 1);
        }
        Laptop { dir }
    }

    fn workshop(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        Command::new(root().join("loadtest/workshop"))
            .args(args)
            .env_clear()
            .env("PATH", self.dir.join("bin"))
            .env("HOME", &self.dir)
            .env("STOCKLOCK_STATE_DIR", self.dir.join("state"))
            .envs(env.iter().copied())
            .current_dir(&self.dir)
            .output()
            .expect("loadtest/workshop runs")
    }

    fn calls(&self) -> String {
        fs::read_to_string(self.dir.join("calls.log")).unwrap_or_default()
    }
}

impl Drop for Laptop {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn with_an_engine_the_workshop_runs_in_containers_before_any_apt_or_cargo_step() {
    let laptop = Laptop::new("engine");
    let output = laptop.workshop(&["--lesson", "1", "--lang", "zh-CN"], &[]);
    let calls = laptop.calls();
    assert!(output.status.success(), "{}\n{calls}", stderr(&output));
    for step in ["apt-get", "dpkg", "cargo", "sudo"] {
        assert!(
            !calls.lines().any(|l| l.starts_with(step)),
            "{step} was called:\n{calls}"
        );
    }
    assert!(
        calls.contains("docker compose build"),
        "the images are built:\n{calls}"
    );
    assert!(
        calls.contains("docker compose run --rm --service-ports workshop --lesson 1 --lang zh-CN"),
        "the flags reach the workshop in its container:\n{calls}"
    );
    assert!(
        calls.contains("docker compose down"),
        "its containers are removed:\n{calls}"
    );
}

#[test]
fn native_runs_and_the_cluster_lessons_stay_on_this_machine() {
    for args in [
        &["--native"][..],
        &["--lesson", "6"],
        &["--scenario", "partition"],
    ] {
        let laptop = Laptop::new("native");
        let output = laptop.workshop(args, &[]);
        let calls = laptop.calls();
        assert!(!output.status.success(), "{args:?}: the fake apt fails");
        assert!(!calls.contains("docker compose"), "{args:?}:\n{calls}");
        assert!(
            calls.contains("dpkg-query"),
            "{args:?}: the native path looks for packages:\n{calls}"
        );
    }
}

#[test]
fn in_its_container_the_workshop_refuses_the_cluster_lessons_clearly() {
    let laptop = Laptop::new("container");
    for args in [
        &["--lesson", "6"][..],
        &["--lesson", "7"],
        &["--scenario", "failover"],
    ] {
        let output = laptop.workshop(args, &[("STOCKLOCK_IN_CONTAINER", "1")]);
        assert!(!output.status.success(), "{args:?}");
        assert!(
            stderr(&output).contains("runs natively only"),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

/// Every shell script passes shellcheck; those a laptop runs outside a
/// container are checked as plain sh where they are sh.
#[test]
fn the_scripts_pass_shellcheck() {
    let Ok(version) = Command::new("shellcheck").arg("--version").output() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have shellcheck (scripts/test installs it)"
        );
        eprintln!("shellcheck is not installed: skipped");
        return;
    };
    assert!(version.status.success());
    let bash = [
        "loadtest/workshop",
        "loadtest/bench",
        "loadtest/bench-vs-wrk",
        "scripts/lib.sh",
        "scripts/services",
        "scripts/cluster",
        "scripts/test",
        "scripts/test-compose",
        "scripts/test-cluster",
        "scripts/test-ownership",
        "scripts/fuzz-api",
        "scripts/screenshots",
        ".ci/run",
    ];
    let sh = ["docker/workshop", "docker/services"];
    let check = |shell: &str, files: &[&str]| {
        let output = Command::new("shellcheck")
            .args(["--severity=warning", "--external-sources", "--shell", shell])
            .args(files)
            .current_dir(root())
            .output()
            .expect("shellcheck runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stdout)
        );
    };
    check("bash", &bash);
    check("sh", &sh);
}
