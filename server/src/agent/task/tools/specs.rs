//! The tools a task offers its model: names, descriptions and JSON Schemas, as the contract
//! names them.

use serde_json::{Value, json};

use crate::model::ToolSpec;

/// The tools a task's model may call; `run_check` only when a check command is set.
pub fn specs(with_check: bool) -> Vec<ToolSpec> {
    let mut specs = vec![
        spec(
            "read_file",
            "Read a file of the workspace, with 1-based line numbers (a number and a tab before \
             each line; they are not part of the text). Shows the editor's unsaved text when the \
             file is open. Long files are cut: read on with startLine.",
            json!({
                "path": {"type": "string", "description": "Path relative to the workspace root."},
                "startLine": {"type": "integer", "minimum": 1, "description": "First line to show (1-based, inclusive)."},
                "endLine": {"type": "integer", "minimum": 1, "description": "Last line to show (inclusive)."}
            }),
            &["path"],
        ),
        spec(
            "list_files",
            "List the files of the workspace (ignored and secret files left out), optionally \
             only those matching a glob such as `*.rs` or `src/**/*.ts`.",
            json!({
                "glob": {"type": "string", "description": "Only paths matching this glob (gitignore syntax: `*.rs` matches at any depth)."}
            }),
            &[],
        ),
        spec(
            "search",
            "Search the workspace's files for a text (or a regular expression) and get the \
             matching lines as `path:line: text`, at most a bounded number of them.",
            json!({
                "query": {"type": "string", "description": "The text to find, exactly (case-sensitive), or a regular expression when isRegex is true."},
                "isRegex": {"type": "boolean", "description": "Treat query as a regular expression (Rust regex syntax). Default false."},
                "glob": {"type": "string", "description": "Only search paths matching this glob, such as `*.rs`."}
            }),
            &["query"],
        ),
        spec(
            "edit_file",
            "Edit a file: replace the one exact occurrence of `old` with `new`. `old` must \
             appear exactly once, whitespace included (copy it from read_file without the line \
             numbers, with enough surrounding lines to be unique).",
            json!({
                "path": {"type": "string", "description": "Path relative to the workspace root."},
                "old": {"type": "string", "description": "The exact text to replace; it must occur exactly once."},
                "new": {"type": "string", "description": "The text to put in its place."}
            }),
            &["path", "old", "new"],
        ),
        spec(
            "create_file",
            "Create a new file with the given content. Fails when the file already exists: \
             use edit_file for that.",
            json!({
                "path": {"type": "string", "description": "Path relative to the workspace root; missing folders are created."},
                "content": {"type": "string", "description": "The whole text of the new file."}
            }),
            &["path", "content"],
        ),
    ];
    if with_check {
        specs.push(spec(
            "run_check",
            "Run the project's check command (build, tests or linter) on the workspace as it \
             is now, your edits included, and get its exit code and output.",
            json!({}),
            &[],
        ));
    }
    specs
}

fn spec(name: &str, description: &str, properties: Value, required: &[&str]) -> ToolSpec {
    ToolSpec {
        name: name.to_owned(),
        description: description.to_owned(),
        parameters: json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::specs;

    /// The contract's table: each tool's name and its arguments, required ones first.
    #[test]
    fn tools_and_arguments_are_the_contracts() {
        let table: [(&str, &[&str], &[&str]); 6] = [
            ("read_file", &["path"], &["startLine", "endLine"]),
            ("list_files", &[], &["glob"]),
            ("search", &["query"], &["isRegex", "glob"]),
            ("edit_file", &["path", "old", "new"], &[]),
            ("create_file", &["path", "content"], &[]),
            ("run_check", &[], &[]),
        ];
        for with_check in [false, true] {
            let specs = specs(with_check);
            let expected: Vec<_> = table
                .iter()
                .filter(|(name, ..)| with_check || *name != "run_check")
                .collect();
            assert_eq!(specs.len(), expected.len(), "with_check {with_check}");
            for (spec, (name, required, optional)) in specs.iter().zip(expected) {
                assert_eq!(spec.name, *name);
                assert!(!spec.description.is_empty(), "{name}");
                let schema = &spec.parameters;
                assert_eq!(schema["type"], "object", "{name}");
                assert_eq!(schema["required"], serde_json::json!(required), "{name}");
                let mut properties: Vec<&str> = schema["properties"]
                    .as_object()
                    .expect("properties")
                    .keys()
                    .map(String::as_str)
                    .collect();
                properties.sort_unstable();
                let mut all: Vec<&str> = required.iter().chain(*optional).copied().collect();
                all.sort_unstable();
                assert_eq!(properties, all, "{name}");
            }
        }
    }
}
