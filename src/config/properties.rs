//! Java `Properties` syntax as zoo.cfg files use it, and the size values of `jute.maxbuffer`.

/// `jute.maxbuffer` accepts plain bytes, and K/M suffixes for convenience.
pub(super) fn parse_size(v: &str) -> Option<usize> {
    let v = v.trim();
    let (num, mul) = match v.chars().last()? {
        'k' | 'K' => (&v[..v.len() - 1], 1024),
        'm' | 'M' => (&v[..v.len() - 1], 1024 * 1024),
        _ => (v, 1),
    };
    let n = if let Some(hex) = num.strip_prefix("0x").or_else(|| num.strip_prefix("0X")) {
        usize::from_str_radix(hex, 16).ok()?
    } else {
        num.parse::<usize>().ok()?
    };
    n.checked_mul(mul)
}

/// Java `Properties` syntax as zoo.cfg files use it: `key=value`, `key: value` or `key value`,
/// `#` and `!` comments, backslash line continuations; values are trimmed as ZooKeeper trims them.
pub fn parse_properties(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut logical = String::new();
    for raw in text.lines() {
        let line = raw.trim_start();
        if logical.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        if let Some(stripped) = line.strip_suffix('\\') {
            logical.push_str(stripped);
            continue;
        }
        logical.push_str(line);
        let l = std::mem::take(&mut logical);
        let sep = l.find(['=', ':', ' ', '\t']);
        let (k, v) = match sep {
            Some(i) => {
                let rest = l[i..].trim_start_matches([' ', '\t']);
                let rest = rest
                    .strip_prefix('=')
                    .or_else(|| rest.strip_prefix(':'))
                    .unwrap_or(rest);
                (l[..i].to_string(), rest.trim().to_string())
            }
            None => (l.clone(), String::new()),
        };
        out.push((k.trim().to_string(), v));
    }
    out
}
