//! The iCalendar (RFC 5545) document of `/calendar.ics`, built with the
//! `icalendar` crate from kind-neutral [`CalendarWindow`]s.
//!
//! Each window is one `VEVENT` whose `UID` never changes, whose `SEQUENCE`
//! rises with every reschedule, and whose `STATUS` is `CANCELLED` once it is
//! called off, so subscribed calendars move or strike the event instead of
//! adding a duplicate. `DTSTAMP` is the window's last change (the document
//! has no `METHOD`-driven scheduling semantics beyond `PUBLISH`), so the same
//! state always renders to the same text.

use icalendar::{Calendar, Component, EventLike, EventStatus};

use super::status::CalendarWindow;

/// The public calendar's name in subscribers' lists.
pub const NAME: &str = "shipmate: planned downtime";
/// The internal calendar's name.
pub const INTERNAL_NAME: &str = "shipmate: code freezes and backport windows";

/// Renders the windows as the public calendar.
pub fn ics(windows: &[CalendarWindow]) -> String {
    named_ics(NAME, windows)
}

/// Renders the windows as one calendar called `name`.
pub fn named_ics(name: &str, windows: &[CalendarWindow]) -> String {
    let mut calendar = Calendar::empty();
    for (key, value) in [
        ("VERSION", "2.0"),
        ("PRODID", "-//shipmate//status feed//EN"),
        ("CALSCALE", "GREGORIAN"),
        ("METHOD", "PUBLISH"),
        ("X-WR-CALNAME", name),
    ] {
        calendar.append_property((key, value));
    }
    for w in windows {
        let mut event = icalendar::Event::new();
        event
            .uid(&w.uid)
            .sequence(w.sequence)
            .summary(&w.summary)
            .description(&w.description)
            .starts(w.start)
            .ends(w.end)
            .timestamp(w.updated)
            .created(w.created)
            .last_modified(w.updated)
            .status(if w.cancelled {
                EventStatus::Cancelled
            } else {
                EventStatus::Confirmed
            })
            .add_property("TRANSP", "OPAQUE");
        calendar.push(event.done());
    }
    calendar.to_string()
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn one_event_per_window_with_uid_sequence_and_status() {
        let t = Utc.with_ymd_and_hms(2026, 12, 1, 4, 30, 0).unwrap();
        let w = CalendarWindow {
            uid: "downtime-1-1@shipmate".into(),
            summary: "Downtime: production (DT-1)".into(),
            description: "DT-1: upgrade, with a comma; and more".into(),
            start: t,
            end: t + chrono::TimeDelta::hours(2),
            sequence: 2,
            cancelled: true,
            created: t,
            updated: t,
        };
        let text = ics(std::slice::from_ref(&w));
        for line in [
            "BEGIN:VCALENDAR\r\n",
            "PRODID:-//shipmate//status feed//EN\r\n",
            "UID:downtime-1-1@shipmate\r\n",
            "SEQUENCE:2\r\n",
            "STATUS:CANCELLED\r\n",
            "DTSTART:20261201T043000Z\r\n",
            "DTEND:20261201T063000Z\r\n",
            "DTSTAMP:20261201T043000Z\r\n",
        ] {
            assert!(text.contains(line), "{line:?} missing from\n{text}");
        }
        assert_eq!(text, ics(&[w]), "the same state renders the same text");
    }
}
