//! Untrusted text and terminals: control sequences typed into a command are
//! shown, not obeyed, wherever shipmate prints to a terminal (the console
//! channel in `serve`, `shipmate run`'s reply), and logs written to
//! something other than a terminal carry no colour codes.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A justification carrying an OSC window-title sequence, a screen clear
/// and a carriage return that would overwrite the line.
const HOSTILE: &str = "ok\u{1b}]0;pwned\u{7} \u{1b}[2Jcleared \rover";

fn no_controls(out: &str) {
    for c in ['\u{1b}', '\u{7}', '\r'] {
        assert!(!out.contains(c), "{c:?} reached the terminal: {out:?}");
    }
}

#[tokio::test]
async fn the_console_channel_shows_control_sequences_instead_of_obeying_them() {
    let t = common::spawn_app(&[]).await;
    t.ok(
        "alice",
        &format!("/delete-request city-b/run-1 reason:other {HOSTILE}"),
    )
    .await;
    assert!(
        t.wait_console("deletion requested", 1, Duration::from_secs(5))
            .await
    );
    let printed = t.console.contents();
    no_controls(&printed);
    assert!(printed.contains("ok^[]0;pwned^G ^[[2Jcleared"), "{printed}");
}

#[test]
fn run_prints_a_reply_with_control_sequences_made_visible() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_shipmate"))
        .current_dir(dir.path())
        .env(
            "SHIPMATE__DATABASE__URL",
            format!("sqlite://{}/shipmate.db", dir.path().display()),
        )
        .env("RUST_LOG", "warn")
        .args(["run", "--as", "alice", "--channel", "#bioinfo", "--"])
        .arg(format!(
            "/delete-request city-b/run-1{HOSTILE} reason:other not needed"
        ))
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    let reply = format!("{stdout}{stderr}");
    assert!(reply.contains("^[]0;pwned^G"), "{reply}");
    no_controls(&reply);
}

#[test]
fn logs_to_a_pipe_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_shipmate"))
        .current_dir(dir.path())
        .env(
            "SHIPMATE__DATABASE__URL",
            format!("sqlite://{}/shipmate.db", dir.path().display()),
        )
        .env("SHIPMATE__HTTP__BIND", format!("127.0.0.1:{port}"))
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .arg("serve")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "serve did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let stopped = Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    assert_eq!(serve.wait().unwrap().code(), Some(0));
    let mut logs = String::new();
    serve
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(logs.contains("shipmate is serving"), "{logs}");
    assert!(logs.contains("INFO"), "{logs}");
    assert!(!logs.contains('\u{1b}'), "colour codes in {logs:?}");
}
