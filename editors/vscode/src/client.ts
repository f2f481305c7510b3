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

/** The secret storage key of the model's API key. */
export const SECRET_KEY = 'tandem.apiKey';

/** The server binary: `tandem.server.path` (`~` expanded), else `tandem` on PATH. */
export function serverCommand(): string {
    const configured = vscode.workspace.getConfiguration('tandem').get<string>('server.path', '').trim();
    if (configured === '') {
        return 'tandem';
    }
    if (configured === '~' || configured.startsWith('~/')) {
        return path.join(os.homedir(), configured.slice(1));
    }
    return configured;
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

/**
 * Creates the client (not started). `apiKey` is the stored key, if any; `onCommand` is told
 * after each server command the editor ran (a code action's, say).
 */
export function createClient(
    apiKey: string | undefined,
    output: vscode.OutputChannel,
    onCommand: () => void,
): Started {
    const env: NodeJS.ProcessEnv = { ...process.env };
    const keyEnv = apiKeyEnv();
    const hasKey = apiKey !== undefined && keyEnv !== undefined;
    if (hasKey) {
        env[keyEnv] = apiKey;
    }
    const command = serverCommand();
    const serverOptions: ServerOptions = {
        command,
        // The client adds `--stdio` itself for this transport.
        transport: TransportKind.stdio,
        options: { env },
    };
    const initial = settingsObject(hasKey);
    const clientOptions: LanguageClientOptions = {
        documentSelector: LANGUAGES.flatMap((language) => [
            { scheme: 'file', language },
            { scheme: 'untitled', language },
        ]),
        initializationOptions: initial,
        outputChannel: output,
        middleware: {
            // Code actions run their server command through here: a job may have started.
            executeCommand: async (command, args, next) => {
                try {
                    return await next(command, args);
                } finally {
                    onCommand();
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
