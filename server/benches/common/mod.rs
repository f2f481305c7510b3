//! What the benches share: the Rust source they work on.

/// A Rust file of `lines` lines, made of small functions like the workload driver generates.
pub fn rust_source(lines: usize) -> String {
    let mut out = String::with_capacity(lines * 40);
    for n in 0..lines.div_ceil(6) {
        out.push_str(&format!(
            "/// Returns {n} plus x.\nfn f{n}(x: u64) -> u64 {{\n    let y = x + {n};\n    y * 2\n}}\n\n"
        ));
    }
    out
}
