//! The real `shipmate` binary: `run` exit codes, `check-config`, `migrate`,
//! and `serve` killed during a cooling-off period then restarted after it.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn shipmate(dir: &Path, port: u16) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shipmate"));
    cmd.current_dir(dir)
        .env(
            "SHIPMATE__DATABASE__URL",
            format!("sqlite://{}/shipmate.db", dir.display()),
        )
        .env("SHIPMATE__HTTP__BIND", format!("127.0.0.1:{port}"))
        .env("SHIPMATE__DELETION__COOLING_OFF__LOW", "3s")
        .env("RUST_LOG", "warn");
    cmd
}

fn run(dir: &Path, user: &str, text: &str) -> Output {
    shipmate(dir, 0)
        .args(["run", "--as", user, "--channel", "#bioinfo", "--"])
        .args(text.split(' '))
        .output()
        .expect("shipmate run")
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `serve` process whose stdout is collected.
struct Served {
    child: Child,
    stdout: Arc<Mutex<String>>,
}

impl Served {
    fn start(dir: &Path, port: u16) -> Self {
        let mut child = shipmate(dir, port)
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve starts");
        let stdout = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stdout.take().expect("stdout");
        let sink = stdout.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "serve did not start listening");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, stdout }
    }

    fn count(&self, needle: &str) -> usize {
        self.stdout.lock().unwrap().matches(needle).count()
    }

    fn wait_for(&self, needle: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.count(needle) > 0 {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    fn kill(mut self) -> String {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
        self.stdout.lock().unwrap().clone()
    }
}

#[test]
fn run_exits_0_on_success_1_when_refused_2_on_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let ok = run(
        dir.path(),
        "alice",
        "/delete-request city-b/run-42 reason:duplicate-run ran twice",
    );
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    assert!(text(&ok.stdout).contains("Filed DR-1"));

    let missing = run(
        dir.path(),
        "alice",
        "/delete-request city-b/run-43 ran twice",
    );
    assert_eq!(missing.status.code(), Some(1));
    let err = text(&missing.stderr);
    assert!(err.contains("missing `reason` (why the data must go): add reason:incorrect-input|duplicate-run|other"), "{err}");
    assert!(
        err.contains("Usage:\n/delete-request [create] <target> reason:"),
        "{err}"
    );

    let refused = run(dir.path(), "alice", "/delete-request approve DR-1");
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stderr).contains("you filed this request"));

    let no_text = shipmate(dir.path(), 0)
        .args(["run", "--as", "alice", "--channel", "#bioinfo"])
        .output()
        .unwrap();
    assert_eq!(no_text.status.code(), Some(2));
    let bad_user = shipmate(dir.path(), 0)
        .args(["run", "--as", "bad user!", "--channel", "#x", "--", "/help"])
        .output()
        .unwrap();
    assert_eq!(bad_user.status.code(), Some(2));
    let bad_config = shipmate(dir.path(), 0)
        .env("SHIPMATE__TIMEZONE", "Mars/Olympus")
        .args(["run", "--as", "alice", "--channel", "#x", "--", "/help"])
        .output()
        .unwrap();
    assert_eq!(bad_config.status.code(), Some(2));
    assert!(text(&bad_config.stderr).contains("timezone: unknown time zone `Mars/Olympus`"));
}

#[test]
fn check_config_names_every_problem_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        r#"timezone = "Nowhere/City"
[roles]
wizard = ["console:merlin"]
"Wizard!" = ["console:merlin"]
qa = ["teams:someone"]
[deletion]
channels = ["bioinfo"]
approver_role = "stewards"
[deletion.cooling_off]
medium = "a week"
[sms]
reminder_cron = "at ten"
"#,
    )
    .unwrap();
    let out = shipmate(dir.path(), 0)
        .args(["check-config", "--config", "bad.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report = text(&out.stdout);
    for key in [
        "timezone:",
        "roles.Wizard!:",
        "deletion.approver_role: unknown role `stewards`",
        "roles.qa[0]:",
        "deletion.channels[0]:",
        "deletion.cooling_off.medium:",
        "sms.reminder_cron:",
    ] {
        assert!(report.contains(key), "{key} not reported in:\n{report}");
    }
    // roles are data: a well-formed new role is no problem
    assert!(!report.contains("roles.wizard:"), "{report}");
    let fine = shipmate(dir.path(), 0)
        .arg("check-config")
        .output()
        .unwrap();
    assert_eq!(fine.status.code(), Some(0), "{}", text(&fine.stdout));
}

#[test]
fn check_config_reports_five_different_mistakes_at_once_with_fixes() {
    // a type error and an unknown key in core tables, a misspelt section,
    // a misspelt key and a type error in feature sections
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        r#"[http]
max_body_bytes = "big"
[scheduler]
tick = "fast"
[delettion]
channels = ["console:#bioinfo"]
[freeze]
remind_befor = "3d"
[downtime]
manager_role = ["release-manager", "devops"]
"#,
    )
    .unwrap();
    let out = shipmate(dir.path(), 0)
        .args(["check-config", "--config", "bad.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report = text(&out.stdout);
    for line in [
        "http.max_body_bytes: string \"big\" is not a whole number: write e.g. max_body_bytes = 1048576 (the default)",
        "scheduler.tick: unknown key `tick` (the keys here are max_attempts, retry_base)",
        "delettion: unknown section [delettion]: did you mean [deletion]?",
        "freeze.remind_befor: unknown key `remind_befor`: did you mean `remind_before`?",
        "downtime.manager_role: sequence is not a string: write e.g. manager_role = \"release-manager\" (the default)",
    ] {
        assert!(report.contains(line), "{line}\nnot reported in:\n{report}");
    }
    assert_eq!(report.lines().count(), 5, "{report}");
    assert!(text(&out.stderr).contains("5 problems found"));
}

#[test]
fn check_config_names_a_mistake_inside_an_array_of_tables_by_its_element() {
    // the first route lacks its environment, the second misspells a key
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("routes.toml"),
        r#"[[pipelines.routes]]
source = "generic"
pipeline = "nightly"
[[pipelines.routes]]
source = "github"
environment = "production"
chanels = ["console:#deploys"]
"#,
    )
    .unwrap();
    let out = shipmate(dir.path(), 0)
        .args(["check-config", "--config", "routes.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report = text(&out.stdout);
    assert_eq!(
        report.lines().collect::<Vec<_>>(),
        [
            "pipelines.routes[0].environment: missing: this key is required",
            "pipelines.routes[1].chanels: unknown key `chanels`: did you mean `channels`? (the keys here are source, repository, pipeline, branch, environment, channels, oncall, target)",
        ],
        "{report}"
    );
}

#[test]
fn check_config_checks_a_deploy_targets_release_gate_and_warns_of_missing_credentials() {
    // one target names a runbook that does not exist, one a gate its runbook
    // lacks; the third is valid but GitHub has no token
    let dir = tempfile::tempdir().unwrap();
    let target = |name: &str, requires: &str| {
        format!(
            "[[deploy.targets]]\nname = \"{name}\"\nenvironment = \"production\"\nprovider = \"github\"\nrepository = \"acme/portal\"\nworkflow = \"deploy.yml\"\nrequires = \"{requires}\"\n"
        )
    };
    let gates = [
        target("a", "nosuch:gate"),
        "inputs = { version = \"{reff}\" }\n".to_string(),
        target("b", "portal-release:qa"),
    ]
    .concat();
    std::fs::write(dir.path().join("gates.toml"), gates).unwrap();
    std::fs::write(
        dir.path().join("token.toml"),
        target("c", "portal-release:validation"),
    )
    .unwrap();

    let refused = shipmate(dir.path(), 0)
        .args(["check-config", "--config", "gates.toml"])
        .output()
        .unwrap();
    let warned = shipmate(dir.path(), 0)
        .args(["check-config", "--config", "token.toml"])
        .output()
        .unwrap();

    assert_eq!(refused.status.code(), Some(1));
    let report = text(&refused.stdout);
    for line in [
        "deploy.targets[0].requires: `nosuch:gate` names no runbook: the runbooks are demo-upgrade, portal-release, rollout (see releases.runbooks_dir)",
        "deploy.targets[1].requires: `portal-release` has no gate `qa`: its gates are validation",
        "deploy.targets[0].inputs.version: `{reff}` is not a placeholder: use {ref}, {commit}, {request}",
    ] {
        assert!(report.contains(line), "{line}\nnot reported in:\n{report}");
    }
    assert_eq!(warned.status.code(), Some(0));
    assert_eq!(
        text(&warned.stdout),
        "warning: deploy.targets[0].provider: `c` deploys through github, but github.token (SHIPMATE__GITHUB__TOKEN) is not set: every /deploy of it will be refused until it is\nconfiguration is valid, with 1 warning\n"
    );
}

#[test]
fn check_config_warns_when_chat_is_on_but_a_feature_only_reaches_the_console() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("chat.toml"),
        r#"[slack]
enabled = true
bot_token = "xoxb-test"
signing_secret = "s3cret"
[deletion]
channels = ["slack:C0123456789"]
"#,
    )
    .unwrap();
    let out = shipmate(dir.path(), 0)
        .args(["check-config", "--config", "chat.toml"])
        .output()
        .unwrap();
    let report = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert!(
        report.contains("warning: freeze.channels: every channel here is a console channel, so Slack users will not see these notices"),
        "{report}"
    );
    assert!(!report.contains("deletion.channels"), "{report}");
    assert!(report.contains("configuration is valid, with"), "{report}");
}

#[test]
fn migrate_creates_the_database_with_its_tables() {
    let dir = tempfile::tempdir().unwrap();
    let out = shipmate(dir.path(), 0).arg("migrate").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(dir.path().join("shipmate.db").exists());
}

#[test]
fn serve_killed_during_cooling_off_announces_ready_exactly_once_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    assert_eq!(
        run(
            dir.path(),
            "alice",
            "/delete-request city-b/run-9 reason:other not needed"
        )
        .status
        .code(),
        Some(0)
    );

    let first = Served::start(dir.path(), port);
    assert!(
        first.wait_for("deletion requested by @alice", Duration::from_secs(5)),
        "card delivered"
    );
    // approve while serve runs: the job written by another process is picked up
    let approved = Instant::now();
    assert_eq!(
        run(dir.path(), "steward", "/delete-request approve DR-1")
            .status
            .code(),
        Some(0)
    );
    assert!(first.wait_for("approved: cooling-off until", Duration::from_secs(3)));
    let first_out = first.kill(); // SIGKILL during the 3 s cooling-off
    assert!(!first_out.contains("is ready"), "killed before expiry");

    // stay down past the expiry
    let expiry = approved + Duration::from_secs(3);
    std::thread::sleep(
        expiry.saturating_duration_since(Instant::now()) + Duration::from_millis(800),
    );

    let second = Served::start(dir.path(), port);
    assert!(
        second.wait_for("is ready: cooling-off has ended", Duration::from_secs(5)),
        "ready after restart"
    );
    std::thread::sleep(Duration::from_millis(1500));
    let second_out = second.kill();
    assert_eq!(
        second_out.matches("is ready").count(),
        1,
        "exactly once:\n{second_out}"
    );
    assert_eq!(
        second_out.matches("deletion requested").count(),
        0,
        "nothing delivered twice:\n{second_out}"
    );

    // and a third start sends nothing again
    let third = Served::start(dir.path(), port);
    std::thread::sleep(Duration::from_millis(1500));
    let third_out = third.kill();
    assert!(!third_out.contains("DR-1"), "nothing re-sent:\n{third_out}");
}

#[test]
fn check_config_catches_a_cycle_an_unknown_dependency_and_an_unknown_role_in_a_template() {
    let dir = tempfile::tempdir().unwrap();
    let runbooks = dir.path().join("runbooks");
    std::fs::create_dir(&runbooks).unwrap();
    std::fs::write(
        runbooks.join("hotfix.toml"),
        r#"title = "Hotfix"
[[tasks]]
id = "build"
title = "Build"
owner = "wizard"
offset = 0
[[tasks]]
id = "ship"
title = "Ship"
owner = "devops"
offset = 1
depends_on = ["build", "approve"]
"#,
    )
    .unwrap();
    std::fs::write(
        runbooks.join("loop.toml"),
        r#"title = "Loop"
[[tasks]]
id = "a"
title = "A"
owner = "qa"
offset = 0
depends_on = ["c"]
[[tasks]]
id = "b"
title = "B"
owner = "qa"
offset = 0
depends_on = ["a"]
[[tasks]]
id = "c"
title = "C"
owner = "qa"
kind = "gate"
offset = 0
depends_on = ["b"]
"#,
    )
    .unwrap();
    let out = shipmate(dir.path(), 0)
        .env("SHIPMATE__RELEASES__RUNBOOKS_DIR", &runbooks)
        .arg("check-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report = text(&out.stdout);
    assert!(
        report.contains("runbooks.hotfix.tasks.build.owner: unknown role `wizard`"),
        "{report}"
    );
    assert!(
        report.contains("runbooks.loop.tasks.a.depends_on: dependency cycle: a → c → b → a"),
        "{report}"
    );
    std::fs::write(
        runbooks.join("hotfix.toml"),
        std::fs::read_to_string(runbooks.join("hotfix.toml"))
            .unwrap()
            .replace("wizard", "devops"),
    )
    .unwrap();
    let out = shipmate(dir.path(), 0)
        .env("SHIPMATE__RELEASES__RUNBOOKS_DIR", &runbooks)
        .arg("check-config")
        .output()
        .unwrap();
    let report = text(&out.stdout);
    assert!(
        report.contains("runbooks.hotfix.tasks.ship.depends_on: unknown task `approve`"),
        "{report}"
    );
}
