//! Settings: defaults, the contract's provider choice, the merge order, and what bad input does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use serde_json::json;
use tandem::config::{ConfigStore, EditMode, Environment, Severity, Source};
use tandem::model::Provider;

fn env(pairs: &[(&str, &str)]) -> Environment {
    Environment::from_pairs(pairs.iter().copied())
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn with_no_settings_the_provider_follows_the_keys_present() {
    type Case<'a> = (&'a [(&'a str, &'a str)], Provider, &'a str, Option<&'a str>);
    let cases: &[Case] = &[
        (&[], Provider::Ollama, "http://127.0.0.1:11434", None),
        (
            &[("OPENAI_API_KEY", "k")],
            Provider::OpenAi,
            "https://api.openai.com/v1",
            Some("OPENAI_API_KEY"),
        ),
        (
            &[("ANTHROPIC_API_KEY", "k")],
            Provider::Anthropic,
            "https://api.anthropic.com/v1",
            Some("ANTHROPIC_API_KEY"),
        ),
        (
            &[("ANTHROPIC_API_KEY", "k"), ("OPENAI_API_KEY", "k")],
            Provider::OpenAi,
            "https://api.openai.com/v1",
            Some("OPENAI_API_KEY"),
        ),
        // An empty variable counts as unset.
        (
            &[("OPENAI_API_KEY", "")],
            Provider::Ollama,
            "http://127.0.0.1:11434",
            None,
        ),
    ];
    for (vars, provider, base_url, key_env) in cases {
        let store = ConfigStore::new(env(vars));
        let model = &store.settings().model;
        assert_eq!(model.provider, *provider, "{vars:?}");
        assert_eq!(model.base_url, *base_url, "{vars:?}");
        assert_eq!(model.api_key_env.as_deref(), *key_env, "{vars:?}");
        assert!(
            matches!(store.origin("model.provider"), Source::Detected(_)),
            "{vars:?}"
        );
        assert_eq!(store.origin("model.baseUrl"), Source::Default);
    }
    let defaults = ConfigStore::new(env(&[]));
    let settings = defaults.settings();
    assert_eq!(settings.model.max_output_tokens, 4096);
    assert_eq!(settings.model.request_timeout_ms, 120_000);
    assert_eq!(settings.model.idle_timeout_ms, 30_000);
    assert_eq!(settings.edits.mode, EditMode::Stream);
    assert!(settings.hover.enabled);
    assert_eq!(settings.hover.timeout_ms, 4000);
}

#[test]
fn layers_merge_in_the_contract_order_and_remember_where_each_value_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let config_home = dir.path().join("config");
    let user = config_home.join("tandem").join("config.toml");
    let root = dir.path().join("project");
    let workspace = root.join(".tandem").join("config.toml");
    write(
        &user,
        "[model]\nprovider = \"anthropic\"\nname = \"from-user\"\nmaxOutputTokens = 100\n[hover]\nenabled = false\n",
    );
    write(
        &workspace,
        "[model]\nname = \"from-workspace\"\nidleTimeoutMs = 500\n",
    );

    let vars = [("XDG_CONFIG_HOME", config_home.to_str().unwrap())];
    let (mut store, messages) = ConfigStore::load(env(&vars), Some(&root));
    assert_eq!(messages, []);
    let s = store.settings().clone();
    assert_eq!(s.model.provider, Provider::Anthropic);
    assert_eq!(s.model.name, "from-workspace");
    assert_eq!(s.model.max_output_tokens, 100);
    assert_eq!(s.model.idle_timeout_ms, 500);
    assert!(!s.hover.enabled);
    assert_eq!(
        s.model.base_url, "https://api.anthropic.com/v1",
        "the provider's default follows the provider"
    );
    assert_eq!(
        store.origin("model.provider"),
        Source::UserFile(user.clone())
    );
    assert_eq!(
        store.origin("model.name"),
        Source::WorkspaceFile(workspace.clone())
    );
    assert_eq!(store.origin("model.requestTimeoutMs"), Source::Default);

    assert_eq!(
        store.set_initialization_options(
            json!({"model": {"name": "from-init"}, "edits": {"mode": "preview"}})
        ),
        []
    );
    assert_eq!(store.settings().model.name, "from-init");
    assert_eq!(store.settings().edits.mode, EditMode::Preview);
    assert_eq!(store.origin("model.name"), Source::InitializationOptions);

    assert_eq!(
        store.set_client_configuration(
            json!({"settings": {"tandem": {"model": {"name": "from-client"}}}})
        ),
        []
    );
    assert_eq!(store.settings().model.name, "from-client");
    assert_eq!(store.origin("model.name"), Source::ClientConfiguration);
    assert_eq!(
        store.settings().edits.mode,
        EditMode::Preview,
        "other layers stay"
    );

    // workspace/configuration answers an array, one result per item asked for.
    assert_eq!(
        store.set_client_configuration(json!([{"model": {"name": "from-pull"}}])),
        []
    );
    assert_eq!(store.settings().model.name, "from-pull");
    assert_eq!(store.set_client_configuration(json!([null])), []);
    assert_eq!(store.settings().model.name, "from-pull");
    assert_eq!(
        store.set_client_configuration(json!({"tandem": {"model": {"name": "from-client"}}})),
        []
    );

    // A client that wants to be asked sends null: nothing changes.
    assert_eq!(
        store.set_client_configuration(json!({"settings": null})),
        []
    );
    assert_eq!(store.settings().model.name, "from-client");
    // A later answer replaces the client layer as a whole.
    assert_eq!(
        store.set_client_configuration(json!({"hover": {"timeoutMs": 900}})),
        []
    );
    assert_eq!(store.settings().model.name, "from-init");
    assert_eq!(store.settings().hover.timeout_ms, 900);

    // The workspace file goes away: its values go with it.
    std::fs::remove_file(&workspace).unwrap();
    assert_eq!(store.set_workspace_root(&root), []);
    assert_eq!(store.settings().model.idle_timeout_ms, 30_000);
}

#[test]
fn null_means_unset() {
    let mut store = ConfigStore::new(env(&[]));
    store.set_initialization_options(json!({"model": {"name": "n", "maxOutputTokens": 10}}));
    assert_eq!(
        store.set_client_configuration(
            json!({"model": {"name": null, "maxOutputTokens": null}, "hover": null})
        ),
        []
    );
    assert_eq!(store.settings().model.name, "n");
    assert_eq!(store.settings().model.max_output_tokens, 10);
}

#[test]
fn unknown_keys_are_warned_about_and_the_rest_applies() {
    let mut store = ConfigStore::new(env(&[]));
    let messages = store.set_initialization_options(json!({
        "model": {"name": "m", "temperature": 0.2},
        "colour": "blue",
    }));
    let texts: Vec<_> = messages
        .iter()
        .map(|m| (m.severity, m.text.as_str()))
        .collect();
    assert_eq!(
        texts,
        [
            (
                Severity::Warning,
                "unknown setting `colour` in initializationOptions is ignored"
            ),
            (
                Severity::Warning,
                "unknown setting `model.temperature` in initializationOptions is ignored"
            ),
        ]
    );
    assert_eq!(store.settings().model.name, "m");
}

#[test]
fn wrong_types_name_the_key_and_the_file_and_keep_the_last_good_settings() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let workspace = root.join(".tandem").join("config.toml");
    write(&workspace, "[model]\nname = \"good\"\n");
    let mut store = ConfigStore::new(env(&[]));
    assert_eq!(store.set_workspace_root(root), []);
    assert_eq!(store.settings().model.name, "good");

    let cases = [
        (
            "[model]\nname = \"other\"\nmaxOutputTokens = \"lots\"\n",
            "`model.maxOutputTokens`",
            "must be a whole number greater than 0, found a string",
        ),
        (
            "[model]\nprovider = \"gemini\"\n",
            "`model.provider`",
            "must be one of \"openai\", \"openai-responses\", \"anthropic\", \"ollama\"",
        ),
        (
            "[model]\nbaseUrl = \"localhost:8080\"\n",
            "`model.baseUrl`",
            "must be an http:// or https:// URL",
        ),
        (
            "[hover]\nenabled = \"yes\"\n",
            "`hover.enabled`",
            "must be true or false, found a string",
        ),
        (
            "[edits]\nmode = \"fast\"\n",
            "`edits.mode`",
            "must be \"stream\" or \"preview\"",
        ),
        (
            "[model]\nrequestTimeoutMs = -5\n",
            "`model.requestTimeoutMs`",
            "must be a whole number greater than 0, found a number",
        ),
        (
            "model = \"gpt\"\n",
            "`model`",
            "must be a table, found a string",
        ),
    ];
    for (text, key, expected) in cases {
        write(&workspace, text);
        let messages = store.set_workspace_root(root);
        let error = messages
            .iter()
            .find(|m| m.severity == Severity::Error)
            .unwrap_or_else(|| panic!("{text}: {messages:?}"));
        assert!(
            error
                .text
                .starts_with(&format!("{key} in workspace file {}", workspace.display())),
            "{}",
            error.text
        );
        assert!(error.text.contains(expected), "{}", error.text);
        assert!(
            messages
                .iter()
                .any(|m| m.text.contains("keeping the previous ones")),
            "{messages:?}"
        );
        assert_eq!(
            store.settings().model.name,
            "good",
            "{text}: the whole layer is refused"
        );
        assert_eq!(
            store.origin("model.name"),
            Source::WorkspaceFile(workspace.clone())
        );
    }

    write(&workspace, "[model\nname = ");
    let messages = store.set_workspace_root(root);
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0].text.starts_with(&format!(
            "workspace file {} is not valid TOML",
            workspace.display()
        )),
        "{}",
        messages[0].text
    );
    assert_eq!(store.settings().model.name, "good");

    let messages = store.set_client_configuration(json!(["not", "an", "object"]));
    assert!(
        messages[0]
            .text
            .contains("workspace/configuration must be a table"),
        "{messages:?}"
    );
}

#[test]
fn keys_are_never_read_from_settings_and_never_echoed() {
    let mut store = ConfigStore::new(env(&[]));
    let messages = store.set_initialization_options(json!({"model": {"apiKey": "sk-live-123456"}}));
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0].text.contains("name it in model.apiKeyEnv"),
        "{}",
        messages[0].text
    );
    // A key pasted where the variable's name goes is refused, and not repeated.
    let messages =
        store.set_initialization_options(json!({"model": {"apiKeyEnv": "sk-live-123456"}}));
    assert!(
        messages[0].text.contains(
            "`model.apiKeyEnv` in initializationOptions must be the name of an environment variable"
        ),
        "{messages:?}"
    );
    for message in messages {
        assert!(!message.text.contains("sk-live"), "{message}");
    }
}

#[test]
fn the_default_key_variable_goes_only_to_the_providers_own_endpoint() {
    let vars = [("OPENAI_API_KEY", "sk-real"), ("VLLM_KEY", "local-key")];
    let mut store = ConfigStore::new(env(&vars));
    assert_eq!(
        store.settings().model.api_key_env.as_deref(),
        Some("OPENAI_API_KEY")
    );
    let endpoint = store.settings().model.endpoint(&env(&vars));
    assert!(endpoint.api_key.is_some());

    // A workspace that points the endpoint elsewhere does not get the OpenAI key by default.
    store.set_initialization_options(json!({"model": {"baseUrl": "http://gpu-box:8000/v1"}}));
    assert_eq!(store.settings().model.provider, Provider::OpenAi);
    assert_eq!(store.settings().model.api_key_env, None);
    assert!(
        store
            .settings()
            .model
            .endpoint(&env(&vars))
            .api_key
            .is_none()
    );

    store.set_initialization_options(
        json!({"model": {"baseUrl": "http://gpu-box:8000/v1", "apiKeyEnv": "VLLM_KEY"}}),
    );
    assert_eq!(
        store.settings().model.api_key_env.as_deref(),
        Some("VLLM_KEY")
    );
    assert!(
        store
            .settings()
            .model
            .endpoint(&env(&vars))
            .api_key
            .is_some()
    );

    // "" says: no key, even for the provider's own endpoint.
    store.set_initialization_options(json!({"model": {"apiKeyEnv": ""}}));
    assert_eq!(store.settings().model.api_key_env, None);
}

#[test]
fn the_endpoint_carries_the_settings() {
    let mut store = ConfigStore::new(env(&[]));
    store.set_initialization_options(json!({"model": {
        "provider": "openai-responses", "baseUrl": "https://example.test/v1", "name": "m",
        "maxOutputTokens": 12, "requestTimeoutMs": 3000, "idleTimeoutMs": 700
    }}));
    let endpoint = store.settings().model.endpoint(&env(&[]));
    assert_eq!(endpoint.provider, Provider::OpenAiResponses);
    assert_eq!(endpoint.base_url, "https://example.test/v1");
    assert_eq!(endpoint.model, "m");
    assert_eq!(endpoint.max_output_tokens, 12);
    assert_eq!(
        endpoint.request_timeout,
        std::time::Duration::from_millis(3000)
    );
    assert_eq!(endpoint.idle_timeout, std::time::Duration::from_millis(700));
    let shown = serde_json::to_value(store.settings()).unwrap();
    assert_eq!(shown["model"]["provider"], "openai-responses");
    assert_eq!(shown["model"]["baseUrl"], "https://example.test/v1");
}

#[test]
fn a_workspace_file_cannot_send_a_key_to_a_url_it_chose() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let workspace_file = root.join(".tandem/config.toml");
    let keys = env(&[("OPENAI_API_KEY", "sk-user-secret-0000000000")]);
    // The workspace points the key at another machine: no key goes there.
    write(
        &workspace_file,
        "[model]\nprovider = \"openai\"\nbaseUrl = \"https://collector.example.com/v1\"\napiKeyEnv = \"OPENAI_API_KEY\"\n",
    );
    let (store, _) = ConfigStore::load(keys.clone(), Some(root));
    assert_eq!(store.settings().model.api_key_env, None);
    assert!(store.endpoint().api_key.is_none());
    assert!(
        matches!(store.origin("model.apiKeyEnv"), Source::Detected(why) if why.contains("workspace file"))
    );
    // A local server named by the workspace may get the key it names.
    write(
        &workspace_file,
        "[model]\nprovider = \"openai\"\nbaseUrl = \"http://127.0.0.1:8080/v1\"\napiKeyEnv = \"OPENAI_API_KEY\"\n",
    );
    let (store, _) = ConfigStore::load(keys.clone(), Some(root));
    assert_eq!(
        store.settings().model.api_key_env.as_deref(),
        Some("OPENAI_API_KEY")
    );
    // The same URL from the user's own settings is the user's choice.
    let mut store = ConfigStore::new(keys);
    store.set_initialization_options(json!({"model": {"provider": "openai", "baseUrl": "https://proxy.example.com/v1", "apiKeyEnv": "OPENAI_API_KEY"}}));
    assert_eq!(
        store.settings().model.api_key_env.as_deref(),
        Some("OPENAI_API_KEY")
    );
}

#[test]
fn predicted_outputs_is_auto_true_or_false_and_reaches_the_endpoint() {
    use tandem::model::PredictedOutputs;
    let cases = [
        (json!(null), Some(PredictedOutputs::Auto), json!("auto")),
        (json!("auto"), Some(PredictedOutputs::Auto), json!("auto")),
        (json!(true), Some(PredictedOutputs::On), json!(true)),
        (json!(false), Some(PredictedOutputs::Off), json!(false)),
        (json!("yes"), None, json!(null)),
        (json!(1), None, json!(null)),
    ];
    for (value, expected, shown) in cases {
        let mut store = ConfigStore::new(env(&[]));
        let messages =
            store.set_initialization_options(json!({"model": {"predictedOutputs": value}}));
        let Some(expected) = expected else {
            assert!(
                messages.iter().any(|m| m.severity == Severity::Error
                    && m.text.contains("`model.predictedOutputs`")
                    && m.text.contains("must be \"auto\", true or false")),
                "{value}: {messages:?}"
            );
            assert_eq!(
                store.settings().model.predicted_outputs,
                PredictedOutputs::Auto
            );
            continue;
        };
        assert_eq!(messages, [], "{value}");
        assert_eq!(
            store.settings().model.predicted_outputs,
            expected,
            "{value}"
        );
        assert_eq!(
            store.endpoint().predicted_outputs,
            expected,
            "{value}: the endpoint carries it"
        );
        let entry = store
            .entries()
            .into_iter()
            .find(|(key, _, _)| *key == "model.predictedOutputs")
            .expect("listed among the settings");
        assert_eq!(entry.1, shown, "{value}");
    }
}
