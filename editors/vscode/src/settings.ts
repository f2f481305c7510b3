// The settings object sent to the server: the `tandem.*` settings the user set, in the
// contract's shape (`{model: {…}, edits: {…}, hover: {…}, learn: {…}, completion: {…}}`),
// nothing else, so that every key the user left alone falls to the server's own defaults and
// config files.

import * as vscode from 'vscode';

/** The `tandem.*` keys that belong to the server's settings object (not `tandem.server.path`). */
export const SERVER_KEYS = [
    'model.provider',
    'model.command',
    'model.baseUrl',
    'model.name',
    'model.apiKeyEnv',
    'model.maxOutputTokens',
    'model.requestTimeoutMs',
    'model.idleTimeoutMs',
    'edits.mode',
    'hover.enabled',
    'hover.timeoutMs',
    'learn.enabled',
    'learn.minEvidence',
    'completion.enabled',
    'completion.mode',
    'completion.provider',
    'completion.baseUrl',
    'completion.name',
    'completion.debounceMs',
    'completion.maxTokens',
] as const;

export type SettingsObject = { [section: string]: { [key: string]: unknown } };

/** The value the user set for `tandem.<key>` (folder, workspace or user), or undefined. */
function userValue(config: vscode.WorkspaceConfiguration, key: string): unknown {
    const inspected = config.inspect(key);
    if (inspected === undefined) {
        return undefined;
    }
    if (MACHINE_KEYS.has(key)) {
        // A program to run: never from a workspace's settings, which a cloned repository holds.
        return inspected.globalValue;
    }
    return inspected.workspaceFolderValue ?? inspected.workspaceValue ?? inspected.globalValue;
}

/** Keys only the user's own settings may set. */
const MACHINE_KEYS = new Set(['model.command']);

/** The environment variable the API key goes in: the setting, else the provider's own. */
export function apiKeyEnv(config = vscode.workspace.getConfiguration('tandem')): string | undefined {
    const named = userValue(config, 'model.apiKeyEnv');
    if (typeof named === 'string') {
        return named === '' ? undefined : named;
    }
    switch (userValue(config, 'model.provider')) {
        case 'anthropic':
            return 'ANTHROPIC_API_KEY';
        case 'ollama':
            return undefined;
        default:
            // openai, openai-responses, and no provider at all: the server picks OpenAI when
            // OPENAI_API_KEY is set.
            return 'OPENAI_API_KEY';
    }
}

/**
 * The settings object. `hasKey` says a key from the extension's secret storage is handed to the
 * server: then the variable is named explicitly, because the server only sends a provider's
 * default variable to that provider's default endpoint, and this key was given for the endpoint
 * the user configured here.
 */
export function settingsObject(hasKey: boolean): SettingsObject {
    const config = vscode.workspace.getConfiguration('tandem');
    const settings: SettingsObject = {};
    for (const key of SERVER_KEYS) {
        const value = userValue(config, key);
        // An empty string is "not set", except for apiKeyEnv, where it means "no key".
        if (value === undefined || value === null || (value === '' && key !== 'model.apiKeyEnv')) {
            continue;
        }
        const [section, name] = key.split('.');
        (settings[section] ??= {})[name] = value;
    }
    const env = apiKeyEnv(config);
    if (hasKey && env !== undefined && settings.model?.apiKeyEnv === undefined) {
        (settings.model ??= {}).apiKeyEnv = env;
    }
    return settings;
}

/** The keys set in `before` that `after` no longer has (they need the server's defaults back). */
export function removedKeys(before: SettingsObject, after: SettingsObject): string[] {
    const removed: string[] = [];
    for (const [section, values] of Object.entries(before)) {
        for (const name of Object.keys(values)) {
            if (after[section]?.[name] === undefined) {
                removed.push(`${section}.${name}`);
            }
        }
    }
    return removed;
}
