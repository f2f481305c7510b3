// Markdown shown to the user (explanations, status details) in one webview panel, rendered
// by VS Code's own Markdown renderer (the built-in `markdown.api.render` command).

import * as vscode from 'vscode';

let panel: vscode.WebviewPanel | undefined;

function escapeHtml(text: string): string {
    return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function render(markdown: string): Promise<string> {
    try {
        const html = await vscode.commands.executeCommand<string>('markdown.api.render', markdown);
        if (typeof html === 'string') {
            return html;
        }
    } catch {
        // The built-in Markdown extension is disabled: show the text as it is.
    }
    return `<pre>${escapeHtml(markdown)}</pre>`;
}

/** Shows `markdown` under `title`, in the panel beside the editor (reused). */
export async function showMarkdown(title: string, markdown: string): Promise<void> {
    const body = await render(markdown);
    if (panel === undefined) {
        panel = vscode.window.createWebviewPanel(
            'tandem.markdown',
            title,
            { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
            { enableScripts: false, enableFindWidget: true },
        );
        panel.onDidDispose(() => (panel = undefined));
    }
    panel.title = title;
    panel.webview.html = `<!DOCTYPE html>
<html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src https: data:;">
<style>
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); line-height: 1.5; padding: 0 1em; }
code, pre { font-family: var(--vscode-editor-font-family); }
pre { background: var(--vscode-textCodeBlock-background); padding: 0.5em; overflow-x: auto; }
table { border-collapse: collapse; } td, th { border: 1px solid var(--vscode-panel-border); padding: 0.2em 0.6em; }
</style></head>
<body><h2>${escapeHtml(title)}</h2>${body}</body></html>`;
    panel.reveal(vscode.ViewColumn.Beside, true);
}
