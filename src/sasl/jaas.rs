//! JAAS login configuration files, as the JDK reads the file `java.security.auth.login.config`
//! names: sections `Name { module flag key=value ... ; ... };`, `//` and `/* */` comments,
//! values quoted (with backslash escapes) or bare, `${property}` expanded from the JVM's
//! properties. ZooKeeper looks up its sections by name (`Server`, `QuorumServer`, ...).

use std::collections::BTreeMap;

/// One login module line of a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub module: String,
    pub flag: String,
    /// Options in file order; a key given twice keeps its last value (as the JDK's map).
    pub options: Vec<(String, String)>,
}

impl Entry {
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Quoted(String),
    Sym(char),
}

fn tokens(text: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let c: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && c.get(i + 1) == Some(&'*') {
            i += 2;
            while i < c.len() && !(c[i] == '*' && c.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            if i >= c.len() {
                return Err("a comment is not closed".into());
            }
            i += 2;
        } else if matches!(ch, '{' | '}' | ';' | '=') {
            out.push(Tok::Sym(ch));
            i += 1;
        } else if ch == '"' || ch == '\'' {
            let mut s = String::new();
            i += 1;
            loop {
                match c.get(i) {
                    None => return Err("a quoted value is not closed".into()),
                    Some(&q) if q == ch => break,
                    Some('\\') => {
                        i += 1;
                        match c.get(i) {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some('r') => s.push('\r'),
                            Some(&e) => s.push(e),
                            None => return Err("a quoted value is not closed".into()),
                        }
                    }
                    Some(&x) => s.push(x),
                }
                i += 1;
            }
            i += 1;
            out.push(Tok::Quoted(s));
        } else {
            let mut s = String::new();
            while i < c.len()
                && !c[i].is_whitespace()
                && !matches!(c[i], '{' | '}' | ';' | '=' | '"' | '\'')
            {
                s.push(c[i]);
                i += 1;
            }
            out.push(Tok::Word(s));
        }
    }
    Ok(out)
}

/// `${name}` replaced by the property's value (an unknown or empty one is an error, as in
/// the JDK).
fn expand(v: &str, props: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = v;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let end = rest[at..]
            .find('}')
            .ok_or_else(|| format!("unclosed ${{ in {v:?}"))?;
        let name = &rest[at + 2..at + end];
        match props.get(name).filter(|s| !s.is_empty()) {
            Some(val) => out.push_str(val),
            None => return Err(format!("{v:?}: the property {name} is not set")),
        }
        rest = &rest[at + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The sections of a JAAS file by name.
pub fn parse(
    text: &str,
    props: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Vec<Entry>>, String> {
    let t = tokens(text)?;
    let mut i = 0;
    let mut out: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    let word = |i: usize| match t.get(i) {
        Some(Tok::Word(w)) => Some(w.clone()),
        _ => None,
    };
    while i < t.len() {
        let name = word(i).ok_or("expected a section name")?;
        if t.get(i + 1) != Some(&Tok::Sym('{')) {
            return Err(format!("expected {{ after {name}"));
        }
        i += 2;
        let mut entries = Vec::new();
        while t.get(i) != Some(&Tok::Sym('}')) {
            let module = word(i).ok_or_else(|| format!("{name}: expected a login module"))?;
            let flag = word(i + 1).ok_or_else(|| format!("{name}: expected a control flag"))?;
            if !["required", "requisite", "sufficient", "optional"]
                .iter()
                .any(|f| f.eq_ignore_ascii_case(&flag))
            {
                return Err(format!("{name}: {flag:?} is not a control flag"));
            }
            i += 2;
            let mut options = Vec::new();
            loop {
                match t.get(i) {
                    Some(Tok::Sym(';')) => {
                        i += 1;
                        break;
                    }
                    Some(Tok::Word(k)) if t.get(i + 1) == Some(&Tok::Sym('=')) => {
                        let v = match t.get(i + 2) {
                            Some(Tok::Word(v) | Tok::Quoted(v)) => v.clone(),
                            _ => return Err(format!("{name}: {k} has no value")),
                        };
                        options.push((k.clone(), expand(&v, props)?));
                        i += 3;
                    }
                    _ => return Err(format!("{name}: expected key=value or ;")),
                }
            }
            entries.push(Entry {
                module,
                flag,
                options,
            });
        }
        if t.get(i + 1) != Some(&Tok::Sym(';')) {
            return Err(format!("{name}: expected ; after }}"));
        }
        i += 2;
        if out.insert(name.clone(), entries).is_some() {
            return Err(format!("the section {name} is given twice"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_style_sections_parse() {
        let text = r#"
            // the server's users
            Server {
                   org.apache.zookeeper.server.auth.DigestLoginModule required
                   user_super="admin\"secret"
                   user_kafka="kafka-secret";
            };
            /* the client */
            Client { org.apache.zookeeper.server.auth.DigestLoginModule required
              username="kafka" password='${pw}'; };
            Krb { com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true
              keyTab="/etc/zk.keytab" storeKey=true principal="zookeeper/h.example.com@EXAMPLE.COM"; };
        "#;
        let mut props = BTreeMap::new();
        props.insert("pw".to_string(), "p".to_string());
        let s = parse(text, &props).unwrap();
        assert_eq!(s["Server"][0].option("user_super"), Some("admin\"secret"));
        assert_eq!(s["Server"][0].option("user_kafka"), Some("kafka-secret"));
        assert_eq!(s["Client"][0].option("password"), Some("p"));
        assert_eq!(s["Krb"][0].option("useKeyTab"), Some("true"));
        assert!(parse("A { m required; }; A { m required; };", &props).is_err());
        assert!(parse("A { m sometimes; };", &props).is_err());
        assert!(parse("A { m required k=\"${nope}\"; };", &props).is_err());
        assert!(parse("A { m required k=", &props).is_err());
    }
}
