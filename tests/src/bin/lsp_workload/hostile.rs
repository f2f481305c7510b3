//! The *hostile* workload: for each hostile file, a fresh server opens it and is asked for its
//! `documentSymbol`; meanwhile a cheap request goes out every 50 ms (`tandem.status` through
//! `workspace/executeCommand`; another server answers it with an error just as fast when it is
//! responsive) and its latency shows whether the server still answers while it works. Figures:
//! the time to the symbols, peak RSS, the median and worst latency of those requests, and RSS
//! once the file is closed and the server idle.
//!
//! Files: 5 MB of small functions on one line (minified code), and `mod a {` nested 8,000 and
//! 50,000 deep with a function at the bottom.

use super::{Figures, Options, Result, Server, Workspace, bail, ms, open, peak_rss_mib};
use serde_json::json;
use std::time::{Duration, Instant};

/// How often the responsiveness request goes out while the symbols are computed.
const EVERY: Duration = Duration::from_millis(50);

/// One hostile file and the keys of its figures.
struct Case {
    name: &'static str,
    keys: [&'static str; 5],
    text: fn() -> String,
}

const CASES: [Case; 3] = [
    Case {
        name: "line_5mb.rs",
        keys: [
            "hostile 5 MB line: symbols ms",
            "hostile 5 MB line: peak rss MiB",
            "hostile 5 MB line: status median ms",
            "hostile 5 MB line: status max ms",
            "hostile 5 MB line: rss after close MiB",
        ],
        text: || "fn a(){}".repeat(5_000_000 / 8) + "\n",
    },
    Case {
        name: "nested_8k.rs",
        keys: [
            "hostile 8k nested: symbols ms",
            "hostile 8k nested: peak rss MiB",
            "hostile 8k nested: status median ms",
            "hostile 8k nested: status max ms",
            "hostile 8k nested: rss after close MiB",
        ],
        text: || nested(8_000),
    },
    Case {
        name: "nested_50k.rs",
        keys: [
            "hostile 50k nested: symbols ms",
            "hostile 50k nested: peak rss MiB",
            "hostile 50k nested: status median ms",
            "hostile 50k nested: status max ms",
            "hostile 50k nested: rss after close MiB",
        ],
        text: || nested(50_000),
    },
];

fn nested(depth: usize) -> String {
    format!(
        "{}fn f() {{}}{}\n",
        "mod a {\n".repeat(depth),
        "}\n".repeat(depth)
    )
}

pub(super) async fn hostile(
    words: &[String],
    options: &Options,
    ticks: f64,
    ws: &Workspace,
) -> Result<Figures> {
    let mut figures = Figures::new();
    for case in &CASES {
        let mut server = Server::spawn(words, options, ticks, "hostile")?;
        let result = one(&mut server, case, ws).await;
        let failed = result.is_err();
        server.stop(failed).await;
        figures.extend(result?);
    }
    Ok(figures)
}

async fn one(server: &mut Server, case: &Case, ws: &Workspace) -> Result<Figures> {
    server.initialize(&ws.uri).await?;
    server.wait_idle().await?;
    let uri = ws.doc(case.name);
    open(server, &uri, &(case.text)());
    let began = Instant::now();
    let mut symbols = server.send(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": uri}}),
    )?;
    let mut latencies = Vec::new();
    let took = loop {
        if let Ok(answer) = symbols.try_recv() {
            if let Some(error) = answer.get("error") {
                bail!("documentSymbol on {} failed: {error}", case.name);
            }
            break began.elapsed();
        }
        if began.elapsed() > server.timeout {
            bail!(
                "no documentSymbol for {} within {:?}",
                case.name,
                server.timeout
            );
        }
        let asked = Instant::now();
        server
            .request(
                "workspace/executeCommand",
                json!({"command": "tandem.status", "arguments": [{}]}),
            )
            .await?;
        latencies.push(ms(asked.elapsed()));
        tokio::time::sleep(EVERY.saturating_sub(asked.elapsed())).await;
    };
    let worst = latencies.iter().copied().fold(0.0, f64::max);
    let median = super::median(&mut latencies);
    let peak = peak_rss_mib(server.pid);
    // What the file still costs once closed.
    server.notify(
        "textDocument/didClose",
        json!({"textDocument": {"uri": uri}}),
    );
    server.wait_idle().await?;
    Ok(Figures::from([
        (case.keys[0], ms(took)),
        (case.keys[1], peak),
        (case.keys[2], median),
        (case.keys[3], worst),
        (case.keys[4], super::status_mib(server.pid, "VmRSS:")),
    ]))
}
