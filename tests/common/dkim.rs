//! A DKIM verifier written from RFC 6376 (relaxed/relaxed canonicalization,
//! `rsa-sha256`), independent of the signer shipmate uses (lettre's), and
//! the test key pair whose public half a receiver would read from DNS.

use base64::Engine;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use sha2::{Digest, Sha256};

/// A 1024-bit test key (`openssl genrsa -traditional 1024`): small, so
/// that signing stays fast in debug builds.
pub const PRIVATE_KEY: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIICXQIBAAKBgQC0H8JR9zYBLL9BG1M8VTa6mTh5Mjg4AJh+nVzpwmmqrMsRo1wl\nFJuvY3rmNj4sdpcIy2jJug7cvEy2X9FsmYK5w0pgm3VsvOKHXHQ9B1W3KwAg/QO7\npnezU5rtcp2cWtbG7YFewlvdsNdaq7++Snpbqo37TnqMnU/Ws+waLs4wjQIDAQAB\nAoGAdgJstHjLZ/+iGgzF/rwxjBVAe57cWEyDnEiLDBe0VP66WIb3os+apFD/vv4A\nw+66SyfBMpD0lcfEVqP2ODlm/CY9Z+ReDalAOfO7bZIIADPWmg3x3stV4naTxSgQ\nxjoimJfh1J6EPAjnXsNRbvANMxKfhJbnQ6PwF6HnyHjhDn0CQQDaTDf+pX8fjq5F\nCDz3ojH4Y53ljnOT1e70VsVAZ1xXEwWpW8Q51RGATW6zpMlwT8Sx+ISMCGnJ5+ez\nzPh8AYoDAkEA0zu8VwTNDxr2EvjHSUr9PHG6UQMNh0pqbeJcOTZEJaYndLNh4NDn\nnvf5dqoMXUTVrskvV25Gdfe1j3gIN8ieLwJBAILDyX8W8BGdTLM5fhvw4vIh6kHK\nlV1nd56SI9Kyl9PpJykOOXtTMQqkV73w5mIKxo69idjAaW5zJo7EJ81QtrUCQDq/\na2M8R5fC5Ntj63Eb9RBBhRMQ6UtOTAlhokqbKBrcei6/0SIIl9KjnvL82lF6Wn+x\nHoSPe/NFQG61cHurRSsCQQCg8TZku63M+iw6hRLxewG42AEgaNxZgJVnQwAZzdbw\njNEquxibyXraYZki5zZH8COmqJUdcuHXrEwPLyDv9HdO\n-----END RSA PRIVATE KEY-----";

/// Its public half, as `p=` of `shipmate._domainkey.<domain>` would hold it.
pub const PUBLIC_KEY: &str = "-----BEGIN RSA PUBLIC KEY-----\nMIGJAoGBALQfwlH3NgEsv0EbUzxVNrqZOHkyODgAmH6dXOnCaaqsyxGjXCUUm69j\neuY2Pix2lwjLaMm6Dty8TLZf0WyZgrnDSmCbdWy84odcdD0HVbcrACD9A7umd7NT\nmu1ynZxa1sbtgV7CW92w11qrv75KeluqjftOeoydT9az7BouzjCNAgMBAAE=\n-----END RSA PUBLIC KEY-----";

/// What a valid signature says: its `d=`, `s=` and signed header names.
#[derive(Debug, PartialEq, Eq)]
pub struct Signed {
    pub domain: String,
    pub selector: String,
    pub headers: Vec<String>,
}

/// The header fields of `raw`, each `(name, value with its folds)`, and the body.
fn split(raw: &str) -> (Vec<(String, String)>, &str) {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push_str("\r\n");
                value.push_str(line);
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.to_string(), value.to_string()));
        }
    }
    (fields, body)
}

/// Relaxed header canonicalization (RFC 6376 3.4.2), without the CRLF.
fn relaxed_header(name: &str, value: &str) -> String {
    let unfolded = value.replace("\r\n", "");
    let collapsed = unfolded
        .split([' ', '\t'])
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    format!("{}:{}", name.trim().to_ascii_lowercase(), collapsed)
}

/// Relaxed body canonicalization (RFC 6376 3.4.4).
fn relaxed_body(body: &str) -> String {
    let mut lines: Vec<String> = body
        .split("\r\n")
        .map(|l| {
            l.split([' ', '\t'])
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    if lines.is_empty() {
        return String::new();
    }
    lines.join("\r\n") + "\r\n"
}

/// Checks the `DKIM-Signature` of `raw` against [`PUBLIC_KEY`].
pub fn verify(raw: &[u8]) -> Result<Signed, String> {
    let raw = std::str::from_utf8(raw).map_err(|e| format!("not text: {e}"))?;
    let (fields, body) = split(raw);
    let (sig_name, sig_value) = fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("DKIM-Signature"))
        .ok_or("no DKIM-Signature")?;
    let tags: Vec<(String, String)> = sig_value
        .split(';')
        .filter_map(|t| t.split_once('='))
        .map(|(k, v)| {
            (
                k.trim().to_string(),
                v.split_whitespace().collect::<String>(),
            )
        })
        .collect();
    let tag = |k: &str| {
        tags.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .ok_or(format!("no {k}= tag"))
    };
    if tag("v")? != "1" || tag("a")? != "rsa-sha256" || tag("c")? != "relaxed/relaxed" {
        return Err(format!("unexpected v=, a= or c=: {sig_value}"));
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let body_hash = b64.encode(Sha256::digest(relaxed_body(body).as_bytes()));
    if body_hash != tag("bh")? {
        return Err("the body hash does not match: the body was changed".into());
    }
    let names: Vec<String> = tag("h")?.split(':').map(str::to_string).collect();
    let mut data = String::new();
    let mut used = vec![false; fields.len()];
    for name in &names {
        // the last instance not yet used (RFC 6376 5.4.2); absent ones sign nothing
        let found = (0..fields.len())
            .rev()
            .find(|&i| !used[i] && fields[i].0.trim().eq_ignore_ascii_case(name));
        if let Some(i) = found {
            used[i] = true;
            data.push_str(&relaxed_header(&fields[i].0, &fields[i].1));
            data.push_str("\r\n");
        }
    }
    // the signature's own field, its b= value emptied, without the final CRLF
    let at = sig_value
        .find("b=")
        .filter(|&i| sig_value[..i].trim_end().ends_with(';') || sig_value[..i].trim().is_empty());
    let at = match at {
        Some(i) => i,
        None => {
            // `bh=` comes first: find the b= that is its own tag
            sig_value
                .match_indices("b=")
                .map(|(i, _)| i)
                .find(|&i| sig_value[..i].trim_end().ends_with(';'))
                .ok_or("no b= tag")?
        }
    };
    let rest = &sig_value[at + 2..];
    let end = rest.find(';').map_or(sig_value.len(), |j| at + 2 + j);
    let emptied = format!("{}{}", &sig_value[..at + 2], &sig_value[end..]);
    data.push_str(&relaxed_header(sig_name, &emptied));
    let signature = b64
        .decode(tag("b")?)
        .map_err(|e| format!("b= is not base64: {e}"))?;
    let key = RsaPublicKey::from_pkcs1_pem(PUBLIC_KEY).map_err(|e| format!("key: {e}"))?;
    // EMSA-PKCS1-v1_5 with SHA-256: the DigestInfo prefix of RFC 8017 9.2
    let sha256 = Pkcs1v15Sign {
        hash_len: Some(32),
        prefix: Box::new([
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ]),
    };
    key.verify(sha256, &Sha256::digest(data.as_bytes()), &signature)
        .map_err(|_| "the signature does not verify: a signed header was changed".to_string())?;
    Ok(Signed {
        domain: tag("d")?,
        selector: tag("s")?,
        headers: names,
    })
}
