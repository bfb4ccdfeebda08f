//! Long text cut into pages that each fit a platform's message limits, so
//! nothing is refused for size: on Slack a page is a list of `section`
//! texts (3,000 characters each, at most [`SLACK_PAGE_SECTIONS`], and
//! [`SLACK_PAGE_TEXT`] characters in all: Slack refuses a message whose
//! blocks hold about 12,000, `msg_blocks_too_long`); on Discord a page is
//! one text of at most a given length (2,000 for `content`, 4,096 for an
//! embed's description). Pages break between paragraphs (blank lines) or
//! lines when they can, inside a line only when it is longer than a page.
//!
//! A reply uses every page (the rest follow as further messages); a posted
//! message, edited in place, keeps to its first page and says how much it
//! left out ([`first_page_noting_the_rest`]).

/// Slack: characters in one section's text.
pub const SLACK_SECTION_TEXT: usize = 3000;
/// Slack: characters of text in one message's blocks, leaving room under
/// Slack's ~12,000 for button labels and the block containers.
pub const SLACK_PAGE_TEXT: usize = 11_000;
/// Slack: sections in one message (50 blocks, one kept for the buttons).
pub const SLACK_PAGE_SECTIONS: usize = 45;

/// `markup` as Slack pages of sections.
pub fn slack_pages(markup: &str) -> Vec<Vec<String>> {
    let mut pages: Vec<Vec<String>> = Vec::new();
    let mut page: Vec<String> = Vec::new();
    let mut page_len = 0;
    let mut section = String::new();
    let close_section = |section: &mut String, page: &mut Vec<String>, page_len: &mut usize| {
        if !section.is_empty() {
            *page_len += section.chars().count();
            page.push(std::mem::take(section));
        }
    };
    for line in markup.split('\n') {
        if line.trim().is_empty() {
            close_section(&mut section, &mut page, &mut page_len);
            continue;
        }
        for piece in pieces(line, SLACK_SECTION_TEXT) {
            let len = piece.chars().count();
            let section_len = section.chars().count();
            if section_len > 0 && section_len + 1 + len > SLACK_SECTION_TEXT {
                close_section(&mut section, &mut page, &mut page_len);
            }
            let section_len = section.chars().count();
            let sections = page.len() + 1;
            if page_len + section_len + 1 + len > SLACK_PAGE_TEXT
                || (section_len == 0 && sections > SLACK_PAGE_SECTIONS)
            {
                close_section(&mut section, &mut page, &mut page_len);
                if !page.is_empty() {
                    pages.push(std::mem::take(&mut page));
                    page_len = 0;
                }
            }
            if !section.is_empty() {
                section.push('\n');
            }
            section.push_str(&piece);
        }
    }
    close_section(&mut section, &mut page, &mut page_len);
    if !page.is_empty() {
        pages.push(page);
    }
    pages
}

/// `markup` as pages of at most `max` characters each (pages joined with
/// a line break give `markup` back, unless a line was longer than `max`).
pub fn text_pages(markup: &str, max: usize) -> Vec<String> {
    let mut pages = Vec::new();
    let mut page = String::new();
    let mut started = false;
    for line in markup.split('\n') {
        for piece in pieces(line, max) {
            let len = page.chars().count();
            if started && len + 1 + piece.chars().count() > max {
                pages.push(std::mem::take(&mut page));
            } else if started {
                page.push('\n');
            }
            page.push_str(&piece);
            started = true;
        }
    }
    if !page.trim().is_empty() {
        pages.push(page);
    }
    pages
}

/// The first page, and a note of how many lines the other pages held.
pub fn first_page_noting_the_rest<T>(
    mut pages: Vec<T>,
    lines: impl Fn(&T) -> usize,
) -> (Option<T>, usize) {
    let left_out = pages.iter().skip(1).map(&lines).sum();
    let first = if pages.is_empty() {
        None
    } else {
        Some(pages.swap_remove(0))
    };
    (first, left_out)
}

/// A line cut into pieces of at most `max` characters (one empty piece for an empty line).
fn pieces(line: &str, max: usize) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    if chars.is_empty() {
        return vec![String::new()];
    }
    chars
        .chunks(max.max(1))
        .map(|c| c.iter().collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn total(page: &[String]) -> usize {
        page.iter().map(|s| s.chars().count()).sum()
    }

    #[test]
    fn slack_pages_keep_every_line_within_every_limit() {
        let line = |i: usize| {
            format!(
                "T+{i:<3} task-{i:03} release-manager pending {}",
                "x".repeat(60)
            )
        };
        let markup: Vec<String> = (0..400).map(line).collect();
        let markup = markup.join("\n");

        let pages = slack_pages(&markup);

        assert!(pages.len() > 1, "{} pages", pages.len());
        for page in &pages {
            assert!(total(page) <= SLACK_PAGE_TEXT, "{}", total(page));
            assert!(page.len() <= SLACK_PAGE_SECTIONS);
            assert!(page.iter().all(|s| s.chars().count() <= SLACK_SECTION_TEXT));
        }
        let back: Vec<String> = pages
            .concat()
            .join("\n")
            .split('\n')
            .map(String::from)
            .collect();
        assert_eq!(back.len(), 400, "no line lost");
        assert_eq!(back[399], line(399));
    }

    #[test]
    fn slack_pages_break_at_paragraphs_and_cut_only_overlong_lines() {
        let pages = slack_pages("one\ntwo\n\nthree");
        assert_eq!(
            pages,
            vec![vec!["one\ntwo".to_string(), "three".to_string()]]
        );
        let long = "y".repeat(7000);
        let pages = slack_pages(&long);
        assert_eq!(pages.len(), 1);
        assert_eq!(pages[0].len(), 3);
        assert_eq!(pages[0].concat(), long);
        assert!(slack_pages("").is_empty());
    }

    #[test]
    fn text_pages_fit_and_lose_nothing() {
        let markup: Vec<String> = (0..300)
            .map(|i| format!("line {i} {}", "z".repeat(40)))
            .collect();
        let markup = markup.join("\n");
        let pages = text_pages(&markup, 2000);
        assert!(pages.iter().all(|p| p.chars().count() <= 2000));
        assert_eq!(pages.join("\n"), markup);
        assert_eq!(text_pages("short", 2000), vec!["short".to_string()]);
    }
}
