//! A real SMTP server on loopback for the mail tests: the `mailin` crate's
//! SMTP protocol state machine (greeting, EHLO, AUTH PLAIN, MAIL, RCPT,
//! DATA with dot-unstuffing, QUIT) behind a small tokio accept loop. Each
//! accepted mail is kept as its raw bytes; a script decides how the server
//! answers the end of each mail's DATA: accept (250), busy (451), refuse
//! (550), or accept and never answer (the client cannot know it arrived).
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailin::{Action, AuthMechanism, Handler, Response, SessionBuilder, response};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

pub const USER: &str = "shipmate";
pub const PASSWORD: &str = "relay-password-0123";

/// How the server answers the end of one mail's DATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Accept,
    /// 451: try again later.
    Busy,
    /// 550: never.
    Refuse,
    /// The mail is kept, and no answer ever comes.
    AcceptAndHang,
}

/// The `To` addresses of a parsed mail.
pub fn recipients(m: &mail_parser::Message) -> Vec<String> {
    m.to()
        .map(|a| {
            a.iter()
                .filter_map(|a| a.address())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// One mail the server took.
#[derive(Debug, Clone)]
pub struct Received {
    pub envelope_from: String,
    pub envelope_to: Vec<String>,
    pub raw: Vec<u8>,
}

#[derive(Default)]
struct State {
    mails: Vec<Received>,
    script: VecDeque<Answer>,
    /// Every DATA end seen, with the answer given.
    answered: Vec<Answer>,
    refused_logins: usize,
}

/// The running server.
#[derive(Clone)]
pub struct MailServer {
    pub port: u16,
    state: Arc<Mutex<State>>,
    accepted: Arc<tokio::sync::Notify>,
}

impl MailServer {
    /// Starts the server on 127.0.0.1, port chosen by the system.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = Self {
            port,
            state: Arc::default(),
            accepted: Arc::default(),
        };
        let s = server.clone();
        tokio::spawn(async move {
            while let Ok((socket, peer)) = listener.accept().await {
                tokio::spawn(s.clone().session(socket, peer.ip()));
            }
        });
        server
    }

    /// The app's `[mail]` settings pointing at this server, authenticated.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            (
                "SHIPMATE__MAIL__URL",
                format!("smtp://127.0.0.1:{}", self.port),
            ),
            (
                "SHIPMATE__MAIL__FROM",
                "Shipmate <shipmate@ops.example>".into(),
            ),
            ("SHIPMATE__MAIL__USERNAME", USER.into()),
            ("SHIPMATE__MAIL__PASSWORD", PASSWORD.into()),
            (
                "SHIPMATE__MAIL__PUBLIC_URL",
                "https://shipmate.example.com".into(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The answers to give, in order, before accepting again.
    pub fn script(&self, answers: &[Answer]) {
        self.state.lock().unwrap().script.extend(answers);
    }

    pub fn mails(&self) -> Vec<Received> {
        self.state.lock().unwrap().mails.clone()
    }

    pub fn answered(&self) -> Vec<Answer> {
        self.state.lock().unwrap().answered.clone()
    }

    pub fn refused_logins(&self) -> usize {
        self.state.lock().unwrap().refused_logins
    }

    /// Waits (at most 20 s) until the server has taken `n` mails in all.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let notified = self.accepted.notified();
            let mails = self.mails();
            if mails.len() >= n {
                return mails;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("the mail server has {} mails, not {n}", mails.len());
            }
        }
    }

    async fn session(self, socket: tokio::net::TcpStream, ip: IpAddr) {
        let mut builder = SessionBuilder::new("mx.test.example");
        // no TLS on loopback: AUTH is offered in plain text (tests only)
        builder
            .enable_auth(AuthMechanism::Plain)
            .insecure_enable_plaintext_auth();
        // mailin keeps the handler to itself: the loop reads this flag
        let hang = Arc::new(AtomicBool::new(false));
        let refused = Arc::new(AtomicBool::new(false));
        let handler = Session {
            server: self.clone(),
            from: String::new(),
            to: Vec::new(),
            data: Vec::new(),
            authenticated: false,
            hang: hang.clone(),
            refused: refused.clone(),
        };
        let mut session = builder.build(ip, handler);
        let (read, mut write) = socket.into_split();
        let mut read = BufReader::new(read);
        let greeting = session.greeting().buffer().unwrap_or_default();
        if write.write_all(&greeting).await.is_err() {
            return;
        }
        let mut line = Vec::new();
        loop {
            line.clear();
            match read.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let reply = session.process(&line);
            if hang.load(Ordering::SeqCst) {
                // kept, never answered: the client waits until it gives up or dies
                std::future::pending::<()>().await;
            }
            // mailin stays in its DATA state after refusing a mail, so the
            // client's next command would be read as mail text: the server
            // ends the connection after such a refusal instead (clients
            // reconnect for the next mail)
            let refused_mail = reply.is_error && refused.swap(false, Ordering::SeqCst);
            match reply.action {
                _ if refused_mail => {
                    let _ = write.write_all(&reply.buffer().unwrap_or_default()).await;
                    return;
                }
                Action::NoReply => {}
                Action::Reply | Action::UpgradeTls => {
                    let bytes = reply.buffer().unwrap_or_default();
                    if write.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                Action::Close => {
                    let _ = write.write_all(&reply.buffer().unwrap_or_default()).await;
                    return;
                }
            }
        }
    }
}

/// One connection's handler.
struct Session {
    server: MailServer,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
    authenticated: bool,
    hang: Arc<AtomicBool>,
    refused: Arc<AtomicBool>,
}

impl Handler for Session {
    fn mail(&mut self, _ip: IpAddr, _domain: &str, from: &str) -> Response {
        if !self.authenticated {
            return response::AUTHENTICATION_REQUIRED;
        }
        self.from = from.to_string();
        self.to.clear();
        self.data.clear();
        response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        self.to.push(to.to_string());
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let mut state = self.server.state.lock().unwrap();
        let answer = state.script.pop_front().unwrap_or(Answer::Accept);
        state.answered.push(answer);
        let mail = Received {
            envelope_from: self.from.clone(),
            envelope_to: self.to.clone(),
            raw: std::mem::take(&mut self.data),
        };
        match answer {
            Answer::Accept | Answer::AcceptAndHang => {
                state.mails.push(mail);
                drop(state);
                self.server.accepted.notify_waiters();
                self.hang
                    .store(answer == Answer::AcceptAndHang, Ordering::SeqCst);
                response::OK
            }
            Answer::Busy => {
                self.refused.store(true, Ordering::SeqCst);
                Response::custom(451, "4.3.0 Try again later".into())
            }
            Answer::Refuse => {
                self.refused.store(true, Ordering::SeqCst);
                Response::custom(550, "5.1.1 Mailbox unavailable".into())
            }
        }
    }

    fn auth_plain(&mut self, _authz: &str, user: &str, password: &str) -> Response {
        if user == USER && password == PASSWORD {
            self.authenticated = true;
            response::AUTH_OK
        } else {
            self.server.state.lock().unwrap().refused_logins += 1;
            response::INVALID_CREDENTIALS
        }
    }
}
