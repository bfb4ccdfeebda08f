//! The version policy (`/version`): semantic versions of each service, and
//! which are supported. `n` is the latest released major; `n` and `n-1` are
//! supported until their end of service life (EOSL), which ends support on
//! its day; anything older is answered with "upgrade" to the newest release.
//! Pure: `today` is passed in.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;

use super::DomainError;

/// A release version `MAJOR.MINOR.PATCH` (a leading `v` is accepted).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Semver {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl FromStr for Semver {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        let bad = || {
            DomainError::invalid(format!(
                "`{s}` is not a version: write MAJOR.MINOR.PATCH with whole numbers, e.g. 3.2.15"
            ))
        };
        let t = s.trim();
        let t = t.strip_prefix(['v', 'V']).unwrap_or(t);
        let mut parts = t.split('.');
        let mut number = || -> Result<u64, DomainError> {
            let p = parts.next().ok_or_else(bad)?;
            if p.is_empty()
                || !p.bytes().all(|b| b.is_ascii_digit())
                || (p.len() > 1 && p.starts_with('0'))
            {
                return Err(bad());
            }
            p.parse().map_err(|_| bad())
        };
        let (major, minor, patch) = (number()?, number()?, number()?);
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Self {
            major,
            minor,
            patch,
        })
    }
}

impl fmt::Display for Semver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// A service name: letters, digits, `-`, `_` and `.`, at most 64.
pub fn parse_service(s: &str) -> Result<String, DomainError> {
    let t = s.trim();
    if t.is_empty()
        || t.len() > 64
        || !t
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(DomainError::invalid(format!(
            "`{s}` is not a service name: use letters, digits, -, _ and . (at most 64), e.g. portal"
        )));
    }
    Ok(t.to_string())
}

/// A major version number, `3` or `3.x`.
pub fn parse_major(s: &str) -> Result<u64, DomainError> {
    let t = s.trim();
    let t = t.strip_suffix(".x").unwrap_or(t);
    let t = t.strip_prefix(['v', 'V']).unwrap_or(t);
    t.parse().map_err(|_| {
        DomainError::invalid(format!(
            "`{s}` is not a major version: write its number, e.g. 2 or 2.x"
        ))
    })
}

/// A release-notes link: an http(s) URL without spaces.
pub fn parse_notes(s: &str) -> Result<String, DomainError> {
    let t = s.trim();
    let rest = t
        .strip_prefix("https://")
        .or_else(|| t.strip_prefix("http://"));
    match rest {
        Some(r) if !r.is_empty() && !t.contains(char::is_whitespace) => Ok(t.to_string()),
        _ => Err(DomainError::invalid(format!(
            "notes: `{s}` is not a link: give the release notes' http(s) URL, e.g. notes:https://example.com/releases/3.2.15"
        ))),
    }
}

/// What the policy says about one version of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The service has no release recorded.
    NoReleases,
    /// Newer than any recorded release.
    Unreleased { latest: Semver },
    /// `n` (`previous: false`) or `n-1` (`previous: true`), until `eosl`.
    Supported {
        latest: Semver,
        previous: bool,
        eosl: Option<NaiveDate>,
    },
    /// Older than `n-1`.
    TooOld { latest: Semver },
    /// `n` or `n-1`, but its EOSL day has come.
    EndOfLife { latest: Semver, eosl: NaiveDate },
}

impl Verdict {
    pub fn is_supported(&self) -> bool {
        matches!(self, Verdict::Supported { .. })
    }

    /// The answer, e.g. "2.x is n-1 of 3.x: supported".
    pub fn describe(&self, version: Semver) -> String {
        let major = version.major;
        match self {
            Verdict::NoReleases => {
                "no release of it is recorded: record one with /version release".to_string()
            }
            Verdict::Unreleased { latest } => format!(
                "{version} is newer than the latest release {latest}: record it with /version release"
            ),
            Verdict::Supported {
                latest,
                previous,
                eosl,
            } => {
                let what = if *previous {
                    format!("{major}.x is n-1 of {}.x: supported", latest.major)
                } else {
                    format!("{major}.x is n, the latest major (newest {latest}): supported")
                };
                match eosl {
                    Some(day) => format!("{what} until EOSL on {day}"),
                    None => what,
                }
            }
            Verdict::TooOld { latest } => {
                format!("{major}.x is not supported: upgrade to {latest}")
            }
            Verdict::EndOfLife { latest, eosl } => {
                format!("{major}.x is not supported since its EOSL on {eosl}: upgrade to {latest}")
            }
        }
    }
}

/// The verdict on `version` of a service with these `releases` and EOSL
/// days (`(major, day)`), on `today`.
pub fn check(
    releases: &[Semver],
    eosl: &[(u64, NaiveDate)],
    version: Semver,
    today: NaiveDate,
) -> Verdict {
    let Some(latest) = releases.iter().max().copied() else {
        return Verdict::NoReleases;
    };
    if version > latest {
        return Verdict::Unreleased { latest };
    }
    let n = latest.major;
    if version.major + 1 < n {
        return Verdict::TooOld { latest };
    }
    let day = eosl
        .iter()
        .find(|(major, _)| *major == version.major)
        .map(|(_, d)| *d);
    match day {
        Some(d) if today >= d => Verdict::EndOfLife { latest, eosl: d },
        _ => Verdict::Supported {
            latest,
            previous: version.major < n,
            eosl: day,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Semver {
        s.parse().unwrap()
    }
    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn versions_parse_and_order() {
        assert_eq!(v("3.2.15").to_string(), "3.2.15");
        assert_eq!(v("v2.0.1"), v("2.0.1"));
        assert!(v("3.10.0") > v("3.9.9") && v("10.0.0") > v("9.99.99"));
        for bad in [
            "",
            "3",
            "3.2",
            "3.2.1.4",
            "3.x.1",
            "3.2.-1",
            "03.2.1",
            "3.2.1-rc1",
            "a.b.c",
        ] {
            let e = bad.parse::<Semver>().unwrap_err().to_string();
            assert!(e.contains("MAJOR.MINOR.PATCH"), "{bad}: {e}");
        }
        assert_eq!(parse_major("2.x").unwrap(), 2);
        assert!(parse_major("two").is_err());
        assert!(parse_service("portal").is_ok() && parse_service("my portal").is_err());
        assert!(parse_notes("https://x.example/n").is_ok() && parse_notes("notes.txt").is_err());
    }

    #[test]
    fn n_and_n_minus_one_are_supported_until_their_eosl() {
        let releases = [v("1.4.2"), v("2.5.56"), v("3.2.15"), v("3.0.0")];
        let today = day("2026-12-01");
        // (version, EOSL days, supported, the answer says)
        type Case = (
            &'static str,
            &'static [(u64, NaiveDate)],
            bool,
            &'static str,
        );
        let cases: [Case; 7] = [
            (
                "3.0.1",
                &[],
                true,
                "3.x is n, the latest major (newest 3.2.15): supported",
            ),
            ("2.5.0", &[], true, "2.x is n-1 of 3.x: supported"),
            (
                "1.4.2",
                &[],
                false,
                "1.x is not supported: upgrade to 3.2.15",
            ),
            ("2.5.0", &[(2, NaiveDate::MAX)], true, "until EOSL on"),
            ("2.5.0", &[(2, NaiveDate::MIN)], false, "since its EOSL"),
            ("3.3.0", &[], false, "newer than the latest release"),
            ("0.9.0", &[], false, "upgrade to 3.2.15"),
        ];
        for (version, eosl, supported, says) in cases {
            let verdict = check(&releases, eosl, v(version), today);
            assert_eq!(verdict.is_supported(), supported, "{version}: {verdict:?}");
            let text = verdict.describe(v(version));
            assert!(text.contains(says), "{version}: {text}");
        }
        // support ends on the EOSL day itself
        let eosl = [(2, day("2027-06-30"))];
        assert!(check(&releases, &eosl, v("2.5.0"), day("2027-06-29")).is_supported());
        assert!(!check(&releases, &eosl, v("2.5.0"), day("2027-06-30")).is_supported());
        assert_eq!(check(&[], &[], v("1.0.0"), today), Verdict::NoReleases);
    }
}
