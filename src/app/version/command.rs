//! `/version`: its grammar entry and its typed form.

use chrono::NaiveDate;

use crate::app::feature::Input;
use crate::domain::DomainError;
use crate::domain::calendar::parse_holiday;
use crate::domain::version::{Semver, parse_major, parse_notes, parse_service};
use crate::grammar::spec::{key, opt_key, opt_pos, pos};
use crate::grammar::{CommandSpec, SubSpec};

pub static VERSION: CommandSpec = CommandSpec {
    name: "version",
    summary: "Version policy: releases, support (n and n-1) and end of service life",
    default_sub: None,
    subs: &[
        SubSpec {
            name: "release",
            summary: "Record a release, and post its notes to partners (release-manager)",
            params: &[
                pos("service", "service", "the service, e.g. portal"),
                pos("version", "semver", "the version released, e.g. 3.2.15"),
                opt_key("notes", "url", "a link to the release notes"),
            ],
        },
        SubSpec {
            name: "check",
            summary: "Whether a version is supported, and why",
            params: &[
                pos("service", "service", "the service, e.g. portal"),
                pos("version", "semver", "the version in use, e.g. 2.5.56"),
            ],
        },
        SubSpec {
            name: "eosl",
            summary: "Schedule a major version's end of service life (release-manager)",
            params: &[
                pos("service", "service", "the service, e.g. portal"),
                pos("major", "major", "the major version, e.g. 2"),
                key("date", "YYYY-MM-DD", "the day support ends"),
            ],
        },
        SubSpec {
            name: "list",
            summary: "Releases and what is supported",
            params: &[opt_pos("service", "service", "one service only")],
        },
    ],
};

/// One `/version` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionCommand {
    Release {
        service: String,
        version: Semver,
        notes: Option<String>,
    },
    Check {
        service: String,
        version: Semver,
    },
    Eosl {
        service: String,
        major: u64,
        date: NaiveDate,
    },
    List {
        service: Option<String>,
    },
}

impl TryFrom<Input<'_>> for VersionCommand {
    type Error = DomainError;

    fn try_from(input: Input<'_>) -> Result<Self, DomainError> {
        let service = || parse_service(input.required("service")?);
        let version = || input.parse_required::<Semver>("version");
        Ok(match input.sub() {
            "release" => VersionCommand::Release {
                service: service()?,
                version: version()?,
                notes: input.text("notes").map(parse_notes).transpose()?,
            },
            "check" => VersionCommand::Check {
                service: service()?,
                version: version()?,
            },
            "eosl" => VersionCommand::Eosl {
                service: service()?,
                major: parse_major(input.required("major")?)?,
                date: parse_holiday(input.required("date")?).map_err(|_| {
                    DomainError::invalid(format!(
                        "date: `{}` is not a day: write YYYY-MM-DD, e.g. date:2027-06-30",
                        input.text("date").unwrap_or_default()
                    ))
                })?,
            },
            "list" => VersionCommand::List {
                service: input.text("service").map(parse_service).transpose()?,
            },
            _ => return Err(input.unknown()),
        })
    }
}
