//! Record identifiers: `DR-n`, `REL-n`, `DT-n`, `INC-n`, `DEP-n`, numbered per kind from 1.

use std::fmt;
use std::str::FromStr;

use super::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    DeletionRequest,
    Release,
    Downtime,
    Incident,
    DeployRequest,
}

impl RecordKind {
    pub fn prefix(self) -> &'static str {
        match self {
            RecordKind::DeletionRequest => "DR",
            RecordKind::Release => "REL",
            RecordKind::Downtime => "DT",
            RecordKind::Incident => "INC",
            RecordKind::DeployRequest => "DEP",
        }
    }
}

/// A numbered record of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordId {
    pub kind: RecordKind,
    pub n: i64,
}

impl RecordId {
    pub fn new(kind: RecordKind, n: i64) -> Self {
        Self { kind, n }
    }

    /// Parses an id of the expected kind; `DR-7`, `dr-7` and plain `7` are accepted.
    pub fn parse_as(kind: RecordKind, s: &str) -> Result<Self, DomainError> {
        let prefix = kind.prefix();
        let digits = match s.split_once('-') {
            Some((p, n)) if p.eq_ignore_ascii_case(prefix) => n,
            Some(_) => {
                return Err(DomainError::invalid(format!(
                    "`{s}` is not a {prefix} id: write {prefix}-<number>, e.g. {prefix}-1"
                )));
            }
            None => s,
        };
        match digits.parse::<i64>() {
            Ok(n) if n > 0 => Ok(Self::new(kind, n)),
            _ => Err(DomainError::invalid(format!(
                "`{s}` is not a {prefix} id: write {prefix}-<number>, e.g. {prefix}-1"
            ))),
        }
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.kind.prefix(), self.n)
    }
}

impl FromStr for RecordId {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let kind = [
            RecordKind::DeletionRequest,
            RecordKind::Release,
            RecordKind::Downtime,
            RecordKind::Incident,
            RecordKind::DeployRequest,
        ]
        .into_iter()
        .find(|k| {
            s.split_once('-')
                .is_some_and(|(p, _)| p.eq_ignore_ascii_case(k.prefix()))
        })
        .ok_or_else(|| {
            DomainError::invalid(format!(
                "`{s}` is not a record id like DR-1, REL-1, DT-1, INC-1 or DEP-1"
            ))
        })?;
        Self::parse_as(kind, s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_and_display() {
        let id = RecordId::parse_as(RecordKind::DeletionRequest, "dr-12").unwrap();
        assert_eq!(id.to_string(), "DR-12");
        assert_eq!(
            RecordId::parse_as(RecordKind::DeletionRequest, "3")
                .unwrap()
                .n,
            3
        );
        assert!(RecordId::parse_as(RecordKind::DeletionRequest, "REL-3").is_err());
        assert!(RecordId::parse_as(RecordKind::DeletionRequest, "DR-0").is_err());
        assert_eq!(
            "INC-4".parse::<RecordId>().unwrap().kind,
            RecordKind::Incident
        );
    }
}
