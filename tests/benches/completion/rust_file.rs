//! The 10,000-line Rust file the completion bench types into: a port of the generator of
//! `lsp_workload.py` (`RustGen`: structs with impls, enums with `Display`, traits, free
//! functions and tests, with doc comments and some non-ASCII text, astral characters
//! included), with the same blocks, weights and text. Its random numbers come from SplitMix64,
//! not Python's Mersenne Twister, so the file has the same shape, not the same bytes.

const WORDS: &[&str] = &[
    "account", "buffer", "cache", "client", "config", "cursor", "delta", "entry", "event", "field",
    "frame", "graph", "handle", "index", "item", "journal", "key", "layer", "ledger", "matrix",
    "node", "offset", "packet", "parser", "queue", "record", "region", "schema", "scope",
    "session", "signal", "socket", "span", "store", "stream", "symbol", "table", "token", "tree",
    "value", "vector", "window", "worker",
];
const TYPES: &[&str] = &[
    "u32",
    "u64",
    "i64",
    "usize",
    "f64",
    "bool",
    "String",
    "Vec<u8>",
    "Option<u32>",
    "Vec<String>",
];

/// SplitMix64: small, deterministic, good enough to pick words.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// In `low..=high`.
    fn between(&mut self, low: usize, high: usize) -> usize {
        low + self.below(high - low + 1)
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

fn camel(name: &str) -> String {
    name.split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect::<String>()
            })
        })
        .collect()
}

struct Gen {
    rng: Rng,
    seed: u64,
    n: usize,
    lines: Vec<String>,
    /// Indented statements ending in `;`.
    statements: Vec<usize>,
}

impl Gen {
    fn name(&mut self) -> String {
        self.n += 1;
        let (a, b) = (self.rng.pick(WORDS), self.rng.pick(WORDS));
        format!("{a}_{b}_{}_{}", self.seed % 997, self.n)
    }

    fn emit(&mut self, line: impl Into<String>) {
        self.lines.push(line.into());
    }

    fn statement(&mut self, line: impl Into<String>) {
        self.statements.push(self.lines.len());
        self.lines.push(line.into());
    }

    fn header(&mut self) {
        let seed = self.seed;
        self.emit(format!(
            "//! Generated module #{seed}: naïve café façade → test fixture."
        ));
        self.emit("//! Used by the LSP workload driver; not meant to compile.");
        self.emit("");
        self.emit("use std::collections::{BTreeMap, HashMap, HashSet};");
        self.emit("use std::fmt::{self, Display, Formatter};");
        self.emit("use std::sync::{Arc, Mutex};");
        self.emit("");
    }

    fn struct_block(&mut self) {
        let name = camel(&self.name());
        let count = self.rng.between(3, 6);
        let fields: Vec<(String, &str)> = (0..count)
            .map(|_| (self.name(), self.rng.pick(TYPES)))
            .collect();
        let (a, b) = (self.rng.pick(WORDS), self.rng.pick(WORDS));
        self.emit(format!(
            "/// `{name}` keeps track of {a} state for the {b} layer."
        ));
        self.emit("#[derive(Debug, Clone, Default, PartialEq)]");
        self.emit(format!("pub struct {name} {{"));
        for (field, ty) in &fields {
            self.emit(format!("    /// The {}.", field.replace('_', " ")));
            self.emit(format!("    pub {field}: {ty},"));
        }
        self.emit("}");
        self.emit("");
        self.emit(format!("impl {name} {{"));
        self.emit("    /// Creates an empty value.");
        self.emit("    pub fn new() -> Self {");
        self.emit("        Self::default()");
        self.emit("    }");
        self.emit("");
        for _ in 0..self.rng.between(2, 4) {
            self.method_block(&fields);
        }
        self.emit("}");
        self.emit("");
    }

    fn method_block(&mut self, fields: &[(String, &str)]) {
        let method = self.name();
        let field = fields[self.rng.below(fields.len())].0.clone();
        self.emit(format!("    /// Computes `{method}` from `{field}`."));
        self.emit(format!(
            "    pub fn {method}(&mut self, limit: usize, scale: f64) -> Result<usize, String> {{"
        ));
        self.statement("        let mut total: usize = 0;");
        self.statement(format!(
            "        let label = format!(\"{method}: {{}}\", limit);"
        ));
        for line in [
            "        for i in 0..limit {",
            "            if i % 3 == 0 {",
            "                total = total.wrapping_add(i * 2);",
            "            } else if i % 5 == 0 {",
            "                continue;",
            "            } else {",
            "                total += ((i as f64) * scale) as usize;",
            "            }",
            "        }",
        ] {
            self.emit(line);
        }
        if self.rng.chance(0.25) {
            self.emit("        // Ünïcödé comment: 日本語のコメント 🦀 with an astral crab.");
        }
        self.statement("        let values: Vec<usize> = (0..limit).filter(|v| v % 2 == 1).map(|v| v * total).collect();");
        self.statement("        let sum: usize = values.iter().copied().sum();");
        for line in [
            "        match sum.checked_sub(limit) {",
            "            Some(rest) if rest > 10 => Ok(rest),",
            "            Some(_) => Ok(total),",
            "            None => Err(label),",
            "        }",
            "    }",
            "",
        ] {
            self.emit(line);
        }
    }

    fn enum_block(&mut self) {
        let name = camel(&self.name());
        let count = self.rng.between(3, 6);
        let variants: Vec<String> = (0..count).map(|_| camel(&self.name())).collect();
        let (a, b) = (self.rng.pick(WORDS), self.rng.pick(WORDS));
        self.emit(format!("/// Kinds of {a} — «{b}»."));
        self.emit("#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]");
        self.emit(format!("pub enum {name} {{"));
        for variant in &variants {
            self.emit(format!("    {variant},"));
        }
        self.emit("}");
        self.emit("");
        self.emit(format!("impl Display for {name} {{"));
        self.emit("    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {");
        self.emit("        let text = match self {");
        for variant in &variants {
            self.emit(format!(
                "            {name}::{variant} => \"{}\",",
                variant.to_lowercase()
            ));
        }
        self.emit("        };");
        self.emit("        write!(f, \"{}\", text)");
        self.emit("    }");
        self.emit("}");
        self.emit("");
    }

    fn trait_block(&mut self) {
        let trait_name = camel(&self.name());
        let struct_name = camel(&self.name());
        let (m1, m2) = (self.name(), self.name());
        self.emit(format!("pub trait {trait_name} {{"));
        self.emit(format!("    fn {m1}(&self, key: &str) -> Option<u64>;"));
        self.emit(format!("    fn {m2}(&mut self, items: &[u64]) -> u64 {{"));
        self.emit(
            "        items.iter().fold(0u64, |acc, x| acc.wrapping_mul(31).wrapping_add(*x))",
        );
        self.emit("    }");
        self.emit("}");
        self.emit("");
        self.emit(format!("pub struct {struct_name} {{"));
        self.emit("    map: HashMap<String, u64>,");
        self.emit("    seen: HashSet<u64>,");
        self.emit("    shared: Arc<Mutex<BTreeMap<u64, String>>>,");
        self.emit("}");
        self.emit("");
        self.emit(format!("impl {trait_name} for {struct_name} {{"));
        self.emit(format!("    fn {m1}(&self, key: &str) -> Option<u64> {{"));
        self.statement("        let guard = self.shared.lock().ok()?;");
        self.statement("        let hit = self.map.get(key).copied();");
        for line in [
            "        if let Some(v) = hit {",
            "            if self.seen.contains(&v) {",
            "                return guard.keys().next().copied();",
            "            }",
            "        }",
            "        hit",
            "    }",
            "}",
            "",
        ] {
            self.emit(line);
        }
    }

    fn fn_block(&mut self) {
        let name = self.name();
        self.emit(format!("/// Free function `{name}`; «generic» over `T`."));
        self.emit(format!(
            "pub fn {name}<T: Clone + Into<u64>>(input: &[T], threshold: u64) -> Vec<u64> {{"
        ));
        self.statement("    let mut out = Vec::with_capacity(input.len());");
        let (a, b) = (self.rng.pick(WORDS), self.rng.pick(WORDS));
        self.statement(format!("    let message = \"{a} → {b} ✓\";"));
        self.emit("    for (idx, item) in input.iter().enumerate() {");
        self.statement("        let v: u64 = item.clone().into();");
        self.emit("        if v > threshold && idx % 2 == 0 {");
        self.statement("            out.push(v - threshold);");
        self.emit("        }");
        self.emit("    }");
        self.statement("    out.sort_unstable();");
        self.statement("    out.dedup();");
        self.statement("    debug_assert!(!message.is_empty(), \"{}\", message);");
        self.emit("    out");
        self.emit("}");
        self.emit("");
    }

    fn test_block(&mut self) {
        let name = self.name();
        self.emit("#[cfg(test)]");
        self.emit(format!("mod tests_{name} {{"));
        self.emit("    use super::*;");
        self.emit("");
        self.emit("    #[test]");
        self.emit(format!("    fn {name}_works() {{"));
        self.statement("        let data: Vec<u32> = vec![1, 2, 3, 40, 50, 60];");
        self.statement("        let expected = data.len();");
        self.statement("        assert_eq!(expected, 6);");
        self.emit("    }");
        self.emit("}");
        self.emit("");
    }
}

/// A Rust file of exactly `lines` lines (each ending in `\n`), and the indexes of its
/// statement lines (indented, ending in `;`), as `RustGen(seed).generate(lines)` gives them.
pub fn generate(lines: usize, seed: u64) -> (Vec<String>, Vec<usize>) {
    let mut g = Gen {
        rng: Rng(seed),
        seed,
        n: 0,
        lines: Vec::with_capacity(lines + 64),
        statements: Vec::new(),
    };
    g.header();
    // `lsp_workload.py`'s weights: struct 4, enum 2, trait 2, fn 3, test 1.
    while g.lines.len() < lines {
        match g.rng.below(12) {
            0..=3 => g.struct_block(),
            4..=5 => g.enum_block(),
            6..=7 => g.trait_block(),
            8..=10 => g.fn_block(),
            _ => g.test_block(),
        }
    }
    g.lines.truncate(lines);
    g.statements.retain(|&i| i < lines);
    (g.lines, g.statements)
}
