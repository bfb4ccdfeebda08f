//! Splits command text into words, honouring straight and curly quotes
//! (Slack clients often turn `"` into `“ ”`) and `key:"quoted value"`.

/// One word of input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    /// The word began with a quote: it is always a positional value, never `key:value`.
    pub quoted: bool,
}

fn closing_quote(open: char) -> Option<char> {
    match open {
        '"' => Some('"'),
        '\'' => Some('\''),
        '“' | '”' => Some('”'),
        '‘' | '’' => Some('’'),
        _ => None,
    }
}

/// Splits `input` into tokens, or names the unterminated quote.
pub fn lex(input: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut text = String::new();
        let mut quoted = false;
        let mut first = true;
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            // a quote opens at the start of a word or right after `key:`
            let opens = first || text.ends_with(':');
            match closing_quote(c).filter(|_| opens) {
                Some(close) => {
                    quoted |= first;
                    let mut closed = false;
                    for q in chars.by_ref() {
                        if q == close || (close == '”' && q == '“') || q == c {
                            closed = true;
                            break;
                        }
                        text.push(q);
                    }
                    if !closed {
                        return Err(format!(
                            "the quote opened with {c} is never closed: add a closing {close}"
                        ));
                    }
                }
                None => text.push(c),
            }
            first = false;
        }
        tokens.push(Token { text, quoted });
    }
    Ok(tokens)
}
