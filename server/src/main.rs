//! The `tandem` binary: serves LSP on stdio by default; subcommands for the command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tandem::logging::Verbosity;

#[derive(Parser, Debug)]
#[command(
    name = "tandem",
    version,
    about = "A coding agent inside any editor, as a language server",
    // Clients add `--stdio` themselves (vscode-languageclient does) on top of a user's command
    // that may already carry it: a flag given twice is the same flag.
    args_override_self = true
)]
struct Cli {
    /// Serve LSP on stdin/stdout (the default; accepted for clients that pass it).
    #[arg(long)]
    stdio: bool,
    /// Write logs to this file instead of stderr.
    #[arg(long, global = true, value_name = "PATH")]
    log_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

/// What every subcommand accepts and ignores, out of its help: a client may add `--stdio` to
/// any command line it starts.
#[derive(clap::Args, Debug)]
struct Ignored {
    #[arg(long, hide = true)]
    stdio: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve LSP on stdin/stdout (same as no subcommand).
    Serve {
        #[command(flatten)]
        ignored: Ignored,
    },
    /// Check the settings and the model endpoint; exit code 0 only when the model answered.
    Doctor {
        #[command(flatten)]
        ignored: Ignored,
        /// An editor's settings object as JSON (the shape of `initializationOptions`), applied
        /// over the settings files as the editor's would be: how an editor plugin checks
        /// the settings it sends.
        #[arg(long, value_name = "JSON")]
        settings: Option<String>,
        /// Print only the problems in the settings and one line: ok, or what failed and what to
        /// do. No settings table, no steps.
        #[arg(short, long, conflicts_with = "verbose")]
        quiet: bool,
        /// Also list every model the endpoint serves, and show the logs of the requests
        /// (tandem's logs at `debug`, to stderr or --log-file; TANDEM_LOG overrides).
        #[arg(short, long)]
        verbose: bool,
    },
    /// Run one agent action on a file without an editor.
    ///
    /// explain prints its Markdown on stdout. review prints each finding on stdout as
    /// `FILE:LINE:COLUMN: SEVERITY: MESSAGE` (1-based). fix, implement, document, edit and tests
    /// change the file (tests: where the language keeps them; for Python, Go, JavaScript and
    /// TypeScript the test file next to it, created when missing), written only once the action is
    /// done, or shown as a unified diff with --diff. Progress goes to stderr.
    ///
    /// Exit codes: 0 done (review: no findings); 1 the action failed (review: findings); 2 bad
    /// usage (review: also the review failed). A failure's reason goes to stderr, once.
    Exec {
        #[command(flatten)]
        ignored: Ignored,
        /// The action: explain, fix, implement, document, tests, edit, review, or task (the
        /// agent across files: --instruction says what to do; it reads, edits and creates files
        /// of the workspace, printing each step, then its summary on stdout and the files it
        /// changed with their added and removed lines on stderr).
        action: String,
        /// The file to work on. review's findings name it as given here. Optional for task
        /// (where the user stands; the workspace is the current folder's otherwise).
        file: Option<PathBuf>,
        /// Optional. `L1:C1-L2:C2`, or `L:C` for a position; 1-based, columns in characters.
        /// implement, document and tests need a position in the item (a range's start counts);
        /// edit needs a range; explain and fix take the whole file without one (with a position,
        /// the item there); review always reads the whole file.
        #[arg(long, value_name = "RANGE")]
        range: Option<String>,
        /// What to change (for `edit`; for the other actions, added to the request).
        #[arg(long)]
        instruction: Option<String>,
        /// Print a unified diff instead of writing any file.
        #[arg(long)]
        diff: bool,
        /// Print only the output (explanation, findings, diff), warnings and the failure: no
        /// progress, no "wrote FILE" lines on stderr.
        #[arg(short, long, conflicts_with = "verbose")]
        quiet: bool,
        /// Also log what was tried: the job, each model request and retry (tandem's logs at
        /// `debug`, to stderr or --log-file; without it only errors are logged; TANDEM_LOG
        /// overrides).
        #[arg(short, long)]
        verbose: bool,
    },
}

fn main() {
    let cli = Cli::parse();
    // exec says itself what happened, once: its logs are only for what it cannot say.
    let level = match cli.command {
        Some(Command::Exec { quiet, verbose, .. }) => {
            Verbosity::from_flags(quiet, verbose).log_level("error")
        }
        Some(Command::Doctor { quiet, verbose, .. }) => {
            Verbosity::from_flags(quiet, verbose).log_level("info")
        }
        _ => "info",
    };
    if let Err(err) = tandem::logging::init(cli.log_file.as_deref(), level) {
        // stdout is the protocol: errors before serving go to stderr.
        let path = cli.log_file.as_deref().unwrap_or(std::path::Path::new(""));
        tandem::logging::fatal(&format!(
            "tandem: cannot open the log file {}: {err}. Give --log-file a file in a folder that \
             exists and you can write to, or leave it out to log to stderr.",
            path.display()
        ));
        std::process::exit(2);
    }
    let code = match cli.command {
        None | Some(Command::Serve { .. }) => serve(),
        Some(Command::Doctor {
            settings,
            quiet,
            verbose,
            ..
        }) => doctor(settings.as_deref(), Verbosity::from_flags(quiet, verbose)),
        Some(Command::Exec {
            action,
            file,
            range,
            instruction,
            diff,
            quiet,
            verbose,
            ..
        }) => exec(tandem::exec::ExecOptions {
            action,
            file,
            range,
            instruction,
            diff,
            verbosity: Verbosity::from_flags(quiet, verbose),
            env: tandem::config::Environment::from_process(),
            user_config: None,
        }),
    };
    std::process::exit(code);
}

/// Builds the async runtime, or says why it cannot (on stderr: stdout may be the protocol).
fn runtime(builder: &mut tokio::runtime::Builder) -> Option<tokio::runtime::Runtime> {
    match builder.enable_all().build() {
        Ok(runtime) => Some(runtime),
        Err(err) => {
            tandem::logging::fatal(&format!("tandem: cannot start the async runtime: {err}"));
            None
        }
    }
}

fn doctor(settings: Option<&str>, verbosity: Verbosity) -> i32 {
    let Some(runtime) = runtime(&mut tokio::runtime::Builder::new_current_thread()) else {
        return 2;
    };
    let mut options = tandem::doctor::DoctorOptions::from_process();
    if let Some(settings) = settings {
        match serde_json::from_str(settings) {
            Ok(value) => options.editor_settings = Some(value),
            Err(err) => {
                tandem::logging::fatal(&format!("tandem doctor: --settings is not JSON: {err}"));
                return 2;
            }
        }
    }
    // The report is the command's output: it goes to stdout (no LSP is spoken here).
    let mut out = std::io::stdout();
    runtime.block_on(tandem::doctor::run_with(&options, verbosity, &mut out))
}

fn exec(options: tandem::exec::ExecOptions) -> i32 {
    let Some(runtime) = runtime(&mut tokio::runtime::Builder::new_multi_thread()) else {
        return 2;
    };
    // The explanation, the findings or the diff are the command's output; progress goes to
    // stderr. Unlocked handles: logs from other threads write to stderr too, and a held lock
    // would block them.
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    runtime.block_on(tandem::exec::run(&options, &mut out, &mut err))
}

fn serve() -> i32 {
    // The editor waits for this answer before it shows anything: it goes out before the
    // runtime and its threads exist.
    let early =
        tandem::lsp::answer_initialize_early(&mut std::io::stdin().lock(), &mut std::io::stdout());
    let Some(runtime) = runtime(&mut tokio::runtime::Builder::new_multi_thread()) else {
        return 2;
    };
    let code = runtime.block_on(tandem::lsp::serve(
        tokio::io::stdin(),
        tokio::io::stdout(),
        early,
    ));
    // Do not wait for the runtime's threads: the one blocked reading stdin would hold the
    // process until the client wrote again, and some clients never do.
    runtime.shutdown_background();
    code
}
