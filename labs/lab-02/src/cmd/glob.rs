//! Redis's glob patterns (`KEYS`, `SCAN … MATCH`, `CONFIG GET`).
//!
//! `*` matches any run of bytes, `?` one byte, `[abc]` one of a set,
//! `[^abc]` one byte not in it, `[a-z]` a range (either order), and `\x`
//! the byte `x` literally. Malformed patterns behave as in Redis's
//! `stringmatchlen`: an unclosed `[` takes the rest of the pattern as its
//! set, a trailing `\` is a literal backslash.
//!
//! A pattern is compiled once into tokens, each matching exactly one byte
//! except `*`. That makes the classic backtrack-to-the-last-star matcher
//! exact, and bounds the work at O(pattern × key) where Redis's recursive
//! matcher needs a "skip longer matches" cut-off to avoid blowing up.

/// One element of a set in brackets.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ClassItem {
    Byte(u8),
    Range(u8, u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// `*`: any run of bytes (consecutive stars are merged).
    Star,
    /// `?`: any one byte.
    Any,
    /// A literal byte.
    Byte(u8),
    /// `[…]`: one byte in (or, negated, not in) the set.
    Class {
        negated: bool,
        items: Vec<ClassItem>,
    },
}

/// A compiled glob pattern.
#[derive(Debug, Clone)]
pub struct Glob {
    tokens: Vec<Token>,
    nocase: bool,
    /// The pattern is exactly `*`: everything matches, even the empty key
    /// (Redis's callers special-case `*` the same way).
    all: bool,
}

impl Glob {
    /// Compiles `pattern`; `nocase` compares letters case-insensitively
    /// (as `CONFIG GET` does).
    pub fn new(pattern: &[u8], nocase: bool) -> Self {
        Glob {
            tokens: compile(pattern),
            nocase,
            all: pattern == b"*",
        }
    }

    /// Whether the pattern matches all of `s`.
    pub fn matches(&self, s: &[u8]) -> bool {
        if self.all {
            return true;
        }
        if s.is_empty() {
            // Redis's matcher never looks at the pattern when the string
            // is empty: only the empty pattern matches it.
            return self.tokens.is_empty();
        }
        let tokens = &self.tokens;
        let (mut t, mut i) = (0, 0);
        // Where to resume after the last star: (token after it, byte).
        let mut resume: Option<(usize, usize)> = None;
        while i < s.len() {
            match tokens.get(t) {
                Some(Token::Star) => {
                    resume = Some((t + 1, i));
                    t += 1;
                    continue;
                }
                Some(token) if self.one(token, s[i]) => {
                    t += 1;
                    i += 1;
                    continue;
                }
                _ => {}
            }
            match resume {
                // Let the last star swallow one more byte and retry.
                Some((after, from)) => {
                    resume = Some((after, from + 1));
                    t = after;
                    i = from + 1;
                }
                None => return false,
            }
        }
        tokens[t.min(tokens.len())..]
            .iter()
            .all(|tok| *tok == Token::Star)
    }

    fn one(&self, token: &Token, c: u8) -> bool {
        let fold = |b: u8| {
            if self.nocase {
                b.to_ascii_lowercase()
            } else {
                b
            }
        };
        match token {
            Token::Star => false,
            Token::Any => true,
            Token::Byte(b) => fold(*b) == fold(c),
            Token::Class { negated, items } => {
                let c = fold(c);
                let hit = items.iter().any(|item| match *item {
                    ClassItem::Byte(b) => fold(b) == c,
                    ClassItem::Range(lo, hi) => (fold(lo)..=fold(hi)).contains(&c),
                });
                hit != *negated
            }
        }
    }
}

/// Whether `pattern` matches `s` (case-sensitive). Compiles the pattern
/// each call; use [`Glob`] to match many strings.
pub fn glob_match(pattern: &[u8], s: &[u8]) -> bool {
    Glob::new(pattern, false).matches(s)
}

fn compile(p: &[u8]) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            b'*' => {
                if tokens.last() != Some(&Token::Star) {
                    tokens.push(Token::Star);
                }
                i += 1;
            }
            b'?' => {
                tokens.push(Token::Any);
                i += 1;
            }
            b'\\' if i + 1 < p.len() => {
                tokens.push(Token::Byte(p[i + 1]));
                i += 2;
            }
            b'[' => {
                i += 1;
                let negated = p.get(i) == Some(&b'^');
                if negated {
                    i += 1;
                }
                let mut items = Vec::new();
                loop {
                    let rest = &p[i.min(p.len())..];
                    match rest {
                        // Unclosed: the set ends with the pattern.
                        [] => break,
                        [b']', ..] => {
                            i += 1;
                            break;
                        }
                        [b'\\', b, ..] => {
                            items.push(ClassItem::Byte(*b));
                            i += 2;
                        }
                        [a, b'-', b, ..] => {
                            let (lo, hi) = if a <= b { (*a, *b) } else { (*b, *a) };
                            items.push(ClassItem::Range(lo, hi));
                            i += 3;
                        }
                        [b, ..] => {
                            items.push(ClassItem::Byte(*b));
                            i += 1;
                        }
                    }
                }
                tokens.push(Token::Class { negated, items });
            }
            b => {
                tokens.push(Token::Byte(b));
                i += 1;
            }
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes())
    }

    #[test]
    fn stars_and_questions() {
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("**", "x"));
        assert!(
            !m("**", ""),
            "Redis quirk: only `*` itself matches the empty key"
        );
        assert!(m("h*o", "hello"));
        assert!(m("h*o", "ho"));
        assert!(!m("h*o", "hola"));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("*a*b*c*", "xxaxxbxxcxx"));
        assert!(!m("*a*b*c*", "xxaxxcxxbxx"));
        assert!(m("a*", "a"));
        assert!(!m("", "a"));
        assert!(m("", ""));
        assert!(!m("a?", "a"));
        assert!(m("user:*:name", "user:42:name"));
        assert!(!m("user:*:name", "user:42:names"));
    }

    #[test]
    fn classes() {
        assert!(m("h[ae]llo", "hello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(!m("h[a-b]llo", "hcllo"));
        assert!(m("h[z-a]llo", "hmllo"), "reversed range");
        assert!(m("[\\]]", "]"));
        assert!(m("[a\\-z]", "-"));
        assert!(!m("[a\\-z]", "b"));
        // Unclosed: the set runs to the end of the pattern.
        assert!(m("a[bc", "ab"));
        assert!(!m("a[bc", "abc"));
    }

    #[test]
    fn escapes() {
        assert!(m("h\\*llo", "h*llo"));
        assert!(!m("h\\*llo", "hello"));
        assert!(m("\\?", "?"));
        assert!(!m("\\?", "a"));
        assert!(m("a\\", "a\\"), "a trailing backslash is literal");
    }

    #[test]
    fn nocase() {
        let g = Glob::new(b"MaxMem*", true);
        assert!(g.matches(b"maxmemory"));
        assert!(!Glob::new(b"MaxMem*", false).matches(b"maxmemory"));
        assert!(Glob::new(b"[A-C]x", true).matches(b"bX"));
    }

    #[test]
    fn no_blowup_on_many_stars() {
        let p = "*a".repeat(30) + "b";
        let s = "a".repeat(200);
        assert!(!m(&p, &s));
    }
}
