// The language client: starts `tandem` over stdio for the languages it knows, with the user's
// settings as initializationOptions, the API key from secret storage in the environment, and
// section `tandem` answered with the same settings object.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import {
    LanguageClient,
    LanguageClientOptions,
    ServerOptions,
    TransportKind,
} from 'vscode-languageclient/node';

import { inlineCompletionFeatures } from './completion';
import { SettingsObject, apiKeyEnv, settingsObject } from './settings';

export const LANGUAGES = [
    'rust',
    'python',
    'go',
    'javascript',
    'javascriptreact',
    'typescript',
    'typescriptreact',
];

/** The documents the server serves. */
export const DOCUMENT_SELECTOR = LANGUAGES.flatMap((language) => [
    { scheme: 'file', language },
    { scheme: 'untitled', language },
]);

/** The secret storage key of the model's API key. */
export const SECRET_KEY = 'tandem.apiKey';

/** Where the server binary comes from, or why there is none. */
export type Server = { command: string; from: 'setting' | 'PATH' | 'bundled' } | { error: string };

/** The binary a platform-specific package carries: `server/tandem` in the extension. */
export function bundledServer(extensionPath: string): string {
    return path.join(extensionPath, 'server', process.platform === 'win32' ? 'tandem.exe' : 'tandem');
}

/**
 * The server binary: `tandem.server.path` (`~` expanded), else `tandem` on PATH, else the one
 * this extension carries (`server/tandem`, in platform-specific packages). An error says what
 * was tried and how to get the server.
 */
export function findServer(extensionPath: string): Server {
    const configured = vscode.workspace.getConfiguration('tandem').get<string>('server.path', '').trim();
    if (configured !== '') {
        const command =
            configured === '~' || configured.startsWith('~/')
                ? path.join(os.homedir(), configured.slice(1))
                : configured;
        if (!serverExists(command)) {
            return {
                error: `the server binary \`${command}\` (tandem.server.path) was not found. Fix the setting, or clear it to use \`tandem\` on PATH or the server the extension carries.`,
            };
        }
        return { command, from: 'setting' };
    }
    if (serverExists('tandem')) {
        return { command: 'tandem', from: 'PATH' };
    }
    const bundled = bundledServer(extensionPath);
    if (!fs.existsSync(bundled)) {
        return {
            error: `no \`tandem\` server: tandem.server.path is not set, none is on PATH, and this package of the extension carries none (${bundled}). Install the platform-specific .vsix (\`npm run package:bundled\` in editors/vscode), or install the server (\`cargo install --locked --path server\`), or set tandem.server.path.`,
        };
    }
    if (!isExecutable(bundled)) {
        return {
            error: `the server this extension carries (${bundled}) is not executable. Make it so (\`chmod +x\`), reinstall the extension, or set tandem.server.path.`,
        };
    }
    return { command: bundled, from: 'bundled' };
}

function isExecutable(file: string): boolean {
    if (process.platform === 'win32') {
        return true;
    }
    try {
        fs.accessSync(file, fs.constants.X_OK);
        return true;
    } catch {
        return false;
    }
}

/** Whether `command` names something that can be run (a path that exists, or a name on PATH). */
export function serverExists(command: string): boolean {
    if (command.includes(path.sep)) {
        return fs.existsSync(command);
    }
    const dirs = (process.env.PATH ?? '').split(path.delimiter).filter((d) => d !== '');
    return dirs.some((dir) => fs.existsSync(path.join(dir, command)));
}

export interface Started {
    client: LanguageClient;
    /** The settings object sent as initializationOptions. */
    initial: SettingsObject;
}

/** What the extension does around the server commands the editor runs (a code action's, say). */
export interface CommandHooks {
    /** Told after each one. */
    ran(): void;
    /** Runs `tandem.task` instead (the code action's argument has no instruction to send yet). */
    task(argument: object): Promise<unknown>;
}

/**
 * Creates the client (not started) for the server binary `command`. `apiKey` is the stored key,
 * if any.
 */
export function createClient(
    command: string,
    apiKey: string | undefined,
    output: vscode.OutputChannel,
    hooks: CommandHooks,
): Started {
    const env: NodeJS.ProcessEnv = { ...process.env };
    const keyEnv = apiKeyEnv();
    const hasKey = apiKey !== undefined && keyEnv !== undefined;
    if (hasKey) {
        env[keyEnv] = apiKey;
    }
    const serverOptions: ServerOptions = {
        command,
        // The client adds `--stdio` itself for this transport.
        transport: TransportKind.stdio,
        options: { env },
    };
    const initial = settingsObject(hasKey);
    const clientOptions: LanguageClientOptions = {
        documentSelector: DOCUMENT_SELECTOR,
        initializationOptions: initial,
        outputChannel: output,
        middleware: {
            // Code actions run their server command through here: a job may have started.
            executeCommand: async (command, args, next) => {
                try {
                    if (command === 'tandem.task') {
                        const argument: unknown = args[0];
                        return await hooks.task(typeof argument === 'object' && argument !== null ? argument : {});
                    }
                    return await next(command, args);
                } finally {
                    hooks.ran();
                }
            },
            workspace: {
                // The server asks for section `tandem` after `initialized` and when told
                // settings changed: it gets the same object as initializationOptions.
                configuration: async (params, token, next) => {
                    const answer = await next(params, token);
                    if (!Array.isArray(answer)) {
                        return answer;
                    }
                    return params.items.map((item, i) =>
                        item.section === 'tandem' ? settingsObject(hasKey) : answer[i],
                    );
                },
            },
        },
    };
    const client = new LanguageClient('tandem', 'Tandem', serverOptions, clientOptions);
    // Inline suggestions: `textDocument/inlineCompletion` as ghost text, the item's command
    // (`tandem.completion.accept`, registered from the server's executeCommandProvider like the
    // others) run when one is accepted.
    client.registerFeatures(inlineCompletionFeatures(client));
    // The extension shows `tandem/jobFinished` itself (jobs.ts); saying so keeps the server from
    // also telling the user with a window/showMessage, as it does for clients without a plugin.
    client.registerFeature({
        fillClientCapabilities(capabilities) {
            capabilities.experimental = {
                ...(capabilities.experimental ?? {}),
                tandem: { jobFinished: true },
            };
        },
        initialize() {},
        getState() {
            return { kind: 'static' };
        },
        clear() {},
    });
    return { client, initial };
}
