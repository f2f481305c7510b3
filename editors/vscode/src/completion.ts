// Inline suggestions (ghost text) from the server's `textDocument/inlineCompletion`, and the
// status bar toggle that turns them on and off through the `tandem.completion.enabled` setting.
//
// The language client's own inline completion feature asks the server and turns its items into
// VS Code's (the item's `tandem.completion.accept` command runs when the user accepts it). VS
// Code's stable API says nothing when a suggestion is shown, partly accepted or hidden (those
// hooks are the proposed `inlineCompletionsAdditions` API), so this client never sends
// `tandem.completion.dismiss` nor an `acceptedText`.

import * as vscode from 'vscode';
import { BaseLanguageClient, InlineCompletionRequest, ProposedFeatures } from 'vscode-languageclient/node';

import { Status } from './status';

/**
 * The language client's inline completion feature. In vscode-languageclient 9 it is one of the
 * "proposed" features (LSP 3.18), though it registers VS Code's stable provider; only it is
 * taken, not whatever else a later version proposes. Empty when the client already has it.
 */
export function inlineCompletionFeatures(client: BaseLanguageClient): ReturnType<typeof ProposedFeatures.createAll> {
    return ProposedFeatures.createAll(client).filter(
        (feature) => 'registrationType' in feature && feature.registrationType.method === InlineCompletionRequest.method,
    );
}

/** The server's counters of inline completion, in `tandem.status`. */
export interface CompletionCounters {
    requests?: number;
    shown?: number;
    accepted?: number;
    partlyAccepted?: number;
    dismissed?: number;
    cacheHits?: number;
    modelCalls?: number;
    cancelled?: number;
    failed?: number;
}

/** Whether suggestions are on as the server has them (its settings in force), if it said. */
function serverEnabled(status: Status | undefined): boolean | undefined {
    const completion = status?.settings?.completion;
    if (typeof completion !== 'object' || completion === null) {
        return undefined;
    }
    const enabled = (completion as { enabled?: unknown }).enabled;
    return typeof enabled === 'boolean' ? enabled : undefined;
}

/** The setting as VS Code has it (the server's default, on, when nobody set it). */
function settingEnabled(): boolean {
    return vscode.workspace.getConfiguration('tandem').get<boolean>('completion.enabled') ?? true;
}

/**
 * The status bar item that shows whether Tandem's inline suggestions are on; clicking it (or
 * **Tandem: Toggle Inline Suggestions**) flips `tandem.completion.enabled`.
 *
 * What it shows is the server's own view (`settings.completion.enabled` in `tandem.status`), as a
 * config file may have turned suggestions off with no VS Code setting at all; until the server
 * answers, and right after a click, it shows the VS Code setting.
 */
export class SuggestionToggle implements vscode.Disposable {
    readonly item: vscode.StatusBarItem;
    private enabled = settingEnabled();
    private counters: CompletionCounters | undefined;

    constructor(command: string) {
        // Just right of the main item (priority 100).
        this.item = vscode.window.createStatusBarItem('tandem.completion', vscode.StatusBarAlignment.Right, 99);
        this.item.name = 'Tandem Inline Suggestions';
        this.item.command = command;
        this.render();
        this.item.show();
    }

    /** A new status from the server (undefined: none, the server is not running). */
    statusChanged(status: Status | undefined): void {
        this.enabled = serverEnabled(status) ?? settingEnabled();
        const counters = status?.completion;
        this.counters = typeof counters === 'object' && counters !== null ? (counters as CompletionCounters) : undefined;
        this.render();
    }

    /**
     * Flips the setting where it is in force: the workspace's when the workspace sets it (a user
     * value would change nothing there), else the user's.
     */
    async toggle(): Promise<void> {
        const config = vscode.workspace.getConfiguration('tandem');
        const next = !this.enabled;
        const target =
            config.inspect<boolean>('completion.enabled')?.workspaceValue !== undefined
                ? vscode.ConfigurationTarget.Workspace
                : vscode.ConfigurationTarget.Global;
        await config.update('completion.enabled', next, target);
        // The settings change reaches the server, whose next status confirms it.
        this.enabled = next;
        this.render();
    }

    private render(): void {
        const state = this.enabled ? 'on' : 'off';
        this.item.text = this.enabled ? '$(sparkle) Suggestions: on' : '$(circle-slash) Suggestions: off';
        this.item.accessibilityInformation = { label: `Tandem inline suggestions: ${state}` };
        const lines = [`Tandem inline suggestions are ${state}. Click to turn them ${this.enabled ? 'off' : 'on'}.`];
        const c = this.counters;
        if (c !== undefined) {
            lines.push(
                `Asked ${c.requests ?? 0}, shown ${c.shown ?? 0}, accepted ${c.accepted ?? 0}` +
                    ` (${c.partlyAccepted ?? 0} in part), model calls ${c.modelCalls ?? 0}, failed ${c.failed ?? 0}`,
            );
        }
        this.item.tooltip = lines.join('\n');
    }

    dispose(): void {
        this.item.dispose();
    }
}
