//! Reads a crate's source files and the paths each one names, without compiling it: a
//! small tokenizer (comments and literals skipped, `mod name { … }` blocks tracked so that
//! `super::*` in a test module means its own file) and a resolver from paths to files.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// Every `.rs` file under a source root, by its path relative to the root, with the
/// module path it defines (`services/mod.rs` and `services.rs` both define `services`).
pub struct ModuleFiles {
    files: BTreeMap<String, (Vec<String>, String)>,
    by_module: BTreeMap<Vec<String>, String>,
}

impl ModuleFiles {
    pub fn read(root: &Path) -> Self {
        let mut sources = Vec::new();
        collect(root, root, &mut sources);
        Self::from_sources(sources)
    }

    pub fn from_sources<P: Into<String>, S: Into<String>>(
        sources: impl IntoIterator<Item = (P, S)>,
    ) -> Self {
        let mut files = BTreeMap::new();
        let mut by_module = BTreeMap::new();
        for (path, source) in sources {
            let path: String = path.into();
            let module = module_of(&path);
            // The binary's root is a crate of its own; the library is the one walked.
            if path != "main.rs" {
                by_module.insert(module.clone(), path.clone());
            }
            files.insert(path, (module, source.into()));
        }
        Self { files, by_module }
    }

    pub fn files(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    pub fn source(&self, file: &str) -> &str {
        &self.files[file].1
    }

    /// The file of the longest prefix of `path` that is a module with a file.
    fn file_of(&self, path: &[String]) -> Option<&str> {
        (0..=path.len())
            .rev()
            .find_map(|len| self.by_module.get(&path[..len]))
            .map(String::as_str)
    }

    fn is_module(&self, path: &[String]) -> bool {
        self.by_module.contains_key(path)
    }
}

fn collect(root: &Path, dir: &Path, into: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("the source directory is readable")
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(root, &path, into);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let relative = path.strip_prefix(root).expect("under the root");
            let relative = relative.to_string_lossy().replace('\\', "/");
            let source = fs::read_to_string(&path).expect("a readable source file");
            into.push((relative, source));
        }
    }
}

fn module_of(path: &str) -> Vec<String> {
    let mut parts: Vec<String> = path
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_owned)
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The files `file` names, each with the first path that named it.
pub fn imports<'a>(tree: &'a ModuleFiles, file: &str) -> BTreeMap<&'a str, String> {
    let (module, source) = &tree.files[file];
    let tokens = tokenize(source);
    let mut found = BTreeMap::new();
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut at = 0;
    while at < tokens.len() {
        let here = || {
            let mut scope = module.clone();
            scope.extend(inline.iter().map(|(name, _)| name.clone()));
            scope
        };
        match &tokens[at] {
            Token::Punct('{') => depth += 1,
            Token::Punct('}') => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(_, opened)| *opened == depth) {
                    inline.pop();
                }
            }
            // `pub(in crate::x)` says who may see an item; it imports nothing.
            Token::Ident(word)
                if word == "pub"
                    && tokens.get(at + 1) == Some(&Token::Punct('('))
                    && tokens.get(at + 2) == Some(&Token::Ident("in".into())) =>
            {
                at += tokens[at..]
                    .iter()
                    .position(|token| *token == Token::Punct(')'))
                    .unwrap_or(tokens.len() - at);
                continue;
            }
            Token::Ident(word) if word == "mod" => {
                if let (Some(Token::Ident(name)), Some(Token::Punct('{'))) =
                    (tokens.get(at + 1), tokens.get(at + 2))
                {
                    inline.push((name.clone(), depth));
                    depth += 1;
                    at += 3;
                    continue;
                }
            }
            Token::Ident(word) if word == "use" => {
                let end = tokens[at..]
                    .iter()
                    .position(|token| *token == Token::Punct(';'))
                    .map_or(tokens.len(), |offset| at + offset);
                let mut paths = Vec::new();
                use_tree(&tokens[at + 1..end], &[], &mut paths);
                let scope = here();
                for path in paths {
                    record(tree, file, &scope, &path, &mut found);
                }
                at = end + 1;
                continue;
            }
            Token::Ident(first) if tokens.get(at + 1) == Some(&Token::PathSep) => {
                let preceded = at > 0 && tokens[at - 1] == Token::PathSep;
                let mut path = vec![first.clone()];
                let mut next = at + 1;
                while let (Some(Token::PathSep), Some(Token::Ident(segment))) =
                    (tokens.get(next), tokens.get(next + 1))
                {
                    path.push(segment.clone());
                    next += 2;
                }
                if !preceded {
                    record(tree, file, &here(), &path, &mut found);
                }
                at = next;
                continue;
            }
            _ => {}
        }
        at += 1;
    }
    found
}

fn record<'a>(
    tree: &'a ModuleFiles,
    file: &str,
    scope: &[String],
    path: &[String],
    found: &mut BTreeMap<&'a str, String>,
) {
    let Some(first) = path.first() else { return };
    let (mut base, rest) = match first.as_str() {
        "crate" => (Vec::new(), &path[1..]),
        "self" | "super" => {
            let mut base = scope.to_vec();
            let mut rest = path;
            while let Some(step) = rest.first() {
                match step.as_str() {
                    "super" => {
                        base.pop();
                    }
                    "self" => {}
                    _ => break,
                }
                rest = &rest[1..];
            }
            (base, rest)
        }
        child if tree.is_module(&[scope, &[child.to_owned()]].concat()) => (scope.to_vec(), path),
        _ => return,
    };
    base.extend(rest.iter().cloned());
    if let Some(target) = tree.file_of(&base).filter(|target| *target != file) {
        found.entry(target).or_insert_with(|| path.join("::"));
    }
}

/// Expands a `use` tree (`a::{b, c::{d as e, self}, *}`) into its paths; `self` and
/// `*` stay as the last segment, which resolves to the module before them.
fn use_tree(tokens: &[Token], prefix: &[String], into: &mut Vec<Vec<String>>) {
    let mut path = prefix.to_vec();
    let mut at = 0;
    while at < tokens.len() {
        match &tokens[at] {
            Token::Ident(word) if word == "as" => at += 1,
            Token::Ident(word) => path.push(word.clone()),
            Token::Punct('{') => {
                let close = matching_brace(tokens, at);
                for item in split_top_level(&tokens[at + 1..close]) {
                    use_tree(item, &path, into);
                }
                return;
            }
            _ => {}
        }
        at += 1;
    }
    if !path.is_empty() {
        into.push(path);
    }
}

fn matching_brace(tokens: &[Token], open: usize) -> usize {
    let mut depth = 0;
    for (offset, token) in tokens[open..].iter().enumerate() {
        match token {
            Token::Punct('{') => depth += 1,
            Token::Punct('}') => {
                depth -= 1;
                if depth == 0 {
                    return open + offset;
                }
            }
            _ => {}
        }
    }
    tokens.len()
}

fn split_top_level(tokens: &[Token]) -> Vec<&[Token]> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (at, token) in tokens.iter().enumerate() {
        match token {
            Token::Punct('{') => depth += 1,
            Token::Punct('}') => depth -= 1,
            Token::Punct(',') if depth == 0 => {
                items.push(&tokens[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    items.push(&tokens[start..]);
    items.retain(|item| !item.is_empty());
    items
}

#[derive(Debug, PartialEq)]
enum Token {
    Ident(String),
    PathSep,
    Punct(char),
}

/// Identifiers, `::` and single punctuation; comments, strings, characters and numbers
/// are dropped, lifetimes kept apart from character literals.
fn tokenize(source: &str) -> Vec<Token> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        let c = chars[at];
        let next = chars.get(at + 1).copied();
        if c == '/' && next == Some('/') {
            while at < chars.len() && chars[at] != '\n' {
                at += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while at < chars.len() {
                if chars[at] == '/' && chars.get(at + 1) == Some(&'*') {
                    depth += 1;
                    at += 2;
                } else if chars[at] == '*' && chars.get(at + 1) == Some(&'/') {
                    depth -= 1;
                    at += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    at += 1;
                }
            }
        } else if let Some(after) = raw_string_end(&chars, at) {
            at = after;
        } else if c == '"' {
            at = quoted_end(&chars, at + 1, '"');
        } else if c == '\'' {
            // A character literal closes within a few characters; a lifetime does not.
            let closes = chars.get(at + 2) == Some(&'\'')
                || (next == Some('\\')
                    && chars[at + 1..].iter().take(12).skip(2).any(|&c| c == '\''));
            at = if closes {
                quoted_end(&chars, at + 1, '\'')
            } else {
                at + 1
            };
        } else if c.is_alphabetic() || c == '_' {
            let start = at;
            while at < chars.len() && (chars[at].is_alphanumeric() || chars[at] == '_') {
                at += 1;
            }
            let word: String = chars[start..at].iter().collect();
            tokens.push(Token::Ident(word));
        } else if c.is_ascii_digit() {
            while at < chars.len()
                && (chars[at].is_alphanumeric() || chars[at] == '_' || chars[at] == '.')
            {
                at += 1;
            }
        } else if c == ':' && next == Some(':') {
            tokens.push(Token::PathSep);
            at += 2;
        } else {
            if !c.is_whitespace() {
                tokens.push(Token::Punct(c));
            }
            at += 1;
        }
    }
    tokens
}

/// After a `"…"` or `'…'` whose opening quote is just before `at`.
fn quoted_end(chars: &[char], mut at: usize, quote: char) -> usize {
    while at < chars.len() && chars[at] != quote {
        at += if chars[at] == '\\' { 2 } else { 1 };
    }
    at + 1
}

/// After a raw string (`r"…"`, `r#"…"#`, `br##"…"##`) starting at `at`, if one does.
fn raw_string_end(chars: &[char], at: usize) -> Option<usize> {
    let preceded = at > 0 && (chars[at - 1].is_alphanumeric() || chars[at - 1] == '_');
    let mut cursor = at;
    if chars.get(cursor) == Some(&'b') || chars.get(cursor) == Some(&'c') {
        cursor += 1;
    }
    if preceded || chars.get(cursor) != Some(&'r') {
        return None;
    }
    cursor += 1;
    let hashes = chars[cursor..].iter().take_while(|&&c| c == '#').count();
    cursor += hashes;
    if chars.get(cursor) != Some(&'"') {
        return None;
    }
    cursor += 1;
    while cursor < chars.len() {
        if chars[cursor] == '"'
            && chars[cursor + 1..]
                .iter()
                .take(hashes)
                .filter(|&&c| c == '#')
                .count()
                == hashes
        {
            return Some(cursor + 1 + hashes);
        }
        cursor += 1;
    }
    Some(chars.len())
}
