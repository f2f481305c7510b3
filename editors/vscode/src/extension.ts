// Tandem for VS Code: a thin client of the `tandem` language server. It starts the server,
// hands it the settings and the API key, and turns what the server says into VS Code's UI;
// every agent behaviour lives in the server.

import * as vscode from 'vscode';
import {
    DidChangeConfigurationNotification,
    ExecuteCommandRequest,
    LanguageClient,
    State,
} from 'vscode-languageclient/node';

import { SECRET_KEY, createClient, findServer } from './client';
import { Host, registerCommands } from './commands';
import { SuggestionToggle } from './completion';
import { JobFinished, Jobs, errorText } from './jobs';
import * as rules from './rules';
import { SettingsObject, apiKeyEnv, removedKeys, settingsObject } from './settings';
import { Status, StatusBar } from './status';
import { JobStep, TaskArgument, Tasks } from './task';

let client: LanguageClient | undefined;
/** The settings sent at start (initializationOptions), and whether a stored key went along. */
let initial: SettingsObject = {};
let keyHanded = false;
/** Starts and stops run one at a time, in order. */
let lifecycle: Promise<void> = Promise.resolve();

export function activate(context: vscode.ExtensionContext): void {
    const output = vscode.window.createOutputChannel('Tandem');
    const execute = async (command: string, argument: object): Promise<unknown> => {
        const running = host.client();
        if (running === undefined) {
            throw new Error('the Tandem server is not running');
        }
        return running.sendRequest(ExecuteCommandRequest.type, { command, arguments: [argument] });
    };
    const jobs = new Jobs(execute);
    const tasks = new Tasks(output, execute);
    const statusBar = new StatusBar(async () => {
        if (client?.state !== State.Running) {
            return undefined;
        }
        return (await execute('tandem.status', {})) as Status;
    }, 'tandem.palette.menu');
    const suggestions = new SuggestionToggle('tandem.palette.toggleCompletion');
    statusBar.onDidChange((status) => suggestions.statusChanged(status));
    const host: Host = {
        client: () => {
            if (client?.state === State.Running) {
                return client;
            }
            void vscode.window.showWarningMessage(
                client === undefined
                    ? 'Tandem: the server is not running (see the Tandem output).'
                    : 'Tandem: the server is still starting; try again in a moment.',
            );
            return undefined;
        },
        execute,
        task: (running, argument) => tasks.start(running, argument),
        jobs,
        status: async () => {
            try {
                await statusBar.refresh();
            } catch {
                // Shown by the caller as "no status".
            }
            return statusBar.last;
        },
        refreshSoon: () => void statusBar.refresh(),
    };

    const start = async (): Promise<void> => {
        statusBar.starting();
        const server = findServer(context.extensionPath);
        if ('error' in server) {
            const reason = server.error;
            statusBar.stopped(reason);
            output.appendLine(`Tandem: ${reason}`);
            // Not awaited: the message stays until dismissed, and a restart must not wait on it.
            void vscode.window.showErrorMessage(`Tandem: ${reason}`, 'Open Settings').then((choice) => {
                if (choice === 'Open Settings') {
                    void vscode.commands.executeCommand('workbench.action.openSettings', 'tandem.server.path');
                }
            });
            return;
        }
        output.appendLine(`Tandem: starting ${server.command} (from ${server.from})`);
        const key = await context.secrets.get(SECRET_KEY);
        jobs.serverStarted();
        tasks.serverStarted();
        rules.serverStarted();
        const created = createClient(server.command, key, output, {
            ran: () => void statusBar.refresh(),
            // A code action's task: asked for its instruction like the palette's.
            task: async (argument) => {
                const running = host.client();
                if (running === undefined) {
                    return undefined;
                }
                try {
                    return await tasks.start(running, argument as TaskArgument);
                } catch (error) {
                    void vscode.window.showErrorMessage(`Tandem: task: ${errorText(error)}`);
                    return undefined;
                }
            },
        });
        client = created.client;
        initial = created.initial;
        keyHanded = key !== undefined && apiKeyEnv() !== undefined;
        client.onNotification('tandem/jobStep', (step: JobStep) => tasks.step(step));
        client.onNotification('tandem/jobFinished', (job: JobFinished) => {
            if (job.action === 'task') {
                tasks.ended(job.jobId);
            }
            void jobs.finished(job);
            void statusBar.refresh();
        });
        client.onNotification('tandem/ruleProposed', (proposal: rules.Proposal) => {
            void rules.proposed(execute, proposal);
        });
        client.onDidChangeState((event) => {
            if (event.newState === State.Stopped) {
                statusBar.stopped('the server stopped (see the Tandem output); run "Tandem: Restart Server"');
            }
        });
        try {
            await client.start();
            await statusBar.refresh();
        } catch (error) {
            statusBar.stopped(`the server did not start: ${errorText(error)}`);
            void vscode.window.showErrorMessage(`Tandem: the server did not start: ${errorText(error)}`);
        }
    };
    const stop = async (): Promise<void> => {
        const old = client;
        client = undefined;
        if (old !== undefined) {
            try {
                await old.stop();
            } catch {
                // Already gone.
            }
        }
    };
    const restart = (): Promise<void> => (lifecycle = lifecycle.then(stop).then(start));

    context.subscriptions.push(
        output,
        statusBar,
        suggestions,
        ...registerCommands(host),
        vscode.commands.registerCommand('tandem.palette.toggleCompletion', () => suggestions.toggle()),
        vscode.commands.registerCommand('tandem.palette.restart', restart),
        vscode.commands.registerCommand('tandem.palette.setApiKey', async () => {
            const key = await vscode.window.showInputBox({
                title: 'Tandem: Set API Key',
                prompt: `The model endpoint's API key, kept in VS Code's secret storage and handed to the server as ${apiKeyEnv() ?? 'OPENAI_API_KEY'}`,
                password: true,
                ignoreFocusOut: true,
            });
            if (key !== undefined && key.trim() !== '') {
                // The secret storage's change event restarts the server.
                await context.secrets.store(SECRET_KEY, key.trim());
            }
        }),
        vscode.commands.registerCommand('tandem.palette.clearApiKey', async () => {
            await context.secrets.delete(SECRET_KEY);
            void vscode.window.showInformationMessage('Tandem: API key cleared.');
        }),
        context.secrets.onDidChange((event) => {
            if (event.key === SECRET_KEY) {
                void restart();
            }
        }),
        vscode.workspace.onDidChangeConfiguration((event) => {
            if (!event.affectsConfiguration('tandem')) {
                return;
            }
            const keyMoves =
                keyHanded &&
                (event.affectsConfiguration('tandem.model.apiKeyEnv') ||
                    event.affectsConfiguration('tandem.model.provider'));
            const settings = settingsObject(keyHanded);
            // A key sent at start and now unset stays in force in the server's
            // initializationOptions layer: only a restart brings back its default.
            if (
                event.affectsConfiguration('tandem.server.path') ||
                keyMoves ||
                removedKeys(initial, settings).length > 0 ||
                client?.state !== State.Running
            ) {
                void restart();
                return;
            }
            void client
                .sendNotification(DidChangeConfigurationNotification.type, { settings })
                .then(() => statusBar.refresh());
        }),
    );
    lifecycle = lifecycle.then(start);
}

export async function deactivate(): Promise<void> {
    await lifecycle;
    await client?.stop();
}
