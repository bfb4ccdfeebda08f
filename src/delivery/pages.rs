//! Long text cut into pages that each fit a platform's message limits, so
//! nothing is refused for size: on Slack a page is a list of `section`
//! texts (3,000 characters each, at most [`SLACK_PAGE_SECTIONS`], and
//! [`SLACK_PAGE_TEXT`] characters in all: Slack refuses a message whose
//! blocks hold about 12,000, `msg_blocks_too_long`); on Discord a page is
//! one text of at most a given length (2,000 for `content`, 4,096 for an
//! embed's description). Pages break between paragraphs (blank lines) or
//! lines when they can, inside a line only when it is longer than a page.
//!
//! A reply uses every page (the rest follow as further messages). A posted
//! message is delivered whole, one page at a time ([`part_at`]: each part
//! is the first page of what is left, from a byte offset the outbox row
//! records), except a living message, edited in place, which keeps to its
//! first page and says how much it left out ([`first_page_noting_the_rest`]).

/// Slack: characters in one section's text.
pub const SLACK_SECTION_TEXT: usize = 3000;
/// Slack: characters of text in one message's blocks, leaving room under
/// Slack's ~12,000 for button labels and the block containers.
pub const SLACK_PAGE_TEXT: usize = 11_000;
/// Slack: sections in one message (50 blocks, one kept for the buttons).
pub const SLACK_PAGE_SECTIONS: usize = 45;

/// `markup` as Slack pages of sections.
pub fn slack_pages(markup: &str) -> Vec<Vec<String>> {
    slack_pages_within(markup, SLACK_PAGE_TEXT)
}

/// `markup` as Slack pages of sections holding at most `budget` characters each.
pub fn slack_pages_within(markup: &str, budget: usize) -> Vec<Vec<String>> {
    slack_paged(markup, budget)
        .into_iter()
        .map(|(_, page)| page)
        .collect()
}

/// [`slack_pages_within`], each page with the byte offset in `markup` where it starts.
pub fn slack_paged(markup: &str, budget: usize) -> Vec<(usize, Vec<String>)> {
    let mut pages: Vec<(usize, Vec<String>)> = Vec::new();
    let mut page: Vec<String> = Vec::new();
    let mut page_start = 0;
    let mut page_len = 0;
    let mut section = String::new();
    let close_section = |section: &mut String, page: &mut Vec<String>, page_len: &mut usize| {
        if !section.is_empty() {
            *page_len += section.chars().count();
            page.push(std::mem::take(section));
        }
    };
    for (line_start, line) in lines(markup) {
        if line.trim().is_empty() {
            close_section(&mut section, &mut page, &mut page_len);
            continue;
        }
        for (at, piece) in pieces(line, SLACK_SECTION_TEXT) {
            let len = piece.chars().count();
            let section_len = section.chars().count();
            if section_len > 0 && section_len + 1 + len > SLACK_SECTION_TEXT {
                close_section(&mut section, &mut page, &mut page_len);
            }
            let section_len = section.chars().count();
            let sections = page.len() + 1;
            if page_len + section_len + 1 + len > budget
                || (section_len == 0 && sections > SLACK_PAGE_SECTIONS)
            {
                close_section(&mut section, &mut page, &mut page_len);
                if !page.is_empty() {
                    pages.push((page_start, std::mem::take(&mut page)));
                    page_len = 0;
                }
            }
            if page.is_empty() && section.is_empty() {
                page_start = line_start + at;
            }
            if !section.is_empty() {
                section.push('\n');
            }
            section.push_str(piece);
        }
    }
    close_section(&mut section, &mut page, &mut page_len);
    if !page.is_empty() {
        pages.push((page_start, page));
    }
    pages
}

/// `markup` as pages of at most `max` characters each (pages joined with
/// a line break give `markup` back, unless a line was longer than `max`).
pub fn text_pages(markup: &str, max: usize) -> Vec<String> {
    text_paged(markup, max)
        .into_iter()
        .map(|(_, page)| page)
        .collect()
}

/// [`text_pages`], each page with the byte offset in `markup` where it starts.
pub fn text_paged(markup: &str, max: usize) -> Vec<(usize, String)> {
    let mut pages = Vec::new();
    let mut page = String::new();
    let mut page_start = 0;
    let mut started = false;
    for (line_start, line) in lines(markup) {
        for (at, piece) in pieces(line, max) {
            let len = page.chars().count();
            if started && len + 1 + piece.chars().count() > max {
                pages.push((page_start, std::mem::take(&mut page)));
                page_start = line_start + at;
            } else if started {
                page.push('\n');
            }
            page.push_str(piece);
            started = true;
        }
    }
    if !page.trim().is_empty() {
        pages.push((page_start, page));
    }
    pages
}

/// One part of a message delivered whole: a page, and where the next part
/// starts (a byte offset in the whole markup), if there is more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<T> {
    pub page: T,
    pub next: Option<usize>,
}

/// The part of `markup` that starts at byte `offset`: the first page of
/// the rest, as `paginate` cuts it. Past the end (or with nothing left to
/// show), an empty page and no next part. An offset inside a character
/// (it cannot come from here) starts at that character.
pub fn part_at<T: Default>(
    markup: &str,
    offset: usize,
    paginate: impl Fn(&str) -> Vec<(usize, T)>,
) -> Part<T> {
    let mut start = offset.min(markup.len());
    while !markup.is_char_boundary(start) {
        start -= 1;
    }
    let mut pages = paginate(&markup[start..]).into_iter();
    let page = pages.next().map(|(_, page)| page).unwrap_or_default();
    Part {
        page,
        next: pages.next().map(|(at, _)| start + at),
    }
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

/// The lines of `text` with the byte offset where each starts.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split('\n').scan(0, |start, line| {
        let at = *start;
        *start += line.len() + 1;
        Some((at, line))
    })
}

/// A line cut into pieces of at most `max` characters, each with its byte
/// offset in the line (one empty piece for an empty line).
fn pieces(line: &str, max: usize) -> Vec<(usize, &str)> {
    if line.is_empty() {
        return vec![(0, line)];
    }
    let mut out = Vec::new();
    let mut start = 0;
    let mut count = 0;
    for (at, _) in line.char_indices() {
        if count == max.max(1) {
            out.push((start, &line[start..at]));
            start = at;
            count = 0;
        }
        count += 1;
    }
    out.push((start, &line[start..]));
    out
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
    fn parts_from_offsets_give_every_page_in_order() {
        let markup: Vec<String> = (0..400)
            .map(|i| format!("T+{i:<3} task-{i:03} é {}", "x".repeat(70)))
            .collect();
        let markup = markup.join("\n\n");
        for paginate in [
            &(|m: &str| slack_paged(m, SLACK_PAGE_TEXT))
                as &dyn Fn(&str) -> Vec<(usize, Vec<String>)>,
            &(|m: &str| {
                text_paged(m, 2000)
                    .into_iter()
                    .map(|(at, p)| (at, vec![p]))
                    .collect()
            }),
        ] {
            let whole = paginate(&markup);
            let mut parts = Vec::new();
            let mut offset = Some(0);
            while let Some(at) = offset {
                let part = part_at(&markup, at, paginate);
                parts.push(part.page);
                offset = part.next;
            }
            let whole: Vec<Vec<String>> = whole.into_iter().map(|(_, p)| p).collect();
            assert!(parts.len() > 1);
            assert_eq!(parts, whole, "the parts are the pages");
        }
        // an offset that is not a character boundary starts at that character
        let part = part_at("aé b", 2, |m: &str| text_paged(m, 100));
        assert_eq!(part.page, "é b");
        assert_eq!(part_at("abc", 99, |m: &str| text_paged(m, 100)).page, "");
    }

    #[test]
    fn long_lines_are_cut_at_character_offsets() {
        let line = "é".repeat(5000);
        let paged = text_paged(&line, 2000);
        assert_eq!(paged.len(), 3);
        assert_eq!(paged[1].0, 4000, "byte offset of the 2,001st character");
        assert_eq!(&line[paged[2].0..], paged[2].1);
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
