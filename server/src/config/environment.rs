//! The process's environment variables as the settings read them: where the user file is,
//! and the variables that hold API keys (never shown).

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

/// Environment variables, read once; tests pass their own.
#[derive(Clone, Default)]
pub struct Environment {
    vars: HashMap<String, String>,
}

impl fmt::Debug for Environment {
    // Values may be keys: only the names are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self.vars.keys().collect();
        names.sort();
        f.debug_struct("Environment")
            .field("names", &names)
            .finish()
    }
}

impl Environment {
    pub fn from_process() -> Self {
        Environment {
            vars: std::env::vars().collect(),
        }
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Environment {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The variable's value, when it is set and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// `$XDG_CONFIG_HOME/tandem/config.toml`, or `~/.config/tandem/config.toml`.
    pub fn user_config_path(&self) -> Option<PathBuf> {
        let base = match self.get("XDG_CONFIG_HOME") {
            Some(dir) => PathBuf::from(dir),
            None => PathBuf::from(self.get("HOME")?).join(".config"),
        };
        Some(base.join("tandem").join("config.toml"))
    }
}
